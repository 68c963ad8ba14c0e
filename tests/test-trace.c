/* Unit tests for the trace format: the line parser, the formatter and the file reader.
 * Table-driven: one row per accepted line and one row per kind of malformed line. */
#include "wu-trace.h"
#include "wu-config.h"
#include "wu-error.h"

#include <glib/gstdio.h>
#include <string.h>

/* ----------------------------------------------------------------------------------- */
/* Helpers                                                                               */

/* The payload as canonical hex, "44 02 da", for comparing against the tables. */
static char *
payload_to_hex (const WuRawEvent *ev)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < ev->len; i++)
    g_string_append_printf (out, i == 0 ? "%02x" : " %02x", ev->payload[i]);
  return g_string_free (out, FALSE);
}

static void
assert_events_equal (const WuRawEvent *a, const WuRawEvent *b)
{
  g_assert_cmpint (a->time_us, ==, b->time_us);
  g_assert_cmpint (a->kind, ==, b->kind);
  g_assert_cmpint (a->up, ==, b->up);
  g_assert_cmpuint (a->len, ==, b->len);
  g_assert_cmpmem (a->payload, a->len, b->payload, b->len);
  g_assert_cmpuint (a->lost, ==, b->lost);
}

static void
parse_event_or_die (const char *line, WuRawEvent *ev)
{
  g_autoptr (GError) error = NULL;
  gboolean is_event = FALSE;

  if (!wu_trace_parse_line (line, ev, &is_event, &error))
    g_error ("line '%s': %s", line, error->message);
  if (!is_event)
    g_error ("line '%s' is not an event", line);
}

/* Say which table row is under test, printably (the rows hold tabs, CRs, binary). */
static void
announce_row (const char *line)
{
  g_autofree char *escaped = g_strescape (line, NULL);

  g_test_message ("line: \"%s\"", escaped);
}

/* Write contents to a new temporary file; returns its path (caller unlinks and frees). */
static char *
write_temp_trace (const char *contents, gssize len)
{
  g_autoptr (GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("test-trace-XXXXXX.trace", &path, &error);

  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_close (fd, NULL);
  g_assert_true (g_file_set_contents (path, contents, len, &error));
  g_assert_no_error (error);
  return path;
}

/* Read a whole trace; returns the number of events and sets *error on the first failure. */
static guint
count_events (const char *path, GError **error)
{
  g_autoptr (WuTraceReader) reader = wu_trace_reader_open (path, error);
  WuRawEvent ev;
  guint n = 0;

  if (reader == NULL)
    return 0;
  while (wu_trace_reader_next (reader, &ev, error))
    n++;
  return n;
}

/* ----------------------------------------------------------------------------------- */
/* Event kinds                                                                           */

static const struct {
  WuEventKind kind;
  const char *name;
  gboolean has_payload;
} kind_rows[] = {
  { WU_EVENT_FTMS_INDOOR_BIKE_DATA, "ftms.indoor-bike-data", TRUE },
  { WU_EVENT_FTMS_STATUS, "ftms.status", TRUE },
  { WU_EVENT_FTMS_TRAINING_STATUS, "ftms.training-status", TRUE },
  { WU_EVENT_FTMS_FEATURE, "ftms.feature", TRUE },
  { WU_EVENT_FTMS_RESISTANCE_RANGE, "ftms.resistance-range", TRUE },
  { WU_EVENT_FTMS_POWER_RANGE, "ftms.power-range", TRUE },
  { WU_EVENT_CSC_MEASUREMENT, "csc.measurement", TRUE },
  { WU_EVENT_CPS_MEASUREMENT, "cps.measurement", TRUE },
  { WU_EVENT_GPIO_EDGE, "gpio.edge", FALSE },
  { WU_EVENT_LINK, "link", FALSE },
  { WU_EVENT_SOURCE_LOST, "source.lost", FALSE },
};
G_STATIC_ASSERT (G_N_ELEMENTS (kind_rows) == WU_EVENT_N_KINDS);

static void
test_kind_names (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (kind_rows); i++)
    {
      WuEventKind kind = WU_EVENT_N_KINDS;

      g_assert_cmpstr (wu_event_kind_to_string (kind_rows[i].kind), ==, kind_rows[i].name);
      g_assert_true (wu_event_kind_from_string (kind_rows[i].name, &kind));
      g_assert_cmpint (kind, ==, kind_rows[i].kind);
      g_assert_cmpint (wu_event_kind_has_payload (kind_rows[i].kind), ==,
                       kind_rows[i].has_payload);
    }
  g_assert_false (wu_event_kind_from_string ("ftms.foo", NULL));
  g_assert_false (wu_event_kind_from_string ("", NULL));
  g_assert_false (wu_event_kind_from_string ("LINK", NULL));
}

