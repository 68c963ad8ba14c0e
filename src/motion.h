/* Motion from revolution data: the engine's decoding of csc.measurement, cps.measurement and
 * gpio.edge events into samples (cadence through the one estimator, speed from wheel
 * counters, power), and the priority between kinds of source. Pure: no I/O, no clock;
 * every function is fed the event or the time. */
#pragma once
#include <glib.h>
#include "wu-cadence.h"
#include "wu-config.h"
#include "wu-controller.h"
#include "wu-trace.h"

G_BEGIN_DECLS

/* Settings taken from the configuration once, for every sensor. */
typedef struct {
  WuCadenceConfig cadence;          /* [Gpio] Debounce=, PulsesPerRevolution=; StaleAfter= */
  double wheel_circumference_mm;    /* [Sensors] WheelCircumference= */
  WuGpioEdge gpio_edge;             /* [Gpio] Edge=: which edges are pulses */
  guint cadence_rank[WU_CADENCE_N_KINDS];   /* [Sensors] CadencePriority= */
  gint64 stale_after_us;            /* [Warmup] StaleAfter= */
} WuMotionConfig;

void wu_motion_config_from (WuMotionConfig *motion, const WuConfig *config);

/* A value a source reports outright (power; an FTMS bike's own cadence and speed), shown
 * until StaleAfter passes without another report, then 0. */
typedef struct {
  double value;         /* -1 before any, 0 once stale */
  gint64 at_us;         /* when it was reported */
} WuReported;

/* Per sensor: the estimator, the wheel counter and the values reported outright. */
typedef struct {
  WuCadence cadence;
  WuWheel wheel;
  gint64 stale_after_us;
  WuReported power;     /* W */
  WuReported reported_cadence;   /* rpm, an FTMS bike's (a revolution sensor's: the estimator) */
  WuReported reported_speed;     /* km/h, an FTMS bike's (a wheel's: the wheel counter) */
  guint fed;            /* WuMotionFed: the counters data came for since init */
  gint64 cadence_due_us;   /* noted wu_cadence_next_change(), kept while due */
  gint64 due_us;        /* wu_motion_refresh_due()'s answer */
} WuMotion;

typedef enum {
  WU_MOTION_FED_CRANK = 1 << 0,    /* crank revolutions (a CSC or CPS crank, a reed switch) */
  WU_MOTION_FED_WHEEL = 1 << 1,    /* wheel revolutions */
} WuMotionFed;

void wu_motion_init (WuMotion *motion, const WuMotionConfig *config);
/* Forget the COUNTERS' (WuMotionFed) last readings: the next one anchors anew (their source
 * was away; a replay told so). The values reported outright stay. */
void wu_motion_reanchor (WuMotion *motion, const WuMotionConfig *config, guint counters);
void wu_motion_set_config (WuMotion *motion, const WuMotionConfig *config);

/* The kind of source an event comes from (ftms.* is FTMS). */
WuCadenceKind wu_motion_kind_of (WuEventKind kind);

/* Decode a csc.measurement, cps.measurement or gpio.edge event into SAMPLE (initialised
 * here at the event's time; a value stays -1 unless this event measured it anew). FALSE
 * with WU_ERROR_MALFORMED when the payload cannot be decoded (the state is unchanged). */
gboolean wu_motion_decode (WuMotion *motion, const WuMotionConfig *config,
                           const WuRawEvent *event, WuSample *sample, GError **error);

/* A power measurement at NOW_US (a CPS frame's, decoded here; an FTMS bike's, told by the
 * engine): shown until stale_after without another. */
void wu_motion_note_power (WuMotion *motion, gint64 now_us, double watts);
/* An FTMS bike's own cadence (rpm) and speed (km/h) at NOW_US: shown until stale_after
 * without another (a bike that stays connected and falls silent). */
void wu_motion_note_cadence (WuMotion *motion, gint64 now_us, double rpm);
void wu_motion_note_speed (WuMotion *motion, gint64 now_us, double kmh);

/* What wu_motion_take_due() may report as gone stale: shown as 0 from then. */
typedef enum {
  WU_MOTION_STALE_SPEED = 1 << 0,   /* the wheel's speed: stale_after after its last
                                     * new revolution; a bike's, after its last report */
  WU_MOTION_STALE_POWER = 1 << 1,   /* stale_after after the last power measurement */
  WU_MOTION_STALE_CADENCE = 1 << 2, /* a bike's own cadence, after its last report (a
                                     * revolution sensor's falls by the estimator: SAMPLE) */
} WuMotionStale;

/* When a value shown next changes without an event: the cadence overdue, falling or stale,
 * the speed or the power gone stale; G_MAXINT64 when none will. Noted in due_us. A change
 * already due (at or before NOW_US) is kept until wu_motion_take_due() has taken it: asked
 * again past the stale instant the estimator would have nothing left to change, and the
 * fall to 0 would be lost. */
gint64 wu_motion_refresh_due (WuMotion *motion, gint64 now_us);
/* At NOW_US, the changes due: SAMPLE (initialised here) carries the cadence when its change
 * was due (for the engine to publish and feed the controller; marked projected: no
 * revolution came, it counts no pedalling time); *STALE the WuMotionStale
 * values gone stale (for the engine to show as 0; the controller has its own StaleAfter).
 * FALSE when nothing was due. */
gboolean wu_motion_take_due (WuMotion *motion, gint64 now_us, WuSample *sample,
                             guint *stale);

/* Which source's values are believed when several report them: per value (cadence, power,
 * speed), the best-ranked kind that reported it within StaleAfter. */
typedef struct {
  gint64 reported_us[WU_CADENCE_N_KINDS][WU_TRACE_N_VALUES];
  gboolean reported[WU_CADENCE_N_KINDS][WU_TRACE_N_VALUES];
  gconstpointer reporter[WU_CADENCE_N_KINDS][WU_TRACE_N_VALUES];   /* who reported it last */
} WuPriority;

void wu_priority_init (WuPriority *priority);
/* Note what SAMPLE (from KIND, sent by REPORTER: the engine's sensor) reports, then blank
 * (-1) each value a better-ranked kind reported within stale_after. TRUE when anything is
 * left to feed the controller. */
gboolean wu_priority_filter (WuPriority *priority, const WuMotionConfig *config,
                             WuCadenceKind kind, gconstpointer reporter, WuSample *sample);
/* The values (WU_TRACE_LOST_VALUE()s) whose last report came from REPORTER. */
guint wu_priority_reported_by (const WuPriority *priority, gconstpointer reporter);
/* VALUE of KIND counts as last reported by REPORTER at AT_US (another source of the kind,
 * whose report is still current, when the one that reported last lost its link). */
void wu_priority_hand_over (WuPriority *priority, WuCadenceKind kind, guint value,
                            gconstpointer reporter, gint64 at_us);
/* The values in VALUES (WU_TRACE_LOST_VALUE()s: their source lost its link, or a replayed
 * source.lost says so) blank nothing from now. */
void wu_priority_forget_values (WuPriority *priority, guint values);

G_END_DECLS
