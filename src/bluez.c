/* The shared BlueZ client (see bluez.h). Only org.bluez's documented D-Bus API is used
 * (BlueZ 5.66 doc/adapter-api.txt, device-api.txt, gatt-api.txt): no raw HCI, so warmupd
 * needs no capabilities, only the D-Bus policy that lets it talk to bluetoothd.
 *
 * Every object comes from one GDBusObjectManagerClient made when org.bluez appears and
 * dropped when it vanishes: nothing (proxy, path, fd, pending call) outlives the bluetoothd
 * that published it. Links remember only the address of their device. */
#include "bluez.h"
#include "seqpacket.h"

#include <errno.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

#define BLUEZ_NAME "org.bluez"
#define ADAPTER_IFACE "org.bluez.Adapter1"
#define DEVICE_IFACE "org.bluez.Device1"
#define GATT_SERVICE_IFACE "org.bluez.GattService1"
#define GATT_CHAR_IFACE "org.bluez.GattCharacteristic1"

#define BACKOFF_MAX_S 30
#define STABLE_UP_S 10           /* up this long: the next loss reconnects at once */
#define SHORT_LINKS_BACKOFF_MAX_S 4   /* after links that each dropped sooner, in a row */
#define RESOLVE_TIMEOUT_S 30     /* connected, but ServicesResolved never came */
#define SETTLE_S 2               /* set up again: how long to wait for a characteristic used
                                    before when the required ones are back */
#define HANGUP_WAIT_S 5          /* a notification fd closed on a connected device: how long
                                    its characteristics have to go (a Service Changed) */
#define BUS_RETRY_S 30           /* no system bus yet */
#define DISCOVERY_RETRY_S 10     /* StartDiscovery refused (adapter busy, not ready) */
#define NOTIFY_READ_BUDGET 64    /* notifications read per wake-up: others get a turn */
#define NOTIFY_BUF_SIZE 1024     /* above the largest ATT MTU (517) */

/* ----------------------------------------------------------------------------------- */

static const char bluetooth_base_suffix[] = "-0000-1000-8000-00805f9b34fb";

char *
wu_bluez_uuid_from_16 (guint16 uuid16)
{
  return g_strdup_printf ("0000%04x%s", uuid16, bluetooth_base_suffix);
}

gboolean
wu_bluez_uuid_to_16 (const char *uuid, guint16 *uuid16)
{
  char *end = NULL;
  guint64 value;

  if (uuid == NULL || strlen (uuid) != 36 || g_ascii_strncasecmp (uuid, "0000", 4) != 0
      || g_ascii_strcasecmp (uuid + 8, bluetooth_base_suffix) != 0)
    return FALSE;
  {
    char hex[5] = { uuid[4], uuid[5], uuid[6], uuid[7], '\0' };
    value = g_ascii_strtoull (hex, &end, 16);
    if (end != hex + 4)
      return FALSE;
  }
  *uuid16 = (guint16) value;
  return TRUE;
}

/* ----------------------------------------------------------------------------------- */

#define WATCH_MAX_SERVICES 4

typedef struct {
  guint16 services[WATCH_MAX_SERVICES];
  guint n_services;
  char **addresses;          /* upper case; NULL: any device offering the service */
  guint32 told_unmatched;    /* bit i: addresses[i] was said to offer none of services */
  guint want, accept;
  WuBluezFoundFunc found;
  WuBluezReleaseFunc release;
  gpointer user_data;
} Watch;

struct WuBluez {
  char *adapter_wanted;      /* "hci0", an address, or NULL */
  GCancellable *cancellable; /* for the manager's whole life */
  GDBusConnection *bus;
  guint bus_retry_timer;
  guint name_watch;
  gboolean bluez_seen;       /* to word the first "not running" message */

  /* While bluetoothd runs: */
  GCancellable *epoch;       /* cancelled when it vanishes */
  GDBusObjectManager *objects;
  guint objects_retry_timer; /* reading its objects failed: the next try */
  guint objects_retry_s;
  char *adapter_path;        /* the adapter in use */
  gboolean adapter_wait_logged;
  gboolean discovering;      /* we started discovery on adapter_path */
  gboolean discovery_busy;   /* a discovery call is in flight: */
  gboolean discovery_call_starts;  /* StartDiscovery (else StopDiscovery) */
  char *discovery_call_adapter;    /* on this adapter */
  guint discovery_retry_timer;

  guint refresh_idle;
  GPtrArray *watches;        /* Watch*, owned, in order of precedence */
  GPtrArray *links;          /* WuBluezLink*, not owned */
};

typedef enum {
  LINK_WAITING,      /* for the device (discovery) or the next attempt */
  LINK_BACKOFF,      /* a retry timer is armed */
  LINK_CONNECTING,   /* Device1.Connect in flight */
  LINK_RESOLVING,    /* connected, waiting for ServicesResolved */
  LINK_SETTING_UP,   /* reads and subscriptions in flight */
  LINK_UP,
} LinkState;

static const char *const link_state_names[] = {
  "waiting", "backoff", "connecting", "resolving", "setting-up", "up",
};

typedef struct {
  WuBluezLink *link;
  WuBluezCharSpec spec;
  char *path;            /* the characteristic object, NULL when missing */
  int notify_fd;         /* from AcquireNotify, -1 when none */
  GSource *notify_source;
  gboolean notifying;    /* StartNotify succeeded: values come as PropertiesChanged */
  gboolean was_used;     /* found at the last setup (kept over a teardown) */
  GBytes *read_value;    /* a read waiting for the link to come up */
} LinkChar;

struct WuBluezLink {
  WuBluez *bluez;
  char *address;         /* upper case */
  guint16 service;
  LinkChar *chars;
  guint n_chars;
  WuBluezLinkCallbacks callbacks;
  gpointer user_data;
  const Watch *watch;    /* the watch that took the device, NULL: made without one */
  gboolean searched_for; /* its device missing, discovery runs to find it again */

  LinkState state;
  char *device_path;     /* the Device1 bound now, NULL: not known to bluetoothd */
  GCancellable *attempt; /* this connection's calls; cancelled when it is lost */
  guint pending;         /* setup calls in flight */
  guint timer;           /* backoff or resolve timeout */
  guint backoff_s;
  guint failures;        /* since the link was last up, for quieter logs */
  gint64 up_since_us;    /* monotonic time it last came up */
  guint dropped_soon;    /* connections in a row that each dropped within STABLE_UP_S */
  gboolean chars_gone;   /* a characteristic object in use went away: set up again */
  gboolean resolving_again; /* set up again on a connected device: waits for its
                               characteristics, not for ServicesResolved (true throughout) */
  gboolean chars_must_go;   /* its notifications ended, its objects not yet seen to go */
  guint settle_timer;       /* set up again without a characteristic used before */
  gboolean device_gone;  /* its device object went away since the last refresh */
  gboolean connected_here;  /* this connection is our Connect's: ours to close */
  gboolean up_on_connection; /* this connection came up (set up again since, or not) */
  char *error;           /* what Sensor1 Error shows */
};

static void schedule_refresh (WuBluez *bluez);
static void link_advance (WuBluezLink *link);
static void link_lost (WuBluezLink *link, const char *reason);
static void link_set_up_again (WuBluezLink *link, const char *reason, gboolean chars_must_go);

/* --- small helpers ------------------------------------------------------------------ */

/* Whether object PATH lies below PARENT (a device's GATT objects below the device). */
static gboolean
is_below (const char *path, const char *parent)
{
  gsize n = parent != NULL ? strlen (parent) : 0;

  return n > 0 && strncmp (path, parent, n) == 0 && path[n] == '/';
}

static GDBusProxy *
object_interface (WuBluez *bluez, const char *path, const char *iface)
{
  if (bluez->objects == NULL || path == NULL)
    return NULL;
  return G_DBUS_PROXY (g_dbus_object_manager_get_interface (bluez->objects, path, iface));
}

static gboolean
proxy_get_bool (GDBusProxy *proxy, const char *name)
{
  g_autoptr (GVariant) value = g_dbus_proxy_get_cached_property (proxy, name);
  return value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN)
         && g_variant_get_boolean (value);
}

/* A string or object path property, NULL when absent. */
static char *
proxy_get_string (GDBusProxy *proxy, const char *name)
{
  g_autoptr (GVariant) value = g_dbus_proxy_get_cached_property (proxy, name);

  if (value == NULL || !(g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
                         || g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH)))
    return NULL;
  return g_variant_dup_string (value, NULL);
}

static gboolean
proxy_has_property (GDBusProxy *proxy, const char *name)
{
  g_autoptr (GVariant) value = proxy != NULL ? g_dbus_proxy_get_cached_property (proxy, name) : NULL;
  return value != NULL;
}

static gboolean
dict_has_key (GVariant *dict, const char *key)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (dict, key, NULL);
  return value != NULL;
}

static gboolean
proxy_has_string_in (GDBusProxy *proxy, const char *name, const char *wanted)
{
  g_autoptr (GVariant) value = g_dbus_proxy_get_cached_property (proxy, name);
  g_autofree const char **items = NULL;

  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    return FALSE;
  items = g_variant_get_strv (value, NULL);
  for (guint i = 0; items[i] != NULL; i++)
    if (g_ascii_strcasecmp (items[i], wanted) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
proxy_has_uuid16 (GDBusProxy *proxy, const char *name, guint16 uuid16)
{
  g_autofree char *uuid = wu_bluez_uuid_from_16 (uuid16);
  return proxy_has_string_in (proxy, name, uuid);
}

static gboolean
is_cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* "Failed: le-connection-abort-by-local" from org.bluez.Error.Failed. */
static char *
describe_error (const GError *error)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);
  g_autoptr (GError) copy = g_error_copy (error);
  const char *name;

  g_dbus_error_strip_remote_error (copy);
  if (remote == NULL)
    return g_strdup (copy->message);
  name = strrchr (remote, '.');
  return g_strdup_printf ("%s: %s", name != NULL ? name + 1 : remote, copy->message);
}

