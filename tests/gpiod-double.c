/* The fake kernel under the libgpiod test doubles (see gpiod-double.h): chips, lines,
 * requests, and edge events written in the kernel's record layouts. */
#include "gpiod-double.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <linux/gpio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *name;
  char *consumer;            /* a request's or another program's; NULL: free */
  FakeLineState state;
  int read_fd, write_fd;     /* the request's pipe; -1: none */
  gboolean chip_gone;        /* removed silently: reads fail with ENODEV, no hang-up */
  gboolean level;            /* the physical level now (TRUE: high) */
  /* the kernel's debouncer (a v2 request with a debounce period) */
  gboolean settled_level;    /* the level it last reported (or read at the request) */
  gboolean debounce_pending; /* its delayed work is queued, due at debounce_due_ns */
  guint64 debounce_due_ns;
  guint32 seqno;
} FakeLine;

typedef struct {
  char *path;
  char *label;
  guint n_lines;
  FakeLine *lines;
  int open_errno;            /* opening it fails with this (EACCES); 0: it opens */
} FakeChipData;

struct FakeChip {
  char *path;
};

/* The one fake kernel: tests reset it (see gpiod-double.h). */
static struct {
  GPtrArray *chips;          /* FakeChipData* */
  guint open_handles;
  guint32 global_seqno;
} kernel;

static void
close_request (FakeLine *line)
{
  if (line->write_fd >= 0)
    close (line->write_fd);
  line->write_fd = -1;
}

static void
chip_data_free (gpointer data)
{
  FakeChipData *chip = data;

  for (guint i = 0; i < chip->n_lines; i++)
    {
      close_request (&chip->lines[i]);
      if (chip->lines[i].read_fd >= 0)
        close (chip->lines[i].read_fd);
      g_free (chip->lines[i].name);
      g_free (chip->lines[i].consumer);
    }
  g_free (chip->lines);
  g_free (chip->path);
  g_free (chip->label);
  g_free (chip);
}

static FakeChipData *
find_chip (const char *path)
{
  for (guint i = 0; kernel.chips != NULL && i < kernel.chips->len; i++)
    {
      FakeChipData *chip = g_ptr_array_index (kernel.chips, i);
      if (strcmp (chip->path, path) == 0)
        return chip;
    }
  return NULL;
}

static FakeLine *
find_line (const char *path, guint offset)
{
  FakeChipData *chip = find_chip (path);

  if (chip == NULL || offset >= chip->n_lines)
    g_error ("fake kernel: no line %u on %s", offset, path);
  return &chip->lines[offset];
}

/* The line whose request reads FD, wherever it is (its chip may be gone). */
static FakeLine *
find_request (int fd, FakeChipData **owner)
{
  for (guint i = 0; kernel.chips != NULL && i < kernel.chips->len; i++)
    {
      FakeChipData *chip = g_ptr_array_index (kernel.chips, i);
      for (guint j = 0; j < chip->n_lines; j++)
        if (chip->lines[j].read_fd == fd)
          {
            *owner = chip;
            return &chip->lines[j];
          }
    }
  return NULL;
}

void
fake_gpio_reset (void)
{
  g_clear_pointer (&kernel.chips, g_ptr_array_unref);
  kernel.chips = g_ptr_array_new_with_free_func (chip_data_free);
  kernel.open_handles = 0;
  kernel.global_seqno = 0;
}

void
fake_gpio_add_chip (const char *path, const char *label, guint n_lines,
                    const char *const *names)
{
  FakeChipData *chip = g_new0 (FakeChipData, 1);

  g_assert_null (find_chip (path));
  chip->path = g_strdup (path);
  chip->label = g_strdup (label);
  chip->n_lines = n_lines;
  chip->lines = g_new0 (FakeLine, n_lines);
  for (guint i = 0; i < n_lines; i++)
    {
      chip->lines[i].read_fd = chip->lines[i].write_fd = -1;
      if (names != NULL && names[i] != NULL)
        chip->lines[i].name = g_strdup (names[i]);
      else
        names = NULL;
    }
  g_ptr_array_add (kernel.chips, chip);
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
}

static void
remove_chip (const char *path, gboolean hang_up)
{
  FakeChipData *chip = find_chip (path);

  if (chip == NULL)
    g_error ("fake kernel: no chip %s", path);
  /* Requests hang up (or, silently, only fail their reads); their read ends stay valid
   * until the backend releases them. The chip's entry stays, renamed, so that those
   * releases still find their lines. */
  for (guint i = 0; i < chip->n_lines; i++)
    {
      if (hang_up)
        close_request (&chip->lines[i]);
      chip->lines[i].chip_gone = !hang_up && chip->lines[i].read_fd >= 0;
    }
  g_free (chip->path);
  chip->path = g_strdup_printf ("(removed) %s", path);
  g_assert_cmpint (g_unlink (path), ==, 0);
}

