/* The libgpiod 1.5/1.6 API, as far as src/source-gpio-v1.c uses it, on the fake kernel
 * (gpiod-double.h). Compiled against the real <gpiod.h>, so every signature is checked.
 * Edge events are read from the request's fd as the kernel's struct gpioevent_data records
 * and decoded the way libgpiod 1.6 does. */
#include "gpiod-double.h"

#include <errno.h>
#include <gpiod.h>
#include <linux/gpio.h>
#include <string.h>
#include <unistd.h>

#define MAX_EVENTS_PER_READ 16   /* libgpiod 1.6 reads at most 16 records at once */

struct gpiod_line {
  struct gpiod_chip *chip;
  unsigned int offset;
  int fd;                        /* -1: not requested */
  char consumer[32];             /* as of the last update */
};

struct gpiod_chip {
  FakeChip *fake;
  unsigned int n_lines;
  struct gpiod_line *lines;      /* made on demand, like the library does */
};

int
fake_gpio_abi (void)
{
  return 1;
}

const char *
gpiod_version_string (void)
{
  return "1.6-double";
}

struct gpiod_chip *
gpiod_chip_open (const char *path)
{
  FakeChip *fake = fake_kernel_open_chip (path);
  struct gpiod_chip *chip;

  if (fake == NULL)
    return NULL;
  chip = g_new0 (struct gpiod_chip, 1);
  chip->fake = fake;
  chip->n_lines = fake_kernel_chip_num_lines (fake);
  chip->lines = g_new0 (struct gpiod_line, chip->n_lines);
  for (unsigned int i = 0; i < chip->n_lines; i++)
    chip->lines[i] = (struct gpiod_line) { .chip = chip, .offset = i, .fd = -1 };
  return chip;
}

void
gpiod_chip_close (struct gpiod_chip *chip)
{
  /* The library releases every line still requested through this chip. */
  for (unsigned int i = 0; i < chip->n_lines; i++)
    gpiod_line_release (&chip->lines[i]);
  fake_kernel_close_chip (chip->fake);
  g_free (chip->lines);
  g_free (chip);
}

const char *
gpiod_chip_label (struct gpiod_chip *chip)
{
  return fake_kernel_chip_label (chip->fake);
}

unsigned int
gpiod_chip_num_lines (struct gpiod_chip *chip)
{
  return chip->n_lines;
}

struct gpiod_line *
gpiod_chip_get_line (struct gpiod_chip *chip, unsigned int offset)
{
  if (offset >= chip->n_lines)
    {
      errno = EINVAL;
      return NULL;
    }
  return &chip->lines[offset];
}

struct gpiod_line *
gpiod_chip_find_line (struct gpiod_chip *chip, const char *name)
{
  for (unsigned int i = 0; i < chip->n_lines; i++)
    if (g_strcmp0 (fake_kernel_line_name (chip->fake, i), name) == 0)
      return &chip->lines[i];
  errno = ENOENT;
  return NULL;
}

unsigned int
gpiod_line_offset (struct gpiod_line *line)
{
  return line->offset;
}

int
gpiod_line_update (struct gpiod_line *line)
{
  const char *consumer = fake_kernel_line_consumer (line->chip->fake, line->offset);

  g_strlcpy (line->consumer, consumer != NULL ? consumer : "", sizeof line->consumer);
  return 0;
}

const char *
gpiod_line_consumer (struct gpiod_line *line)
{
  return line->consumer[0] != '\0' ? line->consumer : NULL;
}

static FakeEdge
edge_of_request_type (int type)
{
  switch (type)
    {
    case GPIOD_LINE_REQUEST_EVENT_RISING_EDGE:
      return FAKE_EDGE_RISING;
    case GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE:
      return FAKE_EDGE_FALLING;
    case GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES:
      return FAKE_EDGE_BOTH;
    default:
      return FAKE_EDGE_NONE;
    }
}

static FakeBias
bias_of_flags (int flags)
{
  if (flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
    return FAKE_BIAS_PULL_UP;
  if (flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
    return FAKE_BIAS_PULL_DOWN;
  if (flags & GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
    return FAKE_BIAS_DISABLED;
  return FAKE_BIAS_AS_IS;
}

int
gpiod_line_request (struct gpiod_line *line, const struct gpiod_line_request_config *config,
                    int default_val)
{
  FakeLineState settings = {
    .active_low = (config->flags & GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) != 0,
    .bias = bias_of_flags (config->flags),
    .edge = edge_of_request_type (config->request_type),
    .abi = 1,
  };
  int bias_flags = config->flags & (GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP
                                    | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN
                                    | GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE);

  if (line->fd >= 0 || settings.edge == FAKE_EDGE_NONE || (bias_flags & (bias_flags - 1)) != 0)
    {
      errno = EINVAL;   /* the library refuses a second request and conflicting flags */
      return -1;
    }
  line->fd = fake_kernel_request_line (line->chip->fake, line->offset, &settings,
                                       config->consumer);
  return line->fd >= 0 ? 0 : -1;
}

void
gpiod_line_release (struct gpiod_line *line)
{
  if (line->fd < 0)
    return;
  fake_kernel_release_line (line->fd);
  line->fd = -1;
}

int
gpiod_line_event_get_fd (struct gpiod_line *line)
{
  if (line->fd < 0)
    errno = EPERM;
  return line->fd;
}

int
gpiod_line_event_read_multiple (struct gpiod_line *line, struct gpiod_line_event *events,
                                unsigned int num_events)
{
  struct gpioevent_data records[MAX_EVENTS_PER_READ];
  ssize_t rd;
  unsigned int n;

  if (line->fd < 0)
    {
      errno = EPERM;
      return -1;
    }
  if (fake_kernel_request_gone (line->fd))
    {
      errno = ENODEV;   /* lineevent_read() on 6.1: the chip is checked first */
      return -1;
    }
  num_events = MIN (num_events, MAX_EVENTS_PER_READ);
  rd = read (line->fd, records, sizeof records[0] * num_events);
  if (rd < 0)
    return -1;
  if (rd == 0)
    {
      errno = ENODEV;   /* the real chardev's answer once the chip is gone */
      return -1;
    }
  g_assert_cmpint (rd % (ssize_t) sizeof records[0], ==, 0);
  n = (unsigned int) (rd / (ssize_t) sizeof records[0]);
  for (unsigned int i = 0; i < n; i++)
    {
      events[i].event_type = records[i].id == GPIOEVENT_EVENT_RISING_EDGE
                               ? GPIOD_LINE_EVENT_RISING_EDGE : GPIOD_LINE_EVENT_FALLING_EDGE;
      events[i].ts.tv_sec = (time_t) (records[i].timestamp / 1000000000ULL);
      events[i].ts.tv_nsec = (long) (records[i].timestamp % 1000000000ULL);
    }
  return (int) n;
}
