/* The FTMS control session: a pure state machine over the Fitness Machine Control Point.
 * See include/wu-ftms-session.h for the rules it follows.
 *
 * The session does not queue requests. It keeps what the controller wants (a cap, a
 * release) and what it believes about the bike (control held, running, target in place);
 * whenever nothing is in flight, pump() derives the one next request from the difference.
 * A retry is therefore just "the same difference, later", and a status notification that
 * contradicts a belief (control lost, target moved) simply clears the belief. */
#include "wu-ftms-session.h"
#include "wu-error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum {
  WISH_NONE,      /* nothing asked, or the last release is done */
  WISH_CAP,       /* hold the bike at cap_level */
  WISH_RELEASE,   /* hand the bike back (Reset), then report WU_FTMS_ACTION_RELEASED */
} Wish;

/* The request kinds the session sends; one is in flight at a time. */
typedef enum {
  STEP_NONE,
  STEP_REQUEST_CONTROL,
  STEP_START,
  STEP_TARGET,
  STEP_RESET,
} Step;

/* A simulated road's rolling resistance and drag, as a bike reports them. */
typedef struct {
  double crr;
  double cw_kg_per_m;
} WuRoadCoefficients;

/* How many pairs of its own a bike may go through in turn and still be re-capped once for
 * each (a bike that has more is rewritten at most once a second: TARGET_REWRITE_US). */
#define RECAPPED_PAIRS 4

struct WuFtmsSession {
  WuFtmsSessionConfig config;
  gint64 now_us;

  /* What the bike told us (reads). */
  gboolean feature_known;
  WuFtmsFeature feature;
  gboolean resistance_range_known, power_range_known;
  WuFtmsRange resistance_range, power_range;

  /* What this bike taught us; kept across reconnects. */
  gboolean s16_resistance;       /* wants SINT16 resistance levels */
  guint32 refused_modes;         /* bit per WuFtmsMode the bike refused */

  /* What the controller wants. */
  Wish wish;
  double cap_level;
  WuFtmsMode mode;

  /* What we believe about the bike (cleared on link loss). */
  gboolean connected;
  gboolean suspect;              /* LINK_SUSPECT sent; waiting for the link to cycle */
  gboolean have_control;
  gboolean reset_owed;           /* an answer was lost while releasing: control may still be
                                    ours (or just granted), so the Reset goes all the same */
  gboolean hand_back_owed;       /* a reload took the power cap away while a power target of
                                    ours held the bike: one Reset hands it back */
  gboolean running;              /* Start/Resume answered, or started by the user */
  /* The heavier coefficients (crr, cw) re-capped since the bike was taken, the last
   * RECAPPED_PAIRS of them: a bike that reports its own (a pair, or a few in turn) is
   * re-capped once for each, not every second; other heavier ones are again. */
  WuRoadCoefficients recapped[RECAPPED_PAIRS];
  guint n_recapped;
  gboolean user_stopped;         /* stopped or paused at the bike: not ours to restart */
  gboolean target_applied;
  guint target_epoch;            /* bumped whenever the target must be written again */

  /* The request in flight. */
  Step in_flight;
  WuFtmsRequest request;
  guint request_epoch;           /* target_epoch when a STEP_TARGET was sent */
  gint64 sent_us;
  gboolean resent;               /* already sent once more after a timeout */

  /* A pause before the next request (Operation Failed, Control Not Permitted). */
  gint64 wait_until_us;          /* G_MAXINT64: none */
  Step last_step;                /* the step failed_count counts for */
  guint failed_count;            /* Operation Failed answers to last_step */
  gboolean stalled;              /* gave up on last_step until something new happens */
  guint not_permitted_count;

  /* The same target is written again no sooner than TARGET_REWRITE_US after it was last
   * written (a bike that echoes every write with a target "above the cap", e.g. one that
   * clamps 0 to 1.0, would otherwise be written to as fast as it answers). Never skipped:
   * the write waits for repace_until_us. A different target goes at once. */
  WuFtmsRequest last_target;     /* len 0: none written yet */
  gint64 last_target_us;
  gint64 repace_until_us;        /* G_MAXINT64: no write waiting */
};

#define TARGET_REWRITE_US G_USEC_PER_SEC

static void pump (WuFtmsSession *session, WuFtmsActions *out);

/* ---- names, config, actions ---------------------------------------------------------- */

const char *
wu_ftms_mode_to_string (WuFtmsMode mode)
{
  switch (mode)
    {
    case WU_FTMS_MODE_NONE: return "none";
    case WU_FTMS_MODE_PENDING: return "pending";
    case WU_FTMS_MODE_RESISTANCE: return "resistance";
    case WU_FTMS_MODE_SIMULATION: return "simulation";
    case WU_FTMS_MODE_POWER: return "power";
    case WU_FTMS_MODE_ADVISORY: return "advisory";
    default: return "unknown";
    }
}

void
wu_ftms_session_config_init (WuFtmsSessionConfig *config)
{
  g_return_if_fail (config != NULL);
  *config = (WuFtmsSessionConfig) {
    .power_cap_w = 100,
    .response_timeout_us = 3 * G_USEC_PER_SEC,
    .failed_retry_us = 2 * G_USEC_PER_SEC,
    .failed_retries = 3,
    .not_permitted_backoff_us = 3 * G_USEC_PER_SEC,
    /* A flat road with an ordinary rolling resistance and drag: the easiest ride. */
    .flat_road = { .wind_speed_mps = 0, .grade_percent = 0, .crr = 0.004, .cw_kg_per_m = 0.51 },
  };
}

void
wu_ftms_actions_clear (WuFtmsActions *actions)
{
  g_return_if_fail (actions != NULL);
  actions->n = 0;
}

static void
append_action (WuFtmsActions *out, const WuFtmsAction *action)
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (out->n < WU_FTMS_ACTIONS_MAX);
  out->items[out->n++] = *action;
}

