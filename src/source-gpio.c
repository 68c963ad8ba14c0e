/* The GPIO reed-switch source: a line's edge events, stamped with the kernel's time.
 *
 * States: waiting (no line: the chip is missing, the line busy; retried every
 * retry_interval_ms), listening (the line's fd is a main-loop source) and paused (a line
 * storm: the line is held but not read for a while, the link down). The chip going
 * away goes back to waiting: a hang-up on the line's fd, or the removal of the chip's device
 * node, which an inotify watch on its directory (another main-loop fd) reports. Debian's
 * 6.1 kernel wakes nobody polling a line's fd when gpiochip_remove() takes its chip away
 * (poll() would say so, but only when something else wakes the loop): the node's removal
 * is what tells, at once and without any periodic wake-up. Each change is logged as
 * `old -> new` and the reason for waiting is shown on the sensor's Error. The libgpiod calls
 * are in the backend (source-gpio.h). */
#include "source-gpio.h"
#include "config-gpio.h"
#include "wu-error.h"
#include "wu-cadence.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib-unix.h>

/* Events read per read() call, and read() calls per wake-up: enough for any bike, small
 * enough that a line gone wild cannot starve the main loop. */
#define EVENTS_PER_READ 16
#define READS_PER_WAKEUP 8

/* A line storm: more edges within a second than wu_gpio_storm_limit() allows. The line is
 * then not read for STORM_PAUSE_MS at a time, so that it costs next to nothing, until it has
 * been calm for as long. */
#define STORM_PAUSE_MS 1000
#define NS_PER_SECOND G_GINT64_CONSTANT (1000000000)
/* What is left queued when a pause ends is read and dropped: at most this many reads (the
 * kernel's queue holds 16 events for one line, by default). */
#define STORM_DRAIN_READS 64

/* A kernel timestamp further than this from the monotonic clock is not CLOCK_MONOTONIC
 * (kernels before 5.7 stamped v1 events with CLOCK_REALTIME). */
#define PLAUSIBLE_CLOCK_SKEW_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)

/* PAUSED: the line is held, but its fd is out of the main loop for a while (a storm). */
typedef enum { GPIO_WAITING, GPIO_LISTENING, GPIO_PAUSED } GpioState;

typedef struct {
  WuSource base;
  WuGpioConfig config;
  char *dev_dir;
  guint retry_interval_ms;
  char *consumer;
  GpioState state;
  char *chip_path;             /* the chip the line was found on (listening) */
  guint offset;
  WuGpioRequest *request;      /* listening: the line */
  GSource *watch;              /* listening: the line's fd */
  int node_fd;                 /* listening: inotify on the chip node's directory; -1: none */
  GSource *node_watch;         /* ... its fd in the main loop */
  char *node_path;             /* ... the node it watches for (symlinks resolved) */
  struct stat node_stat;       /* ... as it was when the line was requested */
  gboolean warned_node_watch;
  GSource *retry_timer;        /* waiting: the next attempt */
  char *last_error;            /* the last reason for waiting, logged once */
  gboolean warned_clock;
  /* storm detection: edges in the second that began with the first of them (kernel time) */
  gint64 window_start_ns;
  guint window_edges;
  gboolean in_storm;           /* since too many came: edges are dropped, the link is down */
  gint64 storm_since_us;       /* monotonic */
  guint storms;                /* since the source was made, for quieter logs */
  guint storm_limit;           /* wu_gpio_storm_limit() for the magnets configured */
  guint edges_since_resume;    /* in a storm: edges read since the last pause ended */
  GSource *storm_timer;        /* in a storm: the end of the pause, or of the calm second */
} WuGpioSource;

static const char *
state_name (GpioState state)
{
  switch (state)
    {
    case GPIO_LISTENING:
      return "listening";
    case GPIO_PAUSED:
      return "paused";
    case GPIO_WAITING:
    default:
      return "waiting";
    }
}

static gboolean
is_numeric (const char *text)
{
  return text[0] != '\0' && strspn (text, "0123456789") == strlen (text);
}