static gboolean
remote_error_is (const GError *error, const char *name)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);
  return g_strcmp0 (remote, name) == 0;
}

/* Whether a failed WriteValue is a refusal that writing again on this connection does not
 * change. BlueZ 5.66 (src/gatt-client.c) answers the ATT errors Write Not Permitted and
 * Insufficient Authentication or Encryption (a device that wants bonding) with NotPermitted,
 * Insufficient Authorization with NotAuthorized, Request Not Supported with NotSupported,
 * Invalid Attribute Value Length with InvalidArguments. Not refusals: Failed "Operation
 * failed" (no ATT error: the link), InProgress, a timeout, and Failed "... ATT error:
 * 0xfd" (indications off: we subscribed before writing, so the bike's subscription state
 * and bluetoothd's differ, which a reconnect mends). */
static gboolean
write_refused (const GError *error)
{
  static const char *const refusals[] = {
    "org.bluez.Error.NotPermitted", "org.bluez.Error.NotAuthorized",
    "org.bluez.Error.NotSupported", "org.bluez.Error.InvalidArguments",
    "org.bluez.Error.InvalidValueLength",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (refusals); i++)
    if (remote_error_is (error, refusals[i]))
      return TRUE;
  return FALSE;
}

/* A fire-and-forget call (StopNotify, Disconnect, StopDiscovery): nobody waits for it. */
static void
call_and_forget (WuBluez *bluez, const char *path, const char *iface, const char *method)
{
  if (bluez->bus == NULL)
    return;
  g_dbus_connection_call (bluez->bus, BLUEZ_NAME, path, iface, method, NULL, NULL,
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
}

/* --- links: state and errors ---------------------------------------------------------- */

static void
link_set_state (WuBluezLink *link, LinkState state)
{
  if (link->state == state)
    return;
  g_debug ("%s: %s -> %s", link->address, link_state_names[link->state],
           link_state_names[state]);
  link->state = state;
}

static void
link_set_error (WuBluezLink *link, const char *message)
{
  if (g_strcmp0 (link->error, message) == 0)
    return;
  g_free (link->error);
  link->error = g_strdup (message);
  if (link->callbacks.error != NULL)
    link->callbacks.error (link->user_data, message);
}

static LinkChar *
link_find_char (WuBluezLink *link, guint16 uuid)
{
  for (guint i = 0; i < link->n_chars; i++)
    if (link->chars[i].spec.uuid == uuid)
      return &link->chars[i];
  return NULL;
}

static LinkChar *
link_find_char_by_path (WuBluezLink *link, const char *path)
{
  for (guint i = 0; i < link->n_chars; i++)
    if (g_strcmp0 (link->chars[i].path, path) == 0)
      return &link->chars[i];
  return NULL;
}

static void
link_char_close_notify (LinkChar *ch)
{
  if (ch->notify_source != NULL)
    {
      g_source_destroy (ch->notify_source);
      g_clear_pointer (&ch->notify_source, g_source_unref);
    }
  if (ch->notify_fd >= 0)
    {
      close (ch->notify_fd);   /* closing the acquired fd is how notifications stop */
      ch->notify_fd = -1;
    }
}

/* Forget everything about the current connection: calls, fds, paths, reads (a pending
 * retry stays armed). */
static void
link_teardown (WuBluezLink *link, gboolean stop_notify)
{
  g_cancellable_cancel (link->attempt);
  g_clear_object (&link->attempt);
  link->attempt = g_cancellable_new ();
  link->pending = 0;
  link->chars_gone = FALSE;
  link->resolving_again = FALSE;
  link->chars_must_go = FALSE;
  g_clear_handle_id (&link->settle_timer, g_source_remove);
  for (guint i = 0; i < link->n_chars; i++)
    {
      LinkChar *ch = &link->chars[i];

      link_char_close_notify (ch);
      if (ch->notifying && stop_notify)
        call_and_forget (link->bluez, ch->path, GATT_CHAR_IFACE, "StopNotify");
      ch->notifying = FALSE;
      g_clear_pointer (&ch->path, g_free);
      g_clear_pointer (&ch->read_value, g_bytes_unref);
    }
}

static gboolean
on_retry_timer (gpointer user_data)
{
  WuBluezLink *link = user_data;

  link->timer = 0;
  link_set_state (link, LINK_WAITING);
  link_advance (link);
  return G_SOURCE_REMOVE;
}

static void
link_schedule_retry (WuBluezLink *link)
{
  g_clear_handle_id (&link->timer, g_source_remove);
  g_debug ("%s: next attempt in %u s", link->address, link->backoff_s);
  link->timer = g_timeout_add_seconds (link->backoff_s, on_retry_timer, link);
  g_source_set_name_by_id (link->timer, "[warmupd] bluez reconnect backoff");
  link->backoff_s = MIN (link->backoff_s * 2, BACKOFF_MAX_S);
  link_set_state (link, LINK_BACKOFF);
}

/* The connection (or the attempt at one) is over: tell, and try again after the backoff. */
static void
link_lost (WuBluezLink *link, const char *reason)
{
  gboolean was_up = link->state == LINK_UP;
  /* up, or set up again since on the same connection, which this loss ends */
  gboolean held = link->up_on_connection;
  gboolean in_progress = link->state > LINK_BACKOFF;

  /* A link that held reconnects at once. One that drops soon after coming up (a bike that
   * sends unbonded clients away, a marginal radio) waits by how many did so in a row, 1, 2,
   * then 4 s: a flapping link cycled Connect, setup and a new cap every 1.8 s; longer, a
   * rider on a marginal radio goes uncounted and uncapped the longer (up to 28 s in the
   * fault soak at 30 s). The attempts that failed before it came up do not count. */
  if (held)
    {
      if (g_get_monotonic_time () - link->up_since_us < STABLE_UP_S * G_USEC_PER_SEC)
        link->dropped_soon = MIN (link->dropped_soon + 1, 16);
      else
        link->dropped_soon = 0;
      link->backoff_s = link->dropped_soon == 0
                          ? 1 : MIN (1u << MIN (link->dropped_soon - 1, 2u),
                                     SHORT_LINKS_BACKOFF_MAX_S);
    }
  link_teardown (link, TRUE);
  link->connected_here = FALSE;
  link->up_on_connection = FALSE;
  link_set_error (link, reason);
  if (!in_progress)
    {
      if (link->state == LINK_WAITING && link->device_path != NULL)
        link_schedule_retry (link);
      return;
    }
  link->failures++;
  /* Retries go on forever: only the first failures and every tenth reach the journal. */
  if (was_up || link->failures <= 2 || link->failures % 10 == 0)
    g_message ("%s: %s", link->address, reason);
  else
    g_debug ("%s: %s", link->address, reason);
  link_schedule_retry (link);
  if (was_up && link->callbacks.down != NULL)
    link->callbacks.down (link->user_data, reason);
}

/* --- links: coming up --------------------------------------------------------------------- */

static void
link_deliver (WuBluezLink *link, LinkChar *ch, const guint8 *data, gsize len)
{
  if (link->state != LINK_UP || link->callbacks.value == NULL)
    return;  /* before "up": the source would see values from a link it thinks is down */
  link->callbacks.value (link->user_data, ch->spec.uuid, data, len);
}

/* bluetoothd closes a notification's fd when the link drops, and also when the device's
 * services change (Service Changed: the objects go and come back, the device stays
 * connected), often before the D-Bus signals of either are read. Connected or
 * ServicesResolved, as last said, tells them apart until those come: a lost link's
 * Connected false follows (and ends the wait), a Service Changed's objects go (and setup
 * waits for them to be back). ServicesResolved counts too: on a first LE connection
 * bluetoothd 5.66 can leave Connected false on a live link (link_device_changed()), and a
 * lost link says both false. */
static void
notify_fd_hangup (LinkChar *ch)
{
  WuBluezLink *link = ch->link;
  g_autoptr (GDBusProxy) device = object_interface (link->bluez, link->device_path, DEVICE_IFACE);
  g_autofree char *reason = NULL;

  if (device != NULL
      && (proxy_get_bool (device, "Connected") || proxy_get_bool (device, "ServicesResolved")))
    {
      reason = g_strdup_printf ("notifications of 0x%04X ended, the device still connected",
                                ch->spec.uuid);
      link_set_up_again (link, reason, !link->chars_gone);
      return;
    }
  reason = g_strdup_printf ("notifications of 0x%04X ended (link lost)", ch->spec.uuid);
  link_lost (link, reason);
}

/* One read is one notification (a SOCK_SEQPACKET from bluetoothd). FALSE: the fd is done.
 * A read of 0 bytes is an empty notification unless the peer hung up: HANGUP when the main
 * loop's poll said so, else wu_seqpacket_read() asks the socket (the peer may have closed
 * after that poll said only G_IO_IN: every read then returns 0, and the budget's worth of
 * empty notifications was delivered). */
static gboolean
notify_fd_read (LinkChar *ch, gboolean hangup)
{
  guint8 buf[NOTIFY_BUF_SIZE];

  for (guint i = 0; i < NOTIFY_READ_BUDGET; i++)
    {
      gsize n;

      switch (wu_seqpacket_read (ch->notify_fd, buf, sizeof buf, hangup, &n))
        {
        case WU_SEQPACKET_VALUE:
          link_deliver (ch->link, ch, buf, n);
          if (ch->notify_fd < 0)
            return FALSE;   /* delivering it tore the link down */
          break;
        case WU_SEQPACKET_AGAIN:
          return !hangup;
        case WU_SEQPACKET_END:
          return FALSE;
        case WU_SEQPACKET_ERROR:
        default:
          g_debug ("%s: read 0x%04X notification: %s", ch->link->address, ch->spec.uuid,
                   g_strerror (errno));
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
on_notify_fd (gint fd, GIOCondition condition, gpointer user_data)
{
  LinkChar *ch = user_data;
  gboolean hangup = (condition & (G_IO_HUP | G_IO_ERR)) != 0;

  /* Data that arrived with the hang-up is read first. */
  if ((condition & G_IO_IN) && notify_fd_read (ch, hangup))
    return G_SOURCE_CONTINUE;
  if (ch->notify_fd < 0)
    return G_SOURCE_REMOVE;   /* torn down while delivering */
  if (!hangup && !(condition & G_IO_IN))
    return G_SOURCE_CONTINUE;
  notify_fd_hangup (ch);
  return G_SOURCE_REMOVE;
}

static void
link_char_watch_fd (LinkChar *ch)
{
  if (ch->notify_fd < 0 || ch->notify_source != NULL)
    return;
  ch->notify_source = g_unix_fd_source_new (ch->notify_fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (ch->notify_source, G_SOURCE_FUNC (on_notify_fd), ch, NULL);
  g_source_set_name (ch->notify_source, "[warmupd] bluez notify fd");
  g_source_attach (ch->notify_source, NULL);
}

static void
link_go_up (WuBluezLink *link)
{
  link_set_state (link, LINK_UP);
  link->up_since_us = g_get_monotonic_time ();
  link->up_on_connection = TRUE;
  link->failures = 0;
  g_message ("%s: connected, services resolved, notifications on", link->address);
  link_set_error (link, NULL);
  if (link->callbacks.up != NULL)
    link->callbacks.up (link->user_data);
  /* The reads first, in the order the source listed them; then the notifications. */
  for (guint i = 0; i < link->n_chars && link->state == LINK_UP; i++)
    {
      LinkChar *ch = &link->chars[i];
      g_autoptr (GBytes) value = g_steal_pointer (&ch->read_value);

      if (value != NULL)
        link_deliver (link, ch, g_bytes_get_data (value, NULL), g_bytes_get_size (value));
    }
  for (guint i = 0; i < link->n_chars && link->state == LINK_UP; i++)
    link_char_watch_fd (&link->chars[i]);
}

static void
link_setup_step_done (WuBluezLink *link)
{
  g_assert (link->pending > 0);
  if (--link->pending == 0 && link->state == LINK_SETTING_UP)
    link_go_up (link);
}

/* Setting up a connection failed. When our own Connect made it, nobody else asked for it:
 * close it, or warmupd would hold a device it cannot use (a connected device stops
 * advertising, so no other client finds it) until the retry, and again after each one. */
static void
link_setup_gave_up (WuBluezLink *link, const char *reason)
{
  if (link->connected_here)
    {
      g_debug ("%s: disconnecting (our connection, setup failed)", link->address);
      call_and_forget (link->bluez, link->device_path, DEVICE_IFACE, "Disconnect");
    }
  link_lost (link, reason);
}

/* A setup call failed: fatal for a required characteristic, logged for an optional one. */
static void
link_setup_failed (LinkChar *ch, const char *what, const GError *error)
{
  WuBluezLink *link = ch->link;
  g_autofree char *detail = describe_error (error);
  g_autofree char *reason = g_strdup_printf ("%s 0x%04X failed: %s", what, ch->spec.uuid,
                                             detail);

  if (ch->spec.required)
    {
      link_setup_gave_up (link, reason);
      return;
    }
  g_message ("%s: %s (optional, going on without it)", link->address, reason);
  /* A characteristic that cannot be set up is as good as a missing one: the source must
   * decide without it rather than wait for what will not come. An FTMS bike without its
   * Feature value turns advisory; so does one whose control point cannot indicate, since
   * it could never answer a request (writing to it anyway would find it silent and
   * reconnect, over and over). The next connection looks it up again. */
  g_clear_pointer (&ch->path, g_free);
  link_setup_step_done (link);
}

static void
on_read_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  LinkChar *ch = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object),
                                                              result, &error);
  g_autoptr (GVariant) bytes = NULL;
  gsize len;
  const guint8 *data;

  if (is_cancelled (error))
    return;   /* the attempt is over: CH may be reused by a newer one */
  if (reply == NULL)
    {
      link_setup_failed (ch, "reading", error);
      return;
    }
  bytes = g_variant_get_child_value (reply, 0);
  data = g_variant_get_fixed_array (bytes, &len, 1);
  g_clear_pointer (&ch->read_value, g_bytes_unref);
  ch->read_value = g_bytes_new (data, len);
  link_setup_step_done (ch->link);
}

static void
on_start_notify_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  LinkChar *ch = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object),
                                                              result, &error);

  if (is_cancelled (error))
    return;
  /* InProgress: this client's subscription is already there (a re-subscription). */
  if (reply == NULL && !remote_error_is (error, "org.bluez.Error.InProgress"))
    {
      link_setup_failed (ch, "subscribing to", error);
      return;
    }
  ch->notifying = TRUE;
  link_setup_step_done (ch->link);
}