G_GNUC_PRINTF (3, 4)
static void
emit_log (WuFtmsActions *out, GLogLevelFlags level, const char *format, ...)
{
  WuFtmsAction action = { .kind = WU_FTMS_ACTION_LOG, .log_level = level };
  va_list args;

  va_start (args, format);
  g_vsnprintf (action.message, sizeof action.message, format, args);
  va_end (args);
  append_action (out, &action);
}

static void
emit_write (WuFtmsActions *out, const WuFtmsRequest *request)
{
  append_action (out, &(WuFtmsAction) { .kind = WU_FTMS_ACTION_WRITE, .request = *request });
}

static void
emit_simple (WuFtmsActions *out, WuFtmsActionKind kind)
{
  append_action (out, &(WuFtmsAction) { .kind = kind });
}

static gint64
add_us (gint64 t, gint64 d)
{
  if (d > 0 && t > G_MAXINT64 - d)
    return G_MAXINT64;
  return t + d;
}

/* ---- beliefs ------------------------------------------------------------------------- */

static void
invalidate_target (WuFtmsSession *session)
{
  session->target_applied = FALSE;
  session->target_epoch++;
}

/* The bike holds none of our targets any more (reset, control lost, link lost, released):
 * the next one is not a re-write, and goes at once. */
static void
forget_last_target (WuFtmsSession *session)
{
  session->last_target.len = 0;
  session->last_target_us = G_MININT64;
  session->repace_until_us = G_MAXINT64;
}

/* The bike no longer knows us: control, running and target must all be established again. */
static void
forget_bike_state (WuFtmsSession *session)
{
  session->have_control = FALSE;
  session->reset_owed = FALSE;
  session->hand_back_owed = FALSE;
  session->running = FALSE;
  session->user_stopped = FALSE;
  session->n_recapped = 0;
  invalidate_target (session);
  forget_last_target (session);
}

/* A Reset (ours answered or lost, or the bike's own) or control taken back: the bike is
 * taken afresh next time (control, Start/Resume, the target). But a stop the rider made at
 * the console, or with the safety key, outlives it: ours to restart only once the rider
 * rides again (ride_resumed, or the bike's "started by user"). */
static void
forget_bike_keeping_user_stop (WuFtmsSession *session)
{
  gboolean stopped = session->user_stopped;

  forget_bike_state (session);
  session->user_stopped = stopped;
}

/* Whether a release has to write the Reset to hand the bike back. */
static gboolean
may_hold_control (const WuFtmsSession *session)
{
  return session->have_control || session->reset_owed;
}

static gboolean
writes_targets (WuFtmsMode mode)
{
  return mode == WU_FTMS_MODE_RESISTANCE || mode == WU_FTMS_MODE_SIMULATION ||
         mode == WU_FTMS_MODE_POWER;
}

/* Whether the bike is to be handed back (Reset): at a release, and once a reload took the
 * power cap away from a bike held by our power target (advisory now: the old target must
 * not stay on the bike). Both go the same way: one Reset when control may be ours, its
 * answer (or timeout) forgets the bike. Only then: an advisory mode met otherwise (every
 * target refused, a link set up again) keeps whatever last held the bike low. */
static gboolean
handing_back (const WuFtmsSession *session)
{
  return session->wish == WISH_RELEASE ||
         (session->wish == WISH_CAP && session->hand_back_owed
          && !writes_targets (session->mode));
}

static void
clear_request (WuFtmsSession *session)
{
  session->in_flight = STEP_NONE;
  session->resent = FALSE;
}

static void
clear_wait (WuFtmsSession *session)
{
  session->wait_until_us = G_MAXINT64;
}

static void
wait_before_next (WuFtmsSession *session, gint64 delay_us)
{
  session->wait_until_us = add_us (session->now_us, delay_us);
}

/* Something new happened (a new wish, a new link, the bike changed): try again. */
static void
unstall (WuFtmsSession *session)
{
  session->stalled = FALSE;
  session->failed_count = 0;
}

/* ---- mode ---------------------------------------------------------------------------- */

static gboolean
mode_possible (const WuFtmsSession *session, WuFtmsMode mode)
{
  guint32 targets = session->feature.target_setting_features;

  if (session->refused_modes & (1u << mode))
    return FALSE;
  switch (mode)
    {
    case WU_FTMS_MODE_RESISTANCE: return (targets & WU_FTMS_TARGET_RESISTANCE) != 0;
    case WU_FTMS_MODE_SIMULATION:
      return (targets & WU_FTMS_TARGET_INDOOR_BIKE_SIMULATION) != 0;
    case WU_FTMS_MODE_POWER:
      return (targets & WU_FTMS_TARGET_POWER) != 0 && session->config.power_cap_w >= 0;
    default: return FALSE;
    }
}

static WuFtmsMode
choose_mode (const WuFtmsSession *session)
{
  static const WuFtmsMode preference[] = { WU_FTMS_MODE_RESISTANCE, WU_FTMS_MODE_SIMULATION,
                                           WU_FTMS_MODE_POWER };

  if (session->wish != WISH_CAP)
    return session->wish == WISH_RELEASE ? session->mode : WU_FTMS_MODE_NONE;
  if (!session->feature_known)
    return WU_FTMS_MODE_PENDING;
  for (gsize i = 0; i < G_N_ELEMENTS (preference); i++)
    if (mode_possible (session, preference[i]))
      return preference[i];
  return WU_FTMS_MODE_ADVISORY;
}

