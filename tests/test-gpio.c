/* The GPIO reed-switch source with its real libgpiod backend (v1 or v2, whichever configure
 * found), linked against a test double of libgpiod (gpiod-double.h) that serves edge events
 * in the kernel's record format. Plus the [Gpio] configuration keys. */
#include "source-gpio.h"
#include "gpiod-double.h"
#include "wu-config.h"
#include "wu-error.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define GPIO_DOMAIN "warmupd-gpio"
#define RETRY_MS 20
#define WAIT_DEADLINE_US (10 * G_USEC_PER_SEC)   /* generous: valgrind, loaded CI */
#define MS_NS G_GINT64_CONSTANT (1000000)

/* --- a sink that remembers what it was given -------------------------------------------- */

typedef struct {
  gint64 time_us;
  WuEventKind kind;
  gboolean up;
} Delivered;

typedef struct {
  gint64 epoch_us;         /* monotonic time at the sink's time 0 */
  GArray *events;          /* Delivered */
  char *error;             /* the latest error(); NULL once cleared */
  guint errors_reported;
  gboolean link_up;
  guint link_changes;
} TestSink;

static void
sink_event (gpointer user_data, const WuRawEvent *event)
{
  TestSink *sink = user_data;
  Delivered d = { event->time_us, event->kind, event->up };

  if (event->kind == WU_EVENT_LINK)
    {
      g_assert_cmpint (event->up, !=, sink->link_up);   /* only real changes */
      sink->link_up = event->up;
      sink->link_changes++;
    }
  g_array_append_val (sink->events, d);
}

static void
sink_finished (gpointer user_data, const GError *error)
{
  g_assert_not_reached ();   /* a live source never ends on its own */
}

static gint64
sink_now (gpointer user_data)
{
  TestSink *sink = user_data;
  return g_get_monotonic_time () - sink->epoch_us;
}

static gint64
sink_from_monotonic (gpointer user_data, gint64 monotonic_us)
{
  TestSink *sink = user_data;
  return monotonic_us - sink->epoch_us;
}

static void
sink_error (gpointer user_data, const GError *error)
{
  TestSink *sink = user_data;

  g_free (sink->error);
  sink->error = error != NULL ? g_strdup (error->message) : NULL;
  if (error != NULL)
    sink->errors_reported++;
}

static gint64
sink_next_deadline (gpointer user_data)
{
  return G_MAXINT64;
}

static void
sink_advance_to (gpointer user_data, gint64 time_us)
{
  g_assert_not_reached ();
}

static const WuSourceSink test_sink_ops = {
  .event = sink_event,
  .finished = sink_finished,
  .now = sink_now,
  .from_monotonic = sink_from_monotonic,
  .error = sink_error,
  .next_deadline = sink_next_deadline,
  .advance_to = sink_advance_to,
};

/* --- fixture: a fake /dev with chips ----------------------------------------------------- */

typedef struct {
  char *dev_dir;
  char *chip0, *chip1;           /* paths */
  TestSink sink;
  WuGpioConfig config;
  WuSource *source;
} Fixture;

static const char *const bcm_names[] = {
  "ID_SDA", "ID_SCL", "GPIO2", "GPIO3", "GPIO4", "GPIO5", "GPIO6", "GPIO7", "GPIO8", "GPIO9",
  "GPIO10", "GPIO11", "GPIO12", "GPIO13", "GPIO14", "GPIO15", "GPIO16", "GPIO17", NULL
};
/* the last as a BeagleBone Black names its lines: spaces are allowed */
static const char *const expander_names[] = { "BT_ON", "WL_ON", "PWR_LED_OFF", "P8_07 [GPIO66]",
                                              NULL };

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dev_dir = g_dir_make_tmp ("test-gpio-XXXXXX", NULL);
  g_assert_nonnull (f->dev_dir);
  f->chip0 = g_build_filename (f->dev_dir, "gpiochip0", NULL);
  f->chip1 = g_build_filename (f->dev_dir, "gpiochip1", NULL);
  fake_gpio_reset ();
  fake_gpio_add_chip (f->chip0, "pinctrl-bcm2711", 58, bcm_names);
  fake_gpio_add_chip (f->chip1, "raspberrypi-exp-gpio", 8, expander_names);
  f->sink.epoch_us = g_get_monotonic_time () - 1000 * G_USEC_PER_SEC;
  f->sink.events = g_array_new (FALSE, FALSE, sizeof (Delivered));
  memset (&f->config, 0, sizeof f->config);
  f->config.bias = WU_GPIO_BIAS_PULL_UP;
  f->config.edge = WU_GPIO_EDGE_FALLING;
  f->config.debounce_ms = 5;
  f->config.pulses_per_revolution = 1;
  f->config.chip = g_strdup ("gpiochip0");
  f->config.line = g_strdup ("17");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->source, wu_source_free);
  g_assert_cmpuint (fake_gpio_open_chip_handles (), ==, 0);
  fake_gpio_reset ();
  g_unlink (f->chip0);
  g_unlink (f->chip1);
  g_assert_cmpint (g_rmdir (f->dev_dir), ==, 0);
  g_free (f->dev_dir);
  g_free (f->chip0);
  g_free (f->chip1);
  g_free (f->config.chip);
  g_free (f->config.line);
  g_array_unref (f->sink.events);
  g_free (f->sink.error);
}

static void
set_line (Fixture *f, const char *chip, const char *line)
{
  g_free (f->config.chip);
  g_free (f->config.line);
  f->config.chip = g_strdup (chip);
  f->config.line = g_strdup (line);
}

