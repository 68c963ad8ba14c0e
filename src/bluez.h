/* The shared BlueZ client: everything warmupd does over org.bluez (on the system bus),
 * for every Bluetooth LE source (FTMS bikes, CSC and CPS sensors).
 *
 * WuBluez follows bluetoothd (its name appearing and vanishing), picks the adapter, runs
 * discovery with a filter while something wanted has not been found, and offers each new
 * device to the watches that want its service. A source that takes a device makes a
 * WuBluezLink for its address: the link connects, waits for ServicesResolved, finds the
 * characteristics under the device by UUID, reads and subscribes to them, and reports up,
 * values and down. A lost link is reconnected with backoff (1, 2, 4 ... 30 s), forever;
 * when bluetoothd goes away every proxy and path is dropped and the link binds again to
 * whatever object the returning bluetoothd publishes for the same address. */
#pragma once
#include <gio/gio.h>

G_BEGIN_DECLS

#define WU_GATT_SERVICE_FTMS 0x1826
#define WU_GATT_SERVICE_CSC 0x1816
#define WU_GATT_SERVICE_CPS 0x1818

#define WU_GATT_CHAR_FTMS_FEATURE 0x2ACC
#define WU_GATT_CHAR_INDOOR_BIKE_DATA 0x2AD2
#define WU_GATT_CHAR_TRAINING_STATUS 0x2AD3
#define WU_GATT_CHAR_RESISTANCE_RANGE 0x2AD6
#define WU_GATT_CHAR_POWER_RANGE 0x2AD8
#define WU_GATT_CHAR_FTMS_CONTROL_POINT 0x2AD9
#define WU_GATT_CHAR_FTMS_STATUS 0x2ADA
#define WU_GATT_CHAR_CSC_MEASUREMENT 0x2A5B
#define WU_GATT_CHAR_CPS_MEASUREMENT 0x2A63

/* "00001826-0000-1000-8000-00805f9b34fb" (lower case, as BlueZ writes them). */
char *wu_bluez_uuid_from_16 (guint16 uuid16);
/* The 16-bit alias of a Bluetooth base UUID (any case); FALSE for any other UUID. */
gboolean wu_bluez_uuid_to_16 (const char *uuid, guint16 *uuid16);

typedef struct WuBluez WuBluez;
typedef struct WuBluezLink WuBluezLink;

/* ADAPTER: "hci0", or an adapter's address; NULL or "": the first powered adapter. */
WuBluez *wu_bluez_new (const char *adapter);
/* Connect to the system bus and follow org.bluez. */
void wu_bluez_start (WuBluez *bluez);
/* Free the links (wu_bluez_link_free) before the manager. */
void wu_bluez_free (WuBluez *bluez);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuBluez, wu_bluez_free)

/* A device not linked yet that a watch matches, offering SERVICE (the first of the
 * watch's services it offers). The watch takes it by making a link for ADDRESS (during the
 * call); not taking it is fine too. */
typedef void (*WuBluezFoundFunc) (gpointer user_data, const char *address, const char *name,
                                  guint16 service);

/* The device with ADDRESS, taken by this watch, now offers a service an earlier watch
 * wants: free its link (during the call) and the earlier watch is offered it. */
typedef void (*WuBluezReleaseFunc) (gpointer user_data, const char *address);

/* Want devices offering one of SERVICES (16-bit; the earlier ones preferred). ADDRESSES
 * (NULL or empty: any such device) restricts the watch to those. Discovery runs while fewer
 * than WANT of the watch's devices are linked; at most ACCEPT are offered. A device the
 * watch took that bluetoothd drops is searched for again only when WANT > 0.
 * Watches are in order of precedence: a device that an earlier watch lists, or that offers
 * one of an earlier watch's services, is never offered to a later one; a device a later
 * watch took that comes to offer a service an earlier one wants (and has room for) is
 * released (RELEASE, NULL: never) and offered to that one. */
void wu_bluez_add_watch (WuBluez *bluez, const guint16 *services, guint n_services,
                         const char *const *addresses, guint want, guint accept,
                         WuBluezFoundFunc found, WuBluezReleaseFunc release,
                         gpointer user_data);

typedef enum {
  WU_BLUEZ_CHAR_READ,       /* ReadValue once per connection, delivered before notifications */
  WU_BLUEZ_CHAR_NOTIFY,     /* AcquireNotify, else StartNotify + PropertiesChanged(Value) */
  WU_BLUEZ_CHAR_INDICATE,   /* StartNotify (indications), writable: a control point */
} WuBluezCharMode;

typedef struct {
  guint16 uuid;
  WuBluezCharMode mode;
  gboolean required;        /* the link cannot work without it */
} WuBluezCharSpec;

typedef struct {
  /* Connected, characteristics found, reads done, subscriptions made. */
  void (*up) (gpointer user_data);
  /* A read (right after up), a notification or an indication. */
  void (*value) (gpointer user_data, guint16 uuid, const guint8 *data, gsize len);
  /* The link was up and is not any more (REASON for the log and Sensor1 Error). */
  void (*down) (gpointer user_data, const char *reason);
  /* Trouble for Sensor1 Error (NULL: cleared, the link is up again). */
  void (*error) (gpointer user_data, const char *message);
} WuBluezLinkCallbacks;

/* Follow the device with ADDRESS offering SERVICE; CHARS (copied) name what to use there.
 * Connecting starts at once when the device is known, else when discovery finds it (a link
 * made for a watch's offer is searched for as that watch says). */
WuBluezLink *wu_bluez_link_new (WuBluez *bluez, const char *address, guint16 service,
                                const WuBluezCharSpec *chars, guint n_chars,
                                const WuBluezLinkCallbacks *callbacks, gpointer user_data);
/* Stops the notifications and forgets the device (it is not disconnected: other clients
 * of bluetoothd may use it). */
void wu_bluez_link_free (WuBluezLink *link);

gboolean wu_bluez_link_is_up (WuBluezLink *link);
/* Whether the device has the characteristic (meaningful once up). */
gboolean wu_bluez_link_has_char (WuBluezLink *link, guint16 uuid);

/* The write's outcome: ERROR NULL when bluetoothd had it acknowledged by the device;
 * G_IO_ERROR_PERMISSION_DENIED when the device or bluetoothd refused it (not permitted, not
 * paired, not supported): writing again on this connection fails alike. */
typedef void (*WuBluezWriteDone) (gpointer user_data, const GError *error);
/* Write with response (a control point request). DONE is not called when the link goes
 * down first (the down callback tells). FALSE with ERROR when the link is not up or the
 * characteristic is missing. */
gboolean wu_bluez_link_write (WuBluezLink *link, guint16 uuid, const guint8 *data, gsize len,
                              WuBluezWriteDone done, gpointer done_data, GError **error);
/* The link looks broken (no answers): disconnect and go through the reconnection path. */
void wu_bluez_link_reconnect (WuBluezLink *link, const char *reason);

G_END_DECLS