static void
log_mode (const WuFtmsSession *session, WuFtmsMode old_mode, WuFtmsActions *out)
{
  switch (session->mode)
    {
    case WU_FTMS_MODE_ADVISORY:
      emit_log (out, G_LOG_LEVEL_MESSAGE,
                "control mode %s -> advisory: the bike takes no resistance, simulation or "
                "power target; the rider is told the cap", wu_ftms_mode_to_string (old_mode));
      break;
    case WU_FTMS_MODE_SIMULATION:
      emit_log (out, G_LOG_LEVEL_MESSAGE,
                "control mode %s -> simulation: no resistance target, a flat road instead",
                wu_ftms_mode_to_string (old_mode));
      break;
    case WU_FTMS_MODE_POWER:
      emit_log (out, G_LOG_LEVEL_MESSAGE,
                "control mode %s -> power: only power targets, %.0f W",
                wu_ftms_mode_to_string (old_mode), session->config.power_cap_w);
      break;
    default:
      emit_log (out, G_LOG_LEVEL_DEBUG, "control mode %s -> %s",
                wu_ftms_mode_to_string (old_mode), wu_ftms_mode_to_string (session->mode));
      break;
    }
}

static void
update_mode (WuFtmsSession *session, WuFtmsActions *out)
{
  WuFtmsMode old_mode = session->mode, new_mode = choose_mode (session);

  if (new_mode == old_mode)
    return;
  session->mode = new_mode;
  if (writes_targets (new_mode))
    session->hand_back_owed = FALSE;   /* a target of ours again: nothing to hand back */
  invalidate_target (session);
  unstall (session);
  append_action (out, &(WuFtmsAction) { .kind = WU_FTMS_ACTION_MODE, .old_mode = old_mode,
                                        .new_mode = new_mode });
  log_mode (session, old_mode, out);
}

/* The bike said no to this way of capping: use the next one. */
static void
refuse_mode (WuFtmsSession *session, const char *why, WuFtmsActions *out)
{
  emit_log (out, G_LOG_LEVEL_WARNING, "the bike refused the %s target (%s); trying the next way",
            wu_ftms_mode_to_string (session->mode), why);
  session->refused_modes |= 1u << session->mode;
  update_mode (session, out);
}

/* ---- encoding the target --------------------------------------------------------------- */

/* What is written: fitted onto the range the bike reported and the field's resolution,
 * never above the wish (see wu_ftms_fit_target; the controller fits its cap the same way). */
static double
resistance_target (const WuFtmsSession *session)
{
  return wu_ftms_fit_target (session->cap_level,
                             session->resistance_range_known ? &session->resistance_range : NULL,
                             WU_FTMS_RESISTANCE_RESOLUTION);
}

static double
power_target (const WuFtmsSession *session)
{
  return wu_ftms_fit_target (session->config.power_cap_w,
                             session->power_range_known ? &session->power_range : NULL,
                             WU_FTMS_POWER_RESOLUTION);
}

static gboolean
encode_resistance (WuFtmsSession *session, WuFtmsRequest *req, WuFtmsActions *out)
{
  g_autoptr (GError) error = NULL;
  double level = resistance_target (session);

  if (!session->s16_resistance &&
      wu_ftms_encode_set_target_resistance (req, level, NULL))
    return TRUE;
  if (wu_ftms_encode_set_target_resistance_s16 (req, level, &error))
    return TRUE;
  emit_log (out, G_LOG_LEVEL_WARNING, "cannot encode the resistance target: %s",
            error->message);
  return FALSE;
}

static gboolean
encode_target (WuFtmsSession *session, WuFtmsRequest *req, WuFtmsActions *out)
{
  g_autoptr (GError) error = NULL;
  gboolean ok;

  switch (session->mode)
    {
    case WU_FTMS_MODE_RESISTANCE:
      return encode_resistance (session, req, out);
    case WU_FTMS_MODE_SIMULATION:
      ok = wu_ftms_encode_set_indoor_bike_simulation (req, &session->config.flat_road, &error);
      break;
    case WU_FTMS_MODE_POWER:
      ok = wu_ftms_encode_set_target_power (req, power_target (session), &error);
      break;
    default:
      g_return_val_if_reached (FALSE);
    }
  if (!ok)
    emit_log (out, G_LOG_LEVEL_WARNING, "cannot encode the %s target: %s",
              wu_ftms_mode_to_string (session->mode), error->message);
  return ok;
}

/* ---- sending ------------------------------------------------------------------------- */

static void
log_request (WuFtmsActions *out, const WuFtmsRequest *req, const char *why)
{
  char hex[3 * WU_FTMS_REQUEST_MAX + 1] = "";

  for (guint i = 0; i < req->len; i++)
    g_snprintf (hex + 3 * i, sizeof hex - 3 * i, "%02x ", req->bytes[i]);
  if (req->len > 0)
    hex[3 * req->len - 1] = '\0';   /* no trailing space */
  emit_log (out, G_LOG_LEVEL_DEBUG, "control point <- %s (%s)%s",
            wu_ftms_opcode_to_string (req->bytes[0]), hex, why);
}

static void
send_request (WuFtmsSession *session, Step step, const WuFtmsRequest *req, WuFtmsActions *out)
{
  if (step != session->last_step)
    {
      session->last_step = step;
      session->failed_count = 0;
    }
  if (step == STEP_RESET)
    session->reset_owed = FALSE;   /* the Reset owed is on its way; its own timeout gives up */
  session->in_flight = step;
  session->request = *req;
  session->request_epoch = session->target_epoch;
  session->sent_us = session->now_us;
  session->resent = FALSE;
  log_request (out, req, "");
  emit_write (out, req);
}

/* The next request the difference between wish and belief calls for. */
static Step
next_step (const WuFtmsSession *session)
{
  if (!session->connected || session->suspect || session->in_flight != STEP_NONE)
    return STEP_NONE;
  if (handing_back (session))
    return may_hold_control (session) ? STEP_RESET : STEP_NONE;
  if (session->wish != WISH_CAP || session->stalled ||
      session->wait_until_us != G_MAXINT64 || !writes_targets (session->mode))
    return STEP_NONE;
  if (!session->have_control)
    return STEP_REQUEST_CONTROL;
  if (session->user_stopped)
    return STEP_NONE;   /* the rider stopped the bike; the target follows when it restarts */
  if (!session->running)
    return STEP_START;
  if (!session->target_applied)
    return STEP_TARGET;
  return STEP_NONE;
}