static void
start_source (Fixture *f)
{
  WuGpioSourceOptions options = { .dev_dir = f->dev_dir, .retry_interval_ms = RETRY_MS };
  g_autoptr (GError) error = NULL;

  f->source = wu_gpio_source_new (&f->config, &options, &test_sink_ops, &f->sink, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (f->source->ops->kind, ==, "gpio");
  f->source->ops->start (f->source);
}

static void
stop_source (Fixture *f)
{
  g_clear_pointer (&f->source, wu_source_free);
  g_array_set_size (f->sink.events, 0);
  f->sink.link_up = FALSE;
  g_clear_pointer (&f->sink.error, g_free);
}

typedef gboolean (*Condition) (Fixture *f, gconstpointer arg);

/* Run the main loop until COND holds; fail after a generous deadline. */
static void
wait_for (Fixture *f, Condition cond, gconstpointer arg, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_DEADLINE_US;

  while (!cond (f, arg))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s (last error: %s)", what,
                 f->sink.error != NULL ? f->sink.error : "none");
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static gboolean
has_errors_reported (Fixture *f, gconstpointer count)
{
  return f->sink.errors_reported >= GPOINTER_TO_UINT (count);
}

static gboolean
is_link_up (Fixture *f, gconstpointer arg)
{
  return f->sink.link_up;
}

static gboolean
is_link_down_after_up (Fixture *f, gconstpointer arg)
{
  return !f->sink.link_up && f->sink.link_changes >= 2;
}

static gboolean
has_error_containing (Fixture *f, gconstpointer text)
{
  return f->sink.error != NULL && strstr (f->sink.error, text) != NULL;
}

static guint
count_edges (Fixture *f)
{
  guint n = 0;

  for (guint i = 0; i < f->sink.events->len; i++)
    n += g_array_index (f->sink.events, Delivered, i).kind == WU_EVENT_GPIO_EDGE;
  return n;
}

static gboolean
has_edges (Fixture *f, gconstpointer n)
{
  return count_edges (f) >= GPOINTER_TO_UINT (n);
}

static const Delivered *
nth_edge (Fixture *f, guint n)
{
  for (guint i = 0; i < f->sink.events->len; i++)
    {
      const Delivered *d = &g_array_index (f->sink.events, Delivered, i);
      if (d->kind == WU_EVENT_GPIO_EDGE && n-- == 0)
        return d;
    }
  g_assert_not_reached ();
}

/* A kernel timestamp (CLOCK_MONOTONIC ns) MS milliseconds before now. */
static gint64
ns_ago (gint64 ms)
{
  return g_get_monotonic_time () * 1000 - ms * MS_NS;
}

/* The sink's time for kernel timestamp NS. */
static gint64
sink_time (Fixture *f, gint64 ns)
{
  return ns / 1000 - f->sink.epoch_us;
}

static void
listen (Fixture *f)
{
  start_source (f);
  wait_for (f, is_link_up, NULL, "the line to be requested");
  g_assert_null (f->sink.error);
}

/* --- tests -------------------------------------------------------------------------------- */

/* Closures of the switch (falling edges, pull-up) arrive with the kernel's timestamps. */
static void
test_edges (Fixture *f, gconstpointer data)
{
  gint64 base = ns_ago (2000);
  FakeLineState state;

  listen (f);
  state = fake_gpio_line_state (f->chip0, 17);
  g_assert_true (state.requested);
  g_assert_cmpstr (state.consumer, ==, "warmupd");
  g_assert_cmpint (state.bias, ==, FAKE_BIAS_PULL_UP);
  g_assert_cmpint (state.edge, ==, FAKE_EDGE_FALLING);
  g_assert_false (state.active_low);
  g_assert_cmpint (state.abi, ==, fake_gpio_abi ());
  /* No kernel debounce, even where the API has one (v2): Debounce= stays in software. */
  g_assert_cmpuint (state.debounce_us, ==, 0);

  for (gint64 k = 0; k < 4; k++)
    {
      fake_gpio_edge (f->chip0, 17, FALSE, base + k * 400 * MS_NS);        /* closes */
      fake_gpio_edge (f->chip0, 17, TRUE, base + (k * 400 + 60) * MS_NS);  /* opens */
    }
  wait_for (f, has_edges, GUINT_TO_POINTER (4), "4 edges");
  g_assert_cmpuint (count_edges (f), ==, 4);
  for (guint k = 0; k < 4; k++)
    {
      const Delivered *d = nth_edge (f, k);
      g_assert_false (d->up);
      /* The kernel's time, not the time of the read (which is 2 s later). */
      g_assert_cmpint (d->time_us, ==, sink_time (f, base + k * 400 * MS_NS));
    }
  /* The link went up once, before the first edge. */
  g_assert_cmpint (g_array_index (f->sink.events, Delivered, 0).kind, ==, WU_EVENT_LINK);
  g_assert_cmpuint (f->sink.link_changes, ==, 1);
}

/* Active-low: the kernel reports logical edges; a closure to ground is then "rising". */
static void
test_active_low (Fixture *f, gconstpointer data)
{
  gint64 t = ns_ago (500);

  f->config.active_low = TRUE;
  f->config.bias = WU_GPIO_BIAS_PULL_DOWN;   /* switch to 3V3 */
  listen (f);
  g_assert_true (fake_gpio_line_state (f->chip0, 17).active_low);
  fake_gpio_edge (f->chip0, 17, TRUE, t);                  /* physical rise: logical fall */
  fake_gpio_edge (f->chip0, 17, FALSE, t + 50 * MS_NS);    /* logical rise: not asked for */
  fake_gpio_edge (f->chip0, 17, TRUE, t + 300 * MS_NS);
  wait_for (f, has_edges, GUINT_TO_POINTER (2), "2 edges");
  g_assert_cmpuint (count_edges (f), ==, 2);
  g_assert_false (nth_edge (f, 0)->up);
  g_assert_cmpint (nth_edge (f, 0)->time_us, ==, sink_time (f, t));
  g_assert_cmpint (nth_edge (f, 1)->time_us, ==, sink_time (f, t + 300 * MS_NS));
}

/* Each Bias= and Edge= reaches the kernel as asked. */
static void
test_settings (Fixture *f, gconstpointer data)
{
  static const struct {
    WuGpioBias bias;
    WuGpioEdge edge;
    gboolean active_low;
    FakeBias want_bias;
    FakeEdge want_edge;
  } rows[] = {
    { WU_GPIO_BIAS_PULL_UP, WU_GPIO_EDGE_FALLING, FALSE, FAKE_BIAS_PULL_UP, FAKE_EDGE_FALLING },
    { WU_GPIO_BIAS_PULL_DOWN, WU_GPIO_EDGE_RISING, FALSE, FAKE_BIAS_PULL_DOWN, FAKE_EDGE_RISING },
    { WU_GPIO_BIAS_DISABLED, WU_GPIO_EDGE_BOTH, TRUE, FAKE_BIAS_DISABLED, FAKE_EDGE_BOTH },
    { WU_GPIO_BIAS_AS_IS, WU_GPIO_EDGE_FALLING, TRUE, FAKE_BIAS_AS_IS, FAKE_EDGE_FALLING },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      FakeLineState state;

      g_test_message ("row %" G_GSIZE_FORMAT ": bias %s, edge %s", i,
                      wu_gpio_bias_to_string (rows[i].bias), wu_gpio_edge_to_string (rows[i].edge));
      f->config.bias = rows[i].bias;
      f->config.edge = rows[i].edge;
      f->config.active_low = rows[i].active_low;
      listen (f);
      state = fake_gpio_line_state (f->chip0, 17);
      g_assert_cmpint (state.bias, ==, rows[i].want_bias);
      g_assert_cmpint (state.edge, ==, rows[i].want_edge);
      g_assert_cmpint (state.active_low, ==, rows[i].active_low);
      stop_source (f);
      g_assert_false (fake_gpio_line_state (f->chip0, 17).requested);
    }
}

/* Edge=both: every change, each with its direction. */
static void
test_both_edges (Fixture *f, gconstpointer data)
{
  gint64 t = ns_ago (1000);

  f->config.edge = WU_GPIO_EDGE_BOTH;
  listen (f);
  fake_gpio_edge (f->chip0, 17, FALSE, t);
  fake_gpio_edge (f->chip0, 17, TRUE, t + 100 * MS_NS);
  wait_for (f, has_edges, GUINT_TO_POINTER (2), "2 edges");
  g_assert_false (nth_edge (f, 0)->up);
  g_assert_true (nth_edge (f, 1)->up);
  g_assert_cmpint (nth_edge (f, 1)->time_us - nth_edge (f, 0)->time_us, ==, 100000);
}

/* Chip= and Line= in every form they may take. */
static void
test_find_line (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *chip;           /* "@1" stands for the path of gpiochip1 */
    const char *line;
    guint want_chip;
    guint want_offset;
  } rows[] = {
    { NULL, "GPIO17", 0, 17 },                      /* a name, on whichever chip has it */
    { NULL, "WL_ON", 1, 1 },
    { NULL, "5", 0, 5 },                            /* an offset: gpiochip0 */
    { "gpiochip1", "PWR_LED_OFF", 1, 2 },
    { NULL, "P8_07 [GPIO66]", 1, 3 },
    { "1", "0", 1, 0 },                             /* a chip number */
    { "01", "0", 1, 0 },                            /* the same, as the kernel names it */
    { "gpiochip01", "2", 1, 2 },
    { "00", "5", 0, 5 },
    { "raspberrypi-exp-gpio", "BT_ON", 1, 0 },      /* a label */
    { "pinctrl-bcm2711", "GPIO4", 0, 4 },
    { "@1", "3", 1, 3 },                            /* a path */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *chip = NULL;
      const char *path = rows[i].want_chip == 0 ? f->chip0 : f->chip1;

      g_test_message ("row %" G_GSIZE_FORMAT ": Chip=%s Line=%s", i, rows[i].chip, rows[i].line);
      chip = g_strcmp0 (rows[i].chip, "@1") == 0 ? g_strdup (f->chip1) : g_strdup (rows[i].chip);
      set_line (f, chip, rows[i].line);
      listen (f);
      g_assert_true (fake_gpio_line_state (path, rows[i].want_offset).requested);
      stop_source (f);
    }
}