static gint
compare_numbers (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? -1 : x > y;
}

/* The chips in dev_dir, in numeric order: gpiochip0, gpiochip1, ..., gpiochip10. */
static GPtrArray *
list_chips (const char *dev_dir)
{
  g_autoptr (GDir) dir = g_dir_open (dev_dir, 0, NULL);
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) numbers = g_array_new (FALSE, FALSE, sizeof (guint64));
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      guint64 n;
      if (g_str_has_prefix (name, "gpiochip")
          && g_ascii_string_to_unsigned (name + 8, 10, 0, G_MAXUINT, &n, NULL))
        g_array_append_val (numbers, n);
    }
  g_array_sort (numbers, compare_numbers);
  for (guint i = 0; i < numbers->len; i++)
    g_ptr_array_add (paths, g_strdup_printf ("%s/gpiochip%" G_GUINT64_FORMAT, dev_dir,
                                             g_array_index (numbers, guint64, i)));
  return paths;
}

/* A chip that could not be opened while looking through them all: noted in FAILURES
 * ("PATH: reason; ..."), with the first one's code in CODE. A chip without the line, or
 * that vanished meanwhile (G_IO_ERROR_NOT_FOUND), is no failure. */
static void
note_open_failure (GString **failures, GIOErrorEnum *code, const GError *error)
{
  if (error == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return;
  if (*failures == NULL)
    {
      *failures = g_string_new (error->message);
      *code = error->domain == G_IO_ERROR ? (GIOErrorEnum) error->code : G_IO_ERROR_FAILED;
    }
  else
    g_string_append_printf (*failures, "; %s", error->message);
}

/* Nothing matched: WHAT is "no GPIO line named 'GPIO17' on any chip" or "no GPIO chip
 * labelled 'X'"; AMONG_OPENED the same, limited to "on the chips that could be opened". When
 * some chips could not be opened (no access: not in group gpio, no udev rule, a sandbox),
 * say so and name them: what was looked for may well be on one of them. */
static void
set_not_found (GError **error, const GString *failures, GIOErrorEnum code, const char *dev_dir,
               const char *what, const char *among_opened)
{
  if (failures != NULL)
    g_set_error (error, G_IO_ERROR, code, "%s in %s; %s", among_opened, dev_dir, failures->str);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s in %s", what, dev_dir);
}

/* The chip whose label is LABEL. */
static char *
find_chip_by_label (WuGpioSource *gpio, const char *label, GError **error)
{
  g_autoptr (GPtrArray) paths = list_chips (gpio->dev_dir);
  g_autoptr (GString) failures = NULL;
  GIOErrorEnum code = G_IO_ERROR_FAILED;
  g_autofree char *what = NULL, *among_opened = NULL;

  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autoptr (GError) open_error = NULL;
      g_autofree char *chip_label = wu_gpio_backend_chip_label (path, &open_error);

      if (g_strcmp0 (chip_label, label) == 0)
        return g_strdup (path);
      note_open_failure (&failures, &code, open_error);
    }
  what = g_strdup_printf ("no GPIO chip labelled '%s'", label);
  among_opened = g_strdup_printf ("no GPIO chip labelled '%s' among the chips that could be "
                                  "opened", label);
  set_not_found (error, failures, code, gpio->dev_dir, what, among_opened);
  return NULL;
}

/* A chip number as the kernel names its node: "07" is gpiochip7. */
static const char *
skip_leading_zeros (const char *number)
{
  while (number[0] == '0' && number[1] != '\0')
    number++;
  return number;
}

/* Chip= to a path: a path, a name (gpiochip0), a number, or else a label. */
static char *
resolve_chip (WuGpioSource *gpio, const char *chip, GError **error)
{
  if (chip[0] == '/')
    return g_strdup (chip);
  if (is_numeric (chip))
    return g_strdup_printf ("%s/gpiochip%s", gpio->dev_dir, skip_leading_zeros (chip));
  if (g_str_has_prefix (chip, "gpiochip") && is_numeric (chip + 8))
    return g_strdup_printf ("%s/gpiochip%s", gpio->dev_dir, skip_leading_zeros (chip + 8));
  return find_chip_by_label (gpio, chip, error);
}