static void
finish_release (WuFtmsSession *session, WuFtmsActions *out)
{
  WuFtmsMode old_mode = session->mode;

  session->wish = WISH_NONE;
  session->have_control = FALSE;
  session->reset_owed = FALSE;
  session->hand_back_owed = FALSE;
  session->running = FALSE;
  invalidate_target (session);
  forget_last_target (session);
  clear_wait (session);
  if (old_mode != WU_FTMS_MODE_NONE)
    {
      session->mode = WU_FTMS_MODE_NONE;
      append_action (out, &(WuFtmsAction) { .kind = WU_FTMS_ACTION_MODE, .old_mode = old_mode,
                                            .new_mode = WU_FTMS_MODE_NONE });
    }
  emit_log (out, G_LOG_LEVEL_MESSAGE, "bike released");
  emit_simple (out, WU_FTMS_ACTION_RELEASED);
}

static void
pump (WuFtmsSession *session, WuFtmsActions *out)
{
  WuFtmsRequest req;
  Step step;

  update_mode (session, out);
  if (session->wish == WISH_RELEASE && session->in_flight == STEP_NONE &&
      (!session->connected || session->suspect || !may_hold_control (session)))
    {
      finish_release (session, out);
      return;
    }

  step = next_step (session);
  switch (step)
    {
    case STEP_NONE:
      return;
    case STEP_REQUEST_CONTROL:
      wu_ftms_encode_request_control (&req);
      break;
    case STEP_START:
      wu_ftms_encode_start_resume (&req);
      break;
    case STEP_RESET:
      wu_ftms_encode_reset (&req);
      break;
    case STEP_TARGET:
      if (!encode_target (session, &req, out))
        {
          refuse_mode (session, "not encodable", out);
          pump (session, out);
          return;
        }
      if (req.len == session->last_target.len &&
          memcmp (req.bytes, session->last_target.bytes, req.len) == 0 &&
          session->now_us < add_us (session->last_target_us, TARGET_REWRITE_US))
        {
          /* the same target, written less than a second ago: again at that second */
          if (session->repace_until_us == G_MAXINT64)
            emit_log (out, G_LOG_LEVEL_DEBUG, "the same target again in %.2f s",
                      (add_us (session->last_target_us, TARGET_REWRITE_US) - session->now_us)
                      / (double) G_USEC_PER_SEC);
          session->repace_until_us = add_us (session->last_target_us, TARGET_REWRITE_US);
          return;
        }
      session->last_target = req;
      session->last_target_us = session->now_us;
      session->repace_until_us = G_MAXINT64;
      break;
    default:
      g_return_if_reached ();
    }
  send_request (session, step, &req, out);
}

/* ---- time ---------------------------------------------------------------------------- */

static void
on_no_answer (WuFtmsSession *session, const char *what, WuFtmsActions *out)
{
  Step step = session->in_flight;

  if (step == STEP_RESET)
    {
      emit_log (out, G_LOG_LEVEL_WARNING, "control point: %s for %s; releasing anyway",
                what, wu_ftms_opcode_to_string (session->request.bytes[0]));
      clear_request (session);
      session->have_control = FALSE;
      /* handed back mid warm-up: whatever the bike did, taking it again starts afresh
       * (control, Start/Resume, the target) */
      if (session->wish == WISH_CAP)
        forget_bike_keeping_user_stop (session);
      return;
    }
  if (handing_back (session))
    {
      /* Whatever was lost, the bike may still be ours: hand it back before giving up
       * (not the lost request again: it may be a target the bike must not keep). */
      emit_log (out, G_LOG_LEVEL_WARNING, "control point: %s for %s while handing the bike "
                "back; resetting anyway", what,
                wu_ftms_opcode_to_string (session->request.bytes[0]));
      clear_request (session);
      session->reset_owed = TRUE;
      return;
    }
  if (!session->resent)
    {
      emit_log (out, G_LOG_LEVEL_MESSAGE, "control point: %s for %s; sending it once more",
                what, wu_ftms_opcode_to_string (session->request.bytes[0]));
      session->sent_us = session->now_us;
      session->resent = TRUE;
      emit_write (out, &session->request);
      return;
    }
  emit_log (out, G_LOG_LEVEL_WARNING, "control point: %s for %s again; the link is suspect",
            what, wu_ftms_opcode_to_string (session->request.bytes[0]));
  clear_request (session);
  session->suspect = TRUE;
  forget_bike_state (session);
  emit_simple (out, WU_FTMS_ACTION_LINK_SUSPECT);
}

static gint64
response_deadline (const WuFtmsSession *session)
{
  if (session->in_flight == STEP_NONE)
    return G_MAXINT64;
  return add_us (session->sent_us, session->config.response_timeout_us);
}

static gint64
session_deadline (const WuFtmsSession *session)
{
  return MIN (MIN (response_deadline (session), session->wait_until_us),
              session->repace_until_us);
}

/* Fire every timer due at or before now_us, then take now_us as the present. */
static void
advance_to (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out)
{
  now_us = MAX (now_us, session->now_us);
  for (;;)
    {
      gint64 deadline = session_deadline (session);

      if (deadline > now_us)
        break;
      session->now_us = deadline;
      if (deadline == response_deadline (session))
        on_no_answer (session, "no answer", out);
      else if (deadline == session->wait_until_us)
        clear_wait (session);
      else
        session->repace_until_us = G_MAXINT64;   /* the paced write: pump writes it now */
      pump (session, out);
    }
  session->now_us = now_us;
}

void
wu_ftms_session_tick (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out)
{
  g_return_if_fail (session != NULL);
  advance_to (session, now_us, out);
  pump (session, out);
}

