/* warmupctl: look at and steer warmupd over D-Bus. */
#include "wu-dbus-generated.h"
#include "ctl-common.h"
#include "ctl-history.h"
#include "ctl-routine.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BAR_WIDTH 30

typedef struct {
  gboolean session_bus;
  int wait_seconds;
  gboolean guide;        /* watch --guide: then guide through the announced routine */
} CtlOptions;

typedef struct {
  GMainLoop *loop;
  WuWarmup1 *proxy;
  gboolean tty;
  int status;
  char *last_line_key;   /* plain mode: what was last printed, to print only changes */
} Watch;

static const char *
bus_label (const CtlOptions *options)
{
  return options->session_bus ? "session" : "system";
}

static char *
format_value (double value, const char *unit)
{
  if (value < 0)
    return g_strdup ("--");
  return g_strdup_printf ("%.0f%s", value, unit);
}

static char *
format_clock (double seconds)
{
  int s = (int) floor (MAX (seconds, 0));
  return g_strdup_printf ("%02d:%02d", s / 60, s % 60);
}

/* --- connecting ------------------------------------------------------------------------ */

static WuWarmup1 *
new_proxy (const CtlOptions *options)
{
  g_autoptr (GError) error = NULL;
  WuWarmup1 *proxy;

  proxy = wu_warmup1_proxy_new_for_bus_sync (options->session_bus ? G_BUS_TYPE_SESSION
                                                                  : G_BUS_TYPE_SYSTEM,
                                             G_DBUS_PROXY_FLAGS_NONE, WU_BUS_NAME,
                                             WU_OBJECT_PATH, NULL, &error);
  if (proxy == NULL)
    g_printerr ("warmupctl: cannot reach the %s bus: %s\n", bus_label (options), error->message);
  return proxy;
}

/* Wait for warmupd if asked to; FALSE (with a message) when it is not there. */
static gboolean
daemon_is_there (WuWarmup1 *proxy, const CtlOptions *options)
{
  return wu_ctl_daemon_is_there (G_DBUS_PROXY (proxy), options->session_bus,
                                 options->wait_seconds);
}

/* --- status, start, stop --------------------------------------------------------------- */

static int
cmd_status (WuWarmup1 *proxy)
{
  g_autofree char *elapsed = format_clock (wu_warmup1_get_elapsed (proxy));
  g_autofree char *duration = format_clock (wu_warmup1_get_duration (proxy));
  g_autofree char *cadence = format_value (wu_warmup1_get_cadence (proxy), " rpm");
  g_autofree char *power = format_value (wu_warmup1_get_power (proxy), " W");
  g_autofree char *speed = format_value (wu_warmup1_get_speed (proxy), " km/h");
  g_autofree char *resistance = format_value (wu_warmup1_get_resistance (proxy), "");
  g_autofree char *cap = format_value (wu_warmup1_get_resistance_cap (proxy), "");
  const char *hint = wu_warmup1_get_hint (proxy);
  const char *source = wu_warmup1_get_source (proxy);

  g_print ("State:      %s\n", wu_warmup1_get_state (proxy));
  g_print ("Elapsed:    %s of %s\n", elapsed, duration);
  g_print ("Cadence:    %s\n", cadence);
  g_print ("Power:      %s\n", power);
  g_print ("Speed:      %s\n", speed);
  g_print ("Resistance: %s (cap %s)\n", resistance, cap);
  g_print ("Hint:       %s\n", hint != NULL && hint[0] ? hint : "--");
  g_print ("Pauses:     %u\n", wu_warmup1_get_pauses (proxy));
  g_print ("Source:     %s\n", source != NULL && source[0] ? source : "--");
  g_print ("Routine:    %s\n", wu_warmup1_get_routine (proxy));
  return EXIT_SUCCESS;
}