static void
link_char_start_notify (LinkChar *ch)
{
  WuBluezLink *link = ch->link;

  g_dbus_connection_call (link->bluez->bus, BLUEZ_NAME, ch->path, GATT_CHAR_IFACE,
                          "StartNotify", NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          link->attempt, on_start_notify_done, ch);
}

static void
on_acquire_notify_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  LinkChar *ch = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GUnixFDList) fds = NULL;
  g_autoptr (GVariant) reply = NULL;
  gint32 index;
  guint16 mtu;
  int fd;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (object), &fds,
                                                           result, &error);
  if (is_cancelled (error))
    return;
  if (reply != NULL)
    {
      g_variant_get (reply, "(hq)", &index, &mtu);
      fd = fds != NULL ? g_unix_fd_list_get (fds, index, &error) : -1;
      if (fd >= 0 && !g_unix_set_fd_nonblocking (fd, TRUE, &error))
        {
          close (fd);
          fd = -1;
        }
      if (fd >= 0)
        {
          g_debug ("%s: 0x%04X notifications on fd %d (MTU %u)", ch->link->address,
                   ch->spec.uuid, fd, mtu);
          ch->notify_fd = fd;
          link_setup_step_done (ch->link);
          return;
        }
    }
  /* Not offered (or not usable): the property-based way. */
  g_debug ("%s: AcquireNotify 0x%04X: %s; using StartNotify", ch->link->address,
           ch->spec.uuid, error != NULL ? error->message : "no fd");
  link_char_start_notify (ch);
}