/* What cannot be found is a clear error on the sensor, and the source keeps trying. */
static void
test_not_found (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *chip;
    const char *line;
    const char *error;
  } rows[] = {
    { NULL, "GPIO99", "no GPIO line named 'GPIO99' on any chip in" },
    { "no-such-chip", "3", "no GPIO chip labelled 'no-such-chip' in" },
    { "gpiochip0", "99", "gpiochip0 has no line 99 (it has 58 lines)" },
    { "gpiochip0", "WL_ON", "gpiochip0 has no line named 'WL_ON'" },
    { "gpiochip7", "3", "gpiochip7: No such file or directory" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *pattern = g_strdup_printf ("*%s*retrying every 1 s*", rows[i].error);

      g_test_message ("row %" G_GSIZE_FORMAT ": Chip=%s Line=%s", i, rows[i].chip, rows[i].line);
      set_line (f, rows[i].chip, rows[i].line);
      g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING, pattern);
      start_source (f);
      g_test_assert_expected_messages ();
      g_assert_true (has_error_containing (f, rows[i].error));
      /* Retried quietly (the same error is logged once) and still not found. */
      f->sink.errors_reported = 0;
      wait_for (f, has_error_containing, rows[i].error, "a retry");
      wait_for (f, has_errors_reported, GUINT_TO_POINTER (2), "a second retry");
      g_assert_false (f->sink.link_up);
      stop_source (f);
    }
}