/* ----------------------------------------------------------------------------------- */
/* Good lines                                                                            */

static const struct {
  const char *line;
  WuEventKind kind;
  gint64 time_us;
  gboolean up;
  const char *payload;   /* canonical hex; "" for the word kinds */
} good_rows[] = {
  { "0.000 ftms.indoor-bike-data 44 02 da 02 02 01 22 01 00",
    WU_EVENT_FTMS_INDOOR_BIKE_DATA, 0, FALSE, "44 02 da 02 02 01 22 01 00" },
  { "1.250 gpio.edge falling", WU_EVENT_GPIO_EDGE, 1250000, FALSE, "" },
  { "1.250 gpio.edge rising", WU_EVENT_GPIO_EDGE, 1250000, TRUE, "" },
  { "2.500 link down", WU_EVENT_LINK, 2500000, FALSE, "" },
  { "2.5 link up", WU_EVENT_LINK, 2500000, TRUE, "" },
  /* time: integer, short and full fractions, leading zeros, the largest accepted */
  { "7 ftms.status 01", WU_EVENT_FTMS_STATUS, 7000000, FALSE, "01" },
  { "0.000001 ftms.status 01", WU_EVENT_FTMS_STATUS, 1, FALSE, "01" },
  { "12.345678 ftms.status 01", WU_EVENT_FTMS_STATUS, 12345678, FALSE, "01" },
  { "007.10 ftms.status 01", WU_EVENT_FTMS_STATUS, 7100000, FALSE, "01" },
  { "1000000000000 link up", WU_EVENT_LINK, G_GINT64_CONSTANT (1000000000000000000),
    TRUE, "" },
  { "1000000000000.000000 link up", WU_EVENT_LINK, G_GINT64_CONSTANT (1000000000000000000),
    TRUE, "" },
  /* every payload kind */
  { "3.000 ftms.training-status 01 0d", WU_EVENT_FTMS_TRAINING_STATUS, 3000000, FALSE,
    "01 0d" },
  { "0.000 ftms.feature 0b 50 00 00 0c e0 00 00", WU_EVENT_FTMS_FEATURE, 0, FALSE,
    "0b 50 00 00 0c e0 00 00" },
  { "0.000 ftms.resistance-range 00 00 e8 03 0a 00", WU_EVENT_FTMS_RESISTANCE_RANGE, 0,
    FALSE, "00 00 e8 03 0a 00" },
  { "0.000 ftms.power-range 00 00 e8 03 01 00", WU_EVENT_FTMS_POWER_RANGE, 0, FALSE,
    "00 00 e8 03 01 00" },
  { "4.000 csc.measurement 02 10 00 00 04", WU_EVENT_CSC_MEASUREMENT, 4000000, FALSE,
    "02 10 00 00 04" },
  { "4.000 cps.measurement 20 00 96 00", WU_EVENT_CPS_MEASUREMENT, 4000000, FALSE,
    "20 00 96 00" },
  /* payload spelling: case, no spaces, mixed groups, tabs, runs of blanks */
  { "5.000 ftms.status 0A ff Bc", WU_EVENT_FTMS_STATUS, 5000000, FALSE, "0a ff bc" },
  { "5.000 ftms.status 0aFFbc", WU_EVENT_FTMS_STATUS, 5000000, FALSE, "0a ff bc" },
  { "5.000 ftms.status 0aff bc", WU_EVENT_FTMS_STATUS, 5000000, FALSE, "0a ff bc" },
  { "5.000\tftms.status\t0a\t\tff  bc", WU_EVENT_FTMS_STATUS, 5000000, FALSE, "0a ff bc" },
  /* leading and trailing blanks, CR */
  { "  6.000 link up", WU_EVENT_LINK, 6000000, TRUE, "" },
  { "6.000 link up  \t", WU_EVENT_LINK, 6000000, TRUE, "" },
  { "6.000 link up\r", WU_EVENT_LINK, 6000000, TRUE, "" },
  { "6.000 ftms.status 07 32 \r", WU_EVENT_FTMS_STATUS, 6000000, FALSE, "07 32" },
  /* a value of no bytes (an empty notification): '-' */
  { "0.068916 csc.measurement -", WU_EVENT_CSC_MEASUREMENT, 68916, FALSE, "" },
  { "7.000 ftms.indoor-bike-data\t- \r", WU_EVENT_FTMS_INDOOR_BIKE_DATA, 7000000, FALSE, "" },
};