static void
link_char_set_up (LinkChar *ch)
{
  WuBluezLink *link = ch->link;
  g_autoptr (GDBusProxy) proxy = object_interface (link->bluez, ch->path, GATT_CHAR_IFACE);

  link->pending++;
  switch (ch->spec.mode)
    {
    case WU_BLUEZ_CHAR_READ:
      g_dbus_connection_call (link->bluez->bus, BLUEZ_NAME, ch->path, GATT_CHAR_IFACE,
                              "ReadValue", g_variant_new ("(a{sv})", NULL),
                              G_VARIANT_TYPE ("(ay)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                              link->attempt, on_read_done, ch);
      break;
    case WU_BLUEZ_CHAR_NOTIFY:
      /* BlueZ publishes NotifyAcquired only where AcquireNotify is offered. */
      if (proxy_has_property (proxy, "NotifyAcquired"))
        g_dbus_connection_call_with_unix_fd_list (
          link->bluez->bus, BLUEZ_NAME, ch->path, GATT_CHAR_IFACE, "AcquireNotify",
          g_variant_new ("(a{sv})", NULL), G_VARIANT_TYPE ("(hq)"),
          G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, link->attempt, on_acquire_notify_done,
          ch);
      else
        link_char_start_notify (ch);
      break;
    case WU_BLUEZ_CHAR_INDICATE:
      link_char_start_notify (ch);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* The service instance under the device, NULL when it has none. */
static char *
find_service_path (WuBluezLink *link)
{
  g_autolist (GDBusObject) objects = g_dbus_object_manager_get_objects (link->bluez->objects);
  g_autofree char *uuid = wu_bluez_uuid_from_16 (link->service);

  for (GList *l = objects; l != NULL; l = l->next)
    {
      g_autoptr (GDBusProxy) proxy = G_DBUS_PROXY (g_dbus_object_get_interface (l->data, GATT_SERVICE_IFACE));
      g_autofree char *device = NULL;
      g_autofree char *service_uuid = NULL;

      if (proxy == NULL)
        continue;
      device = proxy_get_string (proxy, "Device");
      service_uuid = proxy_get_string (proxy, "UUID");
      if (g_strcmp0 (device, link->device_path) == 0 && service_uuid != NULL
          && g_ascii_strcasecmp (service_uuid, uuid) == 0)
        return g_strdup (g_dbus_object_get_object_path (l->data));
    }
  return NULL;
}

/* Fill in the characteristics' paths. FALSE with REASON when a required one is missing. */
static gboolean
link_find_chars (WuBluezLink *link, char **reason)
{
  g_autofree char *service_path = find_service_path (link);
  g_autolist (GDBusObject) objects = NULL;

  if (service_path == NULL)
    {
      *reason = g_strdup_printf ("the device has no service 0x%04X", link->service);
      return FALSE;
    }
  objects = g_dbus_object_manager_get_objects (link->bluez->objects);
  for (GList *l = objects; l != NULL; l = l->next)
    {
      g_autoptr (GDBusProxy) proxy = G_DBUS_PROXY (g_dbus_object_get_interface (l->data, GATT_CHAR_IFACE));
      g_autofree char *service = NULL;
      g_autofree char *uuid = NULL;
      guint16 uuid16;
      LinkChar *ch;

      if (proxy == NULL)
        continue;
      service = proxy_get_string (proxy, "Service");
      uuid = proxy_get_string (proxy, "UUID");
      if (g_strcmp0 (service, service_path) != 0 || !wu_bluez_uuid_to_16 (uuid, &uuid16))
        continue;
      ch = link_find_char (link, uuid16);
      if (ch != NULL && ch->path == NULL)
        ch->path = g_strdup (g_dbus_object_get_object_path (l->data));
    }
  for (guint i = 0; i < link->n_chars; i++)
    if (link->chars[i].path == NULL && link->chars[i].spec.required)
      {
        *reason = g_strdup_printf ("the device has no characteristic 0x%04X",
                                   link->chars[i].spec.uuid);
        return FALSE;
      }
  return TRUE;
}

/* Whether every required characteristic is published now (nothing is kept); ALL_BACK:
 * whether every one the last setup used is too. */
static gboolean
link_chars_present (WuBluezLink *link, gboolean *all_back)
{
  g_autofree char *reason = NULL;
  gboolean present = link_find_chars (link, &reason);

  *all_back = present;
  for (guint i = 0; i < link->n_chars; i++)
    {
      if (link->chars[i].was_used && link->chars[i].path == NULL)
        *all_back = FALSE;
      g_clear_pointer (&link->chars[i].path, g_free);
    }
  return present;
}

static void
link_begin_setup (WuBluezLink *link)
{
  g_autofree char *reason = NULL;

  g_clear_handle_id (&link->timer, g_source_remove);
  g_clear_handle_id (&link->settle_timer, g_source_remove);
  link->resolving_again = FALSE;
  link->chars_must_go = FALSE;
  link_set_state (link, LINK_SETTING_UP);
  if (!link_find_chars (link, &reason))
    {
      link_setup_gave_up (link, reason);
      return;
    }
  for (guint i = 0; i < link->n_chars; i++)
    link->chars[i].was_used = link->chars[i].path != NULL;
  link->pending = 1;   /* held until every call is issued */
  for (guint i = 0; i < link->n_chars; i++)
    if (link->chars[i].path != NULL)
      link_char_set_up (&link->chars[i]);
    else
      g_debug ("%s: no characteristic 0x%04X (optional)", link->address, link->chars[i].spec.uuid);
  link_setup_step_done (link);
}

static gboolean
on_resolve_timeout (gpointer user_data)
{
  WuBluezLink *link = user_data;

  link->timer = 0;
  if (link->chars_must_go)
    {
      /* its notifications ended but its objects stayed: no Service Changed, so a lost link
       * after all (a reconnect asks again), not a stuck one to close */
      link_lost (link, "notifications ended (link lost)");
      return G_SOURCE_REMOVE;
    }
  call_and_forget (link->bluez, link->device_path, DEVICE_IFACE, "Disconnect");
  link_lost (link, link->resolving_again ? "its characteristics did not come back in time"
                                         : "services not resolved in time");
  return G_SOURCE_REMOVE;
}

static void
link_arm_resolve_timer (WuBluezLink *link, guint seconds)
{
  g_clear_handle_id (&link->timer, g_source_remove);
  link->timer = g_timeout_add_seconds (seconds, on_resolve_timeout, link);
  g_source_set_name_by_id (link->timer, "[warmupd] bluez resolve timeout");
}

/* A characteristic in use went away while the device stays connected (Service Changed:
 * bluetoothd ended every notification session and exports the objects again once it has
 * discovered them). Not a lost connection: no backoff (a grown one held a connected bike
 * uncapped up to 30 s); the link goes down for the sources (a bike's control must be
 * requested again) and waits, as for ServicesResolved and as long, for the characteristics
 * to be back (link_resume_setup). CHARS_MUST_GO: only a notification's fd told so far; the
 * objects have to be seen to go first, and soon (HANGUP_WAIT_S), or it was a lost link. */
static void
link_set_up_again (WuBluezLink *link, const char *reason, gboolean chars_must_go)
{
  gboolean was_up = link->state == LINK_UP;

  g_message ("%s: %s: setting it up again once its characteristics are back", link->address,
             reason);
  link_teardown (link, FALSE);   /* the sessions ended with the objects */
  link->resolving_again = TRUE;
  link->chars_must_go = chars_must_go;
  link_set_state (link, LINK_RESOLVING);
  link_arm_resolve_timer (link, chars_must_go ? HANGUP_WAIT_S : RESOLVE_TIMEOUT_S);
  if (was_up && link->callbacks.down != NULL)
    link->callbacks.down (link->user_data, reason);
}

static gboolean
on_settle_timeout (gpointer user_data)
{
  WuBluezLink *link = user_data;
  g_autofree char *reason = NULL;
  gboolean present;

  link->settle_timer = 0;
  if (link->state != LINK_RESOLVING)
    return G_SOURCE_REMOVE;
  present = link_find_chars (link, &reason);
  for (guint i = 0; i < link->n_chars; i++)
    {
      LinkChar *ch = &link->chars[i];

      if (present && ch->was_used && ch->path == NULL)
        g_message ("%s: characteristic 0x%04X did not come back: setting up without it",
                   link->address, ch->spec.uuid);
      g_clear_pointer (&ch->path, g_free);
    }
  if (present)
    link_begin_setup (link);
  return G_SOURCE_REMOVE;
}

/* Resolving, with the device's services resolved and every required characteristic
 * published: on to setup (after a Service Changed ServicesResolved stays true, so no
 * property change says they are back; the objects' arrival does). Not while the objects
 * in use have yet to go: those still listed are the old ones, their sessions ended. */
static void
link_resume_setup (WuBluezLink *link)
{
  g_autoptr (GDBusProxy) device = object_interface (link->bluez, link->device_path, DEVICE_IFACE);
  gboolean all_back;

  if (link->state != LINK_RESOLVING || device == NULL || link->chars_must_go ||
      !proxy_get_bool (device, "ServicesResolved") || !link_chars_present (link, &all_back))
    return;
  /* bluetoothd exports the objects one by one: the required ones back, an optional one used
   * before (the control point) may follow; setup without it would lose it for this
   * connection. Waited for a little, in case it is gone for good. */
  if (!all_back && link->resolving_again)
    {
      if (link->settle_timer == 0)
        {
          link->settle_timer = g_timeout_add_seconds (SETTLE_S, on_settle_timeout, link);
          g_source_set_name_by_id (link->settle_timer, "[warmupd] bluez settle");
        }
      return;
    }
  link_begin_setup (link);
}

/* Connected: on to setup when the services are resolved, else wait for that. */
static void
link_check_resolved (WuBluezLink *link)
{
  g_autoptr (GDBusProxy) device = object_interface (link->bluez, link->device_path, DEVICE_IFACE);

  if (device == NULL)
    return;
  if (proxy_get_bool (device, "ServicesResolved"))
    {
      link_begin_setup (link);
      return;
    }
  link_set_state (link, LINK_RESOLVING);
  if (link->timer == 0)
    link_arm_resolve_timer (link, RESOLVE_TIMEOUT_S);
}

static void
on_connect_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  WuBluezLink *link = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object),
                                                              result, &error);

  if (is_cancelled (error))
    return;
  if (reply == NULL && !remote_error_is (error, "org.bluez.Error.AlreadyConnected"))
    {
      g_autofree char *detail = describe_error (error);
      g_autofree char *reason = g_strdup_printf ("connecting failed: %s", detail);
      link_lost (link, reason);
      return;
    }
  if (reply == NULL)
    link->connected_here = FALSE;   /* AlreadyConnected: someone else's, theirs to close */
  if (link->state == LINK_CONNECTING)
    link_check_resolved (link);
}

/* From waiting: connect, or set up a connection someone else made. */
static void
link_advance (WuBluezLink *link)
{
  g_autoptr (GDBusProxy) device = NULL;

  if (link->state != LINK_WAITING || link->device_path == NULL)
    return;
  device = object_interface (link->bluez, link->device_path, DEVICE_IFACE);
  if (device == NULL)
    return;
  if (proxy_get_bool (device, "Connected"))
    {
      link_check_resolved (link);
      return;
    }
  link_set_state (link, LINK_CONNECTING);
  /* Ours from now: the services can resolve, and setup fail, before Connect answers. */
  link->connected_here = TRUE;
  g_dbus_connection_call (link->bluez->bus, BLUEZ_NAME, link->device_path, DEVICE_IFACE,
                          "Connect", NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          link->attempt, on_connect_done, link);
}

/* Device1 properties changed for a bound link; CHANGED: what this signal changed.
 * A link we hold is lost only when a signal says Connected false, never because the cache
 * says so: real bluetoothd 5.66 can answer Connect() and resolve the services of a first LE
 * connection without ever emitting Connected true (it logs "Device ... is already
 * connected"), then emit an unrelated change (RSSI invalidated), so the cached Connected is
 * false on a live link (seen in tests/vm/test-real-bluez.sh). */
static void
link_device_changed (WuBluezLink *link, GDBusProxy *device, GVariant *changed)
{
  gboolean connected = proxy_get_bool (device, "Connected");
  gboolean resolved = proxy_get_bool (device, "ServicesResolved");
  g_autoptr (GVariant) said_connected = g_variant_lookup_value (changed, "Connected",
                                                                 G_VARIANT_TYPE_BOOLEAN);

  switch (link->state)
    {
    case LINK_RESOLVING:
    case LINK_SETTING_UP:
    case LINK_UP:
      if (said_connected != NULL && !g_variant_get_boolean (said_connected))
        link_lost (link, "disconnected");
      else if (!resolved && link->state != LINK_RESOLVING)
        link_lost (link, "services no longer resolved");
      else if (resolved && link->state == LINK_RESOLVING && link->resolving_again)
        link_resume_setup (link);   /* any change (UUIDs) can come before the objects */
      else if (resolved && link->state == LINK_RESOLVING)
        link_begin_setup (link);
      break;
    case LINK_CONNECTING:
      /* ServicesResolved can come before Connect's reply. */
      if (connected && resolved)
        link_begin_setup (link);
      break;
    case LINK_WAITING:
      if (connected)
        link_advance (link);   /* someone else connected it: use it */
      break;
    case LINK_BACKOFF:
    default:
      break;
    }
}

static void
link_bind (WuBluezLink *link, const char *device_path)
{
  g_debug ("%s: device object %s", link->address, device_path);
  link->device_path = g_strdup (device_path);
  /* Found again (bluetoothd forgot it while away, discovery saw it come back): it is in
   * range now, so connect without waiting out the backoff (up to 30 s); the backoff itself
   * stays, for the next failure. Not for a device that dropped us soon after connecting
   * twice in a row: forgotten and found again each time, it would flap at the pace of
   * discovery. */
  if (link->state == LINK_BACKOFF && link->dropped_soon < 2)
    {
      g_clear_handle_id (&link->timer, g_source_remove);
      link_set_state (link, LINK_WAITING);
    }
  link_advance (link);
}

/* The device object went away. DEVICE_GONE: the device itself (bluetoothd forgot it);
 * else bluetoothd or the adapter went: once they are back the device is connected at once
 * (link_bind) and retried from 1 s, not after a backoff grown by earlier short links.
 * Unless this made two short links
 * in a row: an adapter that resets, or a bluetoothd that crashes, at each of our connections
 * would otherwise be connected to again once a second for ever. */
static void
link_unbind (WuBluezLink *link, const char *reason, gboolean device_gone)
{
  link_lost (link, reason);
  if (!device_gone && link->dropped_soon < 2)
    link->backoff_s = 1;
  g_clear_pointer (&link->device_path, g_free);
}

/* --- links: public -------------------------------------------------------------------------- */

WuBluezLink *
wu_bluez_link_new (WuBluez *bluez, const char *address, guint16 service,
                   const WuBluezCharSpec *chars, guint n_chars,
                   const WuBluezLinkCallbacks *callbacks, gpointer user_data)
{
  WuBluezLink *link = g_new0 (WuBluezLink, 1);

  link->bluez = bluez;
  link->address = g_ascii_strup (address, -1);
  link->service = service;
  link->n_chars = n_chars;
  link->chars = g_new0 (LinkChar, n_chars);
  for (guint i = 0; i < n_chars; i++)
    {
      link->chars[i].link = link;
      link->chars[i].spec = chars[i];
      link->chars[i].notify_fd = -1;
    }
  link->callbacks = *callbacks;
  link->user_data = user_data;
  link->state = LINK_WAITING;
  link->attempt = g_cancellable_new ();
  link->backoff_s = 1;
  link->searched_for = TRUE;   /* until a watch that does not search takes it */
  g_ptr_array_add (bluez->links, link);
  if (bluez->bus == NULL || bluez->objects == NULL)
    link_set_error (link, "bluetoothd not running");
  schedule_refresh (bluez);   /* binds it to its device, or starts discovery */
  return link;
}

void
wu_bluez_link_free (WuBluezLink *link)
{
  if (link == NULL)
    return;
  link_teardown (link, TRUE);
  g_clear_handle_id (&link->timer, g_source_remove);
  g_clear_object (&link->attempt);
  g_ptr_array_remove (link->bluez->links, link);
  schedule_refresh (link->bluez);   /* maybe stop discovering */
  g_free (link->chars);
  g_free (link->address);
  g_free (link->device_path);
  g_free (link->error);
  g_free (link);
}

gboolean
wu_bluez_link_is_up (WuBluezLink *link)
{
  return link->state == LINK_UP;
}

gboolean
wu_bluez_link_has_char (WuBluezLink *link, guint16 uuid)
{
  LinkChar *ch = link_find_char (link, uuid);
  return ch != NULL && ch->path != NULL;
}

typedef struct {
  WuBluezWriteDone done;
  gpointer done_data;
} WriteData;

static void
on_write_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autofree WriteData *write = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object),
                                                              result, &error);

  if (is_cancelled (error))
    return;   /* the link went down: its down callback said so */
  if (error != NULL && write_refused (error))
    {
      g_autofree char *detail = describe_error (error);

      g_clear_error (&error);
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "%s", detail);
    }
  else if (error != NULL)
    g_dbus_error_strip_remote_error (error);
  if (write->done != NULL)
    write->done (write->done_data, error);
}