/* Chips that cannot be opened (EACCES: not in group gpio, no udev rule, a sandbox) while
 * looking for a line by name or a chip by label: the error says so and names them, rather
 * than that the line does not exist; once they can be opened, the source takes the line. */
static void
test_unopenable_chips (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *chip;
    const char *line;
    gboolean deny0, deny1;
    const char *error;           /* NULL: found on a chip that opens */
    const char *chips_in_error;  /* which chips the error names: "0", "1", "01" */
  } rows[] = {
    { NULL, "GPIO17", TRUE, FALSE, "no GPIO line named 'GPIO17' on the chips that could be opened in", "0" },
    { NULL, "WL_ON", TRUE, FALSE, NULL, NULL },   /* on gpiochip1, which opens */
    { "pinctrl-bcm2711", "GPIO4", TRUE, FALSE,
      "no GPIO chip labelled 'pinctrl-bcm2711' among the chips that could be opened in", "0" },
    { NULL, "GPIO99", TRUE, TRUE, "no GPIO line named 'GPIO99' on the chips that could be opened in", "01" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *denied0 = g_strdup_printf ("%s: %s", f->chip0, g_strerror (EACCES));
      g_autofree char *denied1 = g_strdup_printf ("%s: %s", f->chip1, g_strerror (EACCES));
      g_autofree char *pattern = NULL;

      g_test_message ("row %" G_GSIZE_FORMAT ": Chip=%s Line=%s", i, rows[i].chip, rows[i].line);
      set_line (f, rows[i].chip, rows[i].line);
      fake_gpio_deny_chip (f->chip0, rows[i].deny0 ? EACCES : 0);
      fake_gpio_deny_chip (f->chip1, rows[i].deny1 ? EACCES : 0);
      if (rows[i].error == NULL)
        {
          listen (f);
          stop_source (f);
          continue;
        }
      pattern = g_strdup_printf ("*%s*Permission denied*retrying every 1 s*", rows[i].error);
      g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING, pattern);
      start_source (f);
      g_test_assert_expected_messages ();
      g_assert_true (has_error_containing (f, rows[i].error));
      g_assert_cmpint (has_error_containing (f, denied0), ==, strchr (rows[i].chips_in_error, '0') != NULL);
      g_assert_cmpint (has_error_containing (f, denied1), ==, strchr (rows[i].chips_in_error, '1') != NULL);
      g_assert_false (f->sink.link_up);
      /* access granted (the udev rule fixed): the next retry finds it, or says it is not there */
      fake_gpio_deny_chip (f->chip0, 0);
      fake_gpio_deny_chip (f->chip1, 0);
      if (strcmp (rows[i].line, "GPIO99") == 0)
        {
          g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING,
                                 "*no GPIO line named 'GPIO99' on any chip in*");
          wait_for (f, has_error_containing, "on any chip in", "the retry");
          g_test_assert_expected_messages ();
        }
      else
        {
          wait_for (f, is_link_up, NULL, "the line once the chips open");
          g_assert_null (f->sink.error);
        }
      stop_source (f);
    }
}

/* A line another program holds: the error names it; once free, the source takes it. */
static void
test_busy_line (Fixture *f, gconstpointer data)
{
  gint64 t;

  fake_gpio_hold_line (f->chip0, 17, "lgpio-demo");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*gpiochip0 line 17 is busy: used by 'lgpio-demo'*");
  start_source (f);
  g_test_assert_expected_messages ();
  g_assert_true (has_error_containing (f, "line 17 is busy: used by 'lgpio-demo'"));
  g_assert_false (f->sink.link_up);

  fake_gpio_hold_line (f->chip0, 17, NULL);
  wait_for (f, is_link_up, NULL, "the line once free");
  g_assert_null (f->sink.error);
  t = ns_ago (10);
  fake_gpio_edge (f->chip0, 17, FALSE, t);
  wait_for (f, has_edges, GUINT_TO_POINTER (1), "an edge");
  g_assert_cmpint (nth_edge (f, 0)->time_us, ==, sink_time (f, t));
}

/* The chip is back: the source listens again (no error) and the next edge, the
 * EDGES_BEFORE + 1st, is delivered at its time; the link went up, down, up. */
static void
check_comeback (Fixture *f, guint edges_before)
{
  gint64 t;

  fake_gpio_add_chip (f->chip0, "pinctrl-bcm2711", 58, bcm_names);
  wait_for (f, is_link_up, NULL, "the chip to come back");
  g_assert_null (f->sink.error);
  t = ns_ago (5);
  fake_gpio_edge (f->chip0, 17, FALSE, t);
  wait_for (f, has_edges, GUINT_TO_POINTER (edges_before + 1), "an edge after the comeback");
  g_assert_cmpint (nth_edge (f, edges_before)->time_us, ==, sink_time (f, t));
  g_assert_cmpuint (f->sink.link_changes, ==, 3);   /* up, down, up */
}

