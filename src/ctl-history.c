/* warmupctl history: the session history printed as a table (for people) or CSV (for
 * spreadsheets), fetched a page at a time with Warmup1.GetHistoryBefore (one reply carries
 * at most WU_HISTORY_REPLY_MAX_ROWS warm-ups). */
#include "ctl-history.h"
#include "wu-dbus-generated.h"
#include "ctl-common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
  gboolean session_bus;
  int wait_seconds;
  gboolean csv;
  int limit;
} HistoryOptions;

/* The CSV columns: the keys of a GetHistory entry, in order. */
static const char *const csv_columns[] = {
  "id", "start_time", "end_time", "outcome", "counted_seconds", "pauses", "avg_cadence",
  "max_cadence", "avg_power", "cap", "recaps", "source", "routine", "rounds", "assessment",
};

static gboolean
parse_options (int *argc, char ***argv, HistoryOptions *options, GError **error)
{
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &options->session_bus,
      "Talk to warmupd on the session bus", NULL },
    { "wait", 'w', 0, G_OPTION_ARG_INT, &options->wait_seconds,
      "Wait up to SECONDS for warmupd to appear", "SECONDS" },
    { "csv", 0, 0, G_OPTION_ARG_NONE, &options->csv, "Print CSV (with a header line)", NULL },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &options->limit,
      "Only the N newest warm-ups (default: all, fetched a page at a time)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("history");

  g_option_context_set_summary (context, "Show the session history, newest first.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc != 2)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                   strcmp ((*argv)[1], "history") == 0 ? (*argv)[2] : (*argv)[1]);
      return FALSE;
    }
  if (options->wait_seconds < 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--wait must be 0 (do not wait) or more seconds");
      return FALSE;
    }
  if (options->limit < 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--limit must be 0 (all) or more");
      return FALSE;
    }
  return TRUE;
}

/* --- fetching ----------------------------------------------------------------------------- */

static WuWarmup1 *
connect_history (const HistoryOptions *options)
{
  GBusType bus_type = options->session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM;
  const char *bus_label = options->session_bus ? "session" : "system";
  g_autoptr (GError) error = NULL;
  g_autoptr (WuWarmup1) proxy = NULL;

  proxy = wu_warmup1_proxy_new_for_bus_sync (bus_type, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES
                                               | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS
                                               | G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
                                             WU_BUS_NAME, WU_OBJECT_PATH, NULL, &error);
  if (proxy == NULL)
    {
      g_printerr ("warmupctl: cannot reach the %s bus: %s\n", bus_label, error->message);
      return NULL;
    }
  if (!wu_ctl_daemon_is_there (G_DBUS_PROXY (proxy), options->session_bus, options->wait_seconds))
    return NULL;
  return g_steal_pointer (&proxy);
}

/* The next page: warm-ups below BEFORE_ID (0: from the newest), at most LIMIT (0: as many as
 * warmupd sends at once). *OLD_DAEMON: a warmupd without GetHistoryBefore, asked
 * GetHistory (LIMIT) instead, which is its whole answer. NULL on failure, reported. */
static GVariant *
fetch_page (WuWarmup1 *proxy, gint64 before_id, guint limit, gboolean *old_daemon)
{
  g_autoptr (GError) error = NULL;
  GVariant *warmups = NULL;

  if (wu_warmup1_call_get_history_before_sync (proxy, before_id, limit, G_DBUS_CALL_FLAGS_NONE,
                                               -1, &warmups, NULL, &error))
    return warmups;
  if (before_id == 0 && g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD))
    {
      g_clear_error (&error);
      *old_daemon = TRUE;
      if (wu_warmup1_call_get_history_sync (proxy, limit, G_DBUS_CALL_FLAGS_NONE, -1, &warmups,
                                            NULL, &error))
        return warmups;
    }
  wu_ctl_report_call_error ("history", error);
  return NULL;
}

/* --- printing ----------------------------------------------------------------------------- */

/* VALUE as CSV text: "" when absent; strings quoted when they need it. */
static char *
csv_field (GVariant *value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (value == NULL)
    return g_strdup ("");
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return g_strdup (g_ascii_formatd (buffer, sizeof buffer, "%.1f", g_variant_get_double (value)));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    return g_strdup_printf ("%u", g_variant_get_uint32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return g_strdup_printf ("%" G_GINT64_FORMAT, g_variant_get_int64 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      const char *text = g_variant_get_string (value, NULL);
      g_autofree char *doubled = NULL;
      g_auto (GStrv) parts = NULL;

      if (strpbrk (text, ",\"\r\n") == NULL)
        return g_strdup (text);
      parts = g_strsplit (text, "\"", -1);
      doubled = g_strjoinv ("\"\"", parts);
      return g_strdup_printf ("\"%s\"", doubled);
    }
  return g_variant_print (value, FALSE);
}

static void
print_csv_header (void)
{
  /* csv_columns has no NULL at the end: not g_strjoinv() */
  for (gsize i = 0; i < G_N_ELEMENTS (csv_columns); i++)
    g_print ("%s%s", i > 0 ? "," : "", csv_columns[i]);
  g_print ("\n");
}

static void
print_csv_row (GVariant *warmup)
{
  GString *line = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (csv_columns); i++)
    {
      g_autoptr (GVariant) value = g_variant_lookup_value (warmup, csv_columns[i], NULL);
      g_autofree char *field = csv_field (value);

      g_string_append_printf (line, "%s%s", i > 0 ? "," : "", field);
    }
  g_print ("%s\n", line->str);
  g_string_free (line, TRUE);
}

static double
lookup_double (GVariant *warmup, const char *key)
{
  double value;
  return g_variant_lookup (warmup, key, "d", &value) ? value : -1;
}