gboolean
wu_bluez_link_write (WuBluezLink *link, guint16 uuid, const guint8 *data, gsize len,
                     WuBluezWriteDone done, gpointer done_data, GError **error)
{
  LinkChar *ch = link_find_char (link, uuid);
  GVariantBuilder options;
  WriteData *write;

  if (link->state != LINK_UP || ch == NULL || ch->path == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                   link->state != LINK_UP ? "%s: not connected" : "%s: no characteristic 0x%04X",
                   link->address, uuid);
      return FALSE;
    }
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "type", g_variant_new_string ("request"));
  write = g_new0 (WriteData, 1);
  write->done = done;
  write->done_data = done_data;
  g_dbus_connection_call (link->bluez->bus, BLUEZ_NAME, ch->path, GATT_CHAR_IFACE,
                          "WriteValue",
                          g_variant_new ("(@aya{sv})",
                                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data,
                                                                    len, 1),
                                         &options),
                          NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, link->attempt,
                          on_write_done, write);
  return TRUE;
}

void
wu_bluez_link_reconnect (WuBluezLink *link, const char *reason)
{
  if (link->state <= LINK_BACKOFF)
    return;
  call_and_forget (link->bluez, link->device_path, DEVICE_IFACE, "Disconnect");
  link_lost (link, reason);
}

/* --- the manager: adapter, devices, discovery ------------------------------------------------- */

static gboolean
adapter_matches (GDBusProxy *adapter, const char *path, const char *wanted)
{
  g_autofree char *address = proxy_get_string (adapter, "Address");
  const char *name = strrchr (path, '/');

  return g_strcmp0 (name != NULL ? name + 1 : path, wanted) == 0
         || (address != NULL && g_ascii_strcasecmp (address, wanted) == 0);
}

static gboolean
adapter_is_powered (WuBluez *bluez, const char *path)
{
  g_autoptr (GDBusProxy) adapter = object_interface (bluez, path, ADAPTER_IFACE);
  return adapter != NULL && proxy_get_bool (adapter, "Powered");
}

static gboolean
any_link_bound (WuBluez *bluez)
{
  for (guint i = 0; i < bluez->links->len; i++)
    {
      WuBluezLink *link = g_ptr_array_index (bluez->links, i);
      if (link->device_path != NULL)
        return TRUE;
    }
  return FALSE;
}

/* The adapter in use while it is powered and a link is bound to a device under it (leaving
 * it would drop connections that work: a device connected through it stops advertising,
 * so the new adapter would never find it); else the configured adapter if powered, else
 * the first powered one (by path). */
static char *
choose_adapter (WuBluez *bluez)
{
  g_autolist (GDBusObject) objects = NULL;
  char *best = NULL;

  if (any_link_bound (bluez) && adapter_is_powered (bluez, bluez->adapter_path))
    return g_strdup (bluez->adapter_path);
  objects = g_dbus_object_manager_get_objects (bluez->objects);
  for (GList *l = objects; l != NULL; l = l->next)
    {
      const char *path = g_dbus_object_get_object_path (l->data);
      g_autoptr (GDBusProxy) adapter = G_DBUS_PROXY (g_dbus_object_get_interface (l->data, ADAPTER_IFACE));

      if (adapter == NULL || !proxy_get_bool (adapter, "Powered"))
        continue;
      if (bluez->adapter_wanted != NULL && !adapter_matches (adapter, path, bluez->adapter_wanted))
        continue;
      if (best == NULL || strcmp (path, best) < 0)
        {
          g_free (best);
          best = g_strdup (path);
        }
    }
  return best;
}

/* Discovery on an adapter no longer in use. */
static void
stop_discovery_on (WuBluez *bluez, const char *adapter)
{
  g_message ("discovery on -> off on %s (leaving it)", adapter);
  call_and_forget (bluez, adapter, ADAPTER_IFACE, "StopDiscovery");
}

static void
set_adapter (WuBluez *bluez, char *path)
{
  /* Said once per wait, also when bluetoothd comes up with no adapter at all. */
  if (path == NULL && bluez->objects != NULL && !bluez->adapter_wait_logged)
    {
      g_message ("waiting for a powered Bluetooth adapter%s%s",
                 bluez->adapter_wanted != NULL ? " named " : "",
                 bluez->adapter_wanted != NULL ? bluez->adapter_wanted : "");
      bluez->adapter_wait_logged = TRUE;
    }
  if (g_strcmp0 (bluez->adapter_path, path) == 0)
    {
      g_free (path);
      return;
    }
  g_message ("adapter %s -> %s", bluez->adapter_path != NULL ? bluez->adapter_path : "(none)",
             path != NULL ? path : "(none)");
  if (path != NULL)
    bluez->adapter_wait_logged = FALSE;
  /* bluetoothd keeps a client's discovery while its adapter stays powered: end ours. */
  if (bluez->discovering && adapter_is_powered (bluez, bluez->adapter_path))
    stop_discovery_on (bluez, bluez->adapter_path);
  g_free (bluez->adapter_path);
  bluez->adapter_path = path;
  bluez->discovering = FALSE;   /* discovery belonged to the old adapter */
}

/* The device object for ADDRESS under the adapter in use, NULL when there is none. */
static const char *
find_device_path (WuBluez *bluez, GList *objects, const char *address)
{
  for (GList *l = objects; l != NULL; l = l->next)
    {
      g_autoptr (GDBusProxy) device = G_DBUS_PROXY (g_dbus_object_get_interface (l->data, DEVICE_IFACE));
      g_autofree char *device_address = NULL;
      g_autofree char *adapter = NULL;

      if (device == NULL)
        continue;
      device_address = proxy_get_string (device, "Address");
      adapter = proxy_get_string (device, "Adapter");
      if (device_address != NULL && g_ascii_strcasecmp (device_address, address) == 0
          && g_strcmp0 (adapter, bluez->adapter_path) == 0)
        return g_dbus_object_get_object_path (l->data);
    }
  return NULL;
}