/* The chip goes away (hang-up on the fd): events already queued are delivered, the link goes
 * down with an error; when the chip comes back the source listens again. */
static void
test_chip_gone_and_back (Fixture *f, gconstpointer data)
{
  gint64 t = ns_ago (300);

  listen (f);
  fake_gpio_edge (f->chip0, 17, FALSE, t);
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_MESSAGE, "*listening -> waiting: *gpiochip0: *");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING, "*gpiochip0: *retrying*");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*gpiochip0: No such file or directory*retrying*");
  fake_gpio_remove_chip (f->chip0);
  wait_for (f, is_link_down_after_up, NULL, "the link to go down");
  g_assert_cmpuint (count_edges (f), ==, 1);
  g_assert_cmpint (nth_edge (f, 0)->time_us, ==, sink_time (f, t));
  wait_for (f, has_error_containing, "No such file or directory", "a failed retry");
  g_test_assert_expected_messages ();

  check_comeback (f, 1);
}

/* The chip goes away on a kernel that wakes nobody polling the line (Debian's 6.1:
 * gpiochip_remove() leaves the fd silent): the removal of its device node tells, with
 * nothing else waking the main loop (no retry timer runs while listening); the link goes
 * down with the reason, and the source listens again once the chip is back. */
static void
test_chip_removed_silently (Fixture *f, gconstpointer data)
{
  listen (f);
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_MESSAGE,
                         "*listening -> waiting: *gpiochip0: its device node was removed*");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*gpiochip0: its device node was removed: the GPIO chip went away*");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*gpiochip0: No such file or directory*retrying*");
  fake_gpio_remove_chip_silently (f->chip0);
  wait_for (f, is_link_down_after_up, NULL, "the link to go down");
  g_assert_true (has_error_containing (f, "the GPIO chip went away"));
  wait_for (f, has_error_containing, "No such file or directory", "a failed retry");
  g_test_assert_expected_messages ();

  check_comeback (f, 0);
}

/* Chip= a symlink to the node (a udev rule's name): the node it points to is watched. */
static void
test_chip_symlink_removed (Fixture *f, gconstpointer data)
{
  g_autofree char *link = g_build_filename (f->dev_dir, "bike-reed", NULL);

  g_assert_cmpint (symlink (f->chip0, link), ==, 0);
  set_line (f, link, "17");
  listen (f);
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_MESSAGE,
                         "*listening -> waiting: *bike-reed: its device node *gpiochip0 was removed*");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING, "*bike-reed: its device node*");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING, "*bike-reed: *retrying*");
  fake_gpio_remove_chip_silently (f->chip0);
  wait_for (f, is_link_down_after_up, NULL, "the link to go down");
  wait_for (f, has_errors_reported, GUINT_TO_POINTER (2), "a failed retry");
  g_test_assert_expected_messages ();
  stop_source (f);
  g_assert_cmpint (g_unlink (link), ==, 0);
}

/* Contact bounce: 2 extra closures within 2 ms of each real one. With either API every edge
 * arrives (the kernel does not debounce) and the estimator rejects the bounce. */