/* No Chip=: the first chip with a line of that name. */
static gboolean
find_line_anywhere (WuGpioSource *gpio, const char *name, char **chip_path, guint *offset,
                    GError **error)
{
  g_autoptr (GPtrArray) paths = list_chips (gpio->dev_dir);
  g_autoptr (GString) failures = NULL;
  GIOErrorEnum code = G_IO_ERROR_FAILED;
  g_autofree char *what = NULL, *among_opened = NULL;

  for (guint i = 0; i < paths->len; i++)
    {
      g_autoptr (GError) open_error = NULL;

      if (wu_gpio_backend_find_line (g_ptr_array_index (paths, i), name, offset, &open_error))
        {
          *chip_path = g_strdup (g_ptr_array_index (paths, i));
          return TRUE;
        }
      note_open_failure (&failures, &code, open_error);
    }
  if (paths->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no GPIO chip in %s (looking for %s)",
                   gpio->dev_dir, name);
      return FALSE;
    }
  what = g_strdup_printf ("no GPIO line named '%s' on any chip", name);
  among_opened = g_strdup_printf ("no GPIO line named '%s' on the chips that could be opened",
                                  name);
  set_not_found (error, failures, code, gpio->dev_dir, what, among_opened);
  return FALSE;
}

/* Chip= and Line= to a chip path and an offset. */
static gboolean
resolve_line (WuGpioSource *gpio, char **chip_path, guint *offset, GError **error)
{
  const char *line = gpio->config.line;
  g_autofree char *path = NULL;

  if (gpio->config.chip == NULL && !is_numeric (line))
    return find_line_anywhere (gpio, line, chip_path, offset, error);
  path = resolve_chip (gpio, gpio->config.chip != NULL ? gpio->config.chip : "gpiochip0", error);
  if (path == NULL)
    return FALSE;
  if (is_numeric (line))
    *offset = (guint) g_ascii_strtoull (line, NULL, 10);
  else if (!wu_gpio_backend_find_line (path, line, offset, error))
    return FALSE;
  *chip_path = g_steal_pointer (&path);
  return TRUE;
}

static void gpio_try_open (WuGpioSource *gpio);

static void
set_state (WuGpioSource *gpio, GpioState state, const char *why)
{
  if (gpio->state == state)
    return;
  g_message ("%s: %s -> %s: %s", gpio->base.name, state_name (gpio->state), state_name (state),
             why);
  gpio->state = state;
}

static void
deliver_link (WuGpioSource *gpio, gboolean up)
{
  WuRawEvent event;

  memset (&event, 0, offsetof (WuRawEvent, payload));
  event.kind = WU_EVENT_LINK;
  event.up = up;
  event.time_us = gpio->base.sink->now (gpio->base.sink_data);
  gpio->base.sink->event (gpio->base.sink_data, &event);
}

static gboolean
on_retry_timer (gpointer user_data)
{
  WuGpioSource *gpio = user_data;

  g_clear_pointer (&gpio->retry_timer, g_source_unref);
  gpio_try_open (gpio);
  return G_SOURCE_REMOVE;
}

/* Waiting: show why on the sensor, log it once, try again later. */
static void
wait_and_retry (WuGpioSource *gpio, const GError *error)
{
  set_state (gpio, GPIO_WAITING, error->message);
  if (g_strcmp0 (gpio->last_error, error->message) != 0)
    {
      g_warning ("%s: %s (retrying every %u s)", gpio->base.name, error->message,
                 (gpio->retry_interval_ms + 999) / 1000);
      g_free (gpio->last_error);
      gpio->last_error = g_strdup (error->message);
    }
  else
    g_debug ("%s: still %s", gpio->base.name, error->message);
  gpio->base.sink->error (gpio->base.sink_data, error);
  g_assert (gpio->retry_timer == NULL);
  gpio->retry_timer = g_timeout_source_new (gpio->retry_interval_ms);
  g_source_set_callback (gpio->retry_timer, on_retry_timer, gpio, NULL);
  g_source_set_name (gpio->retry_timer, "[warmupd] gpio retry");
  g_source_attach (gpio->retry_timer, NULL);
}