static WuBluezLink *
find_link_by_address (WuBluez *bluez, const char *address)
{
  for (guint i = 0; i < bluez->links->len; i++)
    {
      WuBluezLink *link = g_ptr_array_index (bluez->links, i);
      if (g_ascii_strcasecmp (link->address, address) == 0)
        return link;
    }
  return NULL;
}

static gboolean
watch_lists (const Watch *watch, const char *address)
{
  for (guint i = 0; watch->addresses != NULL && watch->addresses[i] != NULL; i++)
    if (g_ascii_strcasecmp (watch->addresses[i], address) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
watch_has_service (const Watch *watch, guint16 service)
{
  for (guint i = 0; i < watch->n_services; i++)
    if (watch->services[i] == service)
      return TRUE;
  return FALSE;
}

static guint
watch_taken (WuBluez *bluez, const Watch *watch)
{
  guint taken = 0;

  for (guint i = 0; i < bluez->links->len; i++)
    {
      WuBluezLink *link = g_ptr_array_index (bluez->links, i);
      if (watch_has_service (watch, link->service)
          && (watch->addresses == NULL || watch_lists (watch, link->address)))
        taken++;
    }
  return taken;
}

/* Discovery is needed while a watch wants more, or a searched-for link's device is not
 * known (bluetoothd drops a device it was not paired with ~30 s after it disconnected:
 * a sensor taken only because it was there, switched off mid-ride, must not make the
 * radio scan for the rest of the ride). */
static gboolean
discovery_wanted (WuBluez *bluez)
{
  for (guint i = 0; i < bluez->watches->len; i++)
    {
      Watch *watch = g_ptr_array_index (bluez->watches, i);
      if (watch_taken (bluez, watch) < watch->want)
        return TRUE;
    }
  for (guint i = 0; i < bluez->links->len; i++)
    {
      WuBluezLink *link = g_ptr_array_index (bluez->links, i);
      if (link->device_path == NULL && link->searched_for)
        return TRUE;
    }
  return FALSE;
}

static void update_discovery (WuBluez *bluez);

static gboolean
on_discovery_retry (gpointer user_data)
{
  WuBluez *bluez = user_data;

  bluez->discovery_retry_timer = 0;
  update_discovery (bluez);
  return G_SOURCE_REMOVE;
}

static void
on_discovery_call_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  WuBluez *bluez = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object),
                                                              result, &error);
  g_autofree char *adapter = NULL;

  if (is_cancelled (error))
    return;   /* bluetoothd went away (BLUEZ may be gone too) */
  gboolean starting = bluez->discovery_call_starts;
  adapter = g_steal_pointer (&bluez->discovery_call_adapter);
  bluez->discovery_busy = FALSE;
  if (g_strcmp0 (adapter, bluez->adapter_path) != 0)
    {
      /* The adapter in use changed while the call was out: the answer is about the old one,
       * and the new one starts from "not discovering" (set_adapter). */
      g_debug ("a discovery call on %s answered after the switch to %s", adapter,
               bluez->adapter_path != NULL ? bluez->adapter_path : "(none)");
      if (starting && reply != NULL && adapter_is_powered (bluez, adapter))
        stop_discovery_on (bluez, adapter);
      update_discovery (bluez);
      return;
    }
  if (reply == NULL && !remote_error_is (error, "org.bluez.Error.InProgress"))
    {
      g_autofree char *detail = describe_error (error);
      g_message ("%s discovery on %s failed: %s%s", starting ? "starting" : "stopping",
                 bluez->adapter_path, detail, starting ? "; retrying" : "");
      if (starting && bluez->discovery_retry_timer == 0)
        {
          bluez->discovery_retry_timer = g_timeout_add_seconds (DISCOVERY_RETRY_S,
                                                                on_discovery_retry, bluez);
          g_source_set_name_by_id (bluez->discovery_retry_timer, "[warmupd] discovery retry");
        }
      if (starting)
        return;
    }
  bluez->discovering = starting;
  g_message ("discovery %s -> %s on %s", starting ? "off" : "on", starting ? "on" : "off",
             bluez->adapter_path);
  update_discovery (bluez);   /* things may have changed while the call was out */
}

static GVariant *
discovery_filter (WuBluez *bluez)
{
  GVariantBuilder uuids, filter;
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);

  g_variant_builder_init (&uuids, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; i < bluez->watches->len; i++)
    {
      Watch *watch = g_ptr_array_index (bluez->watches, i);

      for (guint j = 0; j < watch->n_services; j++)
        {
          g_autofree char *uuid = NULL;

          if (!g_hash_table_add (seen, GUINT_TO_POINTER (watch->services[j])))
            continue;
          uuid = wu_bluez_uuid_from_16 (watch->services[j]);
          g_variant_builder_add (&uuids, "s", uuid);
        }
    }
  g_variant_builder_init (&filter, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&filter, "{sv}", "Transport", g_variant_new_string ("le"));
  g_variant_builder_add (&filter, "{sv}", "UUIDs", g_variant_builder_end (&uuids));
  return g_variant_new ("(@a{sv})", g_variant_builder_end (&filter));
}

static void
update_discovery (WuBluez *bluez)
{
  gboolean wanted;

  if (bluez->objects == NULL || bluez->adapter_path == NULL || bluez->discovery_busy
      || bluez->discovery_retry_timer != 0)
    return;
  wanted = discovery_wanted (bluez);
  if (wanted == bluez->discovering)
    return;
  bluez->discovery_busy = TRUE;
  bluez->discovery_call_starts = wanted;
  g_free (bluez->discovery_call_adapter);
  bluez->discovery_call_adapter = g_strdup (bluez->adapter_path);
  if (wanted)
    {
      /* The filter is per client and applies to our next StartDiscovery. */
      g_dbus_connection_call (bluez->bus, BLUEZ_NAME, bluez->adapter_path, ADAPTER_IFACE,
                              "SetDiscoveryFilter", discovery_filter (bluez), NULL,
                              G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, bluez->epoch, NULL, NULL);
      g_dbus_connection_call (bluez->bus, BLUEZ_NAME, bluez->adapter_path, ADAPTER_IFACE,
                              "StartDiscovery", NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                              bluez->epoch, on_discovery_call_done, bluez);
    }
  else
    g_dbus_connection_call (bluez->bus, BLUEZ_NAME, bluez->adapter_path, ADAPTER_IFACE,
                            "StopDiscovery", NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                            bluez->epoch, on_discovery_call_done, bluez);
}

/* The first of the watch's services the device offers; 0: none (or not listed). */
static guint16
watch_match (const Watch *watch, GDBusProxy *device, const char *address)
{
  if (watch->addresses != NULL && !watch_lists (watch, address))
    return 0;
  for (guint i = 0; i < watch->n_services; i++)
    if (proxy_has_uuid16 (device, "UUIDs", watch->services[i]))
      return watch->services[i];
  return 0;
}

/* A watch that wants devices (lists them, or wants the bike) searches for them when they
 * go; one that takes what is there (want 0) does not. */
static void
link_taken_by (WuBluezLink *link, const Watch *watch)
{
  link->watch = watch;
  link->searched_for = watch->want > 0;
  g_debug ("%s: taken, %s", link->address,
           link->searched_for ? "searched for when gone" : "not searched for when gone");
}

/* Whether a watch after the FIRST-th lists ADDRESS ([Sensors] Addresses=): a device listed
 * by address is that watch's, whatever services it offers an earlier one too (a second
 * trainer listed as a power sensor is neither taken as the bike nor left to nobody, with
 * the radio scanning for it for ever). */
static gboolean
listed_after (WuBluez *bluez, guint first, const char *address)
{
  for (guint i = first + 1; i < bluez->watches->len; i++)
    if (watch_lists (g_ptr_array_index (bluez->watches, i), address))
      return TRUE;
  return FALSE;
}

/* Whether WATCH has a say over the device: it lists its address, or the device offers one
 * of its services. Later watches leave such a device alone even when WATCH does not take
 * it (the configured bike, or a second trainer, is never taken as a power sensor), unless
 * one of them lists it (listed_after). */
static gboolean
watch_claims (const Watch *watch, GDBusProxy *device, const char *address)
{
  if (watch_lists (watch, address))
    return TRUE;
  for (guint i = 0; i < watch->n_services; i++)
    if (proxy_has_uuid16 (device, "UUIDs", watch->services[i]))
      return TRUE;
  return FALSE;
}

/* LINK's device now offers a service an earlier watch wants (the UUIDs a first scan saw
 * were incomplete): the watch that took it releases it. TRUE when the link is gone. */
static gboolean
hand_over_device (WuBluez *bluez, WuBluezLink *link, GDBusProxy *device)
{
  const Watch *owner = link->watch;
  g_autofree char *address = g_strdup (link->address);

  /* a device taken because it was listed stays with the watch that listed it */
  if (owner == NULL || owner->release == NULL || watch_lists (owner, address))
    return FALSE;
  for (guint i = 0; i < bluez->watches->len; i++)
    {
      Watch *watch = g_ptr_array_index (bluez->watches, i);
      guint16 service;

      if (watch == owner)
        return FALSE;
      service = watch_match (watch, device, address);
      if (service == 0 || watch_taken (bluez, watch) >= watch->accept)
        continue;
      g_message ("%s: service 0x%04X -> 0x%04X (offered now)", address, link->service,
                 service);
      owner->release (owner->user_data, address);   /* frees LINK */
      return find_link_by_address (bluez, address) == NULL;
    }
  return FALSE;
}