gint64
wu_ftms_session_next_deadline (const WuFtmsSession *session)
{
  g_return_val_if_fail (session != NULL, G_MAXINT64);
  return session_deadline (session);
}

/* ---- the link and the reads ---------------------------------------------------------- */

void
wu_ftms_session_connected (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out)
{
  g_return_if_fail (session != NULL);
  advance_to (session, now_us, out);
  emit_log (out, G_LOG_LEVEL_DEBUG, "control link %s -> up",
            session->connected ? (session->suspect ? "suspect" : "up") : "down");
  session->connected = TRUE;
  session->suspect = FALSE;
  clear_request (session);
  clear_wait (session);
  forget_bike_state (session);
  unstall (session);
  pump (session, out);
}

void
wu_ftms_session_disconnected (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out)
{
  g_return_if_fail (session != NULL);
  advance_to (session, now_us, out);
  if (session->connected)
    emit_log (out, G_LOG_LEVEL_DEBUG, "control link %s -> down",
              session->suspect ? "suspect" : "up");
  session->connected = FALSE;
  session->suspect = FALSE;
  clear_request (session);
  clear_wait (session);
  forget_bike_state (session);
  pump (session, out);
}

void
wu_ftms_session_set_feature (WuFtmsSession *session, gint64 now_us,
                             const WuFtmsFeature *feature, WuFtmsActions *out)
{
  g_autofree char *described = NULL;

  g_return_if_fail (session != NULL);
  g_return_if_fail (feature != NULL);
  advance_to (session, now_us, out);
  if (session->feature_known &&
      session->feature.target_setting_features == feature->target_setting_features &&
      session->feature.machine_features == feature->machine_features)
    {
      pump (session, out);
      return;
    }
  session->feature_known = TRUE;
  session->feature = *feature;
  described = wu_ftms_feature_describe (feature);
  emit_log (out, G_LOG_LEVEL_DEBUG, "bike features: %.120s", described);
  pump (session, out);
}

void
wu_ftms_session_set_resistance_range (WuFtmsSession *session, const WuFtmsRange *range)
{
  g_return_if_fail (session != NULL);
  g_return_if_fail (range != NULL);
  session->resistance_range_known = TRUE;
  session->resistance_range = *range;
}

void
wu_ftms_session_set_power_range (WuFtmsSession *session, const WuFtmsRange *range)
{
  g_return_if_fail (session != NULL);
  g_return_if_fail (range != NULL);
  session->power_range_known = TRUE;
  session->power_range = *range;
}

/* ---- the controller's wishes --------------------------------------------------------- */

static gboolean
target_pending (const WuFtmsSession *session)
{
  return !session->target_applied || session->in_flight == STEP_TARGET;
}

void
wu_ftms_session_apply_cap (WuFtmsSession *session, gint64 now_us, double level,
                           WuFtmsActions *out)
{
  g_return_if_fail (session != NULL);
  advance_to (session, now_us, out);

  /* A new cap is a new warm-up: the rider is riding again, whether or not the bike ever
   * said so (0x04). A console stop from before it (after the last warm-up, or while it
   * was released) is over; one during this warm-up still holds at a re-assertion. */
  if (session->wish != WISH_CAP && session->user_stopped)
    {
      emit_log (out, G_LOG_LEVEL_DEBUG, "a new warm-up: the console stop is over");
      session->user_stopped = FALSE;
    }
  if (session->wish == WISH_CAP && level == session->cap_level && target_pending (session))
    {
      /* the same cap is queued or in flight already: one write is enough */
    }
  else
    {
      session->cap_level = level;
      invalidate_target (session);
    }
  session->wish = WISH_CAP;
  unstall (session);
  pump (session, out);
}

void
wu_ftms_session_ride_resumed (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out)
{
  g_return_if_fail (session != NULL);
  advance_to (session, now_us, out);
  /* The rider stopped the bike at its console, then rode on long enough for the warm-up to
   * resume: they ride again, whether or not the bike ever says so (0x04). Left stopped,
   * nothing would be written and the bike would stay above the cap for the rest of the
   * warm-up. Start/Resume, then the target (bikes may drop it when stopped). */
  if (session->user_stopped)
    {
      emit_log (out, G_LOG_LEVEL_MESSAGE, "riding again after a stop at the console: "
                "starting the bike and capping it");
      session->user_stopped = FALSE;
      session->running = FALSE;
      if (session->wish == WISH_CAP)
        invalidate_target (session);
      unstall (session);
    }
  pump (session, out);
}

void
wu_ftms_session_release (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out)
{
  g_return_if_fail (session != NULL);
  advance_to (session, now_us, out);
  session->wish = WISH_RELEASE;
  clear_wait (session);   /* no more retries or back-offs: only the Reset matters now */
  pump (session, out);
}

void
wu_ftms_session_set_config (WuFtmsSession *session, gint64 now_us,
                            const WuFtmsSessionConfig *config, WuFtmsActions *out)
{
  g_return_if_fail (session != NULL);
  g_return_if_fail (config != NULL);
  advance_to (session, now_us, out);
  /* control held, or being asked for (it may be granted next) */
  if (config->power_cap_w < 0 && session->config.power_cap_w >= 0
      && session->mode == WU_FTMS_MODE_POWER
      && (may_hold_control (session) || session->in_flight == STEP_REQUEST_CONTROL))
    session->hand_back_owed = TRUE;
  else if (config->power_cap_w >= 0)
    session->hand_back_owed = FALSE;
  if (config->power_cap_w != session->config.power_cap_w)
    {
      session->refused_modes &= ~(1u << WU_FTMS_MODE_POWER);
      if (session->mode == WU_FTMS_MODE_POWER)
        {
          invalidate_target (session);
          unstall (session);
        }
    }
  session->config = *config;
  /* the new target (or mode) now, not at the next status or re-cap */
  pump (session, out);
}

/* ---- answers ------------------------------------------------------------------------- */

