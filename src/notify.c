/* Telling the service manager how we are: see notify.h.
 *
 * The notification protocol (sd_notify(3)) is one datagram of newline-separated
 * assignments sent to the AF_UNIX socket named in $NOTIFY_SOCKET ('@' for an abstract
 * name); the watchdog interval comes from $WATCHDOG_USEC (for us if $WATCHDOG_PID is unset
 * or names us). systemd documents it as a stable interface. We speak it directly rather
 * than link libsystemd: the library and what it pulls in (libgcrypt, lzma, zstd, lz4,
 * libcap) cost about 0.9 MiB of resident memory, a quarter of our budget over a bare GLib
 * process, for what is about forty lines here. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Send STATE to the service manager. 0 or a negative errno. */
static int
notify_send (const char *socket_name, const char *state)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  gsize name_length = strlen (socket_name);
  ssize_t sent;
  int fd, saved;

  if (name_length == 0 || name_length >= sizeof address.sun_path)
    return -EINVAL;
  if (socket_name[0] != '/' && socket_name[0] != '@')
    return -EAFNOSUPPORT;
  memcpy (address.sun_path, socket_name, name_length);
  if (address.sun_path[0] == '@')
    address.sun_path[0] = '\0';
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  /* Never wait for a receiver whose queue is full (a stalled service manager): the main
   * loop also reads the reed switch and releases the bike. One keep-alive or status line
   * lost is the lesser harm. */
  sent = sendto (fd, state, strlen (state), MSG_NOSIGNAL | MSG_DONTWAIT,
                 (struct sockaddr *) &address,
                 (socklen_t) (offsetof (struct sockaddr_un, sun_path) + name_length));
  saved = errno;
  close (fd);
  return sent < 0 ? -saved : 0;
}

/* The watchdog interval the service manager set for us, 0 when none. */
static guint64
watchdog_interval_us (void)
{
  const char *usec = g_getenv ("WATCHDOG_USEC");
  const char *pid = g_getenv ("WATCHDOG_PID");
  guint64 interval = 0, watchdog_pid = 0;

  if (usec == NULL || !g_ascii_string_to_unsigned (usec, 10, 1, G_MAXUINT64, &interval, NULL))
    return 0;
  if (pid != NULL
      && (!g_ascii_string_to_unsigned (pid, 10, 1, G_MAXINT32, &watchdog_pid, NULL)
          || (pid_t) watchdog_pid != getpid ()))
    return 0;
  return interval;
}

struct WuNotifier {
  gboolean enabled;          /* NOTIFY_SOCKET is set */
  char *socket_name;
  guint watchdog_id;         /* main-loop keep-alive timer, 0: no watchdog */
  char *last_status;
};

static void
send_state (WuNotifier *notifier, const char *state)
{
  int r;

  if (!notifier->enabled)
    return;
  r = notify_send (notifier->socket_name, state);
  if (r < 0)
    g_debug ("notify %s: %s", notifier->socket_name, g_strerror (-r));
}

static gboolean
on_watchdog (gpointer user_data)
{
  WuNotifier *notifier = user_data;

  send_state (notifier, "WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

WuNotifier *
wu_notifier_new (void)
{
  WuNotifier *notifier = g_new0 (WuNotifier, 1);
  guint64 interval_us;

  notifier->socket_name = g_strdup (g_getenv ("NOTIFY_SOCKET"));
  notifier->enabled = notifier->socket_name != NULL;
  if (!notifier->enabled)
    {
      g_debug ("notify: NOTIFY_SOCKET is unset: nothing is sent to a service manager");
      return notifier;
    }
  interval_us = watchdog_interval_us ();
  if (interval_us > 0)
    {
      /* Half the interval, so one late wake-up does not get a healthy daemon killed. */
      guint period_ms = (guint) MAX (MIN (interval_us / 2000, G_MAXUINT), 1);
      GSource *source = g_timeout_source_new (period_ms);

      g_source_set_callback (source, on_watchdog, notifier, NULL);
      g_source_set_name (source, "[warmupd] watchdog keep-alive");
      notifier->watchdog_id = g_source_attach (source, NULL);
      g_source_unref (source);
      g_debug ("watchdog: keep-alive every %u ms", period_ms);
    }
  else
    g_debug ("watchdog: off (no WATCHDOG_USEC for this process)");
  return notifier;
}

void
wu_notifier_free (WuNotifier *notifier)
{
  if (notifier->watchdog_id != 0)
    g_source_remove (notifier->watchdog_id);
  g_free (notifier->last_status);
  g_free (notifier->socket_name);
  g_free (notifier);
}

static void
send_with_status (WuNotifier *notifier, const char *prefix, const char *status)
{
  g_autofree char *message = NULL;

  if (!notifier->enabled)
    return;
  g_free (notifier->last_status);
  notifier->last_status = g_strdup (status);
  /* one line: a newline in it (from a replayed file's name) would add assignments of its
   * own, STOPPING=1 say */
  g_strdelimit (notifier->last_status, "\n\r", ' ');
  status = notifier->last_status;
  message = g_strdup_printf ("%s%sSTATUS=%s", prefix != NULL ? prefix : "",
                             prefix != NULL ? "\n" : "", status);
  send_state (notifier, message);
}

gboolean
wu_notifier_is_enabled (WuNotifier *notifier)
{
  return notifier->enabled;
}

void
wu_notifier_ready (WuNotifier *notifier, const char *status)
{
  send_with_status (notifier, "READY=1", status);
}

void
wu_notifier_status (WuNotifier *notifier, const char *status)
{
  if (!notifier->enabled || g_strcmp0 (status, notifier->last_status) == 0)
    return;
  send_with_status (notifier, NULL, status);
}

void
wu_notifier_reloading (WuNotifier *notifier)
{
  g_autofree char *message = NULL;

  if (!notifier->enabled)
    return;
  message = g_strdup_printf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT
                             "\nSTATUS=reloading the configuration", g_get_monotonic_time ());
  g_clear_pointer (&notifier->last_status, g_free);
  send_state (notifier, message);
}

void
wu_notifier_reloaded (WuNotifier *notifier, const char *status)
{
  send_with_status (notifier, "READY=1", status);
}

void
wu_notifier_stopping (WuNotifier *notifier)
{
  send_with_status (notifier, "STOPPING=1", "stopping: releasing the bike");
}
