/* The GPIO backend for libgpiod >= 2.0 (Debian trixie, bookworm-backports): the kernel's v2
 * character-device API.
 *
 * That API can debounce a line, but Debounce= is deliberately not given to the kernel: its
 * debouncer (gpiolib-cdev.c, debounce_irq_handler() and debounce_work_func()) restarts a
 * timer on every edge and reports a change only once the level has been stable for the whole
 * period, stamped with the time the timer ran out. A reed closure shorter than the period
 * (10-15 ms at 90 rpm) would never be reported, and every timestamp would be late by the
 * period plus the bounce. Every edge is read as it happens, as with the v1 API, and the
 * cadence estimator (src/cadence.c) rejects bounce in software. */
#include "source-gpio.h"

#include <errno.h>
#include <gpiod.h>

#define EVENT_BUFFER_SIZE 16

struct WuGpioRequest {
  struct gpiod_line_request *request;
  struct gpiod_edge_event_buffer *buffer;
};

char *
wu_gpio_backend_describe (void)
{
  return g_strdup_printf ("libgpiod %s (v2 API)", gpiod_api_version ());
}

/* "WHAT: strerror" with the matching G_IO_ERROR code. */
static void
set_errno_error (GError **error, int saved_errno, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s", what,
               g_strerror (saved_errno));
}

static struct gpiod_chip *
open_chip (const char *path, GError **error)
{
  struct gpiod_chip *chip = gpiod_chip_open (path);

  if (chip == NULL)
    set_errno_error (error, errno, path);
  return chip;
}

char *
wu_gpio_backend_chip_label (const char *path, GError **error)
{
  struct gpiod_chip *chip = open_chip (path, error);
  struct gpiod_chip_info *info;
  char *label = NULL;

  if (chip == NULL)
    return NULL;
  info = gpiod_chip_get_info (chip);
  if (info != NULL)
    label = g_strdup (gpiod_chip_info_get_label (info));
  else
    set_errno_error (error, errno, path);
  g_clear_pointer (&info, gpiod_chip_info_free);
  gpiod_chip_close (chip);
  return label;
}

gboolean
wu_gpio_backend_find_line (const char *path, const char *name, guint *offset, GError **error)
{
  struct gpiod_chip *chip = open_chip (path, error);
  int found;

  if (chip == NULL)
    return FALSE;
  found = gpiod_chip_get_line_offset_from_name (chip, name);
  if (found >= 0)
    *offset = (guint) found;
  else if (errno == ENOENT)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s has no line named '%s'", path, name);
  else
    set_errno_error (error, errno, path);
  gpiod_chip_close (chip);
  return found >= 0;
}

static enum gpiod_line_edge
edge_detection (WuGpioEdge edge)
{
  switch (edge)
    {
    case WU_GPIO_EDGE_RISING:
      return GPIOD_LINE_EDGE_RISING;
    case WU_GPIO_EDGE_BOTH:
      return GPIOD_LINE_EDGE_BOTH;
    case WU_GPIO_EDGE_FALLING:
    default:
      return GPIOD_LINE_EDGE_FALLING;
    }
}

static enum gpiod_line_bias
line_bias (WuGpioBias bias)
{
  switch (bias)
    {
    case WU_GPIO_BIAS_PULL_DOWN:
      return GPIOD_LINE_BIAS_PULL_DOWN;
    case WU_GPIO_BIAS_DISABLED:
      return GPIOD_LINE_BIAS_DISABLED;
    case WU_GPIO_BIAS_AS_IS:
      return GPIOD_LINE_BIAS_AS_IS;
    case WU_GPIO_BIAS_PULL_UP:
    default:
      return GPIOD_LINE_BIAS_PULL_UP;
    }
}

/* The settings for LINE: every edge, no kernel debounce (see the top of this file). */
static struct gpiod_line_config *
make_line_config (const WuGpioLineRequest *line)
{
  struct gpiod_line_settings *settings = gpiod_line_settings_new ();
  struct gpiod_line_config *config = NULL;
  unsigned int offset = line->offset;

  if (settings == NULL)
    return NULL;
  if (gpiod_line_settings_set_direction (settings, GPIOD_LINE_DIRECTION_INPUT) == 0
      && gpiod_line_settings_set_edge_detection (settings, edge_detection (line->config->edge)) == 0
      && gpiod_line_settings_set_bias (settings, line_bias (line->config->bias)) == 0
      && gpiod_line_settings_set_event_clock (settings, GPIOD_LINE_CLOCK_MONOTONIC) == 0)
    {
      gpiod_line_settings_set_active_low (settings, line->config->active_low);
      gpiod_line_settings_set_debounce_period_us (settings, 0);
      config = gpiod_line_config_new ();
      if (config != NULL && gpiod_line_config_add_line_settings (config, &offset, 1, settings) < 0)
        g_clear_pointer (&config, gpiod_line_config_free);
    }
  gpiod_line_settings_free (settings);
  return config;
}