static void
test_bounce (Fixture *f, gconstpointer data)
{
  gint64 base = ns_ago (2000);
  guint want = 9;

  listen (f);
  for (gint64 k = 0; k < 3; k++)
    {
      gint64 closure = base + k * 500 * MS_NS;
      for (gint64 b = 0; b < 3; b++)
        {
          fake_gpio_edge (f->chip0, 17, FALSE, closure + b * MS_NS);
          fake_gpio_edge (f->chip0, 17, TRUE, closure + b * MS_NS + MS_NS / 2);
        }
    }
  wait_for (f, has_edges, GUINT_TO_POINTER (want), "the edges");
  /* Let any stray event arrive before counting. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (count_edges (f), ==, want);
}

/* Closures shorter than Debounce= (12 ms at 90 rpm with Debounce=20), bouncing as they close
 * and open: every edge arrives, each closure's first one with its own time. A kernel
 * debounce of that period (the fake kernel models gpiolib-cdev.c's: restarted by every edge,
 * reporting only a level stable for the whole period) would report none of them. */
static void
test_short_closures (Fixture *f, gconstpointer data)
{
  gint64 base = ns_ago (4000), period = 60 * G_GINT64_CONSTANT (1000) * MS_NS / 90;
  /* physical level changes of one closure (pull-up: FALSE is closed), in µs after it */
  static const struct { gint64 us; gboolean high; } closure[] = {
    { 0, FALSE }, { 200, TRUE }, { 500, FALSE },            /* closing, with bounce */
    { 12000, TRUE }, { 12300, FALSE }, { 12600, TRUE },     /* opening, with bounce */
  };
  guint want = 0;

  f->config.debounce_ms = 20;
  listen (f);
  g_assert_cmpuint (fake_gpio_line_state (f->chip0, 17).debounce_us, ==, 0);
  for (gint64 k = 0; k < 5; k++)
    for (gsize i = 0; i < G_N_ELEMENTS (closure); i++)
      {
        fake_gpio_edge (f->chip0, 17, closure[i].high, base + k * period + closure[i].us * 1000);
        want += !closure[i].high;
      }
  fake_gpio_settle (f->chip0, 17, ns_ago (0));
  wait_for (f, has_edges, GUINT_TO_POINTER (want), "every falling edge");
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (count_edges (f), ==, want);
  for (guint k = 0; k < 5; k++)
    {
      /* the closure's first edge, at its own time */
      const Delivered *d = nth_edge (f, k * 3);
      g_assert_false (d->up);
      g_assert_cmpint (d->time_us, ==, sink_time (f, base + k * period));
    }
}

/* The storm limit: the fastest pedalling with the most bounce the cadence estimator takes
 * for a switch, by the number of magnets. */
static void
test_storm_limit (void)
{
  static const struct {
    guint magnets, limit;
  } rows[] = {
    { 0, 88 },      /* as 1 */
    { 1, 88 },      /* 220 rpm: 3.7 pulses a second, 4 x (20 + 2) */
    { 2, 176 },     /* 7.3: 8 x 22 */
    { 16, 1298 },   /* 58.7: 59 x 22 */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    g_assert_cmpuint (wu_gpio_storm_limit (rows[i].magnets), ==, rows[i].limit);
}

/* A switch at the limit's own bounds is no storm: 220 rpm with 16 magnets, both edges, each
 * pulse 22 edges (the closure, 20 bounces, the opening): 59 pulses, 1,298 edges in under a
 * second (the limit itself), all delivered, the link up throughout. */
static void
test_no_storm_at_the_limit (Fixture *f, gconstpointer data)
{
  gint64 base = ns_ago (1500), period = 60 * G_GINT64_CONSTANT (1000) * MS_NS / (220 * 16);
  guint want = 0;

  f->config.pulses_per_revolution = 16;
  f->config.edge = WU_GPIO_EDGE_BOTH;
  listen (f);
  for (gint64 k = 0; k < 59; k++)          /* the last begins 989 ms after the first */
    for (gint64 b = 0; b < 22; b++)
      {
        fake_gpio_edge (f->chip0, 17, b % 2 == 1, base + k * period + b * 20 * 1000);
        want++;
      }
  wait_for (f, has_edges, GUINT_TO_POINTER (want), "every edge");
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (want, ==, wu_gpio_storm_limit (16));
  g_assert_cmpuint (count_edges (f), ==, want);
  g_assert_true (f->sink.link_up);
  g_assert_cmpuint (f->sink.link_changes, ==, 1);
  g_assert_null (f->sink.error);
}

/* N closures of the switch (falling edges, 200 µs apart) from kernel time FROM_NS. */
static void
push_closures (Fixture *f, guint n, gint64 from_ns)
{
  for (guint i = 0; i < n; i++)
    {
      fake_gpio_edge (f->chip0, 17, FALSE, from_ns + i * 200 * 1000);
      fake_gpio_edge (f->chip0, 17, TRUE, from_ns + i * 200 * 1000 + 100 * 1000);
    }
}

static gboolean
is_link_up_again (Fixture *f, gconstpointer arg)
{
  return f->sink.link_up && f->sink.link_changes >= 3;
}

static void
expect_storm_messages (void)
{
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*listening -> paused: *line 17: over 88 edges in a second*");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_MESSAGE,
                         "*paused -> listening: calm again, after * s of a line storm");
}

/* A line storm (1,100 edges in a fifth of a second: a floating input): the first 88 (the
 * limit for one magnet) are delivered, then the line is not read for a second, the link goes down with the reason on
 * the sensor; once the line has been calm for a second, the link is back and edges flow. */
static void
test_storm (Fixture *f, gconstpointer data)
{
  listen (f);
  expect_storm_messages ();
  push_closures (f, 1100, ns_ago (1000));
  wait_for (f, is_link_down_after_up, NULL, "the link to go down");
  g_assert_true (has_error_containing (f, "over 88 edges in a second"));
  g_assert_cmpuint (count_edges (f), ==, wu_gpio_storm_limit (1));
  wait_for (f, is_link_up_again, NULL, "the link to come back");
  g_test_assert_expected_messages ();
  g_assert_null (f->sink.error);
  g_assert_cmpuint (count_edges (f), ==, wu_gpio_storm_limit (1));   /* the rest: dropped */
  push_closures (f, 1, ns_ago (0));
  wait_for (f, has_edges, GUINT_TO_POINTER (wu_gpio_storm_limit (1) + 1),
            "an edge after the storm");
  g_assert_cmpuint (f->sink.link_changes, ==, 3);
}

typedef struct {
  Fixture *f;
  guint ticks;
} Storm;

/* 20 closures every 5 ms: 8,000 edges a second, on and on. */
static gboolean
storm_tick (gpointer user_data)
{
  Storm *storm = user_data;

  push_closures (storm->f, 20, ns_ago (0) - 5 * MS_NS);
  storm->ticks++;
  return G_SOURCE_CONTINUE;
}

static gboolean
has_stormed_for (Fixture *f, gconstpointer until_us)
{
  return g_get_monotonic_time () >= *(const gint64 *) until_us;
}

/* A storm that goes on for 3.5 s: the line is read again after each second's pause, found
 * still storming and paused again, so the link stays down and nothing is delivered; it
 * comes back a second after the storm ends. */
static void
test_storm_goes_on (Fixture *f, gconstpointer data)
{
  Storm storm = { f, 0 };
  guint tick;
  gint64 until_us;

  listen (f);
  expect_storm_messages ();
  tick = g_timeout_add (5, storm_tick, &storm);
  wait_for (f, is_link_down_after_up, NULL, "the link to go down");
  until_us = g_get_monotonic_time () + 3500 * G_GINT64_CONSTANT (1000);
  wait_for (f, has_stormed_for, &until_us, "3.5 s of storm");
  g_source_remove (tick);
  g_assert_cmpuint (storm.ticks, >, 100);
  g_assert_cmpuint (f->sink.link_changes, ==, 2);   /* up, down: never up meanwhile */
  g_assert_cmpuint (count_edges (f), ==, wu_gpio_storm_limit (1));
  g_assert_true (has_error_containing (f, "over 88 edges in a second"));
  wait_for (f, is_link_up_again, NULL, "the link to come back after the storm");
  g_test_assert_expected_messages ();
  g_assert_cmpuint (count_edges (f), ==, wu_gpio_storm_limit (1));
}

/* The chip removed during a storm's pause: back to waiting, the link down only once. */
static void
test_storm_then_chip_gone (Fixture *f, gconstpointer data)
{
  listen (f);
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING, "*listening -> paused: *");
  push_closures (f, 1100, ns_ago (1000));
  wait_for (f, is_link_down_after_up, NULL, "the link to go down");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_MESSAGE, "*paused -> waiting: *gpiochip0: *");
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING, "*gpiochip0: *retrying*");
  fake_gpio_remove_chip (f->chip0);
  wait_for (f, has_error_containing, "went away", "the chip's removal");
  g_test_assert_expected_messages ();
  g_assert_cmpuint (f->sink.link_changes, ==, 2);
  fake_gpio_add_chip (f->chip0, "pinctrl-bcm2711", 58, bcm_names);
  wait_for (f, is_link_up_again, NULL, "the line to be requested again");
  g_assert_null (f->sink.error);
}