/* The kernel's CLOCK_MONOTONIC event time on the sink's clock. */
static gint64
event_time (WuGpioSource *gpio, gint64 timestamp_ns)
{
  gint64 event_us = timestamp_ns / 1000;
  gint64 now_us = g_get_monotonic_time ();

  if (ABS (now_us - event_us) > PLAUSIBLE_CLOCK_SKEW_US)
    {
      if (!gpio->warned_clock)
        g_warning ("%s: the kernel's event times are not CLOCK_MONOTONIC (a kernel before "
                   "5.7?); using the time of the read instead", gpio->base.name);
      gpio->warned_clock = TRUE;
      event_us = now_us;
    }
  return gpio->base.sink->from_monotonic (gpio->base.sink_data, event_us);
}

static void start_storm_pause (WuGpioSource *gpio);

/* The fastest pedalling (WU_CADENCE_MAX_RPM) with the most bounce the cadence estimator
 * still takes for a switch (WU_CADENCE_NOISE_REJECTED_EDGES between two pulses), the pulse
 * itself and one of the other edge direction: 88 edges a second with one magnet, 1,298 with
 * 16. Beyond it the estimator would call every period noise anyway; the storms it is meant
 * for (a floating input) run at hundreds to tens of thousands. */
guint
wu_gpio_storm_limit (guint pulses_per_revolution)
{
  guint pulses_per_second = (guint) ceil (WU_CADENCE_MAX_RPM / 60.0
                                          * MAX (pulses_per_revolution, 1u));

  return pulses_per_second * (WU_CADENCE_NOISE_REJECTED_EDGES + 2);
}

/* Counts the edge at TIMESTAMP_NS: TRUE when it makes too many for one second. */
static gboolean
edge_makes_storm (WuGpioSource *gpio, gint64 timestamp_ns)
{
  if (gpio->window_edges == 0 || timestamp_ns - gpio->window_start_ns >= NS_PER_SECOND
      || timestamp_ns < gpio->window_start_ns)
    {
      gpio->window_start_ns = timestamp_ns;
      gpio->window_edges = 0;
    }
  gpio->edges_since_resume++;
  return ++gpio->window_edges > gpio->storm_limit;
}

/* Delivers EDGES, or drops them in a storm. FALSE when they made one (the line is paused:
 * read no further). */
static gboolean
deliver_edges (WuGpioSource *gpio, const WuGpioEdgeEvent *edges, int n)
{
  WuRawEvent event;

  memset (&event, 0, offsetof (WuRawEvent, payload));
  event.kind = WU_EVENT_GPIO_EDGE;
  for (int i = 0; i < n; i++)
    {
      if (edge_makes_storm (gpio, edges[i].timestamp_ns))
        {
          start_storm_pause (gpio);
          return FALSE;
        }
      if (gpio->in_storm)
        continue;
      event.up = edges[i].rising;
      event.time_us = event_time (gpio, edges[i].timestamp_ns);
      gpio->base.sink->event (gpio->base.sink_data, &event);
    }
  return TRUE;
}