static void
test_good_lines (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (good_rows); i++)
    {
      WuRawEvent ev;

      announce_row (good_rows[i].line);
      parse_event_or_die (good_rows[i].line, &ev);
      g_autofree char *hex = payload_to_hex (&ev);
      g_assert_cmpint (ev.kind, ==, good_rows[i].kind);
      g_assert_cmpint (ev.time_us, ==, good_rows[i].time_us);
      g_assert_cmpint (ev.up, ==, good_rows[i].up);
      g_assert_cmpstr (hex, ==, good_rows[i].payload);
    }
}

/* source.lost: the values the lost source reported last, and whether it ran the warm-up. */
#define LOST(kind_, value_) WU_TRACE_LOST_VALUE (WU_CADENCE_KIND_##kind_, value_)
#define LOST_CRANK(kind_) WU_TRACE_LOST_CRANK (WU_CADENCE_KIND_##kind_)
#define LOST_WHEEL(kind_) WU_TRACE_LOST_WHEEL (WU_CADENCE_KIND_##kind_)
enum { CADENCE, POWER, SPEED };

static const struct {
  const char *line;
  guint lost;
  gboolean run;
} lost_rows[] = {
  { "20.2 source.lost ftms.cadence ftms.power ftms.speed run",
    LOST (FTMS, CADENCE) | LOST (FTMS, POWER) | LOST (FTMS, SPEED), TRUE },
  { "1.000 source.lost csc.cadence csc.crank", LOST (CSC, CADENCE) | LOST_CRANK (CSC), FALSE },
  { "1.000 source.lost gpio.crank", LOST_CRANK (GPIO), FALSE },
  { "1.000 source.lost gpio.speed cps.power cps.wheel csc.crank", LOST (GPIO, SPEED)
    | LOST (CPS, POWER) | LOST_WHEEL (CPS) | LOST_CRANK (CSC), FALSE },
  { "1.000 source.lost run", 0, TRUE },
  { "1.000 source.lost -", 0, FALSE },
  { "1.000 source.lost\tcsc.speed \r", LOST (CSC, SPEED), FALSE },
};

static void
test_lost_source_lines (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (lost_rows); i++)
    {
      WuRawEvent ev;

      announce_row (lost_rows[i].line);
      parse_event_or_die (lost_rows[i].line, &ev);
      g_assert_cmpint (ev.kind, ==, WU_EVENT_SOURCE_LOST);
      g_assert_cmpuint (ev.lost, ==, lost_rows[i].lost);
      g_assert_cmpint (ev.up, ==, lost_rows[i].run);
      g_assert_cmpuint (ev.len, ==, 0);
    }
}

static const char *const non_event_rows[] = {
  "",
  " ",
  "\t \t",
  "\r",
  "  \r",
  "#",
  "# a comment",
  "#0.000 link up",
  "   # indented comment",
  WU_TRACE_HEADER,
  "# warmupd trace 2",   /* the line parser does not judge versions; the reader does */
};

static void
test_non_event_lines (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (non_event_rows); i++)
    {
      g_autoptr (GError) error = NULL;
      WuRawEvent ev;
      gboolean is_event = TRUE;

      announce_row (non_event_rows[i]);
      g_assert_true (wu_trace_parse_line (non_event_rows[i], &ev, &is_event, &error));
      g_assert_no_error (error);
      g_assert_false (is_event);
    }
}

/* A payload of exactly WU_EVENT_MAX_PAYLOAD bytes is fine; one more is not. */
static char *
line_with_payload_bytes (gsize n_bytes)
{
  GString *line = g_string_new ("1.000 ftms.status");

  for (gsize i = 0; i < n_bytes; i++)
    g_string_append_printf (line, " %02x", (guint) (i & 0xff));
  return g_string_free (line, FALSE);
}

