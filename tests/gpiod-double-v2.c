/* The libgpiod >= 2.0 API, as far as src/source-gpio-v2.c uses it, on the fake kernel
 * (gpiod-double.h). Compiled against the real <gpiod.h> 2.x, so every signature is
 * checked. Edge events are read from the request's fd as the kernel's
 * struct gpio_v2_line_event records and decoded the way libgpiod 2 does. */
#include "gpiod-double.h"

#include <errno.h>
#include <gpiod.h>
#include <linux/gpio.h>
#include <string.h>
#include <unistd.h>

struct gpiod_chip {
  FakeChip *fake;
};

struct gpiod_chip_info {
  char *name;
  char *label;
  size_t num_lines;
};

struct gpiod_line_info {
  unsigned int offset;
  char *consumer;
  unsigned long debounce_us;
};

struct gpiod_line_settings {
  enum gpiod_line_direction direction;
  enum gpiod_line_edge edge;
  enum gpiod_line_bias bias;
  enum gpiod_line_clock clock;
  bool active_low;
  unsigned long debounce_us;
};

/* One line is all the backend asks for. */
struct gpiod_line_config {
  gboolean has_line;
  unsigned int offset;
  struct gpiod_line_settings settings;
};

struct gpiod_request_config {
  char consumer[32];
  size_t event_buffer_size;
};

struct gpiod_line_request {
  int fd;
  unsigned int offset;
};

struct gpiod_edge_event {
  enum gpiod_edge_event_type type;
  uint64_t timestamp_ns;
  unsigned int offset;
  unsigned long global_seqno, line_seqno;
};

struct gpiod_edge_event_buffer {
  size_t capacity;
  size_t num_events;
  struct gpiod_edge_event *events;
  struct gpio_v2_line_event *records;
};

int
fake_gpio_abi (void)
{
  return 2;
}

const char *
gpiod_api_version (void)
{
  return "2.1-double";
}

/* --- chips ------------------------------------------------------------------------------ */

struct gpiod_chip *
gpiod_chip_open (const char *path)
{
  FakeChip *fake = fake_kernel_open_chip (path);
  struct gpiod_chip *chip;

  if (fake == NULL)
    return NULL;
  chip = g_new0 (struct gpiod_chip, 1);
  chip->fake = fake;
  return chip;
}

void
gpiod_chip_close (struct gpiod_chip *chip)
{
  fake_kernel_close_chip (chip->fake);
  g_free (chip);
}

struct gpiod_chip_info *
gpiod_chip_get_info (struct gpiod_chip *chip)
{
  struct gpiod_chip_info *info = g_new0 (struct gpiod_chip_info, 1);

  info->name = g_strdup (fake_kernel_chip_name (chip->fake));
  info->label = g_strdup (fake_kernel_chip_label (chip->fake));
  info->num_lines = fake_kernel_chip_num_lines (chip->fake);
  return info;
}

void
gpiod_chip_info_free (struct gpiod_chip_info *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->label);
  g_free (info);
}

const char *
gpiod_chip_info_get_label (struct gpiod_chip_info *info)
{
  return info->label;
}

size_t
gpiod_chip_info_get_num_lines (struct gpiod_chip_info *info)
{
  return info->num_lines;
}

int
gpiod_chip_get_line_offset_from_name (struct gpiod_chip *chip, const char *name)
{
  for (guint i = 0; i < fake_kernel_chip_num_lines (chip->fake); i++)
    if (g_strcmp0 (fake_kernel_line_name (chip->fake, i), name) == 0)
      return (int) i;
  errno = ENOENT;
  return -1;
}

/* --- line info -------------------------------------------------------------------------- */

struct gpiod_line_info *
gpiod_chip_get_line_info (struct gpiod_chip *chip, unsigned int offset)
{
  struct gpiod_line_info *info;

  if (offset >= fake_kernel_chip_num_lines (chip->fake))
    {
      errno = EINVAL;
      return NULL;
    }
  info = g_new0 (struct gpiod_line_info, 1);
  info->offset = offset;
  info->consumer = g_strdup (fake_kernel_line_consumer (chip->fake, offset));
  info->debounce_us = fake_kernel_line_debounce_us (chip->fake, offset);
  return info;
}

void
gpiod_line_info_free (struct gpiod_line_info *info)
{
  if (info == NULL)
    return;
  g_free (info->consumer);
  g_free (info);
}