/* A kernel that stamps events with another clock (CLOCK_REALTIME before 5.7): warned about
 * once, and the read time is used instead. */
static void
test_foreign_clock (Fixture *f, gconstpointer data)
{
  gint64 before, after;
  guint64 real_ns;

  listen (f);
  before = sink_now (&f->sink);
  g_test_expect_message (GPIO_DOMAIN, G_LOG_LEVEL_WARNING, "*not CLOCK_MONOTONIC*");
  real_ns = (guint64) g_get_real_time () * 1000;
  fake_gpio_edge (f->chip0, 17, FALSE, real_ns);
  fake_gpio_edge (f->chip0, 17, TRUE, real_ns + 50 * MS_NS);
  fake_gpio_edge (f->chip0, 17, FALSE, real_ns + 400 * MS_NS);
  wait_for (f, has_edges, GUINT_TO_POINTER (2), "the edges");
  after = sink_now (&f->sink);
  g_test_assert_expected_messages ();
  g_assert_cmpint (nth_edge (f, 0)->time_us, >=, before);
  g_assert_cmpint (nth_edge (f, 1)->time_us, <=, after);
}

/* --- [Gpio] in warmupd.conf ---------------------------------------------------------------- */

static void
write_config (const char *path, const char *text, WuConfig *config, GError **error,
              gboolean *ok)
{
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  wu_config_init (config);
  *ok = wu_config_load (config, path, error);
}

static void
test_config_good (void)
{
  static const struct {
    const char *text;
    const char *line, *chip;
    gboolean active_low;
    WuGpioBias bias;
    WuGpioEdge edge;
    guint debounce_ms, pulses;
  } rows[] = {
    { "", NULL, NULL, FALSE, WU_GPIO_BIAS_PULL_UP, WU_GPIO_EDGE_FALLING, 5, 1 },
    { "[Gpio]\nLine=GPIO17\n", "GPIO17", NULL, FALSE, WU_GPIO_BIAS_PULL_UP,
      WU_GPIO_EDGE_FALLING, 5, 1 },
    { "[Gpio]\nLine=P8_07 [GPIO66]\n", "P8_07 [GPIO66]", NULL, FALSE, WU_GPIO_BIAS_PULL_UP,
      WU_GPIO_EDGE_FALLING, 5, 1 },
    { "[Gpio]\nLine=THIRTY_ONE_CHARACTERS_LONG_NAME\n", "THIRTY_ONE_CHARACTERS_LONG_NAME", NULL,
      FALSE, WU_GPIO_BIAS_PULL_UP, WU_GPIO_EDGE_FALLING, 5, 1 },
    { "[Gpio]\nChip=gpiochip0\nLine=17\nActiveLow=true\nBias=pull-down\nEdge=both\n"
      "Debounce=0\nPulsesPerRevolution=2\n", "17", "gpiochip0", TRUE,
      WU_GPIO_BIAS_PULL_DOWN, WU_GPIO_EDGE_BOTH, 0, 2 },
    { "[Gpio]\nChip=pinctrl-bcm2711\nLine=GPIO4\nBias=as-is\nEdge=rising\n", "GPIO4",
      "pinctrl-bcm2711", FALSE, WU_GPIO_BIAS_AS_IS, WU_GPIO_EDGE_RISING, 5, 1 },
    { "[Gpio]\nChip=/dev/gpiochip4\nLine=27\nBias=disabled\nActiveLow=false\n", "27",
      "/dev/gpiochip4", FALSE, WU_GPIO_BIAS_DISABLED, WU_GPIO_EDGE_FALLING, 5, 1 },
  };
  g_autofree char *dir = g_dir_make_tmp ("test-gpio-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "warmupd.conf", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autoptr (GError) error = NULL;
      WuConfig config;
      gboolean ok;

      g_test_message ("row %" G_GSIZE_FORMAT ": %s", i, rows[i].text);
      write_config (path, rows[i].text, &config, &error, &ok);
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpstr (config.gpio.line, ==, rows[i].line);
      g_assert_cmpstr (config.gpio.chip, ==, rows[i].chip);
      g_assert_cmpint (config.gpio.active_low, ==, rows[i].active_low);
      g_assert_cmpint (config.gpio.bias, ==, rows[i].bias);
      g_assert_cmpint (config.gpio.edge, ==, rows[i].edge);
      g_assert_cmpuint (config.gpio.debounce_ms, ==, rows[i].debounce_ms);
      g_assert_cmpuint (config.gpio.pulses_per_revolution, ==, rows[i].pulses);
      wu_config_clear (&config);
    }
  g_unlink (path);
  g_rmdir (dir);
}