static void
test_payload_limit (void)
{
  g_autofree char *longest = line_with_payload_bytes (WU_EVENT_MAX_PAYLOAD);
  g_autofree char *too_long = line_with_payload_bytes (WU_EVENT_MAX_PAYLOAD + 1);
  g_autoptr (GError) error = NULL;
  gboolean is_event = TRUE;
  WuRawEvent ev;

  parse_event_or_die (longest, &ev);
  g_assert_cmpuint (ev.len, ==, WU_EVENT_MAX_PAYLOAD);
  g_assert_cmpuint (ev.payload[WU_EVENT_MAX_PAYLOAD - 1], ==, (WU_EVENT_MAX_PAYLOAD - 1) & 0xff);

  g_assert_false (wu_trace_parse_line (too_long, &ev, &is_event, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "payload longer than 512 bytes"));
  g_assert_false (is_event);
}

/* ----------------------------------------------------------------------------------- */
/* Bad lines: one row per kind of mistake                                               */

static const struct {
  const char *line;
  const char *reason;   /* expected substring of the error message */
} bad_rows[] = {
  /* time */
  { "1.2.3 link up", "bad time '1.2.3'" },
  { "-1.000 link up", "bad time '-1.000'" },
  { "+1.000 link up", "bad time '+1.000'" },
  { "1e3 link up", "bad time '1e3'" },
  { "1.5e3 link up", "bad time '1.5e3'" },
  { "1.1234567 link up", "bad time '1.1234567': more than 6 fraction digits" },
  { ".5 link up", "bad time '.5'" },
  { "5. link up", "bad time '5.': expected digits after '.'" },
  { "1,5 link up", "bad time '1,5'" },
  { "0x10 link up", "bad time '0x10'" },
  { "nan link up", "bad time 'nan'" },
  { "link up", "bad time 'link'" },
  { "1000000000000.000001 link up", "bad time '1000000000000.000001': later than" },
  { "1000000000001 link up", "bad time '1000000000001': later than" },
  { "99999999999999999999999999 link up", "bad time '99999999999999999999999999'" },
  /* kind */
  { "1.000", "missing event kind" },
  { "1.000   \r", "missing event kind" },
  { "1.000 ftms.foo 01", "unknown event kind 'ftms.foo'" },
  { "1.000 LINK up", "unknown event kind 'LINK'" },
  { "1.000 # link up", "unknown event kind '#'" },
  { "1.000 ftms.status\x01 01", "unknown event kind 'ftms.status\\x01'" },
  /* payload */
  { "1.000 ftms.status", "missing payload" },
  { "1.000 ftms.indoor-bike-data \t\r", "missing payload" },
  { "1.000 ftms.status 0", "odd number of hex digits" },
  { "1.000 ftms.status 01 023", "odd number of hex digits in '023'" },
  { "1.000 ftms.status 4 402", "odd number of hex digits in '4'" },   /* blank inside a byte */
  { "1.000 ftms.status zz", "bad hex byte 'zz'" },
  { "1.000 ftms.status 01 0g", "bad hex byte '0g'" },
  { "1.000 ftms.status 010z", "bad hex byte '0z'" },
  { "1.000 ftms.status 01 z", "bad hex byte 'z'" },
  { "1.000 ftms.status 0x01", "bad hex byte '0x'" },
  { "1.000 ftms.status 01,02", "bad hex byte ',0'" },
  { "1.000 ftms.status 01 # comment", "bad hex byte '#'" },
  { "1.000 ftms.status 01\r02", "bad hex byte '\\x0d0'" },
  { "1.000 ftms.status", "('-' for an empty one)" },
  { "1.000 csc.measurement - 02", "'-' (an empty payload) must stand alone" },
  { "1.000 csc.measurement 02 -", "'-' (an empty payload) must stand alone" },
  { "1.000 csc.measurement - -", "'-' (an empty payload) must stand alone" },
  { "1.000 csc.measurement --", "bad hex byte '--'" },
  { "1.000 link -", "expected 'up' or 'down', found '-'" },
  /* link */
  { "1.000 link", "expected 'up' or 'down', found nothing" },
  { "1.000 link UP", "expected 'up' or 'down', found 'UP'" },
  { "1.000 link rising", "expected 'up' or 'down', found 'rising'" },
  { "1.000 link up down", "unexpected text after 'up': 'down'" },
  { "1.000 link down 01", "unexpected text after 'down': '01'" },
  /* gpio.edge */
  { "1.000 gpio.edge", "expected 'rising' or 'falling', found nothing" },
  { "1.000 gpio.edge up", "expected 'rising' or 'falling', found 'up'" },
  { "1.000 gpio.edge rising falling", "unexpected text after 'rising': 'falling'" },
  { "1.000 gpio.edge falling # note", "unexpected text after 'falling': '# note'" },
  /* source.lost */
  { "1.000 source.lost", "missing what the source's loss changed ('-' for nothing)" },
  { "1.000 source.lost - run", "'-' (nothing changed) must stand alone" },
  { "1.000 source.lost csc.crank -", "'-' (nothing changed) must stand alone" },
  { "1.000 source.lost run -", "unexpected text after 'run': '-'" },
  { "1.000 source.lost run ftms.power", "unexpected text after 'run': 'ftms.power'" },
  { "1.000 source.lost run run", "unexpected text after 'run': 'run'" },
  { "1.000 source.lost ftms.cadence ftms.cadence", "'ftms.cadence' named twice" },
  { "1.000 source.lost csc.wheel ftms.power csc.wheel", "'csc.wheel' named twice" },
  { "1.000 source.lost csc", "found 'csc'" },
  { "1.000 source.lost ftms.heart-rate", "found 'ftms.heart-rate'" },
  { "1.000 source.lost FTMS.cadence", "found 'FTMS.cadence'" },
  { "1.000 source.lost ftms.", "found 'ftms.'" },
  { "1.000 source.lost ftmscadence", "found 'ftmscadence'" },
  { "1.000 source.lost .cadence", "found '.cadence'" },
  { "1.000 source.lost ftms.cadence.power", "found 'ftms.cadence.power'" },
  { "1.000 source.lost ftms-cadence", "found 'ftms-cadence'" },
  { "1.000 source.lost up", "expected a word such as 'ftms.cadence' or 'csc.crank', or "
    "'run'; found 'up'" },
  /* quoting of long or binary junk stays short and printable */
  { "1.000 ftms.status-and-a-very-long-name-that-goes-on-and-on-and-on 01",
    "unknown event kind 'ftms.status-and-a-very-long-name-that-go...'" },
  { "1.000 \xff\xfe 01", "unknown event kind '\\xff\\xfe'" },
};