/* A device WATCH lists that offers none of its services (yet: a first scan can show only
 * some): said once, or the search for it would go on with no word of why. */
static void
tell_listed_without_service (Watch *watch, const char *address, const char *shown)
{
  g_autoptr (GString) services = g_string_new (NULL);
  guint index = 0;

  while (watch->addresses[index] != NULL
         && g_ascii_strcasecmp (watch->addresses[index], address) != 0)
    index++;
  if (index >= 32 || (watch->told_unmatched & (1u << index)) != 0)
    return;
  watch->told_unmatched |= 1u << index;
  for (guint i = 0; i < watch->n_services; i++)
    g_string_append_printf (services, "%s0x%04X", i > 0 ? " or " : "", watch->services[i]);
  g_message ("%s (%s) is listed but does not offer %s (not yet, or not at all): still "
             "searching", address, shown, services->str);
}

/* Offer a device no link has taken to the first watch that wants it; a device an earlier
 * watch claims is not offered to later ones. */
static void
offer_device (WuBluez *bluez, GDBusProxy *device)
{
  g_autofree char *address = proxy_get_string (device, "Address");
  g_autofree char *alias = proxy_get_string (device, "Alias");
  g_autofree char *name = proxy_get_string (device, "Name");
  const char *shown = alias != NULL ? alias : name != NULL ? name : address;
  WuBluezLink *link;

  if (address == NULL)
    return;
  link = find_link_by_address (bluez, address);
  if (link != NULL && !hand_over_device (bluez, link, device))
    return;
  for (guint i = 0; i < bluez->watches->len; i++)
    {
      Watch *watch = g_ptr_array_index (bluez->watches, i);
      guint16 service;

      if (!watch_lists (watch, address) && listed_after (bluez, i, address))
        continue;
      service = watch_match (watch, device, address);
      if (service == 0 && watch_lists (watch, address))
        tell_listed_without_service (watch, address, shown);
      if (service != 0 && watch_taken (bluez, watch) < watch->accept)
        {
          g_message ("found %s (%s) offering 0x%04X", address, shown, service);
          watch->found (watch->user_data, address, shown, service);
          link = find_link_by_address (bluez, address);
          if (link != NULL)
            {
              link_taken_by (link, watch);
              return;
            }
        }
      if (watch_claims (watch, device, address))
        return;
    }
}

static void
bind_links (WuBluez *bluez, GList *objects)
{
  for (guint i = 0; i < bluez->links->len; i++)
    {
      WuBluezLink *link = g_ptr_array_index (bluez->links, i);
      const char *path = bluez->adapter_path != NULL
                           ? find_device_path (bluez, objects, link->address) : NULL;

      /* Forgotten and found again before this refresh ran (both signals queued ahead of
       * it): the same path, but a new device, so it is bound anew (link_bind skips what is
       * left of the backoff). */
      if (link->device_gone && path != NULL && g_strcmp0 (path, link->device_path) == 0)
        link_unbind (link, "device gone", TRUE);
      link->device_gone = FALSE;
      if (g_strcmp0 (path, link->device_path) == 0)
        {
          if (link->chars_gone)
            link_set_up_again (link, "its services changed (a characteristic went away)",
                               FALSE);
          link_resume_setup (link);
          if (path == NULL)
            link_set_error (link, bluez->objects == NULL ? "bluetoothd not running"
                                  : bluez->adapter_path == NULL ? "no powered adapter"
                                  : "searching for the device");
          continue;
        }
      if (link->device_path != NULL)
        link_unbind (link, bluez->objects == NULL ? "bluetoothd gone"
                           : bluez->adapter_path == NULL ? "adapter gone" : "device gone",
                     bluez->objects != NULL && bluez->adapter_path != NULL);
      if (path != NULL)
        link_bind (link, path);
    }
}

/* bluetoothd ends every client's discovery when its adapter powers off. If the off and the
 * on were seen in one refresh (the adapter in use did not change), the adapter's own
 * Discovering tells that ours is gone: false means nobody's discovery runs. Asking again
 * when it only lags our StartDiscovery's answer costs an InProgress. */
static void
notice_discovery_ended (WuBluez *bluez)
{
  g_autoptr (GDBusProxy) adapter = NULL;

  if (!bluez->discovering || bluez->discovery_busy)
    return;
  adapter = object_interface (bluez, bluez->adapter_path, ADAPTER_IFACE);
  if (adapter == NULL || proxy_get_bool (adapter, "Discovering"))
    return;
  g_message ("discovery on -> off on %s (ended by bluetoothd)", bluez->adapter_path);
  bluez->discovering = FALSE;
}

/* Bring everything in line with what bluetoothd publishes now. */
static void
refresh (WuBluez *bluez)
{
  g_autolist (GDBusObject) objects = NULL;

  if (bluez->objects != NULL)
    {
      set_adapter (bluez, choose_adapter (bluez));
      notice_discovery_ended (bluez);
      objects = g_dbus_object_manager_get_objects (bluez->objects);
    }
  else
    set_adapter (bluez, NULL);
  bind_links (bluez, objects);
  if (bluez->adapter_path != NULL)
    for (GList *l = objects; l != NULL; l = l->next)
      {
        g_autoptr (GDBusProxy) device = G_DBUS_PROXY (g_dbus_object_get_interface (l->data, DEVICE_IFACE));
        g_autofree char *adapter = device != NULL ? proxy_get_string (device, "Adapter") : NULL;

        if (device != NULL && g_strcmp0 (adapter, bluez->adapter_path) == 0)
          offer_device (bluez, device);
      }
  /* Links made by the offers bind at once. */
  bind_links (bluez, objects);
  update_discovery (bluez);
}

static gboolean
on_refresh_idle (gpointer user_data)
{
  WuBluez *bluez = user_data;

  bluez->refresh_idle = 0;
  refresh (bluez);
  return G_SOURCE_REMOVE;
}

static void
schedule_refresh (WuBluez *bluez)
{
  if (bluez->refresh_idle != 0)
    return;
  bluez->refresh_idle = g_idle_add (on_refresh_idle, bluez);
  g_source_set_name_by_id (bluez->refresh_idle, "[warmupd] bluez refresh");
}

/* --- following bluetoothd --------------------------------------------------------------------- */

static WuBluezLink *
find_link_by_device_path (WuBluez *bluez, const char *path)
{
  for (guint i = 0; i < bluez->links->len; i++)
    {
      WuBluezLink *link = g_ptr_array_index (bluez->links, i);
      if (g_strcmp0 (link->device_path, path) == 0)
        return link;
    }
  return NULL;
}

static void
characteristic_value_changed (WuBluez *bluez, const char *path, GVariant *changed)
{
  g_autoptr (GVariant) value = g_variant_lookup_value (changed, "Value", G_VARIANT_TYPE_BYTESTRING);

  if (value == NULL)
    return;
  for (guint i = 0; i < bluez->links->len; i++)
    {
      WuBluezLink *link = g_ptr_array_index (bluez->links, i);
      LinkChar *ch = link_find_char_by_path (link, path);
      gsize len;
      const guint8 *data;

      if (ch == NULL || !ch->notifying)
        continue;
      data = g_variant_get_fixed_array (value, &len, 1);
      link_deliver (link, ch, data, len);
      return;
    }
}

static void
on_properties_changed (GDBusObjectManagerClient *manager, GDBusObjectProxy *object,
                       GDBusProxy *proxy, GVariant *changed, GStrv invalidated,
                       gpointer user_data)
{
  WuBluez *bluez = user_data;
  const char *iface = g_dbus_proxy_get_interface_name (proxy);
  const char *path = g_dbus_object_get_object_path (G_DBUS_OBJECT (object));

  if (strcmp (iface, GATT_CHAR_IFACE) == 0)
    characteristic_value_changed (bluez, path, changed);
  else if (strcmp (iface, DEVICE_IFACE) == 0)
    {
      WuBluezLink *link = find_link_by_device_path (bluez, path);

      if (link != NULL)
        link_device_changed (link, proxy, changed);
      if (dict_has_key (changed, "UUIDs") || dict_has_key (changed, "Address"))
        schedule_refresh (bluez);   /* advertised services now known: offer it */
    }
  else if (strcmp (iface, ADAPTER_IFACE) == 0)
    schedule_refresh (bluez);
}

static void
on_objects_changed (GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
  schedule_refresh (user_data);
}

/* An object went away. A characteristic in use going while its device stays connected is a
 * Service Changed: bluetoothd ended its notification session (nothing tells a StartNotify
 * subscriber so) and exports it again once discovered, often under the same path. The link
 * is set up again by the refresh, or it would stay up and silent. A bound device going is
 * noted too: it may be back under the same path by the time the refresh runs. */
static void
on_object_removed (GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
  WuBluez *bluez = user_data;
  const char *path = g_dbus_object_get_object_path (object);

  for (guint i = 0; i < bluez->links->len; i++)
    {
      WuBluezLink *link = g_ptr_array_index (bluez->links, i);

      if (g_strcmp0 (link->device_path, path) == 0)
        link->device_gone = TRUE;
      else if (link->chars_must_go && is_below (path, link->device_path))
        {
          /* the Service Changed its closed notifications announced: wait for the objects
           * to be back, as long as after any Service Changed */
          link->chars_must_go = FALSE;
          link_arm_resolve_timer (link, RESOLVE_TIMEOUT_S);
        }
      for (guint j = 0; j < link->n_chars && link->state >= LINK_SETTING_UP; j++)
        if (g_strcmp0 (link->chars[j].path, path) == 0)
          link->chars_gone = TRUE;
    }
  schedule_refresh (bluez);
}

static void
on_interfaces_changed (GDBusObjectManager *manager, GDBusObject *object,
                       GDBusInterface *iface, gpointer user_data)
{
  schedule_refresh (user_data);
}