/* Our Start/Resume was answered: the bike runs, or says it cannot be started and is taken
 * as running. A console stop announced while it was in flight came before that answer, so
 * it is over: left set, nothing would be written until a 0x04 that may never come. */
static void
started_by_us (WuFtmsSession *session)
{
  session->running = TRUE;
  session->user_stopped = FALSE;
}

static void
on_success (WuFtmsSession *session, Step step, WuFtmsActions *out)
{
  session->failed_count = 0;
  switch (step)
    {
    case STEP_REQUEST_CONTROL:
      if (session->not_permitted_count > 0)
        emit_log (out, G_LOG_LEVEL_MESSAGE, "control granted after %u refusals",
                  session->not_permitted_count);
      session->not_permitted_count = 0;
      session->have_control = TRUE;
      break;
    case STEP_START:
      started_by_us (session);
      break;
    case STEP_TARGET:
      /* A status that moved the target while this was in flight wins: write it again. */
      if (session->request_epoch == session->target_epoch)
        session->target_applied = TRUE;
      emit_log (out, G_LOG_LEVEL_DEBUG, "%s target in place", wu_ftms_mode_to_string (session->mode));
      break;
    case STEP_RESET:
      /* The bike is reset, whether its 0x01 status came first or comes later. */
      forget_bike_keeping_user_stop (session);
      break;
    default:
      g_return_if_reached ();
    }
}

/* Op Code Not Supported, or Invalid Parameter for anything but a first UINT8 level. */
static void
on_refused (WuFtmsSession *session, Step step, const char *result, WuFtmsActions *out)
{
  switch (step)
    {
    case STEP_REQUEST_CONTROL:
      /* Some bikes take targets without it: carry on as if granted. */
      emit_log (out, G_LOG_LEVEL_MESSAGE, "the bike answered %s to request-control; "
                "carrying on without it", result);
      session->have_control = TRUE;
      break;
    case STEP_START:
      emit_log (out, G_LOG_LEVEL_MESSAGE, "the bike answered %s to start-resume; "
                "carrying on without it", result);
      started_by_us (session);
      break;
    case STEP_TARGET:
      refuse_mode (session, result, out);
      break;
    case STEP_RESET:
      session->have_control = FALSE;
      break;
    default:
      g_return_if_reached ();
    }
}

static void
on_invalid_parameter (WuFtmsSession *session, Step step, WuFtmsActions *out)
{
  if (step == STEP_TARGET && session->mode == WU_FTMS_MODE_RESISTANCE &&
      !session->s16_resistance && session->request.len == 2)
    {
      emit_log (out, G_LOG_LEVEL_MESSAGE, "the bike rejected the UINT8 resistance level; "
                "using SINT16 levels for this bike from now on");
      session->s16_resistance = TRUE;
      return;   /* pump() writes the same level again, now as SINT16 */
    }
  on_refused (session, step, "invalid-parameter", out);
}

static void
on_operation_failed (WuFtmsSession *session, Step step, WuFtmsActions *out)
{
  if (step == STEP_RESET)
    {
      session->have_control = FALSE;
      return;
    }
  if (session->failed_count < session->config.failed_retries)
    {
      session->failed_count++;
      emit_log (out, G_LOG_LEVEL_MESSAGE, "%s: operation failed; retry %u of %u in %.0f s",
                wu_ftms_opcode_to_string (session->request.bytes[0]), session->failed_count,
                session->config.failed_retries, session->config.failed_retry_us / 1e6);
      wait_before_next (session, session->config.failed_retry_us);
      return;
    }
  if (step == STEP_START)
    {
      /* Some bikes refuse to start what already runs: the cap matters more than this. */
      emit_log (out, G_LOG_LEVEL_WARNING, "start-resume: operation failed %u times; "
                "carrying on without it", session->failed_count + 1);
      started_by_us (session);
      return;
    }
  emit_log (out, G_LOG_LEVEL_WARNING, "%s: operation failed %u times; giving up until the "
            "next cap or reconnect", wu_ftms_opcode_to_string (session->request.bytes[0]),
            session->failed_count + 1);
  session->stalled = TRUE;
}

static void
on_not_permitted (WuFtmsSession *session, Step step, WuFtmsActions *out)
{
  if (step == STEP_RESET)
    {
      session->have_control = FALSE;   /* someone else has it: nothing of ours to hand back */
      return;
    }
  session->not_permitted_count++;
  emit_log (out, session->not_permitted_count == 1 ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_DEBUG,
            "%s: control not permitted; asking for control again in %.0f s",
            wu_ftms_opcode_to_string (session->request.bytes[0]),
            session->config.not_permitted_backoff_us / 1e6);
  session->have_control = FALSE;
  wait_before_next (session, session->config.not_permitted_backoff_us);
}

static void
on_response (WuFtmsSession *session, const WuFtmsResponse *response, WuFtmsActions *out)
{
  Step step = session->in_flight;

  if (step == STEP_NONE || response->request_opcode != session->request.bytes[0])
    {
      emit_log (out, G_LOG_LEVEL_DEBUG, "control point: ignored an answer to %s (%s): %s",
                wu_ftms_opcode_to_string (response->request_opcode),
                step == STEP_NONE ? "nothing in flight" : "not the request in flight",
                wu_ftms_result_to_string (response->result));
      return;
    }
  clear_request (session);
  if (step == STEP_RESET)
    session->hand_back_owed = FALSE;   /* answered, whatever the answer: owed no more */
  if (response->result != WU_FTMS_RESULT_SUCCESS)
    emit_log (out, G_LOG_LEVEL_DEBUG, "control point -> %s: %s",
              wu_ftms_opcode_to_string (response->request_opcode),
              wu_ftms_result_to_string (response->result));
  switch (response->result)
    {
    case WU_FTMS_RESULT_SUCCESS: on_success (session, step, out); break;
    case WU_FTMS_RESULT_OP_CODE_NOT_SUPPORTED:
      on_refused (session, step, "op-code-not-supported", out);
      break;
    case WU_FTMS_RESULT_INVALID_PARAMETER: on_invalid_parameter (session, step, out); break;
    case WU_FTMS_RESULT_OPERATION_FAILED: on_operation_failed (session, step, out); break;
    case WU_FTMS_RESULT_CONTROL_NOT_PERMITTED: on_not_permitted (session, step, out); break;
    default: g_return_if_reached ();   /* the decoder admits only these */
    }
}