static void
stop_watching_node (WuGpioSource *gpio)
{
  if (gpio->node_watch != NULL)
    {
      g_source_destroy (gpio->node_watch);
      g_clear_pointer (&gpio->node_watch, g_source_unref);
    }
  if (gpio->node_fd >= 0)
    close (gpio->node_fd);
  gpio->node_fd = -1;
  g_clear_pointer (&gpio->node_path, g_free);
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
stop_listening (WuGpioSource *gpio)
{
  clear_source (&gpio->watch);
  clear_source (&gpio->storm_timer);
  gpio->in_storm = FALSE;
  gpio->window_edges = 0;
  stop_watching_node (gpio);
  g_clear_pointer (&gpio->request, wu_gpio_request_free);
  g_clear_pointer (&gpio->chip_path, g_free);
}

/* The line is gone (the chip was removed) or unreadable: back to waiting. */
static void
lose_line (WuGpioSource *gpio, const char *reason)
{
  g_autoptr (GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                          "%s: %s", gpio->chip_path, reason);
  gboolean link_was_up = !gpio->in_storm;

  stop_listening (gpio);
  if (link_was_up)
    deliver_link (gpio, FALSE);
  wait_and_retry (gpio, error);
}

/* Read and deliver what is pending. FALSE with an error when reading failed (the line is
 * gone, or unreadable). A storm found on the way pauses the line and ends the reading. */
static gboolean
read_pending (WuGpioSource *gpio, GError **error)
{
  WuGpioEdgeEvent edges[EVENTS_PER_READ];

  for (guint i = 0; i < READS_PER_WAKEUP && gpio->state == GPIO_LISTENING; i++)
    {
      int n = wu_gpio_request_read (gpio->request, edges, EVENTS_PER_READ, error);
      if (n < 0)
        return FALSE;
      if (!deliver_edges (gpio, edges, n) || n < EVENTS_PER_READ)
        break;
    }
  return TRUE;
}

/* The chip went away (REASON): events still queued are read first, where the kernel still
 * gives them, so that none is lost; then back to waiting. */
static void
chip_gone (WuGpioSource *gpio, const char *reason)
{
  g_autoptr (GError) error = NULL;

  if (!read_pending (gpio, &error))
    g_debug ("%s: after the chip went away: %s", gpio->base.name, error->message);
  lose_line (gpio, reason);
}

static void watch_line (WuGpioSource *gpio);
static gboolean on_storm_timer (gpointer user_data);

static void
schedule_storm_timer (WuGpioSource *gpio)
{
  clear_source (&gpio->storm_timer);
  gpio->storm_timer = g_timeout_source_new (STORM_PAUSE_MS);
  g_source_set_callback (gpio->storm_timer, on_storm_timer, gpio, NULL);
  g_source_set_name (gpio->storm_timer, "[warmupd] gpio line storm");
  g_source_attach (gpio->storm_timer, NULL);
}

/* Too many edges: the line's fd leaves the main loop for STORM_PAUSE_MS. The first time,
 * the link goes down (the cadence is unknown, not 0) and the sensor says why. A line that
 * storms again and again is logged as the BLE links' failures are: the first storms and
 * every tenth. */
static void
start_storm_pause (WuGpioSource *gpio)
{
  g_autoptr (GError) error = NULL;

  clear_source (&gpio->watch);
  gpio->state = GPIO_PAUSED;
  gpio->window_edges = 0;
  schedule_storm_timer (gpio);
  if (gpio->in_storm)
    {
      g_debug ("%s: still storming: paused again", gpio->base.name);
      return;
    }
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_BUSY, "%s line %u: over %u edges in a second, "
                       "no switch makes that (a floating input? check the wiring and Bias=): "
                       "not read until it is calm for %d s", gpio->chip_path, gpio->offset,
                       gpio->storm_limit, STORM_PAUSE_MS / 1000);
  gpio->storms++;
  if (gpio->storms <= 2 || gpio->storms % 10 == 0)
    g_warning ("%s: listening -> paused: %s (storm %u)", gpio->base.name, error->message,
               gpio->storms);
  else
    g_debug ("%s: listening -> paused: %s (storm %u)", gpio->base.name, error->message,
             gpio->storms);
  gpio->in_storm = TRUE;
  gpio->storm_since_us = g_get_monotonic_time ();
  gpio->base.sink->error (gpio->base.sink_data, error);
  deliver_link (gpio, FALSE);
}

/* A pause ends: what queued meanwhile is dropped, and the line is read again (its edges
 * still dropped) for a second, to see whether the storm is over. */