static struct gpiod_line_request *
request_lines (struct gpiod_chip *chip, const WuGpioLineRequest *line)
{
  struct gpiod_request_config *request_config = gpiod_request_config_new ();
  struct gpiod_line_config *line_config = make_line_config (line);
  struct gpiod_line_request *request = NULL;
  int saved;

  if (request_config != NULL && line_config != NULL)
    {
      gpiod_request_config_set_consumer (request_config, line->consumer);
      gpiod_request_config_set_event_buffer_size (request_config, EVENT_BUFFER_SIZE * 4);
      request = gpiod_chip_request_lines (chip, request_config, line_config);
    }
  saved = errno;
  g_clear_pointer (&request_config, gpiod_request_config_free);
  g_clear_pointer (&line_config, gpiod_line_config_free);
  errno = saved;
  return request;
}

/* The line could not be requested: say who holds it when it is busy. */
static void
set_request_error (GError **error, int saved_errno, struct gpiod_chip *chip, const char *path,
                   unsigned int offset)
{
  struct gpiod_line_info *info = NULL;

  if (saved_errno == EBUSY && (info = gpiod_chip_get_line_info (chip, offset)) != NULL
      && gpiod_line_info_is_used (info) && gpiod_line_info_get_consumer (info) != NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "%s line %u is busy: used by '%s'", path,
                 offset, gpiod_line_info_get_consumer (info));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 "%s line %u cannot be requested: %s", path, offset, g_strerror (saved_errno));
  g_clear_pointer (&info, gpiod_line_info_free);
}

static gboolean
check_offset (struct gpiod_chip *chip, const char *path, unsigned int offset, GError **error)
{
  struct gpiod_chip_info *info = gpiod_chip_get_info (chip);
  size_t n_lines;

  if (info == NULL)
    {
      set_errno_error (error, errno, path);
      return FALSE;
    }
  n_lines = gpiod_chip_info_get_num_lines (info);
  gpiod_chip_info_free (info);
  if (offset < n_lines)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "%s has no line %u (it has %zu lines)", path, offset, n_lines);
  return FALSE;
}

static WuGpioRequest *
request_on_chip (struct gpiod_chip *chip, const char *path, const WuGpioLineRequest *line,
                 GError **error)
{
  g_autofree WuGpioRequest *request = g_new0 (WuGpioRequest, 1);

  if (!check_offset (chip, path, line->offset, error))
    return NULL;
  request->request = request_lines (chip, line);
  if (request->request == NULL)
    {
      set_request_error (error, errno, chip, path, line->offset);
      return NULL;
    }
  request->buffer = gpiod_edge_event_buffer_new (EVENT_BUFFER_SIZE);
  if (request->buffer == NULL)
    {
      set_errno_error (error, errno, "edge event buffer");
      gpiod_line_request_release (request->request);
      return NULL;
    }
  return g_steal_pointer (&request);
}

WuGpioRequest *
wu_gpio_backend_request (const char *path, const WuGpioLineRequest *line, GError **error)
{
  struct gpiod_chip *chip = open_chip (path, error);
  WuGpioRequest *request;

  if (chip == NULL)
    return NULL;
  /* The request lives on without the chip: it has its own fd. */
  request = request_on_chip (chip, path, line, error);
  gpiod_chip_close (chip);
  return request;
}

int
wu_gpio_request_get_fd (WuGpioRequest *request)
{
  return gpiod_line_request_get_fd (request->request);
}

int
wu_gpio_request_read (WuGpioRequest *request, WuGpioEdgeEvent *events, guint max,
                      GError **error)
{
  int n = gpiod_line_request_read_edge_events (request->request, request->buffer,
                                               MIN (max, EVENT_BUFFER_SIZE));

  if (n < 0)
    {
      int saved = errno;
      if (saved == EAGAIN)
        return 0;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "reading edge events: %s",
                   g_strerror (saved));
      return -1;
    }
  for (int i = 0; i < n; i++)
    {
      struct gpiod_edge_event *event = gpiod_edge_event_buffer_get_event (request->buffer,
                                                                          (unsigned long) i);
      events[i].timestamp_ns = (gint64) gpiod_edge_event_get_timestamp_ns (event);
      events[i].rising = gpiod_edge_event_get_event_type (event) == GPIOD_EDGE_EVENT_RISING_EDGE;
    }
  return n;
}

void
wu_gpio_request_free (WuGpioRequest *request)
{
  if (request == NULL)
    return;
  gpiod_line_request_release (request->request);
  gpiod_edge_event_buffer_free (request->buffer);
  g_free (request);
}