/* A bad value names the file, the line, the group and the key. */
static void
test_config_bad (void)
{
  static const struct {
    const char *text;
    const char *error;
  } rows[] = {
    { "[Gpio]\nChip=gpiochip0\n", ":1: [Gpio] Line: missing" },
    { "[Gpio]\nLine=GPIO\t17\n", ":2: [Gpio] Line: 'GPIO\\t17' is not a line offset or a line name (at most 31 printable characters" },
    { "[Gpio]\nLine=A_NAME_OF_THIRTY_TWO_CHARACTERS_\n", ":2: [Gpio] Line: 'A_NAME_OF_THIRTY_TWO_CHARACTERS_' is not" },
    { "[Gpio]\nLine=4096\n", ":2: [Gpio] Line: '4096' is not a line offset from 0 to 1023" },
    { "[Gpio]\nLine=4\nChip=dev/gpiochip0\n", ":3: [Gpio] Chip: 'dev/gpiochip0' is not a chip name" },
    { "[Gpio]\nLine=4\nBias=pullup\n", ":3: [Gpio] Bias: 'pullup' is not 'pull-up', 'pull-down', 'disabled' or 'as-is'" },
    { "[Gpio]\nLine=4\nEdge=down\n", ":3: [Gpio] Edge: 'down' is not 'falling', 'rising' or 'both'" },
    { "[Gpio]\nLine=4\nDebounce=-1\n", ":3: [Gpio] Debounce: '-1' is not a whole number of milliseconds from 0 to 100" },
    { "[Gpio]\nLine=4\nDebounce=500\n", ":3: [Gpio] Debounce: '500' is not" },
    { "[Gpio]\nLine=4\nDebounce=2.5\n", ":3: [Gpio] Debounce: '2.5' is not" },
    { "[Gpio]\nLine=4\nPulsesPerRevolution=0\n", ":3: [Gpio] PulsesPerRevolution: '0' is not a number of magnets from 1 to 16" },
    { "[Gpio]\nLine=4\nActiveLow=maybe\n", ":3: [Gpio] ActiveLow: 'maybe' is not 'true' or 'false'" },
  };
  g_autofree char *dir = g_dir_make_tmp ("test-gpio-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "warmupd.conf", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autoptr (GError) error = NULL;
      WuConfig config;
      gboolean ok;

      g_test_message ("row %" G_GSIZE_FORMAT ": %s", i, rows[i].text);
      write_config (path, rows[i].text, &config, &error, &ok);
      g_assert_false (ok);
      g_assert_error (error, WU_ERROR, WU_ERROR_CONFIG);
      g_assert_true (g_str_has_prefix (error->message, path));
      if (strstr (error->message, rows[i].error) == NULL)
        g_error ("'%s' does not contain '%s'", error->message, rows[i].error);
      g_assert_null (config.gpio.line);   /* the defaults are back */
      wu_config_clear (&config);
    }
  g_unlink (path);
  g_rmdir (dir);
}

static void
add (const char *name, void (*func) (Fixture *, gconstpointer))
{
  g_test_add (name, Fixture, NULL, fixture_set_up, func, fixture_tear_down);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_message ("libgpiod double: v%d API", fake_gpio_abi ());
  add ("/gpio/edges", test_edges);
  add ("/gpio/active-low", test_active_low);
  add ("/gpio/settings", test_settings);
  add ("/gpio/both-edges", test_both_edges);
  add ("/gpio/find-line", test_find_line);
  add ("/gpio/not-found", test_not_found);
  add ("/gpio/unopenable-chips", test_unopenable_chips);
  add ("/gpio/busy-line", test_busy_line);
  add ("/gpio/chip-gone-and-back", test_chip_gone_and_back);
  add ("/gpio/chip-removed-silently", test_chip_removed_silently);
  add ("/gpio/chip-symlink-removed", test_chip_symlink_removed);
  add ("/gpio/bounce", test_bounce);
  g_test_add_func ("/gpio/storm-limit", test_storm_limit);
  add ("/gpio/no-storm-at-the-limit", test_no_storm_at_the_limit);
  add ("/gpio/storm", test_storm);
  add ("/gpio/storm-goes-on", test_storm_goes_on);
  add ("/gpio/storm-then-chip-gone", test_storm_then_chip_gone);
  add ("/gpio/short-closures", test_short_closures);
  add ("/gpio/foreign-clock", test_foreign_clock);
  g_test_add_func ("/gpio/config/good", test_config_good);
  g_test_add_func ("/gpio/config/bad", test_config_bad);
  return g_test_run ();
}
