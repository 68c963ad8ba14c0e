/* The FTMS control session: how warmupd holds a smart bike at its resistance cap through the
 * Fitness Machine Control Point (0x2AD9). Pure, like the controller: no I/O, no clock of its
 * own. The FTMS source feeds it what BlueZ reports (link up/down, the Feature and range
 * reads, control point indications, status notifications) and the controller's wishes
 * (apply a cap, release), plus clock ticks; it answers with actions: the bytes to write to
 * the control point, mode changes, "the link looks dead", "released", and log lines.
 *
 * Rules (FTMS 1.0 and issue 3):
 * - One request in flight at a time; each is answered by a 0x80 indication.
 * - Capping: Request Control (0x00), Start/Resume (0x07) unless the bike is known to be
 *   running, then the target: Set Target Resistance Level (0x04) when the feature bits allow
 *   it (UINT8 0.1 per spec; on Invalid Parameter once more as SINT16, remembered for this
 *   bike); else Indoor Bike Simulation (0x11) with grade 0 (a flat road); else Set Target
 *   Power (0x05) at power_cap_w; else advisory (nothing written but, when a reload takes
 *   the power cap away from a bike held by our power target, one Reset to hand it back,
 *   sent and answered as at a release).
 * - Op Code Not Supported / Invalid Parameter for a target: fall back to the next mode.
 *   Operation Failed: the same request again after 2 s, at most 3 retries (then Start/Resume
 *   is done without; anything else waits for the next cap or reconnect). Control Not
 *   Permitted: back off 3 s, then request control again. No answer in 3 s: send it once
 *   more; no answer again: WU_FTMS_ACTION_LINK_SUSPECT (the session then waits for
 *   wu_ftms_session_disconnected()/connected()).
 * - Status 0x07 (target resistance) above the cap, 0x08 (target power) above the power
 *   cap, or 0x12 with a grade other than 0, while capping: the target is written again at
 *   once. 0xFF (control permission lost) or 0x01 (reset, not ours): control is requested
 *   again and the target re-applied. 0x04 (started by user): the target is re-applied.
 * - Status 0x02 / 0x03 (stopped or paused at the console, the safety key): nothing is
 *   written (not ours to restart the bike) until 0x04, or until the answer to a Start/Resume
 *   that was in flight when the stop came: that answer is the newer word. A new cap (the
 *   next warm-up: the rider rides again) ends a stop from before it too, 0x04 or not, and
 *   so does the warm-up resuming on sustained pedalling (wu_ftms_session_ride_resumed).
 * - Pacing: the same target is written again no sooner than 1 s after it was last written
 *   (deferred on the session's deadline, never skipped), so a bike echoing every write
 *   with a target above the cap is not flooded; a different target goes at once, and after
 *   a reset, control lost, link lost or a release the first target is not a re-write.
 * - Reconnect: control is requested again and the target re-applied.
 * - Release: Reset (0x01), which also hands control back; its answer starts the bike afresh
 *   (a console stop is forgotten, as on a reset status). WU_FTMS_ACTION_RELEASED when that
 *   answer arrives, on its timeout, on disconnect, or at once when control was never held.
 *   A request left unanswered while releasing (control may be ours, or just granted) is
 *   not sent again: the Reset follows all the same, once.
 *
 * Times are microseconds on the caller's monotonic clock (never going back). Call
 * wu_ftms_session_tick() at wu_ftms_session_next_deadline() (or later) so timers fire. */
#pragma once
#include <glib.h>
#include "wu-ftms.h"

G_BEGIN_DECLS

typedef enum {
  WU_FTMS_MODE_NONE,         /* not capping (released, or nothing asked yet) */
  WU_FTMS_MODE_PENDING,      /* capping wished, the way to do it not known yet (no Feature) */
  WU_FTMS_MODE_RESISTANCE,   /* capped by Set Target Resistance Level */
  WU_FTMS_MODE_SIMULATION,   /* a flat road through Indoor Bike Simulation */
  WU_FTMS_MODE_POWER,        /* Set Target Power at power_cap_w */
  WU_FTMS_MODE_ADVISORY,     /* the bike takes none of these: the rider is told, nothing set */
} WuFtmsMode;

const char *wu_ftms_mode_to_string (WuFtmsMode mode);
/* "none", "pending", "resistance", "simulation", "power", "advisory" */

typedef struct {
  double power_cap_w;            /* for power-target bikes; < 0: none (then advisory) */
  gint64 response_timeout_us;    /* no answer after this: resend once, then suspect (3 s) */
  gint64 failed_retry_us;        /* Operation Failed: retry after this (2 s) ... */
  guint failed_retries;          /* ... at most this many times (3) */
  gint64 not_permitted_backoff_us; /* Control Not Permitted: request again after this (3 s) */
  WuFtmsSimulation flat_road;    /* what "flat road" means: wind 0, grade 0, crr 0.004,
                                    cw 0.51 kg/m */
} WuFtmsSessionConfig;

void wu_ftms_session_config_init (WuFtmsSessionConfig *config);   /* the defaults above */

typedef enum {
  WU_FTMS_ACTION_WRITE,          /* write .request to the control point (with response) */
  WU_FTMS_ACTION_MODE,           /* .old_mode -> .new_mode (publish it; advisory: tell) */
  WU_FTMS_ACTION_LINK_SUSPECT,   /* the bike stopped answering: drop the link, reconnect */
  WU_FTMS_ACTION_RELEASED,       /* the release is done (the source may stop notifications) */
  WU_FTMS_ACTION_LOG,            /* .log_level, .message: a line for the journal */
} WuFtmsActionKind;