bool
gpiod_line_info_is_used (struct gpiod_line_info *info)
{
  return info->consumer != NULL;
}

const char *
gpiod_line_info_get_consumer (struct gpiod_line_info *info)
{
  return info->consumer;
}

unsigned long
gpiod_line_info_get_debounce_period_us (struct gpiod_line_info *info)
{
  return info->debounce_us;
}

/* --- settings and configs --------------------------------------------------------------- */

struct gpiod_line_settings *
gpiod_line_settings_new (void)
{
  struct gpiod_line_settings *settings = g_new0 (struct gpiod_line_settings, 1);

  /* libgpiod's defaults */
  settings->direction = GPIOD_LINE_DIRECTION_AS_IS;
  settings->edge = GPIOD_LINE_EDGE_NONE;
  settings->bias = GPIOD_LINE_BIAS_AS_IS;
  settings->clock = GPIOD_LINE_CLOCK_MONOTONIC;
  return settings;
}

void
gpiod_line_settings_free (struct gpiod_line_settings *settings)
{
  g_free (settings);
}

int
gpiod_line_settings_set_direction (struct gpiod_line_settings *settings,
                                   enum gpiod_line_direction direction)
{
  settings->direction = direction;
  return 0;
}

int
gpiod_line_settings_set_edge_detection (struct gpiod_line_settings *settings,
                                        enum gpiod_line_edge edge)
{
  settings->edge = edge;
  return 0;
}

int
gpiod_line_settings_set_bias (struct gpiod_line_settings *settings, enum gpiod_line_bias bias)
{
  settings->bias = bias;
  return 0;
}

int
gpiod_line_settings_set_event_clock (struct gpiod_line_settings *settings,
                                     enum gpiod_line_clock event_clock)
{
  settings->clock = event_clock;
  return 0;
}

void
gpiod_line_settings_set_active_low (struct gpiod_line_settings *settings, bool active_low)
{
  settings->active_low = active_low;
}

void
gpiod_line_settings_set_debounce_period_us (struct gpiod_line_settings *settings,
                                            unsigned long period)
{
  settings->debounce_us = period;
}

struct gpiod_line_config *
gpiod_line_config_new (void)
{
  return g_new0 (struct gpiod_line_config, 1);
}

void
gpiod_line_config_free (struct gpiod_line_config *config)
{
  g_free (config);
}

int
gpiod_line_config_add_line_settings (struct gpiod_line_config *config,
                                     const unsigned int *offsets, size_t num_offsets,
                                     struct gpiod_line_settings *settings)
{
  g_assert_cmpuint (num_offsets, ==, 1);   /* all the double supports */
  config->has_line = TRUE;
  config->offset = offsets[0];
  config->settings = *settings;
  return 0;
}

struct gpiod_request_config *
gpiod_request_config_new (void)
{
  return g_new0 (struct gpiod_request_config, 1);
}

void
gpiod_request_config_free (struct gpiod_request_config *config)
{
  g_free (config);
}

void
gpiod_request_config_set_consumer (struct gpiod_request_config *config, const char *consumer)
{
  g_strlcpy (config->consumer, consumer != NULL ? consumer : "", sizeof config->consumer);
}

void
gpiod_request_config_set_event_buffer_size (struct gpiod_request_config *config,
                                            size_t event_buffer_size)
{
  config->event_buffer_size = event_buffer_size;
}

/* --- requests and edge events ------------------------------------------------------------ */

static FakeEdge
fake_edge (enum gpiod_line_edge edge)
{
  switch (edge)
    {
    case GPIOD_LINE_EDGE_RISING:
      return FAKE_EDGE_RISING;
    case GPIOD_LINE_EDGE_FALLING:
      return FAKE_EDGE_FALLING;
    case GPIOD_LINE_EDGE_BOTH:
      return FAKE_EDGE_BOTH;
    case GPIOD_LINE_EDGE_NONE:
    default:
      return FAKE_EDGE_NONE;
    }
}

static FakeBias
fake_bias (enum gpiod_line_bias bias)
{
  switch (bias)
    {
    case GPIOD_LINE_BIAS_PULL_UP:
      return FAKE_BIAS_PULL_UP;
    case GPIOD_LINE_BIAS_PULL_DOWN:
      return FAKE_BIAS_PULL_DOWN;
    case GPIOD_LINE_BIAS_DISABLED:
      return FAKE_BIAS_DISABLED;
    case GPIOD_LINE_BIAS_AS_IS:
    default:
      return FAKE_BIAS_AS_IS;
    }
}

