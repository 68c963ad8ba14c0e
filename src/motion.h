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

/* Per sensor: the estimator and the wheel counter. */
typedef struct {
  WuCadence cadence;
  WuWheel wheel;
  WuCadenceKind kind;   /* of the latest event decoded (for the priority) */
  gint64 due_us;        /* the engine's note of wu_motion_next_change() */
} WuMotion;

void wu_motion_init (WuMotion *motion, const WuMotionConfig *config);
void wu_motion_set_config (WuMotion *motion, const WuMotionConfig *config);

/* The kind of source an event comes from (ftms.* is FTMS). */
WuCadenceKind wu_motion_kind_of (WuEventKind kind);

/* Decode a csc.measurement, cps.measurement or gpio.edge event into SAMPLE (initialised
 * here at the event's time; a value stays -1 unless this event measured it anew). FALSE
 * with WU_ERROR_MALFORMED when the payload cannot be decoded (the state is unchanged). */
gboolean wu_motion_decode (WuMotion *motion, const WuMotionConfig *config,
                           const WuRawEvent *event, WuSample *sample, GError **error);

/* When the cadence next changes without an event (overdue, falling, stale); and a sample
 * carrying the cadence at NOW (for the engine to publish then). */
gint64 wu_motion_next_change (const WuMotion *motion, gint64 now_us);
void wu_motion_sample_at (const WuMotion *motion, gint64 now_us, WuSample *sample);

/* Which source's values are believed when several report them: per value (cadence, power,
 * speed), the best-ranked kind that reported it within StaleAfter. */
typedef struct {
  gint64 reported_us[WU_CADENCE_N_KINDS][3];
  gboolean reported[WU_CADENCE_N_KINDS][3];
} WuPriority;

void wu_priority_init (WuPriority *priority);
/* Note what SAMPLE (from KIND) reports, then blank (-1) each value a better-ranked kind
 * reported within stale_after. TRUE when anything is left to feed the controller. */
gboolean wu_priority_filter (WuPriority *priority, const WuMotionConfig *config,
                             WuCadenceKind kind, WuSample *sample);

G_END_DECLS