#define WU_FTMS_MESSAGE_MAX 160
typedef struct {
  WuFtmsActionKind kind;
  WuFtmsRequest request;         /* WRITE */
  WuFtmsMode old_mode, new_mode; /* MODE */
  GLogLevelFlags log_level;      /* LOG: G_LOG_LEVEL_MESSAGE, _WARNING, _DEBUG */
  char message[WU_FTMS_MESSAGE_MAX];
} WuFtmsAction;

#define WU_FTMS_ACTIONS_MAX 12
typedef struct {
  guint n;
  WuFtmsAction items[WU_FTMS_ACTIONS_MAX];
} WuFtmsActions;

void wu_ftms_actions_clear (WuFtmsActions *actions);

typedef struct WuFtmsSession WuFtmsSession;

WuFtmsSession *wu_ftms_session_new (const WuFtmsSessionConfig *config);
void wu_ftms_session_free (WuFtmsSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuFtmsSession, wu_ftms_session_free)

/* A reload. Another power cap is written at once when the bike is held by a power target
 * (after the request in flight, if any), so a lowered one is not left waiting for the next
 * re-cap; none (< 0) makes such a bike advisory and hands it back at once with a Reset (as
 * a release does, without WU_FTMS_ACTION_RELEASED), and one again takes it back (Request
 * Control, Start/Resume, the target). */
void wu_ftms_session_set_config (WuFtmsSession *session, gint64 now_us,
                                 const WuFtmsSessionConfig *config, WuFtmsActions *out);

/* Every input below first fires the timers due at or before NOW, then applies the input;
 * OUT is appended to (wu_ftms_actions_clear() it first). */

/* The link: connected means services resolved and the control point's indications on. */
void wu_ftms_session_connected (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out);
void wu_ftms_session_disconnected (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out);

/* The reads of 0x2ACC, 0x2AD6, 0x2AD8 (decode them with wu-ftms.h). Until the Feature is
 * known a cap wish waits in WU_FTMS_MODE_PENDING; a failed Feature read should be passed
 * as all zeros (advisory). The ranges are optional: they clamp and step the targets. */
void wu_ftms_session_set_feature (WuFtmsSession *session, gint64 now_us,
                                  const WuFtmsFeature *feature, WuFtmsActions *out);
void wu_ftms_session_set_resistance_range (WuFtmsSession *session, const WuFtmsRange *range);
void wu_ftms_session_set_power_range (WuFtmsSession *session, const WuFtmsRange *range);

/* The controller's WU_ACTION_CAP (level already resolved from Cap= and the range) and
 * WU_ACTION_RELEASE. Applying the cap that is already queued or in flight writes nothing
 * more; applying it again once settled writes it again (a re-assertion). A cap after none
 * or a release (a new warm-up) ends a console stop: Start/Resume, then the target. */
void wu_ftms_session_apply_cap (WuFtmsSession *session, gint64 now_us, double level,
                                WuFtmsActions *out);
void wu_ftms_session_release (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out);
/* The controller's WU_ACTION_CAP marked .resume: the warm-up resumed on sustained pedalling
 * after a console stop, the rider rides again. A console stop is over, 0x04 or not (a bike
 * may never send it): Start/Resume, then the target (the apply_cap that follows). Without
 * a console stop: nothing. */
void wu_ftms_session_ride_resumed (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out);

/* Raw control point indication / status notification bytes. FALSE (WU_ERROR_MALFORMED)
 * when they cannot be decoded: count them in DroppedPackets; nothing else changes. An
 * indication that answers no request in flight is logged and ignored (TRUE). */
gboolean wu_ftms_session_indication (WuFtmsSession *session, gint64 now_us,
                                     const guint8 *buf, gsize len, WuFtmsActions *out,
                                     GError **error);
gboolean wu_ftms_session_status (WuFtmsSession *session, gint64 now_us, const guint8 *buf,
                                 gsize len, WuFtmsActions *out, GError **error);

/* The control point write itself failed (a D-Bus error from WriteValue): handled like a
 * request that got no answer. */
void wu_ftms_session_write_failed (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out);
/* The control point write was refused (not permitted, not paired: the same on every write
 * on this connection): the bike cannot be set on this connection, the session goes
 * advisory until the next one (wu_ftms_session_connected) and a Feature that names
 * targets. A refused Reset or hand-back is given up as one that got no answer. */
void wu_ftms_session_write_refused (WuFtmsSession *session, gint64 now_us,
                                   WuFtmsActions *out);

void wu_ftms_session_tick (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out);
/* When the session next needs a tick (G_MAXINT64: nothing pending). */
gint64 wu_ftms_session_next_deadline (const WuFtmsSession *session);

WuFtmsMode wu_ftms_session_get_mode (const WuFtmsSession *session);
gboolean wu_ftms_session_has_control (const WuFtmsSession *session);
/* TRUE once Invalid Parameter taught that this bike wants SINT16 resistance levels. */
gboolean wu_ftms_session_uses_s16_resistance (const WuFtmsSession *session);
/* TRUE while a request is written and not yet answered. */
gboolean wu_ftms_session_busy (const WuFtmsSession *session);

G_END_DECLS