gboolean
wu_ftms_session_indication (WuFtmsSession *session, gint64 now_us, const guint8 *buf,
                            gsize len, WuFtmsActions *out, GError **error)
{
  WuFtmsResponse response;

  g_return_val_if_fail (session != NULL, FALSE);
  advance_to (session, now_us, out);
  if (!wu_ftms_decode_response (buf, len, &response, error))
    return FALSE;
  on_response (session, &response, out);
  pump (session, out);
  return TRUE;
}

void
wu_ftms_session_write_failed (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out)
{
  g_return_if_fail (session != NULL);
  advance_to (session, now_us, out);
  if (session->in_flight != STEP_NONE)
    on_no_answer (session, "the write failed", out);
  pump (session, out);
}

void
wu_ftms_session_write_refused (WuFtmsSession *session, gint64 now_us, WuFtmsActions *out)
{
  g_return_if_fail (session != NULL);
  advance_to (session, now_us, out);
  if (session->in_flight == STEP_NONE)
    return;
  if (session->in_flight == STEP_RESET || handing_back (session))
    {
      /* handing the bike back: given up (a Reset) or a Reset tried (may be refused too) */
      on_no_answer (session, "the write was refused", out);
      pump (session, out);
      return;
    }
  emit_log (out, G_LOG_LEVEL_WARNING, "control point: %s refused; nothing can be set on the "
            "bike on this connection", wu_ftms_opcode_to_string (session->request.bytes[0]));
  clear_request (session);
  clear_wait (session);
  /* A reconnect would only be refused again (and pause the warm-up each time): the rider is
   * told the cap instead. Control, if the bike gave it, stays ours to hand back. */
  session->feature = (WuFtmsFeature) { 0 };
  session->feature_known = TRUE;
  pump (session, out);
}

/* ---- status notifications ------------------------------------------------------------ */

static gboolean
capping (const WuFtmsSession *session)
{
  return session->wish == WISH_CAP;
}

/* Some status says the target is no longer ours. */
static void
target_moved (WuFtmsSession *session, const char *what, WuFtmsActions *out)
{
  emit_log (out, G_LOG_LEVEL_MESSAGE, "%s: re-capping", what);
  invalidate_target (session);
  unstall (session);
}

/* A status naming a target of another kind than the one MODE writes: the bike now follows
 * that target (someone else set it), not ours.  Not 0x07 (resistance) in the power and
 * simulation modes: bikes may report how they hold our power or grade with it, and the
 * controller checks 0x07 against the cap itself; an incline (0x06) in simulation is
 * compared with our grade instead (incline_moved). */
static gboolean
is_foreign_target (WuFtmsMode mode, guint8 opcode)
{
  switch (opcode)
    {
    case WU_FTMS_STATUS_TARGET_SPEED:
    case WU_FTMS_STATUS_TARGET_HEART_RATE:
    case WU_FTMS_STATUS_TARGET_CADENCE:
      return TRUE;
    case WU_FTMS_STATUS_TARGET_INCLINE:
      return mode != WU_FTMS_MODE_SIMULATION;
    case WU_FTMS_STATUS_TARGET_POWER:
      return mode != WU_FTMS_MODE_POWER;
    case WU_FTMS_STATUS_SIMULATION_PARAMETERS:
      return mode != WU_FTMS_MODE_SIMULATION;
    default:
      return FALSE;
    }
}

static gboolean
same_coefficients (const WuRoadCoefficients *pair, const WuFtmsSimulation *reported)
{
  return fabs (reported->crr - pair->crr) < 0.00005
         && fabs (reported->cw_kg_per_m - pair->cw_kg_per_m) < 0.005;
}

/* Whether REPORTED's coefficients were re-capped before; if not, they are noted (the oldest
 * of RECAPPED_PAIRS gives way). */
static gboolean
recapped_before (WuFtmsSession *session, const WuFtmsSimulation *reported)
{
  for (guint i = 0; i < MIN (session->n_recapped, RECAPPED_PAIRS); i++)
    if (same_coefficients (&session->recapped[i], reported))
      return TRUE;
  session->recapped[session->n_recapped % RECAPPED_PAIRS] = (WuRoadCoefficients) {
    reported->crr, reported->cw_kg_per_m,
  };
  session->n_recapped++;
  return FALSE;
}

/* Whether the simulated road the bike reports is not our flat one: another grade or wind
 * (half a unit of the field's resolution apart), or more rolling resistance or drag than
 * ours.  Lower coefficients only make it easier; the same higher ones are re-capped once
 * (until the bike is taken afresh): a bike may keep its own, or go through a few of its
 * own in turn, and rewriting them every second would change nothing. */
static gboolean
road_moved (WuFtmsSession *session, const WuFtmsSimulation *reported)
{
  const WuFtmsSimulation *ours = &session->config.flat_road;
  gboolean ground = fabs (reported->grade_percent - ours->grade_percent) > 0.005
                    || fabs (reported->wind_speed_mps - ours->wind_speed_mps) > 0.0005;
  gboolean heavier = reported->crr - ours->crr > 0.00005
                     || reported->cw_kg_per_m - ours->cw_kg_per_m > 0.005;

  if (!heavier)
    return ground;   /* the pairs re-capped are kept: a bike may echo ours in between */
  /* noted even when the ground moved: that re-cap writes ours over these coefficients too */
  return recapped_before (session, reported) ? ground : TRUE;
}