void
fake_gpio_remove_chip (const char *path)
{
  remove_chip (path, TRUE);
}

void
fake_gpio_remove_chip_silently (const char *path)
{
  remove_chip (path, FALSE);
}

gboolean
fake_kernel_request_gone (int fd)
{
  FakeChipData *chip = NULL;
  FakeLine *line = find_request (fd, &chip);

  return line != NULL && line->chip_gone;
}

void
fake_gpio_deny_chip (const char *path, int open_errno)
{
  FakeChipData *chip = find_chip (path);

  if (chip == NULL)
    g_error ("fake kernel: no chip %s", path);
  chip->open_errno = open_errno;
}

void
fake_gpio_hold_line (const char *path, guint offset, const char *consumer)
{
  FakeLine *line = find_line (path, offset);

  g_free (line->consumer);
  line->consumer = g_strdup (consumer);
}

/* A full pipe is the kernel's full event queue: the event is dropped (the pipe holds
 * more than the kernel's 16 or 64, so that tests may queue many). Records are smaller
 * than PIPE_BUF: written whole or not at all. */
static void
record_written (ssize_t written, size_t size)
{
  if (written < 0 && errno == EAGAIN)
    return;
  g_assert_cmpint (written, ==, size);
}

static void
write_record (FakeLine *line, guint offset, gboolean rising, guint64 timestamp_ns)
{
  ssize_t written;

  if (line->state.abi == 1)
    {
      struct gpioevent_data record;

      memset (&record, 0, sizeof record);   /* the padding too, as the kernel does */
      record.timestamp = timestamp_ns;
      record.id = rising ? GPIOEVENT_EVENT_RISING_EDGE : GPIOEVENT_EVENT_FALLING_EDGE;
      written = write (line->write_fd, &record, sizeof record);
      record_written (written, sizeof record);
    }
  else
    {
      struct gpio_v2_line_event record = {
        .timestamp_ns = timestamp_ns,
        .id = rising ? GPIO_V2_LINE_EVENT_RISING_EDGE : GPIO_V2_LINE_EVENT_FALLING_EDGE,
        .offset = offset,
        .seqno = ++kernel.global_seqno,
        .line_seqno = ++line->seqno,
      };
      written = write (line->write_fd, &record, sizeof record);
      record_written (written, sizeof record);
    }
}

/* The line's physical level became HIGH at TIMESTAMP_NS: a record if the request watches
 * that logical edge. */
static void
report_level (FakeLine *line, guint offset, gboolean high, guint64 timestamp_ns)
{
  gboolean rising = high != line->state.active_low;

  if (line->state.edge == FAKE_EDGE_NONE
      || (line->state.edge == FAKE_EDGE_RISING && !rising)
      || (line->state.edge == FAKE_EDGE_FALLING && rising))
    return;
  write_record (line, offset, rising, timestamp_ns);
}

/* The kernel debouncer's delayed work, if it is due by NOW_NS (debounce_work_func()): it
 * reads the level, and reports it only if it differs from the last one reported, stamped
 * with the time the work ran (the end of the period), not the time of any edge. */
static void
run_debounce_work (FakeLine *line, guint offset, guint64 now_ns)
{
  if (!line->debounce_pending || now_ns < line->debounce_due_ns)
    return;
  line->debounce_pending = FALSE;
  if (line->level == line->settled_level)
    return;
  line->settled_level = line->level;
  report_level (line, offset, line->level, line->debounce_due_ns);
}

void
fake_gpio_edge (const char *path, guint offset, gboolean physical_rising, guint64 timestamp_ns)
{
  FakeLine *line = find_line (path, offset);

  if (line->write_fd < 0)
    return;   /* nobody listens */
  if (line->state.debounce_us == 0)
    {
      line->level = physical_rising;
      report_level (line, offset, physical_rising, timestamp_ns);
      return;
    }
  /* A debounced line, as gpiolib-cdev.c does it: every edge (re)starts the delayed work
   * (debounce_irq_handler(): mod_delayed_work() with the period); nothing is reported
   * until the level has been stable for the whole period. */
  run_debounce_work (line, offset, timestamp_ns);
  line->level = physical_rising;
  line->debounce_pending = TRUE;
  line->debounce_due_ns = timestamp_ns + line->state.debounce_us * 1000ULL;
}