static int
cmd_start (WuWarmup1 *proxy)
{
  g_autoptr (GError) error = NULL;

  if (!wu_warmup1_call_start_sync (proxy, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error))
    return wu_ctl_report_call_error ("start", error);
  g_print ("warm-up started\n");
  return EXIT_SUCCESS;
}

static int
cmd_stop (WuWarmup1 *proxy)
{
  g_autoptr (GError) error = NULL;

  if (!wu_warmup1_call_stop_sync (proxy, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error))
    return wu_ctl_report_call_error ("stop", error);
  g_print ("warm-up stopped, bike released\n");
  return EXIT_SUCCESS;
}

/* --- watch ----------------------------------------------------------------------------- */

static char *
progress_bar (double elapsed, double duration)
{
  double fraction = duration > 0 ? CLAMP (elapsed / duration, 0, 1) : 0;
  int filled = (int) floor (fraction * BAR_WIDTH);
  GString *bar = g_string_new ("[");

  for (int i = 0; i < BAR_WIDTH; i++)
    g_string_append (bar, i < filled ? "#" : "-");
  g_string_append_printf (bar, "] %3.0f%%", fraction * 100);
  return g_string_free (bar, FALSE);
}

static char *
watch_line (WuWarmup1 *proxy, gboolean with_bar)
{
  double elapsed = wu_warmup1_get_elapsed (proxy), duration = wu_warmup1_get_duration (proxy);
  g_autofree char *bar = with_bar ? progress_bar (elapsed, duration) : g_strdup ("");
  g_autofree char *clock = format_clock (elapsed);
  g_autofree char *total = format_clock (duration);
  g_autofree char *cadence = format_value (wu_warmup1_get_cadence (proxy), " rpm");
  g_autofree char *power = format_value (wu_warmup1_get_power (proxy), " W");
  g_autofree char *resistance = format_value (wu_warmup1_get_resistance (proxy), "");
  g_autofree char *cap = format_value (wu_warmup1_get_resistance_cap (proxy), "");
  const char *hint = wu_warmup1_get_hint (proxy);

  return g_strdup_printf ("%s%s%s of %s  %-10s  %7s  %6s  res %s/%s%s%s", bar, with_bar ? " " : "",
                          clock, total, wu_warmup1_get_state (proxy), cadence, power, resistance,
                          cap, hint != NULL && hint[0] ? "  " : "", hint != NULL ? hint : "");
}

/* Plain output prints a line when the state or hint changes and every whole counted minute. */
static char *
plain_key (WuWarmup1 *proxy)
{
  return g_strdup_printf ("%s|%s|%d", wu_warmup1_get_state (proxy), wu_warmup1_get_hint (proxy),
                          (int) (wu_warmup1_get_elapsed (proxy) / 60));
}

static void
watch_show (Watch *watch)
{
  g_autofree char *line = NULL;
  g_autofree char *key = NULL;

  if (watch->tty)
    {
      line = watch_line (watch->proxy, TRUE);
      g_print ("\r\033[K%s", line);
      return;
    }
  key = plain_key (watch->proxy);
  if (g_strcmp0 (key, watch->last_line_key) == 0)
    return;
  g_free (watch->last_line_key);
  watch->last_line_key = g_steal_pointer (&key);
  line = watch_line (watch->proxy, FALSE);
  g_print ("%s\n", line);
}

static void
on_properties_changed (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer user_data)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (proxy);

  /* warmupd went away: GDBusProxy drops (invalidates) every property before it says the
   * owner changed, and on_owner_changed() tells the person; nothing to show. */
  if (owner == NULL || wu_warmup1_get_state (WU_WARMUP1 (proxy)) == NULL)
    return;
  watch_show (user_data);
}

static double
summary_double (GVariant *summary, const char *key)
{
  double value = -1;
  g_variant_lookup (summary, key, "d", &value);
  return value;
}