static void
on_target_status (WuFtmsSession *session, const WuFtmsStatus *status, WuFtmsActions *out)
{
  char what[160];

  if (!capping (session))
    return;
  if (writes_targets (session->mode) && is_foreign_target (session->mode, status->opcode))
    {
      g_snprintf (what, sizeof what, "the bike now follows another target (%s)",
                  wu_ftms_status_opcode_to_string (status->opcode));
      target_moved (session, what, out);
    }
  else if (status->opcode == WU_FTMS_STATUS_TARGET_RESISTANCE &&
           session->mode == WU_FTMS_MODE_RESISTANCE &&
           wu_ftms_above_target (status->target_resistance, resistance_target (session)))
    {
      g_snprintf (what, sizeof what, "the bike's target resistance %.1f is above the cap %.1f",
                  status->target_resistance, resistance_target (session));
      target_moved (session, what, out);
    }
  else if (status->opcode == WU_FTMS_STATUS_TARGET_POWER && session->mode == WU_FTMS_MODE_POWER &&
           wu_ftms_above_target (status->target_power_w, power_target (session)))
    {
      g_snprintf (what, sizeof what, "the bike's target power %d W is above the cap %.0f W",
                  status->target_power_w, power_target (session));
      target_moved (session, what, out);
    }
  else if (status->opcode == WU_FTMS_STATUS_TARGET_INCLINE &&
           session->mode == WU_FTMS_MODE_SIMULATION &&
           fabs (status->target_incline_percent - session->config.flat_road.grade_percent) > 0.05)
    {
      g_snprintf (what, sizeof what, "the bike's incline changed to %.1f %%",
                  status->target_incline_percent);
      target_moved (session, what, out);
    }
  else if (status->opcode == WU_FTMS_STATUS_SIMULATION_PARAMETERS &&
           session->mode == WU_FTMS_MODE_SIMULATION &&
           road_moved (session, &status->simulation))
    {
      g_snprintf (what, sizeof what, "the bike's simulated road changed to a %.2f %% grade, "
                  "wind %.3f m/s, crr %.4f, cw %.2f kg/m", status->simulation.grade_percent,
                  status->simulation.wind_speed_mps, status->simulation.crr,
                  status->simulation.cw_kg_per_m);
      target_moved (session, what, out);
    }
}

static void
on_status (WuFtmsSession *session, const WuFtmsStatus *status, WuFtmsActions *out)
{
  switch (status->opcode)
    {
    case WU_FTMS_STATUS_CONTROL_PERMISSION_LOST:
      emit_log (out, capping (session) ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_DEBUG,
                "the bike took control back%s", capping (session) ? "; asking again" : "");
      forget_bike_keeping_user_stop (session);
      unstall (session);
      break;
    case WU_FTMS_STATUS_RESET:
      if (session->in_flight == STEP_RESET)
        break;   /* our own: its answer follows */
      emit_log (out, G_LOG_LEVEL_DEBUG, "the bike was reset");
      forget_bike_keeping_user_stop (session);
      unstall (session);
      break;
    case WU_FTMS_STATUS_STOPPED_BY_USER:
    case WU_FTMS_STATUS_STOPPED_BY_SAFETY_KEY:
      emit_log (out, G_LOG_LEVEL_DEBUG, "bike running -> %s",
                status->opcode == WU_FTMS_STATUS_STOPPED_BY_SAFETY_KEY ? "stopped by safety key"
                : status->stop_pause == WU_FTMS_PAUSE ? "paused by user" : "stopped by user");
      session->running = FALSE;
      session->user_stopped = TRUE;
      break;
    case WU_FTMS_STATUS_STARTED_BY_USER:
      emit_log (out, G_LOG_LEVEL_DEBUG, "bike %s -> running",
                session->user_stopped ? "stopped" : "running");
      session->running = TRUE;
      session->user_stopped = FALSE;
      /* bikes may drop their target when stopped: put the cap back */
      if (capping (session))
        invalidate_target (session);
      break;
    default:
      on_target_status (session, status, out);
      break;
    }
}

gboolean
wu_ftms_session_status (WuFtmsSession *session, gint64 now_us, const guint8 *buf, gsize len,
                        WuFtmsActions *out, GError **error)
{
  WuFtmsStatus status;

  g_return_val_if_fail (session != NULL, FALSE);
  advance_to (session, now_us, out);
  if (!wu_ftms_decode_status (buf, len, &status, error))
    return FALSE;
  on_status (session, &status, out);
  pump (session, out);
  return TRUE;
}

/* ---- life and getters ---------------------------------------------------------------- */

WuFtmsSession *
wu_ftms_session_new (const WuFtmsSessionConfig *config)
{
  WuFtmsSession *session = g_new0 (WuFtmsSession, 1);

  if (config != NULL)
    session->config = *config;
  else
    wu_ftms_session_config_init (&session->config);
  session->cap_level = -1;
  session->wait_until_us = G_MAXINT64;
  session->last_target_us = G_MININT64;
  session->repace_until_us = G_MAXINT64;
  return session;
}

void
wu_ftms_session_free (WuFtmsSession *session)
{
  g_free (session);
}

WuFtmsMode
wu_ftms_session_get_mode (const WuFtmsSession *session)
{
  g_return_val_if_fail (session != NULL, WU_FTMS_MODE_NONE);
  return session->mode;
}

gboolean
wu_ftms_session_has_control (const WuFtmsSession *session)
{
  g_return_val_if_fail (session != NULL, FALSE);
  return session->have_control;
}

gboolean
wu_ftms_session_uses_s16_resistance (const WuFtmsSession *session)
{
  g_return_val_if_fail (session != NULL, FALSE);
  return session->s16_resistance;
}

gboolean
wu_ftms_session_busy (const WuFtmsSession *session)
{
  g_return_val_if_fail (session != NULL, FALSE);
  return session->in_flight != STEP_NONE;
}