static void
test_bad_lines (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_rows); i++)
    {
      g_autoptr (GError) error = NULL;
      gboolean is_event = TRUE;
      WuRawEvent ev;

      announce_row (bad_rows[i].line);
      g_assert_false (wu_trace_parse_line (bad_rows[i].line, &ev, &is_event, &error));
      g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      if (strstr (error->message, bad_rows[i].reason) == NULL)
        g_error ("line '%s': message '%s' lacks '%s'", bad_rows[i].line, error->message,
                 bad_rows[i].reason);
      g_assert_false (is_event);
    }
}

/* ----------------------------------------------------------------------------------- */
/* Formatting and round trips                                                            */

static const struct {
  const char *line;
  const char *formatted;
} format_rows[] = {
  { "0 link up", "0.000 link up" },
  { "1.5 link down", "1.500 link down" },
  { "12.345 ftms.status 07 32", "12.345 ftms.status 07 32" },
  { "12.3456 ftms.status 0732", "12.345600 ftms.status 07 32" },
  { "0.000001 gpio.edge rising", "0.000001 gpio.edge rising" },
  { "3.100000 gpio.edge falling", "3.100 gpio.edge falling" },
  { "1000000000000 link up", "1000000000000.000 link up" },
  { "7.000 ftms.indoor-bike-data 7402AB0CDE", "7.000 ftms.indoor-bike-data 74 02 ab 0c de" },
  { "\t8  link   up \r", "8.000 link up" },
  { "0.068916 csc.measurement   - ", "0.068916 csc.measurement -" },
  /* source.lost's values in one order, by kind then cadence, power, speed */
  { "3 source.lost gpio.crank ftms.speed csc.wheel csc.power gpio.cadence ftms.cadence run",
    "3.000 source.lost ftms.cadence ftms.speed csc.power csc.wheel gpio.cadence gpio.crank run" },
  { "3 source.lost  - ", "3.000 source.lost -" },
  { "3 source.lost run", "3.000 source.lost run" },
};

static void
test_format (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (format_rows); i++)
    {
      WuRawEvent ev;

      parse_event_or_die (format_rows[i].line, &ev);
      g_autofree char *formatted = wu_trace_format_event (&ev);
      g_assert_cmpstr (formatted, ==, format_rows[i].formatted);
    }
}