static char *
lookup_string (GVariant *warmup, const char *key)
{
  char *value = NULL;
  return g_variant_lookup (warmup, key, "s", &value) ? value : g_strdup ("--");
}

/* "2024-05-01 09:30" in local time, from the ISO 8601 UTC start_time. */
static char *
local_start (GVariant *warmup)
{
  g_autofree char *text = NULL;
  g_autoptr (GDateTime) utc = NULL;
  g_autoptr (GDateTime) local = NULL;

  if (!g_variant_lookup (warmup, "start_time", "s", &text)
      || (utc = g_date_time_new_from_iso8601 (text, NULL)) == NULL)
    return g_strdup ("--");
  local = g_date_time_to_local (utc);
  return g_date_time_format (local, "%Y-%m-%d %H:%M");
}

static char *
format_number (double value, const char *unit)
{
  return value < 0 ? g_strdup ("--") : g_strdup_printf ("%.0f%s", value, unit);
}

static char *
format_minutes (double seconds)
{
  int s = (int) floor (MAX (seconds, 0));
  return g_strdup_printf ("%02d:%02d", s / 60, s % 60);
}

static void
print_table_row (GVariant *warmup)
{
  gint64 id = 0;
  guint32 pauses = 0, recaps = 0, rounds = 0;
  gboolean has_rounds = g_variant_lookup (warmup, "rounds", "u", &rounds);
  g_autofree char *start = local_start (warmup);
  g_autofree char *outcome = lookup_string (warmup, "outcome");
  g_autofree char *counted = format_minutes (lookup_double (warmup, "counted_seconds"));
  g_autofree char *avg = format_number (lookup_double (warmup, "avg_cadence"), "");
  g_autofree char *max = format_number (lookup_double (warmup, "max_cadence"), "");
  g_autofree char *cadence = g_strdup_printf ("%s/%s", avg, max);
  g_autofree char *power = format_number (lookup_double (warmup, "avg_power"), " W");
  g_autofree char *cap = format_number (lookup_double (warmup, "cap"), "");
  g_autofree char *routine = lookup_string (warmup, "routine");
  g_autofree char *round_text = has_rounds ? g_strdup_printf ("%u", rounds) : g_strdup ("--");
  g_autofree char *assessment = lookup_string (warmup, "assessment");
  g_autofree char *source = lookup_string (warmup, "source");

  g_variant_lookup (warmup, "id", "x", &id);
  g_variant_lookup (warmup, "pauses", "u", &pauses);
  g_variant_lookup (warmup, "recaps", "u", &recaps);
  g_print ("%4" G_GINT64_FORMAT "  %-16s  %-11s  %7s  %6u  %-7s  %6s  %4s  %6u  %-18s  %6s  %-10s  %s\n",
           id, start, outcome, counted, pauses, cadence, power, cap, recaps, routine, round_text,
           assessment, source);
}

static void
print_table_header (void)
{
  g_print ("%4s  %-16s  %-11s  %7s  %6s  %-7s  %6s  %4s  %6s  %-18s  %6s  %-10s  %s\n", "ID",
           "START", "OUTCOME", "COUNTED", "PAUSES", "CADENCE", "POWER", "CAP", "RECAPS",
           "ROUTINE", "ROUNDS", "ASSESSMENT", "SOURCE");
}

/* Page after page, printed as it comes (a long history is never held whole): the
 * OPTIONS->limit newest warm-ups, or all of them. FALSE when a call failed (reported). */
static gboolean
print_history (WuWarmup1 *proxy, const HistoryOptions *options)
{
  guint64 printed = 0;
  gint64 before_id = 0;
  gboolean old_daemon = FALSE;

  for (;;)
    {
      guint want = options->limit > 0 ? (guint) (options->limit - printed) : 0;
      g_autoptr (GVariant) page = fetch_page (proxy, before_id, want, &old_daemon);
      gsize n;
      gint64 last_id = 0;

      if (page == NULL)
        return FALSE;
      /* the header once the first page is in: a failed fetch leaves nothing on stdout (a
       * file it is redirected to is not taken for an empty history) */
      if (options->csv && before_id == 0)
        print_csv_header ();
      n = g_variant_n_children (page);
      if (n == 0 && printed == 0 && !options->csv)
        g_print ("no warm-ups yet\n");
      if (n == 0)
        return TRUE;
      if (printed == 0 && !options->csv)
        print_table_header ();
      for (gsize i = 0; i < n; i++)
        {
          g_autoptr (GVariant) warmup = g_variant_get_child_value (page, i);

          if (options->csv)
            print_csv_row (warmup);
          else
            print_table_row (warmup);
          g_variant_lookup (warmup, "id", "x", &last_id);
        }
      printed += n;
      /* done: the limit reached, an older warmupd's single answer, or ids that do not go
       * down (the next page would repeat this one) */
      if ((options->limit > 0 && printed >= (guint64) options->limit) || old_daemon
          || last_id <= 1 || (before_id > 0 && last_id >= before_id))
        return TRUE;
      before_id = last_id;
    }
}

gboolean
wu_ctl_history_dispatch (int argc, char **argv, int *status)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuWarmup1) proxy = NULL;
  HistoryOptions options = { 0 };

  if (g_strcmp0 (wu_ctl_find_command (argc, argv), "history") != 0)
    return FALSE;
  if (!parse_options (&argc, &argv, &options, &error))
    {
      g_printerr ("warmupctl: %s\n", error->message);
      *status = 2;
      return TRUE;
    }
  proxy = connect_history (&options);
  *status = proxy != NULL && print_history (proxy, &options) ? EXIT_SUCCESS : EXIT_FAILURE;
  return TRUE;
}