static void
on_start_floor_routine (WuWarmup1 *proxy, const char *routine, GVariant *summary,
                        gpointer user_data)
{
  Watch *watch = user_data;
  g_autofree char *duration = format_clock (summary_double (summary, "duration"));
  g_autofree char *avg_power = format_value (summary_double (summary, "avg_power"), " W");
  g_autofree char *avg_cadence = format_value (summary_double (summary, "avg_cadence"), " rpm");
  g_autofree char *max_cadence = format_value (summary_double (summary, "max_cadence"), " rpm");
  guint pauses = 0;

  g_variant_lookup (summary, "pauses", "u", &pauses);
  if (watch->tty)
    watch_show (watch);
  g_print ("%sWarm-up complete. Time for the floor routine: %s\n", watch->tty ? "\n" : "", routine);
  g_print ("  pedalled     %s\n", duration);
  g_print ("  cadence      %s average, %s max\n", avg_cadence, max_cadence);
  g_print ("  power        %s average\n", avg_power);
  g_print ("  pauses       %u\n", pauses);
  watch->status = EXIT_SUCCESS;
  g_main_loop_quit (watch->loop);
}

/* State read from warmupd itself (not the proxy's cache) is complete. */
static gboolean
daemon_says_complete (WuWarmup1 *proxy)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) value = NULL;

  reply = g_dbus_connection_call_sync (g_dbus_proxy_get_connection (G_DBUS_PROXY (proxy)),
                                       WU_BUS_NAME, WU_OBJECT_PATH,
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", "io.github.warmupd.Warmup1",
                                                      "State"),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                       NULL);
  if (reply == NULL)
    return FALSE;   /* gone: the watch loop says so */
  g_variant_get (reply, "(v)", &value);
  return g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
         && strcmp (g_variant_get_string (value, NULL), "complete") == 0;
}

/* The warm-up was complete before watch came: what the properties still say of it (the
 * averages went with StartFloorRoutine's summary). */
static void
watch_already_complete (Watch *watch)
{
  g_autofree char *elapsed = format_clock (wu_warmup1_get_elapsed (watch->proxy));

  watch_show (watch);
  g_print ("%sWarm-up complete. Time for the floor routine: %s\n", watch->tty ? "\n" : "",
           wu_warmup1_get_routine (watch->proxy));
  g_print ("  pedalled     %s\n", elapsed);
  g_print ("  pauses       %u\n", wu_warmup1_get_pauses (watch->proxy));
  watch->status = EXIT_SUCCESS;
}

static void
on_owner_changed (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  Watch *watch = user_data;
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (object));

  if (owner != NULL)
    return;
  g_printerr ("%swarmupctl: warmupd went away\n", watch->tty ? "\n" : "");
  watch->status = EXIT_FAILURE;
  g_main_loop_quit (watch->loop);
}

static int
cmd_watch (WuWarmup1 *proxy, const CtlOptions *options)
{
  Watch watch = { .proxy = proxy, .tty = isatty (STDOUT_FILENO), .status = EXIT_FAILURE };

  watch.loop = g_main_loop_new (NULL, FALSE);
  /* Listen before waiting for warmupd: a replay in virtual time can be over, signal and all,
   * within milliseconds of the daemon appearing. */
  g_signal_connect (proxy, "start-floor-routine", G_CALLBACK (on_start_floor_routine), &watch);
  if (!daemon_is_there (proxy, options))
    {
      g_signal_handlers_disconnect_by_data (proxy, &watch);
      g_main_loop_unref (watch.loop);
      return EXIT_FAILURE;
    }
  if (watch.status == EXIT_SUCCESS)
    goto done;   /* the warm-up completed while we waited */
  if (g_strcmp0 (wu_warmup1_get_state (proxy), "complete") == 0 && daemon_says_complete (proxy))
    {
      /* Attached to a warm-up already complete: it is time for the floor routine now, not
       * after the next warm-up. warmupd emits StartFloorRoutine as it publishes complete,
       * before it answers the Get: when it was sent to us it is queued by now; take it for
       * the summary it carries. */
      while (watch.status != EXIT_SUCCESS && g_main_context_iteration (NULL, FALSE))
        ;
      if (watch.status != EXIT_SUCCESS)
        watch_already_complete (&watch);
      goto done;
    }
  g_signal_connect (proxy, "g-properties-changed", G_CALLBACK (on_properties_changed), &watch);
  g_signal_connect (proxy, "notify::g-name-owner", G_CALLBACK (on_owner_changed), &watch);
  watch_show (&watch);
  g_main_loop_run (watch.loop);
done:
  g_signal_handlers_disconnect_by_data (proxy, &watch);
  g_main_loop_unref (watch.loop);
  g_free (watch.last_line_key);
  return watch.status;
}

