/* The GPIO backend for libgpiod 1.5/1.6 (Debian 12, Raspberry Pi OS bookworm): the chip's
 * lines, requested through the kernel's v1 character-device API. That API has no debounce:
 * every edge is read, and the cadence estimator rejects bounce in software (as with v2). */
#include "source-gpio.h"

#include <errno.h>
#include <gpiod.h>

struct WuGpioRequest {
  struct gpiod_chip *chip;
  struct gpiod_line *line;     /* owned by the chip */
};

char *
wu_gpio_backend_describe (void)
{
  return g_strdup_printf ("libgpiod %s (v1 API)", gpiod_version_string ());
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
  char *label;

  if (chip == NULL)
    return NULL;
  label = g_strdup (gpiod_chip_label (chip));
  gpiod_chip_close (chip);
  return label;
}

gboolean
wu_gpio_backend_find_line (const char *path, const char *name, guint *offset, GError **error)
{
  struct gpiod_chip *chip = open_chip (path, error);
  struct gpiod_line *line;

  if (chip == NULL)
    return FALSE;
  line = gpiod_chip_find_line (chip, name);
  if (line != NULL)
    *offset = gpiod_line_offset (line);
  else if (errno == ENOENT)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s has no line named '%s'", path, name);
  else
    set_errno_error (error, errno, path);
  gpiod_chip_close (chip);
  return line != NULL;
}

static int
request_type (WuGpioEdge edge)
{
  switch (edge)
    {
    case WU_GPIO_EDGE_RISING:
      return GPIOD_LINE_REQUEST_EVENT_RISING_EDGE;
    case WU_GPIO_EDGE_BOTH:
      return GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES;
    case WU_GPIO_EDGE_FALLING:
    default:
      return GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE;
    }
}

static int
request_flags (const WuGpioConfig *config)
{
  int flags = config->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;

  switch (config->bias)
    {
    case WU_GPIO_BIAS_PULL_UP:
      return flags | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
    case WU_GPIO_BIAS_PULL_DOWN:
      return flags | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
    case WU_GPIO_BIAS_DISABLED:
      return flags | GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE;
    case WU_GPIO_BIAS_AS_IS:
    default:
      return flags;
    }
}

/* The line could not be requested: say who holds it when it is busy. */
static void
set_request_error (GError **error, int saved_errno, const char *path, struct gpiod_line *line)
{
  const char *consumer;

  if (saved_errno == EBUSY && gpiod_line_update (line) == 0
      && (consumer = gpiod_line_consumer (line)) != NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "%s line %u is busy: used by '%s'", path,
                 gpiod_line_offset (line), consumer);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 "%s line %u cannot be requested: %s", path, gpiod_line_offset (line),
                 g_strerror (saved_errno));
}

WuGpioRequest *
wu_gpio_backend_request (const char *path, const WuGpioLineRequest *line, GError **error)
{
  struct gpiod_line_request_config config = {
    .consumer = line->consumer,
    .request_type = request_type (line->config->edge),
    .flags = request_flags (line->config),
  };
  g_autofree WuGpioRequest *request = g_new0 (WuGpioRequest, 1);
  unsigned int n_lines;

  request->chip = open_chip (path, error);
  if (request->chip == NULL)
    return NULL;
  n_lines = gpiod_chip_num_lines (request->chip);
  if (line->offset >= n_lines)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s has no line %u (it has %u lines)", path, line->offset, n_lines);
      gpiod_chip_close (request->chip);
      return NULL;
    }
  request->line = gpiod_chip_get_line (request->chip, line->offset);
  if (request->line == NULL)
    {
      set_errno_error (error, errno, path);
      gpiod_chip_close (request->chip);
      return NULL;
    }
  if (gpiod_line_request (request->line, &config, 0) < 0)
    {
      set_request_error (error, errno, path, request->line);
      gpiod_chip_close (request->chip);
      return NULL;
    }
  return g_steal_pointer (&request);
}

int
wu_gpio_request_get_fd (WuGpioRequest *request)
{
  return gpiod_line_event_get_fd (request->line);
}

int
wu_gpio_request_read (WuGpioRequest *request, WuGpioEdgeEvent *events, guint max,
                      GError **error)
{
  struct gpiod_line_event buffer[16];
  int n = gpiod_line_event_read_multiple (request->line, buffer, MIN (max, G_N_ELEMENTS (buffer)));

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
      events[i].timestamp_ns = (gint64) buffer[i].ts.tv_sec * G_GINT64_CONSTANT (1000000000)
                               + buffer[i].ts.tv_nsec;
      events[i].rising = buffer[i].event_type == GPIOD_LINE_EVENT_RISING_EDGE;
    }
  return n;
}

void
wu_gpio_request_free (WuGpioRequest *request)
{
  if (request == NULL)
    return;
  gpiod_line_release (request->line);
  gpiod_chip_close (request->chip);
  g_free (request);
}
