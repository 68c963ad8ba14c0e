/* warmupd: warm up on the bike, then start the floor routine. */
#include "engine.h"
#include "service.h"
#include "wu-config.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdlib.h>

typedef struct {
  GMainLoop *loop;
  WuEngine *engine;
  WuService *service;
  int exit_status;
  gboolean sources_started;
} WuDaemon;

typedef struct {
  gboolean session_bus;
  char *config_path;
  char *replay_path;
  double speed;
  char *record_path;
  gboolean verbose;
  gboolean version;
} WuOptions;

static void
daemon_quit (WuDaemon *daemon, int status)
{
  if (status != EXIT_SUCCESS)
    daemon->exit_status = status;
  g_main_loop_quit (daemon->loop);
}

/* --- engine observer ----------------------------------------------------------------- */

static void
on_engine_changed (gpointer user_data)
{
  WuDaemon *daemon = user_data;
  wu_service_publish (daemon->service);
}

static void
on_sensor_changed (gpointer user_data, WuSensor *sensor)
{
  WuDaemon *daemon = user_data;
  wu_service_publish_sensor (daemon->service, sensor);
}

static void
on_start_floor_routine (gpointer user_data, const WuSummary *summary)
{
  WuDaemon *daemon = user_data;
  wu_service_emit_start_floor_routine (daemon->service, summary);
}

static void
on_source_finished (gpointer user_data, WuSensor *sensor, const GError *error)
{
  WuDaemon *daemon = user_data;

  if (error == NULL)
    return; /* a replay ended: the state stays readable until we are told to stop */
  g_printerr ("warmupd: %s\n", error->message);
  daemon_quit (daemon, EXIT_FAILURE);
}

static const WuEngineObserver engine_observer = {
  .changed = on_engine_changed,
  .sensor_changed = on_sensor_changed,
  .start_floor_routine = on_start_floor_routine,
  .source_finished = on_source_finished,
};

/* --- bus ----------------------------------------------------------------------------- */

static void
on_bus_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  WuDaemon *daemon = user_data;
  g_autoptr (GError) error = NULL;

  if (!wu_service_export (daemon->service, connection, &error))
    {
      g_printerr ("warmupd: cannot export the D-Bus objects: %s\n", error->message);
      daemon_quit (daemon, EXIT_FAILURE);
    }
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  WuDaemon *daemon = user_data;

  g_debug ("owning %s", name);
  if (daemon->sources_started)
    return;
  daemon->sources_started = TRUE;
  wu_engine_start_sources (daemon->engine);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  WuDaemon *daemon = user_data;

  if (connection == NULL)
    g_printerr ("warmupd: cannot connect to the bus to own %s\n", name);
  else
    g_printerr ("warmupd: lost or could not own the name %s (is another warmupd running?)\n",
                name);
  daemon_quit (daemon, EXIT_FAILURE);
}

static gboolean
on_terminate (gpointer user_data)
{
  WuDaemon *daemon = user_data;

  g_message ("stopping");
  daemon_quit (daemon, EXIT_SUCCESS);
  return G_SOURCE_CONTINUE;
}

/* --- options ------------------------------------------------------------------------- */

static gboolean
parse_options (int *argc, char ***argv, WuOptions *options, GError **error)
{
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &options->session_bus,
      "Use the session bus instead of the system bus", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &options->config_path,
      "Configuration file (default " WU_SYSCONFDIR "/warmupd/warmupd.conf)", "FILE" },
    { "replay", 0, 0, G_OPTION_ARG_FILENAME, &options->replay_path,
      "Replay a recorded trace instead of live sensors", "FILE" },
    { "speed", 0, 0, G_OPTION_ARG_DOUBLE, &options->speed,
      "Replay speed: 1 real time, N times faster, 0 virtual time (as fast as possible)", "X" },
    { "record", 0, 0, G_OPTION_ARG_FILENAME, &options->record_path,
      "Write every raw event received to FILE, in the trace format", "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &options->verbose, "Print debug output", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &options->version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- warm up on the bike, then the floor routine");

  options->speed = 1.0;
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                   (*argv)[1]);
      return FALSE;
    }
  if (!(options->speed >= 0 && options->speed <= 1e6))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--speed must be 0 (virtual time) or a factor up to 1000000");
      return FALSE;
    }
  if (options->config_path == NULL)
    options->config_path = g_build_filename (WU_SYSCONFDIR, "warmupd", "warmupd.conf", NULL);
  return TRUE;
}

static void
options_clear (WuOptions *options)
{
  g_free (options->config_path);
  g_free (options->replay_path);
  g_free (options->record_path);
}

static gboolean
set_up_engine (WuDaemon *daemon, const WuConfig *config, const WuOptions *options,
               GError **error)
{
  daemon->engine = wu_engine_new (config, &engine_observer, daemon);
  if (options->record_path != NULL && !wu_engine_record_to (daemon->engine, options->record_path, error))
    return FALSE;
  if (options->replay_path != NULL
      && wu_engine_add_replay (daemon->engine, options->replay_path, options->speed, error) == NULL)
    return FALSE;
  daemon->service = wu_service_new (daemon->engine);
  return TRUE;
}

static int
run (WuDaemon *daemon, const WuOptions *options)
{
  guint owner_id;
  guint sigterm_id, sigint_id;

  daemon->loop = g_main_loop_new (NULL, FALSE);
  sigterm_id = g_unix_signal_add (SIGTERM, on_terminate, daemon);
  sigint_id = g_unix_signal_add (SIGINT, on_terminate, daemon);
  owner_id = g_bus_own_name (options->session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
                             WU_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                             on_bus_acquired, on_name_acquired, on_name_lost, daemon, NULL);
  g_main_loop_run (daemon->loop);

  /* Leave the bike as we found it before we let go of anything. */
  wu_engine_release (daemon->engine);
  g_bus_unown_name (owner_id);
  g_source_remove (sigterm_id);
  g_source_remove (sigint_id);
  g_main_loop_unref (daemon->loop);
  return daemon->exit_status;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  WuOptions options = { 0 };
  WuConfig config;
  WuDaemon daemon = { 0 };
  int status;

  setlocale (LC_ALL, "");
  if (!parse_options (&argc, &argv, &options, &error))
    {
      g_printerr ("warmupd: %s\n", error->message);
      options_clear (&options);
      return EXIT_FAILURE;
    }
  if (options.version)
    {
      g_print ("warmupd %s\n", PACKAGE_VERSION);
      options_clear (&options);
      return EXIT_SUCCESS;
    }
  if (options.verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);

  wu_config_init (&config);
  if (!wu_config_load (&config, options.config_path, &error)
      || !set_up_engine (&daemon, &config, &options, &error))
    {
      g_printerr ("warmupd: %s\n", error->message);
      status = EXIT_FAILURE;
    }
  else
    status = run (&daemon, &options);

  g_clear_pointer (&daemon.service, wu_service_free);
  g_clear_pointer (&daemon.engine, wu_engine_free);
  wu_config_clear (&config);
  options_clear (&options);
  return status;
}
