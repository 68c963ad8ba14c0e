/* [Gpio] keys: a reed switch on a GPIO line. */
#include "config-gpio.h"
#include "wu-cadence.h"

#include <math.h>
#include <string.h>

#define DEFAULT_DEBOUNCE_MS 5
/* Well under a revolution at 220 rpm (273 ms). With several magnets the pulses come more
 * often: wu_gpio_config_check() also wants Debounce= under a pulse period at 220 rpm. */
#define MAX_DEBOUNCE_MS 100
#define MAX_PULSES_PER_REVOLUTION 16
#define MAX_LINE_OFFSET 1023
#define MAX_LINE_NAME 31         /* the kernel's GPIO_MAX_NAME_SIZE, less the NUL */

static const char *const bias_names[] = {
  [WU_GPIO_BIAS_PULL_UP] = "pull-up",
  [WU_GPIO_BIAS_PULL_DOWN] = "pull-down",
  [WU_GPIO_BIAS_DISABLED] = "disabled",
  [WU_GPIO_BIAS_AS_IS] = "as-is",
};

static const char *const edge_names[] = {
  [WU_GPIO_EDGE_FALLING] = "falling",
  [WU_GPIO_EDGE_RISING] = "rising",
  [WU_GPIO_EDGE_BOTH] = "both",
};

const char *
wu_gpio_bias_to_string (WuGpioBias bias)
{
  g_return_val_if_fail ((guint) bias < G_N_ELEMENTS (bias_names), "?");
  return bias_names[bias];
}

const char *
wu_gpio_edge_to_string (WuGpioEdge edge)
{
  g_return_val_if_fail ((guint) edge < G_N_ELEMENTS (edge_names), "?");
  return edge_names[edge];
}

void
wu_gpio_config_init (WuGpioConfig *gpio)
{
  memset (gpio, 0, sizeof *gpio);
  gpio->bias = WU_GPIO_BIAS_PULL_UP;
  gpio->edge = WU_GPIO_EDGE_FALLING;
  gpio->debounce_ms = DEFAULT_DEBOUNCE_MS;
  gpio->pulses_per_revolution = 1;
}

void
wu_gpio_config_clear (WuGpioConfig *gpio)
{
  g_clear_pointer (&gpio->line, g_free);
  g_clear_pointer (&gpio->chip, g_free);
}

void
wu_gpio_config_copy (WuGpioConfig *dest, const WuGpioConfig *src)
{
  *dest = *src;
  dest->line = g_strdup (src->line);
  dest->chip = g_strdup (src->chip);
}

/* An unsigned decimal in [MIN, MAX]. */
static gboolean
parse_uint (const char *text, guint min, guint max, guint *out)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned (text, 10, min, max, &v, NULL))
    return FALSE;
  *out = (guint) v;
  return TRUE;
}

/* Printable ASCII, spaces only inside: some boards name their lines so (the BeagleBone
 * Black's "P8_07 [GPIO66]"), and a value's outer spaces are not part of it. */
static gboolean
is_printable_name (const char *text, gsize max_len)
{
  gsize len = strlen (text);

  if (len == 0 || len > max_len || text[0] == ' ' || text[len - 1] == ' ')
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isprint (*p))
      return FALSE;
  return TRUE;
}

static int
lookup_name (const char *const *names, gsize n, const char *value)
{
  for (gsize i = 0; i < n; i++)
    if (strcmp (names[i], value) == 0)
      return (int) i;
  return -1;
}

static char *
apply_line (WuGpioConfig *gpio, const char *value)
{
  guint offset;
  g_autofree char *shown = NULL;   /* in an error: escaped, so that a control character shows */

  /* a sign is no offset, and no line is named like one: "-1" would be searched for ever */
  if ((g_ascii_isdigit (value[0]) || value[0] == '-' || value[0] == '+')
      && !parse_uint (value, 0, MAX_LINE_OFFSET, &offset))
    {
      shown = g_strescape (value, NULL);
      return g_strdup_printf ("'%s' is not a line offset from 0 to %u or a line name like "
                              "GPIO17", shown, MAX_LINE_OFFSET);
    }
  if (!is_printable_name (value, MAX_LINE_NAME))
    {
      shown = g_strescape (value, NULL);
      return g_strdup_printf ("'%s' is not a line offset or a line name (at most %u printable "
                              "characters, no space at either end)", shown, MAX_LINE_NAME);
    }
  g_free (gpio->line);
  gpio->line = g_strdup (value);
  return NULL;
}