static void
drop_objects (WuBluez *bluez)
{
  g_cancellable_cancel (bluez->epoch);
  g_clear_object (&bluez->epoch);
  if (bluez->objects != NULL)
    {
      g_signal_handlers_disconnect_by_data (bluez->objects, bluez);
      g_clear_object (&bluez->objects);
    }
  g_clear_handle_id (&bluez->objects_retry_timer, g_source_remove);
  bluez->discovering = FALSE;
  bluez->discovery_busy = FALSE;
  g_clear_pointer (&bluez->discovery_call_adapter, g_free);
  g_clear_handle_id (&bluez->discovery_retry_timer, g_source_remove);
  refresh (bluez);   /* unbinds every link: "bluetoothd gone" */
}

static void read_objects (WuBluez *bluez);

static gboolean
on_objects_retry (gpointer user_data)
{
  WuBluez *bluez = user_data;

  bluez->objects_retry_timer = 0;
  read_objects (bluez);
  return G_SOURCE_REMOVE;
}

static void
on_manager_ready (GObject *object, GAsyncResult *result, gpointer user_data)
{
  WuBluez *bluez = user_data;
  g_autoptr (GError) error = NULL;
  GDBusObjectManager *objects = g_dbus_object_manager_client_new_finish (result, &error);

  if (is_cancelled (error))
    return;
  if (objects == NULL)
    {
      /* If bluetoothd left, its return brings a new attempt (the retry goes with the epoch).
       * If it is still there (busy, starting, a call timed out), nothing else would: ask
       * again, backing off. */
      g_warning ("cannot read bluetoothd's objects: %s; asking again in %u s", error->message,
                 bluez->objects_retry_s);
      bluez->objects_retry_timer = g_timeout_add_seconds (bluez->objects_retry_s,
                                                          on_objects_retry, bluez);
      g_source_set_name_by_id (bluez->objects_retry_timer, "[warmupd] bluez objects retry");
      bluez->objects_retry_s = MIN (bluez->objects_retry_s * 2, BACKOFF_MAX_S);
      return;
    }
  if (bluez->objects_retry_s > 1)
    g_message ("bluetoothd's objects read");
  bluez->objects_retry_s = 1;
  bluez->objects = objects;
  g_signal_connect (objects, "object-added", G_CALLBACK (on_objects_changed), bluez);
  g_signal_connect (objects, "object-removed", G_CALLBACK (on_object_removed), bluez);
  g_signal_connect (objects, "interface-added", G_CALLBACK (on_interfaces_changed), bluez);
  g_signal_connect (objects, "interface-removed", G_CALLBACK (on_interfaces_changed), bluez);
  g_signal_connect (objects, "interface-proxy-properties-changed",
                    G_CALLBACK (on_properties_changed), bluez);
  refresh (bluez);
}

static void
on_bluez_appeared (GDBusConnection *bus, const char *name, const char *owner,
                   gpointer user_data)
{
  WuBluez *bluez = user_data;

  g_message ("bluetoothd not running -> running (%s)", owner);
  bluez->bluez_seen = TRUE;
  if (bluez->epoch != NULL)
    drop_objects (bluez);   /* a new owner without a vanish in between */
  bluez->epoch = g_cancellable_new ();
  bluez->objects_retry_s = 1;
  read_objects (bluez);
}

/* One GDBusObjectManagerClient for this bluetoothd (this epoch). */
static void
read_objects (WuBluez *bluez)
{
  g_dbus_object_manager_client_new (bluez->bus,
                                    G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
                                    BLUEZ_NAME, "/", NULL, NULL, NULL, bluez->epoch,
                                    on_manager_ready, bluez);
}

static void
on_bluez_vanished (GDBusConnection *bus, const char *name, gpointer user_data)
{
  WuBluez *bluez = user_data;

  if (bluez->epoch != NULL)
    g_message ("bluetoothd running -> not running: dropping its objects, waiting for it");
  else if (!bluez->bluez_seen)
    g_message ("bluetoothd is not running (no owner of %s): waiting for it", BLUEZ_NAME);
  bluez->bluez_seen = TRUE;
  drop_objects (bluez);
}

static void watch_system_bus (WuBluez *bluez);

static gboolean
on_bus_retry (gpointer user_data)
{
  WuBluez *bluez = user_data;

  bluez->bus_retry_timer = 0;
  watch_system_bus (bluez);
  return G_SOURCE_REMOVE;
}

static void
on_bus_closed (GDBusConnection *bus, gboolean remote_peer_vanished, GError *error,
               gpointer user_data)
{
  WuBluez *bluez = user_data;

  g_message ("system bus connection closed; reconnecting in %d s", BUS_RETRY_S);
  g_clear_handle_id (&bluez->name_watch, g_bus_unwatch_name);
  g_signal_handlers_disconnect_by_data (bluez->bus, bluez);
  g_clear_object (&bluez->bus);
  drop_objects (bluez);
  bluez->bus_retry_timer = g_timeout_add_seconds (BUS_RETRY_S, on_bus_retry, bluez);
}

static void
on_bus_ready (GObject *object, GAsyncResult *result, gpointer user_data)
{
  WuBluez *bluez = user_data;
  g_autoptr (GError) error = NULL;
  GDBusConnection *bus = g_bus_get_finish (result, &error);

  if (is_cancelled (error))
    return;
  if (bus == NULL)
    {
      g_message ("no system bus (%s): Bluetooth sources wait; retrying in %d s",
                 error->message, BUS_RETRY_S);
      bluez->bus_retry_timer = g_timeout_add_seconds (BUS_RETRY_S, on_bus_retry, bluez);
      g_source_set_name_by_id (bluez->bus_retry_timer, "[warmupd] system bus retry");
      return;
    }
  /* The system bus going away must not end warmupd (the default for g_bus_get). */
  g_dbus_connection_set_exit_on_close (bus, FALSE);
  bluez->bus = bus;
  g_signal_connect (bus, "closed", G_CALLBACK (on_bus_closed), bluez);
  bluez->name_watch = g_bus_watch_name_on_connection (bus, BLUEZ_NAME,
                                                      G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                      on_bluez_appeared, on_bluez_vanished,
                                                      bluez, NULL);
}

/* BlueZ is always on the system bus (tests point DBUS_SYSTEM_BUS_ADDRESS at a private one). */
static void
watch_system_bus (WuBluez *bluez)
{
  g_bus_get (G_BUS_TYPE_SYSTEM, bluez->cancellable, on_bus_ready, bluez);
}

/* --- the manager: public ------------------------------------------------------------------------ */

WuBluez *
wu_bluez_new (const char *adapter)
{
  WuBluez *bluez = g_new0 (WuBluez, 1);

  bluez->adapter_wanted = (adapter != NULL && adapter[0] != '\0') ? g_strdup (adapter) : NULL;
  bluez->cancellable = g_cancellable_new ();
  bluez->watches = g_ptr_array_new ();
  bluez->links = g_ptr_array_new ();
  return bluez;
}

void
wu_bluez_start (WuBluez *bluez)
{
  watch_system_bus (bluez);
}

void
wu_bluez_add_watch (WuBluez *bluez, const guint16 *services, guint n_services,
                    const char *const *addresses, guint want, guint accept,
                    WuBluezFoundFunc found, WuBluezReleaseFunc release, gpointer user_data)
{
  Watch *watch = g_new0 (Watch, 1);

  g_return_if_fail (n_services > 0 && n_services <= WATCH_MAX_SERVICES);
  memcpy (watch->services, services, n_services * sizeof *services);
  watch->n_services = n_services;
  if (addresses != NULL && addresses[0] != NULL)
    {
      watch->addresses = g_new0 (char *, g_strv_length ((char **) addresses) + 1);
      for (guint i = 0; addresses[i] != NULL; i++)
        watch->addresses[i] = g_ascii_strup (addresses[i], -1);
    }
  watch->want = want;
  watch->accept = MAX (accept, want);
  watch->found = found;
  watch->release = release;
  watch->user_data = user_data;
  g_ptr_array_add (bluez->watches, watch);
  schedule_refresh (bluez);
}

void
wu_bluez_free (WuBluez *bluez)
{
  if (bluez == NULL)
    return;
  g_warn_if_fail (bluez->links->len == 0);
  g_cancellable_cancel (bluez->cancellable);
  if (bluez->discovering && bluez->adapter_path != NULL)
    call_and_forget (bluez, bluez->adapter_path, ADAPTER_IFACE, "StopDiscovery");
  g_clear_handle_id (&bluez->refresh_idle, g_source_remove);
  g_clear_handle_id (&bluez->bus_retry_timer, g_source_remove);
  g_clear_handle_id (&bluez->discovery_retry_timer, g_source_remove);
  g_clear_handle_id (&bluez->objects_retry_timer, g_source_remove);
  g_clear_handle_id (&bluez->name_watch, g_bus_unwatch_name);
  g_cancellable_cancel (bluez->epoch);
  g_clear_object (&bluez->epoch);
  if (bluez->objects != NULL)
    g_signal_handlers_disconnect_by_data (bluez->objects, bluez);
  g_clear_object (&bluez->objects);
  if (bluez->bus != NULL)
    {
      /* Let the last StopNotify/StopDiscovery calls leave before we exit. */
      g_dbus_connection_flush_sync (bluez->bus, NULL, NULL);
      g_signal_handlers_disconnect_by_data (bluez->bus, bluez);
      g_clear_object (&bluez->bus);
    }
  for (guint i = 0; i < bluez->watches->len; i++)
    {
      Watch *watch = g_ptr_array_index (bluez->watches, i);
      g_strfreev (watch->addresses);
      g_free (watch);
    }
  g_ptr_array_unref (bluez->watches);
  g_ptr_array_unref (bluez->links);
  g_clear_object (&bluez->cancellable);
  g_free (bluez->adapter_path);
  g_free (bluez->discovery_call_adapter);
  g_free (bluez->adapter_wanted);
  g_free (bluez);
}