struct gpiod_line_request *
gpiod_chip_request_lines (struct gpiod_chip *chip, struct gpiod_request_config *req_cfg,
                          struct gpiod_line_config *line_cfg)
{
  const struct gpiod_line_settings *s = &line_cfg->settings;
  FakeLineState settings = {
    .active_low = s->active_low,
    .bias = fake_bias (s->bias),
    .edge = fake_edge (s->edge),
    .debounce_us = (guint) s->debounce_us,
    .abi = 2,
  };
  struct gpiod_line_request *request;
  int fd;

  /* The kernel wants an input for edge detection, and the monotonic clock is ours. */
  if (!line_cfg->has_line || s->direction != GPIOD_LINE_DIRECTION_INPUT
      || s->clock != GPIOD_LINE_CLOCK_MONOTONIC)
    {
      errno = EINVAL;
      return NULL;
    }
  fd = fake_kernel_request_line (chip->fake, line_cfg->offset, &settings,
                                 req_cfg != NULL ? req_cfg->consumer : "?");
  if (fd < 0)
    return NULL;
  request = g_new0 (struct gpiod_line_request, 1);
  request->fd = fd;
  request->offset = line_cfg->offset;
  return request;
}

void
gpiod_line_request_release (struct gpiod_line_request *request)
{
  fake_kernel_release_line (request->fd);
  g_free (request);
}

int
gpiod_line_request_get_fd (struct gpiod_line_request *request)
{
  return request->fd;
}

struct gpiod_edge_event_buffer *
gpiod_edge_event_buffer_new (size_t capacity)
{
  struct gpiod_edge_event_buffer *buffer = g_new0 (struct gpiod_edge_event_buffer, 1);

  buffer->capacity = capacity == 0 ? 64 : capacity;
  buffer->events = g_new0 (struct gpiod_edge_event, buffer->capacity);
  buffer->records = g_new0 (struct gpio_v2_line_event, buffer->capacity);
  return buffer;
}

void
gpiod_edge_event_buffer_free (struct gpiod_edge_event_buffer *buffer)
{
  if (buffer == NULL)
    return;
  g_free (buffer->events);
  g_free (buffer->records);
  g_free (buffer);
}

struct gpiod_edge_event *
gpiod_edge_event_buffer_get_event (struct gpiod_edge_event_buffer *buffer, unsigned long index)
{
  if (index >= buffer->num_events)
    {
      errno = EINVAL;
      return NULL;
    }
  return &buffer->events[index];
}

enum gpiod_edge_event_type
gpiod_edge_event_get_event_type (struct gpiod_edge_event *event)
{
  return event->type;
}

uint64_t
gpiod_edge_event_get_timestamp_ns (struct gpiod_edge_event *event)
{
  return event->timestamp_ns;
}

int
gpiod_line_request_read_edge_events (struct gpiod_line_request *request,
                                     struct gpiod_edge_event_buffer *buffer, size_t max_events)
{
  size_t n;
  ssize_t rd;

  if (fake_kernel_request_gone (request->fd))
    {
      errno = ENODEV;   /* linereq_read() on 6.1: the chip is checked first */
      return -1;
    }
  max_events = MIN (max_events, buffer->capacity);
  rd = read (request->fd, buffer->records, max_events * sizeof buffer->records[0]);
  if (rd < 0)
    return -1;
  if (rd == 0)
    {
      errno = ENODEV;   /* the real chardev's answer once the chip is gone */
      return -1;
    }
  g_assert_cmpint (rd % (ssize_t) sizeof buffer->records[0], ==, 0);
  n = (size_t) rd / sizeof buffer->records[0];
  for (size_t i = 0; i < n; i++)
    {
      const struct gpio_v2_line_event *record = &buffer->records[i];
      buffer->events[i] = (struct gpiod_edge_event) {
        .type = record->id == GPIO_V2_LINE_EVENT_RISING_EDGE ? GPIOD_EDGE_EVENT_RISING_EDGE
                                                             : GPIOD_EDGE_EVENT_FALLING_EDGE,
        .timestamp_ns = record->timestamp_ns,
        .offset = record->offset,
        .global_seqno = record->seqno,
        .line_seqno = record->line_seqno,
      };
    }
  buffer->num_events = n;
  return (int) n;
}