/* --- main ------------------------------------------------------------------------------ */

static const char *commands_help =
  "Commands:\n"
  "  status   Show the warm-up and the live sensor values\n"
  "  start    Start a warm-up now\n"
  "  stop     Cancel the warm-up and release the bike\n"
  "  watch    Follow the warm-up live; exit 0 when the floor routine should start\n"
  "  history [--csv] [--limit N]  The warm-ups so far, newest first\n"
  "  routines  List the floor routines\n"
  "  routine ID  Print a routine's steps and rules\n"
  "  guide [ID]  Walk through a routine step by step (default: the one announced)\n"
  "  watch --guide  Follow the warm-up, then start the guide by itself";

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = g_option_context_new ("COMMAND");
  g_autoptr (WuWarmup1) proxy = NULL;
  CtlOptions options = { 0 };
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &options.session_bus,
      "Talk to warmupd on the session bus", NULL },
    { "wait", 'w', 0, G_OPTION_ARG_INT, &options.wait_seconds,
      "Wait up to SECONDS for warmupd to appear", "SECONDS" },
    { "guide", 0, 0, G_OPTION_ARG_NONE, &options.guide,
      "watch: when the floor routine is announced, guide through it", NULL },
    { NULL }
  };
  const char *command;
  int status;

  setlocale (LC_ALL, "");
  if (wu_ctl_history_dispatch (argc, argv, &status))   /* its own options: src/ctl-history.c */
    return status;
  if (wu_ctl_routine_dispatch (argc, argv, &status))   /* routines, routine, guide */
    return status;
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context, commands_help);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("warmupctl: %s\n", error->message);
      return 2;
    }
  if (!wu_ctl_check_wait (options.wait_seconds))
    return 2;
  command = argc > 1 ? argv[1] : "status";
  if (argc > 2 || (strcmp (command, "status") != 0 && strcmp (command, "start") != 0
                   && strcmp (command, "stop") != 0 && strcmp (command, "watch") != 0))
    {
      g_printerr ("warmupctl: unknown command '%s'\n%s\n", argc > 2 ? argv[2] : command,
                  commands_help);
      return 2;
    }
  if (options.guide && strcmp (command, "watch") != 0)
    {
      g_printerr ("warmupctl: --guide goes with watch\n");
      return 2;
    }
  /* all usage is checked by now: bad usage is 2 whether or not the bus can be reached */
  proxy = new_proxy (&options);
  if (proxy == NULL)
    return EXIT_FAILURE;
  if (strcmp (command, "watch") == 0)
    {
      status = cmd_watch (proxy, &options);
      /* the Routine property names the routine StartFloorRoutine announced */
      if (status == EXIT_SUCCESS && options.guide)
        status = wu_ctl_guide_run (options.session_bus, wu_warmup1_get_routine (proxy));
      return status;
    }
  if (!daemon_is_there (proxy, &options))
    return EXIT_FAILURE;
  if (strcmp (command, "start") == 0)
    return cmd_start (proxy);
  if (strcmp (command, "stop") == 0)
    return cmd_stop (proxy);
  return cmd_status (proxy);
}