static void
assert_round_trip (const WuRawEvent *ev)
{
  g_autofree char *line = wu_trace_format_event (ev);
  WuRawEvent again;

  parse_event_or_die (line, &again);
  assert_events_equal (ev, &again);
  g_autofree char *line_again = wu_trace_format_event (&again);
  g_assert_cmpstr (line, ==, line_again);
}

static void
test_round_trip_table (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (good_rows); i++)
    {
      WuRawEvent ev;

      parse_event_or_die (good_rows[i].line, &ev);
      assert_round_trip (&ev);
    }
}

static void
random_event (WuRawEvent *ev)
{
  memset (ev, 0, sizeof *ev);
  ev->kind = (WuEventKind) g_test_rand_int_range (0, WU_EVENT_N_KINDS);
  /* a mix of millisecond and microsecond times, small and huge */
  ev->time_us = (gint64) g_test_rand_int_range (0, G_MAXINT32) *
                (g_test_rand_bit () ? 1000 : 1);
  if (g_test_rand_int_range (0, 20) == 0)
    ev->time_us = G_GINT64_CONSTANT (1000000000000000000) - g_test_rand_int_range (0, 2);
  if (ev->kind == WU_EVENT_SOURCE_LOST)
    ev->lost = (guint) g_test_rand_int_range (0, WU_TRACE_LOST_ALL + 1);
  if (!wu_event_kind_has_payload (ev->kind))
    {
      ev->up = g_test_rand_bit ();
      return;
    }
  /* now and then an empty value, written '-' */
  if (g_test_rand_int_range (0, 20) == 0)
    return;
  ev->len = (gsize) g_test_rand_int_range (1, WU_EVENT_MAX_PAYLOAD + 1);
  for (gsize i = 0; i < ev->len; i++)
    ev->payload[i] = (guint8) g_test_rand_int_range (0, 256);
}

static void
test_round_trip_random (void)
{
  for (guint i = 0; i < 2000; i++)
    {
      WuRawEvent ev;

      random_event (&ev);
      assert_round_trip (&ev);
    }
}

/* ----------------------------------------------------------------------------------- */
/* Reader                                                                                */