static void
resume_after_storm_pause (WuGpioSource *gpio)
{
  WuGpioEdgeEvent edges[EVENTS_PER_READ];
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < STORM_DRAIN_READS; i++)
    {
      int n = wu_gpio_request_read (gpio->request, edges, EVENTS_PER_READ, &error);
      if (n < 0)
        {
          lose_line (gpio, error->message);
          return;
        }
      if (n < EVENTS_PER_READ)
        break;
    }
  gpio->state = GPIO_LISTENING;
  gpio->window_edges = 0;
  gpio->edges_since_resume = 0;
  watch_line (gpio);
  schedule_storm_timer (gpio);
}

/* The storm is over: the reason goes from the sensor, the link comes back. */
static void
end_storm (WuGpioSource *gpio)
{
  double lasted_s = (double) (g_get_monotonic_time () - gpio->storm_since_us) / G_USEC_PER_SEC;

  if (gpio->storms <= 2 || gpio->storms % 10 == 0)
    g_message ("%s: paused -> listening: calm again, after %.0f s of a line storm",
               gpio->base.name, lasted_s);
  else
    g_debug ("%s: paused -> listening: calm again, after %.0f s of a line storm",
             gpio->base.name, lasted_s);
  gpio->in_storm = FALSE;
  gpio->base.sink->error (gpio->base.sink_data, NULL);
  deliver_link (gpio, TRUE);
}

/* The end of a pause: read again. The end of a second read after a pause, its edges
 * dropped: no more than the limit (counted over the whole second, so that a storm a little
 * above it, whose first edge began a window late, is still caught) ends the storm; else
 * paused again. For the log, the storm is one pause until it ends. */
static gboolean
on_storm_timer (gpointer user_data)
{
  WuGpioSource *gpio = user_data;

  g_clear_pointer (&gpio->storm_timer, g_source_unref);
  if (gpio->state == GPIO_PAUSED)
    resume_after_storm_pause (gpio);
  else if (gpio->in_storm && gpio->edges_since_resume > gpio->storm_limit)
    start_storm_pause (gpio);
  else if (gpio->in_storm)
    end_storm (gpio);
  return G_SOURCE_REMOVE;
}

