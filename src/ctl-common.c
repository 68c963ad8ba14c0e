#include "ctl-common.h"

#include <stdlib.h>
#include <string.h>

/* An option of any warmupctl command that GOption gives the next argument as its value
 * (when the value is not attached with '='). Keep in step with the commands' GOptionEntry
 * tables in warmupctl.c, ctl-history.c and ctl-routine.c. */
static gboolean
option_takes_next_argument (const char *arg)
{
  static const char *const options_with_a_value[] = { "-w", "--wait", "-n", "--limit", NULL };

  return g_strv_contains (options_with_a_value, arg);
}

const char *
wu_ctl_find_command (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        return i + 1 < argc ? argv[i + 1] : NULL;
      if (option_takes_next_argument (argv[i]))
        i++;   /* its value, whatever it looks like (-w -1 is a value) */
      else if (argv[i][0] != '-')
        return argv[i];
    }
  return NULL;
}

gboolean
wu_ctl_check_wait (int wait_seconds)
{
  if (wait_seconds >= 0)
    return TRUE;
  g_printerr ("warmupctl: --wait must be 0 (do not wait) or more seconds\n");
  return FALSE;
}

static gboolean
on_wait_timeout (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
on_owner_appeared (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (object));

  if (owner != NULL)
    g_main_loop_quit (user_data);
}

static void
wait_for_owner (GDBusProxy *proxy, int seconds)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *owner = g_dbus_proxy_get_name_owner (proxy);
  guint timeout_id;
  gulong handler;

  if (owner != NULL || seconds <= 0)
    return;
  handler = g_signal_connect (proxy, "notify::g-name-owner", G_CALLBACK (on_owner_appeared), loop);
  timeout_id = g_timeout_add_seconds ((guint) seconds, on_wait_timeout, loop);
  g_main_loop_run (loop);
  g_signal_handler_disconnect (proxy, handler);
  g_clear_pointer (&owner, g_free);
  owner = g_dbus_proxy_get_name_owner (proxy);
  if (owner != NULL)
    g_source_remove (timeout_id);
}

gboolean
wu_ctl_daemon_is_there (GDBusProxy *proxy, gboolean session_bus, int wait_seconds)
{
  g_autofree char *owner = NULL;

  wait_for_owner (proxy, wait_seconds);
  owner = g_dbus_proxy_get_name_owner (proxy);
  if (owner == NULL)
    {
      g_printerr ("warmupctl: warmupd is not running (nobody owns %s on the %s bus)\n",
                  WU_BUS_NAME, session_bus ? "session" : "system");
      return FALSE;
    }
  return TRUE;
}

int
wu_ctl_report_call_error (const char *what, GError *error)
{
  g_autofree char *name = g_dbus_error_get_remote_error (error);

  g_dbus_error_strip_remote_error (error);
  g_printerr ("warmupctl: %s failed: %s%s%s%s\n", what, error->message, name ? " (" : "",
              name ? name : "", name ? ")" : "");
  return EXIT_FAILURE;
}