static void
test_reader_good_file (void)
{
  static const char contents[] =
    WU_TRACE_HEADER "\n"
    "# warmupd trace generated by a test\n"
    "\n"
    "0.000 ftms.resistance-range 00 00 e8 03 0a 00\n"
    "0.000 link up\n"
    "   \n"
    "1.000 ftms.indoor-bike-data 74 0a 96 00 00 00 00 19 00 00 00 00 00\n"
    "1.000 gpio.edge rising\n";
  g_autofree char *path = write_temp_trace (contents, -1);
  g_autoptr (GError) error = NULL;
  g_autoptr (WuTraceReader) reader = wu_trace_reader_open (path, &error);
  static const guint expected_lines[] = { 4, 5, 7, 8 };
  static const WuEventKind expected_kinds[] = {
    WU_EVENT_FTMS_RESISTANCE_RANGE, WU_EVENT_LINK, WU_EVENT_FTMS_INDOOR_BIKE_DATA,
    WU_EVENT_GPIO_EDGE,
  };
  WuRawEvent ev;

  g_assert_no_error (error);
  g_assert_nonnull (reader);
  g_assert_cmpuint (wu_trace_reader_get_line (reader), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (expected_lines); i++)
    {
      g_assert_true (wu_trace_reader_next (reader, &ev, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (wu_trace_reader_get_line (reader), ==, expected_lines[i]);
      g_assert_cmpint (ev.kind, ==, expected_kinds[i]);
    }
  g_assert_false (wu_trace_reader_next (reader, &ev, &error));
  g_assert_no_error (error);
  g_assert_false (wu_trace_reader_next (reader, &ev, &error));   /* EOF stays EOF */
  g_assert_no_error (error);
  g_assert_cmpuint (wu_trace_reader_get_line (reader), ==, 8);
  g_unlink (path);
}

/* A file's contents and length, so a row can hold a NUL byte. */
#define CONTENTS(literal) literal, sizeof (literal) - 1

/* One row per reader-level failure: the file, and the message's start after "PATH:". */
static const struct {
  const char *contents;
  gsize len;
  const char *message;   /* after "PATH:" */
} reader_bad_rows[] = {
  { CONTENTS ("0.000 link up\n# c\n1.000 ftms.foo 01\n"),
    "3: unknown event kind 'ftms.foo'" },
  { CONTENTS ("13.000 link up\n12.000 link down\n"),
    "2: time goes backwards (12.000 after 13.000)" },
  { CONTENTS ("1.5 link up\n\n1.499999 link down\n"),
    "3: time goes backwards (1.499999 after 1.500)" },
  { CONTENTS ("# warmupd trace 2\n0.000 link up\n"),
    "1: unsupported trace version 2 (this warmupd reads version 1)" },
  { CONTENTS ("# warmupd trace 1\n#warmupd  trace\t10\n"),
    "2: unsupported trace version 10" },
  { CONTENTS ("\n\n0.000 ftms.status 0\r\n"),
    "3: odd number of hex digits" },
  { CONTENTS ("0.000 link up\n1.000 link\0up\n"),
    "2: line contains a NUL byte" },
  { CONTENTS ("0.000 link up\n1.000 link sideways"),
    "2: expected 'up' or 'down', found 'sideways'" },
};

static void
test_reader_errors (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (reader_bad_rows); i++)
    {
      g_autofree char *path = write_temp_trace (reader_bad_rows[i].contents,
                                                (gssize) reader_bad_rows[i].len);
      g_autofree char *expected = g_strdup_printf ("%s:%s", path, reader_bad_rows[i].message);
      g_autoptr (GError) error = NULL;

      count_events (path, &error);
      g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
      if (!g_str_has_prefix (error->message, expected))
        g_error ("row %u: '%s' does not start with '%s'", i, error->message, expected);
      g_unlink (path);
    }
}

/* After a bad line the reader goes on with the next one, so a linter can list them all. */
static void
test_reader_continues_after_error (void)
{
  g_autofree char *path = write_temp_trace ("0.000 link up\nbad\n2.000 link down\n", -1);
  g_autoptr (WuTraceReader) reader = wu_trace_reader_open (path, NULL);
  g_autoptr (GError) error = NULL;
  WuRawEvent ev;

  g_assert_true (wu_trace_reader_next (reader, &ev, NULL));
  g_assert_false (wu_trace_reader_next (reader, &ev, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
  g_assert_cmpuint (wu_trace_reader_get_line (reader), ==, 2);
  g_assert_true (wu_trace_reader_next (reader, &ev, NULL));
  g_assert_cmpint (ev.time_us, ==, 2000000);
  g_assert_cmpuint (wu_trace_reader_get_line (reader), ==, 3);
  g_unlink (path);
}

static void
test_reader_missing_file (void)
{
  const char *path = "/nonexistent/warmupd/missing.trace";
  g_autoptr (GError) error = NULL;
  WuTraceReader *reader = wu_trace_reader_open (path, &error);

  g_assert_null (reader);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_reader_directory (void)
{
  g_autoptr (GError) error = NULL;
  WuTraceReader *reader = wu_trace_reader_open (g_get_tmp_dir (), &error);

  g_assert_null (reader);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR);
}

/* The same events, whatever the line endings and whether the file ends in a newline. */
static const struct {
  const char *name;
  const char *contents;
} reader_spelling_rows[] = {
  { "LF", "# warmupd trace 1\n0.000 link up\n0.500 ftms.status 07 32\n1.000 link down\n" },
  { "CRLF",
    "# warmupd trace 1\r\n0.000 link up\r\n0.500 ftms.status 07 32\r\n1.000 link down\r\n" },
  { "no final newline",
    "# warmupd trace 1\n0.000 link up\n0.500 ftms.status 07 32\n1.000 link down" },
  { "CRLF, no final newline",
    "# warmupd trace 1\r\n0.000 link up\r\n0.500 ftms.status 07 32\r\n1.000 link down\r" },
  { "blank lines at the end", "0.000 link up\n0.500 ftms.status 07 32\n1.000 link down\n\n\n" },
};

static void
test_reader_line_endings (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (reader_spelling_rows); i++)
    {
      g_autofree char *path = write_temp_trace (reader_spelling_rows[i].contents, -1);
      g_autoptr (GError) error = NULL;
      g_autoptr (WuTraceReader) reader = wu_trace_reader_open (path, &error);
      WuRawEvent ev;

      g_test_message ("file: %s", reader_spelling_rows[i].name);
      g_assert_no_error (error);
      g_assert_true (wu_trace_reader_next (reader, &ev, &error));
      g_assert_cmpint (ev.kind, ==, WU_EVENT_LINK);
      g_assert_true (ev.up);
      g_assert_true (wu_trace_reader_next (reader, &ev, &error));
      g_assert_cmpint (ev.time_us, ==, 500000);
      g_assert_cmpuint (ev.len, ==, 2);
      g_assert_true (wu_trace_reader_next (reader, &ev, &error));
      g_assert_cmpint (ev.time_us, ==, 1000000);
      g_assert_false (ev.up);
      g_assert_false (wu_trace_reader_next (reader, &ev, &error));
      g_assert_no_error (error);
      g_unlink (path);
    }
}

static void
test_reader_empty_file (void)
{
  g_autofree char *path = write_temp_trace ("", 0);
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (count_events (path, &error), ==, 0);
  g_assert_no_error (error);
  g_unlink (path);
}

/* A huge line is refused without holding it in memory, and reading goes on after it. */
static void
test_reader_long_line (void)
{
  GString *contents = g_string_new ("0.000 link up\n1.000 ftms.status");
  for (guint i = 0; i < 20000; i++)
    g_string_append (contents, " 00");
  g_string_append (contents, "\n2.000 link down\n");
  g_autofree char *path = write_temp_trace (contents->str, (gssize) contents->len);
  g_autoptr (WuTraceReader) reader = wu_trace_reader_open (path, NULL);
  g_autoptr (GError) error = NULL;
  WuRawEvent ev;

  g_string_free (contents, TRUE);
  g_assert_true (wu_trace_reader_next (reader, &ev, NULL));
  g_assert_false (wu_trace_reader_next (reader, &ev, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, ":2: line longer than"));
  g_assert_true (wu_trace_reader_next (reader, &ev, NULL));
  g_assert_cmpuint (wu_trace_reader_get_line (reader), ==, 3);
  g_unlink (path);
}

/* Many events through the reader: times never decrease, every event round-trips. */
static void
test_reader_many_events (void)
{
  GString *contents = g_string_new (WU_TRACE_HEADER "\n");
  WuRawEvent ev;

  for (guint i = 0; i < 5000; i++)
    {
      memset (&ev, 0, sizeof ev);
      ev.time_us = (gint64) i * 250000;
      ev.kind = WU_EVENT_FTMS_INDOOR_BIKE_DATA;
      ev.len = 4;
      ev.payload[0] = (guint8) i;
      g_autofree char *line = wu_trace_format_event (&ev);
      g_string_append_printf (contents, "%s\n", line);
    }
  g_autofree char *path = write_temp_trace (contents->str, (gssize) contents->len);
  g_autoptr (GError) error = NULL;
  g_string_free (contents, TRUE);

  g_assert_cmpuint (count_events (path, &error), ==, 5000);
  g_assert_no_error (error);
  g_unlink (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/trace/kind-names", test_kind_names);
  g_test_add_func ("/trace/parse/good-lines", test_good_lines);
  g_test_add_func ("/trace/parse/lost-source-lines", test_lost_source_lines);
  g_test_add_func ("/trace/parse/non-event-lines", test_non_event_lines);
  g_test_add_func ("/trace/parse/payload-limit", test_payload_limit);
  g_test_add_func ("/trace/parse/bad-lines", test_bad_lines);
  g_test_add_func ("/trace/format", test_format);
  g_test_add_func ("/trace/round-trip/table", test_round_trip_table);
  g_test_add_func ("/trace/round-trip/random", test_round_trip_random);
  g_test_add_func ("/trace/reader/good-file", test_reader_good_file);
  g_test_add_func ("/trace/reader/errors", test_reader_errors);
  g_test_add_func ("/trace/reader/continues-after-error", test_reader_continues_after_error);
  g_test_add_func ("/trace/reader/missing-file", test_reader_missing_file);
  g_test_add_func ("/trace/reader/directory", test_reader_directory);
  g_test_add_func ("/trace/reader/line-endings", test_reader_line_endings);
  g_test_add_func ("/trace/reader/empty-file", test_reader_empty_file);
  g_test_add_func ("/trace/reader/long-line", test_reader_long_line);
  g_test_add_func ("/trace/reader/many-events", test_reader_many_events);

  return g_test_run ();
}