static char *
apply_chip (WuGpioConfig *gpio, const char *value)
{
  if (!is_printable_name (value, 4096) || (strchr (value, '/') != NULL && value[0] != '/'))
    {
      g_autofree char *shown = g_strescape (value, NULL);
      return g_strdup_printf ("'%s' is not a chip name (gpiochip0), an absolute path "
                              "(/dev/gpiochip0) or a chip label", shown);
    }
  g_free (gpio->chip);
  gpio->chip = g_strdup (value);
  return NULL;
}

static char *
apply_active_low (WuGpioConfig *gpio, const char *value)
{
  if (strcmp (value, "true") == 0 || strcmp (value, "yes") == 0 || strcmp (value, "1") == 0)
    gpio->active_low = TRUE;
  else if (strcmp (value, "false") == 0 || strcmp (value, "no") == 0 || strcmp (value, "0") == 0)
    gpio->active_low = FALSE;
  else
    return g_strdup_printf ("'%s' is not 'true' or 'false'", value);
  return NULL;
}

char *
wu_gpio_config_apply_key (WuGpioConfig *gpio, const char *key, const char *value)
{
  int index;

  if (strcmp (key, "Line") == 0)
    return apply_line (gpio, value);
  if (strcmp (key, "Chip") == 0)
    return apply_chip (gpio, value);
  if (strcmp (key, "ActiveLow") == 0)
    return apply_active_low (gpio, value);
  if (strcmp (key, "Bias") == 0)
    {
      if ((index = lookup_name (bias_names, G_N_ELEMENTS (bias_names), value)) < 0)
        return g_strdup_printf ("'%s' is not 'pull-up', 'pull-down', 'disabled' or 'as-is'", value);
      gpio->bias = (WuGpioBias) index;
      return NULL;
    }
  if (strcmp (key, "Edge") == 0)
    {
      if ((index = lookup_name (edge_names, G_N_ELEMENTS (edge_names), value)) < 0)
        return g_strdup_printf ("'%s' is not 'falling', 'rising' or 'both'", value);
      gpio->edge = (WuGpioEdge) index;
      return NULL;
    }
  if (strcmp (key, "Debounce") == 0)
    {
      if (!parse_uint (value, 0, MAX_DEBOUNCE_MS, &gpio->debounce_ms))
        return g_strdup_printf ("'%s' is not a whole number of milliseconds from 0 to %u", value,
                                MAX_DEBOUNCE_MS);
      return NULL;
    }
  if (strcmp (key, "PulsesPerRevolution") == 0)
    {
      if (!parse_uint (value, 1, MAX_PULSES_PER_REVOLUTION, &gpio->pulses_per_revolution))
        return g_strdup_printf ("'%s' is not a number of magnets from 1 to %u", value,
                                MAX_PULSES_PER_REVOLUTION);
      return NULL;
    }
  g_return_val_if_reached (g_strdup ("unknown key"));
}

char *
wu_gpio_config_check_debounce (const WuGpioConfig *gpio)
{
  guint ppr = MAX (gpio->pulses_per_revolution, 1u);
  /* The fastest pulses that can be real: a cadence of 220 rpm with every magnet. The
   * estimator drops a pulse less than Debounce= after the previous edge: at Debounce= or
   * more, real pulses would be dropped (Debounce=100 with 8 magnets halves the cadence).
   * The default (5 ms) fits any number of magnets allowed (16: 17 ms). */
  double pulse_ms = 60000.0 / (WU_CADENCE_MAX_RPM * ppr);

  if (gpio->debounce_ms < pulse_ms)
    return NULL;
  return g_strdup_printf ("'%u' is not shorter than a pulse period at %.0f rpm with "
                          "PulsesPerRevolution=%u (%.1f ms): real pulses would be dropped; at "
                          "most %u ms with %u magnet%s", gpio->debounce_ms, WU_CADENCE_MAX_RPM,
                          ppr, pulse_ms, (guint) ceil (pulse_ms) - 1, ppr, ppr == 1 ? "" : "s");
}
