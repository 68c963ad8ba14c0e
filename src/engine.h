/* The engine: sources deliver raw events, the engine records them, decodes them once,
 * feeds the controller, carries out its actions and tells the observer what changed. */
#pragma once
#include <glib.h>
#include "wu-config.h"
#include "wu-controller.h"
#include "wu-source.h"
#include "motion.h"

typedef struct WuEngine WuEngine;

/* One sensor source as published on D-Bus. */
typedef struct {
  WuEngine *engine;
  WuSource *source;
  char *id;            /* object path element: "replay0" */
  gboolean connected;
  gboolean finished;
  double cadence, power, speed, resistance, heart_rate, distance;
  guint dropped_packets;
  guint64 events;
  char *error;
  char *control;       /* the source's way of capping ("resistance", ...), "" when none */
  /* Cadence estimator, wheel counter, power shown (when they go stale), per kind of
   * revolution data (WuCadenceKind): a live source delivers one kind; a replay of a
   * recording of several sources (a reed switch and a crank sensor) delivers each kind to
   * its own, as the live sources had. */
  WuMotion motion[WU_CADENCE_N_KINDS];
  double cap_sent;     /* the cap last given to its source, -1: none */
  /* its last event other than a link change: when, and what kind of reading */
  gboolean delivered;
  gint64 delivered_us;
  WuCadenceKind delivered_kind;
  /* the values it reported since its link came up (WU_TRACE_LOST_VALUE()s), and when it
   * reported each last: another source's loss may hand the priority over to them */
  guint reported;
  gint64 reported_us[WU_CADENCE_N_KINDS][WU_TRACE_N_VALUES];
  gboolean stopped_at_console;   /* its last machine status: stopped (0x02) or the key;
                                    kept over its link loss, ended by its return */
} WuSensor;

typedef struct {
  /* Publish state. TRANSITION: the controller acted (state, hint, cap): a change every
   * client must see, not just the latest value of a continuous reading. */
  void (*changed) (gpointer user_data, gboolean transition);
  void (*sensor_changed) (gpointer user_data, WuSensor *sensor);
  void (*start_floor_routine) (gpointer user_data, const WuSummary *summary);
  /* A sensor appeared (a live source found at run time) or is about to go away. */
  void (*sensor_added) (gpointer user_data, WuSensor *sensor);
  void (*sensor_removed) (gpointer user_data, WuSensor *sensor);
  /* A source failed for good (error set), or a replay reached its end (error NULL). */
  void (*source_finished) (gpointer user_data, WuSensor *sensor, const GError *error);
  /* Every controller state transition, in order (several can come from one input); the
   * controller already holds the figures of the input that caused it. */
  void (*state_changed) (gpointer user_data, WuState old_state, WuState new_state);
  /* A replay, after each batch of events: publish now what changed and call
   * READY once the bus has taken it (WuSourceSink.wait_published says how). FALSE or NULL:
   * nothing to wait for. */
  gboolean (*wait_published) (gpointer user_data, GCancellable *cancellable,
                              GAsyncReadyCallback ready, gpointer ready_data);
} WuEngineObserver;

WuEngine *wu_engine_new (const WuConfig *config, const WuEngineObserver *observer,
                         gpointer observer_data);
void wu_engine_free (WuEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuEngine, wu_engine_free)

/* Write every raw event received to PATH, in the trace format. */
gboolean wu_engine_record_to (WuEngine *engine, const char *path, GError **error);

/* Builds a source that delivers to SINK with SINK_DATA (pass both to the source's *_new). */
typedef WuSource *(*WuSourceFactory) (const WuSourceSink *sink, gpointer sink_data,
                                      gpointer user_data, GError **error);

/* Add a sensor whose source FACTORY builds; ID_PREFIX names its D-Bus object ("ftms" gives
 * /io/github/warmupd/sensors/ftms0). Callable at any time: once the sources have started, a
 * new one starts at once, and the observer hears sensor_added either way. */
WuSensor *wu_engine_add_source (WuEngine *engine, const char *id_prefix,
                                WuSourceFactory factory, gpointer user_data, GError **error);
/* Stop and forget a sensor (its source is freed; the observer hears sensor_removed first). */
void wu_engine_remove_source (WuEngine *engine, WuSensor *sensor);

/* Add a replay source; the engine's clock follows the trace from then on. */
WuSensor *wu_engine_add_replay (WuEngine *engine, const char *path, double speed,
                                GError **error);
void wu_engine_start_sources (WuEngine *engine);
GPtrArray *wu_engine_get_sensors (WuEngine *engine);        /* of WuSensor*, owned */

/* A reload: new warm-up settings and routine name; the running session keeps its counted
 * time, the sources are untouched. */
void wu_engine_set_config (WuEngine *engine, const WuConfig *config);

gboolean wu_engine_start_warmup (WuEngine *engine, GError **error);
gboolean wu_engine_stop_warmup (WuEngine *engine, GError **error);
/* Shutting down: release the bike if a cap is in force, and apply no cap from now on. */
void wu_engine_release (WuEngine *engine);
/* TRUE while a source still waits for the machine to answer its release. */
gboolean wu_engine_is_releasing (WuEngine *engine);
/* Warmup1.Control: how the cap is held ("resistance", "simulation", "power"), "advisory"
 * when only the rider can (live sources that cannot set the machine), "" when nothing. */
const char *wu_engine_get_control (WuEngine *engine);

gint64 wu_engine_now (WuEngine *engine);
/* TRUE when a replay drives the clock: inputs can arrive hundreds to a main-loop pass. */
gboolean wu_engine_clock_is_replayed (WuEngine *engine);
const WuController *wu_engine_get_controller (WuEngine *engine);
const char *wu_engine_get_source_label (WuEngine *engine);  /* "replay:demo.trace" or "" */
const char *wu_engine_get_routine (WuEngine *engine);
guint wu_engine_get_pauses (WuEngine *engine);