void
fake_gpio_settle (const char *path, guint offset, guint64 now_ns)
{
  FakeLine *line = find_line (path, offset);

  if (line->write_fd >= 0)
    run_debounce_work (line, offset, now_ns);
}

FakeLineState
fake_gpio_line_state (const char *path, guint offset)
{
  return find_line (path, offset)->state;
}

guint
fake_gpio_open_chip_handles (void)
{
  return kernel.open_handles;
}

FakeChip *
fake_kernel_open_chip (const char *path)
{
  FakeChip *chip;
  g_autofree char *real = realpath (path, NULL);   /* a symlink to a chip opens the chip */
  FakeChipData *data = find_chip (real != NULL ? real : path);

  if (data == NULL || data->open_errno != 0)
    {
      errno = data == NULL ? ENOENT : data->open_errno;
      return NULL;
    }
  chip = g_new0 (FakeChip, 1);
  chip->path = g_strdup (data->path);
  kernel.open_handles++;
  return chip;
}

void
fake_kernel_close_chip (FakeChip *chip)
{
  g_assert_cmpuint (kernel.open_handles, >, 0);
  kernel.open_handles--;
  g_free (chip->path);
  g_free (chip);
}

/* The chip a handle refers to; NULL (errno ENODEV) once it went away. */
static FakeChipData *
chip_data (FakeChip *chip)
{
  FakeChipData *data = find_chip (chip->path);

  if (data == NULL)
    errno = ENODEV;
  return data;
}

const char *
fake_kernel_chip_path (FakeChip *chip)
{
  return chip->path;
}

const char *
fake_kernel_chip_name (FakeChip *chip)
{
  const char *slash = strrchr (chip->path, '/');
  return slash != NULL ? slash + 1 : chip->path;
}

const char *
fake_kernel_chip_label (FakeChip *chip)
{
  FakeChipData *data = chip_data (chip);
  return data != NULL ? data->label : "";
}

guint
fake_kernel_chip_num_lines (FakeChip *chip)
{
  FakeChipData *data = chip_data (chip);
  return data != NULL ? data->n_lines : 0;
}

const char *
fake_kernel_line_name (FakeChip *chip, guint offset)
{
  FakeChipData *data = chip_data (chip);
  return data != NULL && offset < data->n_lines ? data->lines[offset].name : NULL;
}

const char *
fake_kernel_line_consumer (FakeChip *chip, guint offset)
{
  FakeChipData *data = chip_data (chip);
  return data != NULL && offset < data->n_lines ? data->lines[offset].consumer : NULL;
}

guint
fake_kernel_line_debounce_us (FakeChip *chip, guint offset)
{
  FakeChipData *data = chip_data (chip);

  if (data == NULL || offset >= data->n_lines || data->lines[offset].write_fd < 0)
    return 0;
  return data->lines[offset].state.debounce_us;
}

int
fake_kernel_request_line (FakeChip *chip, guint offset, const FakeLineState *settings,
                          const char *consumer)
{
  FakeChipData *data = chip_data (chip);
  FakeLine *line;
  int fds[2];

  if (data == NULL)
    return -1;
  if (offset >= data->n_lines)
    {
      errno = EINVAL;
      return -1;
    }
  line = &data->lines[offset];
  if (line->consumer != NULL)
    {
      errno = EBUSY;
      return -1;
    }
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, NULL));
  line->state = *settings;
  line->state.requested = TRUE;
  g_strlcpy (line->state.consumer, consumer != NULL ? consumer : "", sizeof line->state.consumer);
  line->consumer = g_strdup (line->state.consumer);
  g_assert_true (g_unix_set_fd_nonblocking (fds[1], TRUE, NULL));
  line->read_fd = fds[0];
  line->write_fd = fds[1];
  /* the switch is open when the line is requested: the bias holds the level */
  line->level = settings->bias != FAKE_BIAS_PULL_DOWN;
  line->settled_level = line->level;
  line->debounce_pending = FALSE;
  line->seqno = 0;
  return line->read_fd;
}

void
fake_kernel_release_line (int fd)
{
  FakeChipData *chip = NULL;
  FakeLine *line = find_request (fd, &chip);

  if (line == NULL)
    g_error ("fake kernel: no request reads fd %d", fd);
  close_request (line);
  close (line->read_fd);
  line->read_fd = -1;
  line->chip_gone = FALSE;
  line->state.requested = FALSE;
  g_clear_pointer (&line->consumer, g_free);
}