static gboolean
on_line_event (gint fd, GIOCondition condition, gpointer user_data)
{
  WuGpioSource *gpio = user_data;
  g_autoptr (GError) error = NULL;

  /* Hang-up or error on the line's fd: the chip went away (kernels that wake pollers on
   * removal). */
  if (condition & (G_IO_HUP | G_IO_ERR | G_IO_NVAL))
    {
      chip_gone (gpio, "the GPIO chip went away");
      return G_SOURCE_REMOVE;
    }
  if (!read_pending (gpio, &error))
    {
      lose_line (gpio, error->message);
      return G_SOURCE_REMOVE;   /* lose_line() already dropped the watch */
    }
  /* a storm paused the line: start_storm_pause() already dropped the watch */
  return gpio->state == GPIO_PAUSED ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* Whether the node is still the one the line was requested on. */
static gboolean
node_still_there (WuGpioSource *gpio)
{
  struct stat now;

  return stat (gpio->node_path, &now) == 0 && now.st_ino == gpio->node_stat.st_ino
         && now.st_dev == gpio->node_stat.st_dev && now.st_rdev == gpio->node_stat.st_rdev;
}

/* What the directory watch read: TRUE when the node is gone. */
static gboolean
node_removed_in (WuGpioSource *gpio, const char *buffer, gssize length)
{
  g_autofree char *name = g_path_get_basename (gpio->node_path);

  for (gssize at = 0; at < length;)
    {
      const struct inotify_event *event = (const struct inotify_event *) (buffer + at);

      if (event->mask & IN_Q_OVERFLOW)
        {
          if (!node_still_there (gpio))
            return TRUE;
        }
      else if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
        return TRUE;   /* the directory itself went */
      else if ((event->mask & (IN_DELETE | IN_MOVED_FROM)) && event->len > 0
               && strcmp (event->name, name) == 0)
        return TRUE;
      at += (gssize) (sizeof *event + event->len);
    }
  return FALSE;
}

/* Something was deleted or moved in the chip node's directory. */
static gboolean
on_node_event (gint fd, GIOCondition condition, gpointer user_data)
{
  WuGpioSource *gpio = user_data;
  char buffer[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  gboolean removed = FALSE;
  gssize n;

  while (!removed && (n = read (fd, buffer, sizeof buffer)) > 0)
    removed = node_removed_in (gpio, buffer, n);
  if (removed)
    {
      g_autofree char *reason = NULL;

      if (strcmp (gpio->node_path, gpio->chip_path) == 0)
        reason = g_strdup ("its device node was removed: the GPIO chip went away");
      else
        reason = g_strdup_printf ("its device node %s was removed: the GPIO chip went away",
                                  gpio->node_path);
      chip_gone (gpio, reason);
      return G_SOURCE_REMOVE;   /* lose_line() already dropped the watch */
    }
  if (n < 0 && errno != EAGAIN && errno != EINTR)
    {
      int saved = errno;
      g_warning ("%s: watching %s for the chip's removal: %s; a removal may be noticed late",
                 gpio->base.name, gpio->node_path, g_strerror (saved));
      stop_watching_node (gpio);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* Watch the directory of the chip's device node for the node's removal (devtmpfs deletes
 * it in gpiochip_remove()). FALSE with an error when the node is already gone; a watch
 * that cannot be had (no inotify, its limits reached) is only a warning: a removal is then
 * noticed when the kernel hangs up the line's fd, or the main loop wakes for another
 * reason. Any deletion in that directory wakes the loop: rare in /dev (a device unplugged),
 * and never periodic. */
static gboolean
watch_chip_node (WuGpioSource *gpio, GError **error)
{
  g_autofree char *real = realpath (gpio->chip_path, NULL);
  g_autofree char *dir = NULL;
  int saved;

  gpio->node_path = g_strdup (real != NULL ? real : gpio->chip_path);
  dir = g_path_get_dirname (gpio->node_path);
  gpio->node_fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  if (gpio->node_fd < 0
      || inotify_add_watch (gpio->node_fd, dir, IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF
                                                | IN_MOVE_SELF | IN_ONLYDIR) < 0)
    {
      saved = errno;
      if (!gpio->warned_node_watch)
        g_warning ("%s: cannot watch %s for the chip's removal (%s): a removal may be noticed "
                   "late", gpio->base.name, dir, g_strerror (saved));
      gpio->warned_node_watch = TRUE;
      stop_watching_node (gpio);
      return TRUE;
    }
  /* The watch is in place: a removal from now on is seen. One before it is seen here. */
  if (stat (gpio->node_path, &gpio->node_stat) < 0)
    {
      saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", gpio->node_path,
                   g_strerror (saved));
      stop_watching_node (gpio);
      return FALSE;
    }
  gpio->node_watch = g_unix_fd_source_new (gpio->node_fd, G_IO_IN);
  g_source_set_callback (gpio->node_watch, G_SOURCE_FUNC (on_node_event), gpio, NULL);
  g_source_set_name (gpio->node_watch, "[warmupd] gpio chip node");
  g_source_attach (gpio->node_watch, NULL);
  return TRUE;
}

static gboolean
set_nonblocking (int fd, GError **error)
{
  int flags = fcntl (fd, F_GETFL);

  if (flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot make the line's fd non-blocking: %s", g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* The line's fd joins the main loop. */
static void
watch_line (WuGpioSource *gpio)
{
  gpio->watch = g_unix_fd_source_new (wu_gpio_request_get_fd (gpio->request),
                                      G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (gpio->watch, G_SOURCE_FUNC (on_line_event), gpio, NULL);
  g_source_set_name (gpio->watch, "[warmupd] gpio line");
  g_source_attach (gpio->watch, NULL);
}

static gboolean
start_listening (WuGpioSource *gpio, GError **error)
{
  g_autofree char *chip_path = NULL;
  WuGpioLineRequest line = { .config = &gpio->config, .consumer = gpio->consumer };
  int fd;

  if (!resolve_line (gpio, &chip_path, &line.offset, error))
    return FALSE;
  gpio->request = wu_gpio_backend_request (chip_path, &line, error);
  if (gpio->request == NULL)
    return FALSE;
  fd = wu_gpio_request_get_fd (gpio->request);
  if (!set_nonblocking (fd, error))
    {
      g_clear_pointer (&gpio->request, wu_gpio_request_free);
      return FALSE;
    }
  gpio->chip_path = g_steal_pointer (&chip_path);
  gpio->offset = line.offset;
  if (!watch_chip_node (gpio, error))
    {
      g_clear_pointer (&gpio->request, wu_gpio_request_free);
      g_clear_pointer (&gpio->chip_path, g_free);
      return FALSE;
    }
  watch_line (gpio);
  return TRUE;
}

static void
gpio_try_open (WuGpioSource *gpio)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *why = NULL;

  if (!start_listening (gpio, &error))
    {
      wait_and_retry (gpio, error);
      return;
    }
  why = g_strdup_printf ("%s line %u, %s edges, %s%s, debounce %u ms (in software)",
                         gpio->chip_path, gpio->offset, wu_gpio_edge_to_string (gpio->config.edge),
                         wu_gpio_bias_to_string (gpio->config.bias),
                         gpio->config.active_low ? ", active-low" : "",
                         gpio->config.debounce_ms);
  set_state (gpio, GPIO_LISTENING, why);
  g_clear_pointer (&gpio->last_error, g_free);
  gpio->base.sink->error (gpio->base.sink_data, NULL);
  deliver_link (gpio, TRUE);
}

static void
gpio_start (WuSource *source)
{
  WuGpioSource *gpio = (WuGpioSource *) source;
  g_autofree char *backend = wu_gpio_backend_describe ();

  g_debug ("%s: using %s", gpio->base.name, backend);
  gpio_try_open (gpio);
}

static void
gpio_free (WuSource *source)
{
  WuGpioSource *gpio = (WuGpioSource *) source;

  stop_listening (gpio);
  if (gpio->retry_timer != NULL)
    {
      g_source_destroy (gpio->retry_timer);
      g_clear_pointer (&gpio->retry_timer, g_source_unref);
    }
  wu_gpio_config_clear (&gpio->config);
  g_free (gpio->dev_dir);
  g_free (gpio->consumer);
  g_free (gpio->last_error);
}

static const WuSourceOps gpio_ops = {
  .kind = "gpio",
  .drives_clock = FALSE,
  .start = gpio_start,
  .apply_cap = NULL,   /* a reed switch only counts revolutions */
  .release = NULL,
  .free = gpio_free,
};

WuSource *
wu_gpio_source_new (const WuGpioConfig *config, const WuGpioSourceOptions *options,
                    const WuSourceSink *sink, gpointer sink_data, GError **error)
{
  WuGpioSource *gpio;

  if (config->line == NULL)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_CONFIG, "[Gpio] Line= is not set");
      return NULL;
    }
  gpio = g_new0 (WuGpioSource, 1);
  gpio->base.ops = &gpio_ops;
  gpio->base.sink = sink;
  gpio->base.sink_data = sink_data;
  gpio->base.name = g_strdup_printf ("reed switch %s%s%s", config->line,
                                     config->chip != NULL ? " on " : "",
                                     config->chip != NULL ? config->chip : "");
  gpio->base.address = g_strdup_printf ("%s:%s", config->chip != NULL ? config->chip : "",
                                        config->line);
  wu_gpio_config_copy (&gpio->config, config);
  gpio->dev_dir = g_strdup (options != NULL && options->dev_dir != NULL ? options->dev_dir
                                                                      : WU_GPIO_DEFAULT_DEV_DIR);
  gpio->retry_interval_ms = options != NULL && options->retry_interval_ms > 0
                              ? options->retry_interval_ms : WU_GPIO_DEFAULT_RETRY_MS;
  gpio->consumer = g_strdup ("warmupd");
  gpio->storm_limit = wu_gpio_storm_limit (config->pulses_per_revolution);
  gpio->state = GPIO_WAITING;
  gpio->node_fd = -1;
  return &gpio->base;
}
