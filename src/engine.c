/* The engine: the one place where raw events from any source are recorded, decoded, fed to
 * the controller, and where the controller's actions are carried out. */
#include "engine.h"
#include "wu-error.h"
#include "wu-ftms.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct WuEngine {
  WuController *controller;
  char *routine;                 /* [Routine] Name=, the next warm-up's */
  char *announced_routine;       /* the one the last completion announced, else NULL */
  const WuEngineObserver *observer;
  gpointer observer_data;
  GPtrArray *sensors;            /* WuSensor*, owned */
  WuSourceSink sink;
  char *source_label;
  WuSensor *label_sensor;        /* the sensor source_label names */
  WuSensor *cadence_sensor;      /* whose cadence the controller was last fed */
  guint next_sensor_number;      /* object names stay unique as sensors come and go */
  gboolean sources_started;

  /* The clock: a replay's trace time when a source drives it, else monotonic time since
   * the engine was created, with a main-loop timer for the controller's next deadline. */
  gboolean clock_external;
  gint64 external_now;
  gint64 epoch;
  GSource *deadline_timer;

  double announced_cap;          /* the last cap logged at message level, -1: none */
  FILE *record;
  char *record_path;
  gint64 recorded_us;            /* the time of the last recorded event */
  gboolean shutting_down;        /* released for good: no cap is applied any more */

  WuMotionConfig motion;         /* decoding of revolution data, for every sensor */
  WuPriority priority;           /* which kind of source's cadence/power/speed is believed */
};

static void engine_schedule_deadline (WuEngine *engine);
static gint64 engine_next_deadline (WuEngine *engine);
static void publish_motion_due (WuEngine *engine, gint64 now_us, WuActions *actions);

static void
init_motions (WuEngine *engine, WuSensor *sensor)
{
  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    wu_motion_init (&sensor->motion[kind], &engine->motion);
}
static void set_source_label (WuEngine *engine, WuSensor *sensor);

gint64
wu_engine_now (WuEngine *engine)
{
  if (engine->clock_external)
    return engine->external_now;
  return g_get_monotonic_time () - engine->epoch;
}

gboolean
wu_engine_clock_is_replayed (WuEngine *engine)
{
  return engine->clock_external;
}

static void
sensor_free (gpointer data)
{
  WuSensor *sensor = data;

  g_clear_pointer (&sensor->source, wu_source_free);
  g_free (sensor->id);
  g_free (sensor->error);
  g_free (sensor->control);
  g_free (sensor);
}

static void
notify_changed (WuEngine *engine, gboolean transition)
{
  if (engine->observer->changed != NULL)
    engine->observer->changed (engine->observer_data, transition);
}

/* FALSE when the sensor's source cannot set the machine. RESUME: the warm-up resumed after a
 * console stop (WuAction.resume): the source ends the stop first, then caps. */
static gboolean
apply_cap_to (WuSensor *sensor, double level, gboolean resume)
{
  if (sensor->source->ops->apply_cap == NULL)
    return FALSE;
  if (resume && sensor->source->ops->ride_resumed != NULL)
    sensor->source->ops->ride_resumed (sensor->source);
  sensor->source->ops->apply_cap (sensor->source, level);
  sensor->cap_sent = level;
  return TRUE;
}

/* The rider rides again after a stop at a bike's console, or a new warm-up begins: no stop
 * made there stands any more (a bike that is away would otherwise bring it back when
 * another source brings the link up, see set_link). */
static void
forget_console_stops (WuEngine *engine)
{
  for (guint i = 0; i < engine->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (engine->sensors, i);
      sensor->stopped_at_console = FALSE;
    }
}

static void
apply_cap_everywhere (WuEngine *engine, double level, gboolean resume)
{
  gboolean applied = FALSE;

  for (guint i = 0; i < engine->sensors->len; i++)
    {
      if (apply_cap_to (g_ptr_array_index (engine->sensors, i), level, resume))
        applied = TRUE;
    }
  /* Re-applying the same cap every ReapplyAfter is routine: keep it out of the journal. */
  if (resume)
    g_message ("resistance cap %.1f (riding again after a stop at the bike's console)", level);
  else if (level == engine->announced_cap)
    g_debug ("resistance cap %.1f re-applied", level);
  else if (applied)
    g_message ("resistance cap %.1f", level);
  else
    g_message ("resistance cap %.1f (advisory: no source can set the bike's resistance)", level);
  engine->announced_cap = level;
}

static void
release_everywhere (WuEngine *engine)
{
  for (guint i = 0; i < engine->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (engine->sensors, i);
      if (sensor->source->ops->release != NULL)
        sensor->source->ops->release (sensor->source);
      sensor->cap_sent = -1;
    }
  engine->announced_cap = -1;
  g_message ("bike released (no resistance cap)");
}

/* The bike first: the observer's work on a state change (the history row, written with an
 * fsync and possibly waiting on a locked database) must not hold back a cap or a release. */
static void
carry_out_on_bike (WuEngine *engine, const WuActions *actions)
{
  for (guint i = 0; i < actions->n; i++)
    {
      const WuAction *action = &actions->items[i];

      switch (action->kind)
        {
        case WU_ACTION_STATE:
          g_message ("warm-up %s -> %s", wu_state_to_string (action->old_state),
                     wu_state_to_string (action->new_state));
          /* the controller leaves a stop at the console only by resuming, with or without
           * a cap in force, and never begins a warm-up with one */
          if (action->new_state == WU_STATE_WARMING_UP)
            forget_console_stops (engine);
          break;
        case WU_ACTION_HINT:
          g_message ("hint: %s", action->hint == WU_HINT_NONE ? "(none)"
                                                              : wu_hint_to_string (action->hint));
          break;
        case WU_ACTION_CAP:
          if (engine->shutting_down)
            g_debug ("shutting down: resistance cap %.1f not applied", action->cap);
          else
            apply_cap_everywhere (engine, action->cap, action->resume);
          break;
        case WU_ACTION_RELEASE:
          release_everywhere (engine);
          break;
        case WU_ACTION_START_FLOOR_ROUTINE:
          break;
        default:
          g_assert_not_reached ();
        }
    }
}

/* Then the observer, in the controller's order. */
static void
carry_out_for_observer (WuEngine *engine, const WuActions *actions)
{
  for (guint i = 0; i < actions->n; i++)
    {
      const WuAction *action = &actions->items[i];

      if (action->kind == WU_ACTION_STATE && action->new_state == WU_STATE_COMPLETE)
        {
          g_free (engine->announced_routine);
          engine->announced_routine = g_strdup (engine->routine);
        }
      if (action->kind == WU_ACTION_STATE && engine->observer->state_changed != NULL)
        engine->observer->state_changed (engine->observer_data, action->old_state,
                                         action->new_state);
      if (action->kind == WU_ACTION_START_FLOOR_ROUTINE)
        {
          g_message ("warm-up complete: %.0f s, %.1f rpm average, %u pauses; start the floor "
                     "routine %s", action->summary.duration_s, action->summary.avg_cadence,
                     action->summary.pauses, wu_engine_get_routine (engine));
          if (engine->observer->start_floor_routine != NULL)
            engine->observer->start_floor_routine (engine->observer_data, &action->summary);
        }
    }
}

static void
carry_out (WuEngine *engine, const WuActions *actions)
{
  carry_out_on_bike (engine, actions);
  carry_out_for_observer (engine, actions);
}

/* Flushed per line: a recording must survive the daemon being killed. */
static void
record_line (WuEngine *engine, const char *line)
{
  if (fprintf (engine->record, "%s\n", line) < 0 || fflush (engine->record) != 0)
    {
      g_warning ("%s: %s; recording stopped", engine->record_path, g_strerror (errno));
      g_clear_pointer (&engine->record, fclose);
    }
}

/* After every input: act, publish, and (on the live clock) re-arm the deadline timer. */
static void
finish_input (WuEngine *engine, const WuActions *actions)
{
  carry_out (engine, actions);
  notify_changed (engine, actions->n > 0);
  engine_schedule_deadline (engine);
}

static gboolean
on_deadline_timer (gpointer user_data)
{
  WuEngine *engine = user_data;
  WuActions actions;

  g_clear_pointer (&engine->deadline_timer, g_source_unref);
  wu_actions_clear (&actions);
  publish_motion_due (engine, wu_engine_now (engine), &actions);
  wu_controller_tick (engine->controller, wu_engine_now (engine), &actions);
  finish_input (engine, &actions);
  return G_SOURCE_REMOVE;
}

static void
engine_schedule_deadline (WuEngine *engine)
{
  gint64 deadline, delay_us;

  if (engine->clock_external)
    return; /* the replay advances time itself */
  if (engine->deadline_timer != NULL)
    {
      g_source_destroy (engine->deadline_timer);
      g_clear_pointer (&engine->deadline_timer, g_source_unref);
    }
  deadline = engine_next_deadline (engine);
  if (deadline == G_MAXINT64)
    return;
  delay_us = MAX (deadline - wu_engine_now (engine), 0);
  /* Round up so the timer never fires before the deadline. */
  engine->deadline_timer = g_timeout_source_new ((guint) MIN ((delay_us + 999) / 1000, G_MAXUINT));
  g_source_set_callback (engine->deadline_timer, on_deadline_timer, engine, NULL);
  g_source_set_name (engine->deadline_timer, "[warmupd] controller deadline");
  g_source_attach (engine->deadline_timer, NULL);
}

static void
record_event (WuEngine *engine, const WuRawEvent *event)
{
  g_autofree char *line = NULL;
  WuRawEvent stamped;

  if (engine->record == NULL)
    return;
  /* Sources stamp events differently (a GPIO edge with the kernel's time of the edge, a BLE
   * value when it is read), so two sources can deliver a few milliseconds out of order: keep
   * the recording's times in order, or it would not replay. */
  stamped = *event;
  stamped.time_us = MAX (event->time_us, engine->recorded_us);
  engine->recorded_us = stamped.time_us;
  line = wu_trace_format_event (&stamped);
  record_line (engine, line);
}

/* A comment line in the recording, for whoever reads it: what a trace's one link cannot
 * carry (a replay ignores it). */
static void G_GNUC_PRINTF (3, 4)
record_comment (WuEngine *engine, gint64 time_us, const char *format, ...)
{
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  va_list args;

  if (engine->record == NULL)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  line = g_strdup_printf ("# %" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT " %s",
                          time_us / G_USEC_PER_SEC, time_us % G_USEC_PER_SEC, text);
  record_line (engine, line);
}

/* SENSOR lost its link while another source stays up (the recording's one link stays up):
 * what a replay must do in its place (replay_source_lost()): LOST, its values forgotten and
 * its counters (WU_TRACE_LOST_FIELD()s). */
static void
record_source_lost (WuEngine *engine, WuSensor *sensor, gint64 time_us, guint lost_fields)
{
  WuRawEvent lost = {
    .time_us = time_us,
    .kind = WU_EVENT_SOURCE_LOST,
    .up = engine->cadence_sensor == sensor,
    .lost = lost_fields,
  };

  record_comment (engine, time_us, "%s link down (another source stays up)", sensor->id);
  record_event (engine, &lost);
}

/* SENSOR's values in SAMPLE (from KIND) noted as its own reports, then the priority filter:
 * TRUE when anything is left to feed the controller. */
static gboolean
filter_by_priority (WuEngine *engine, WuSensor *sensor, WuCadenceKind kind, WuSample *sample)
{
  const double values[WU_TRACE_N_VALUES] = {
    sample->cadence_rpm, sample->power_w, sample->speed_kmh,
  };

  for (guint value = 0; value < WU_TRACE_N_VALUES; value++)
    if (values[value] >= 0)
      {
        sensor->reported |= WU_TRACE_LOST_VALUE (kind, value);
        sensor->reported_us[kind][value] = sample->time_us;
      }
  return wu_priority_filter (&engine->priority, &engine->motion, kind, sensor, sample);
}

/* The connected sensor other than EXCEPT whose report of VALUE of KIND is the latest within
 * StaleAfter of NOW_US, else NULL. */
static WuSensor *
current_reporter (WuEngine *engine, const WuSensor *except, guint kind, guint value,
                  gint64 now_us)
{
  WuSensor *latest = NULL;

  for (guint i = 0; i < engine->sensors->len; i++)
    {
      WuSensor *other = g_ptr_array_index (engine->sensors, i);

      if (other == except || !other->connected
          || !(other->reported & WU_TRACE_LOST_VALUE (kind, value))
          || now_us - other->reported_us[kind][value] >= engine->motion.stale_after_us)
        continue;
      if (latest == NULL || other->reported_us[kind][value] > latest->reported_us[kind][value])
        latest = other;
    }
  return latest;
}

/* SENSOR lost its link: each value it reported last goes to another connected source of the
 * kind with a current report of it (its cadence: the run too), else it blanks nothing from
 * now. Returns the values
 * forgotten (WU_TRACE_LOST_VALUE()s). (A replay forgets the same values; it keeps the lost
 * source's report time, not the other's, where one was handed over.) */
static guint
hand_over_reports (WuEngine *engine, WuSensor *sensor, gint64 now_us)
{
  guint last = wu_priority_reported_by (&engine->priority, sensor);
  guint forgotten = 0;

  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    for (guint value = 0; value < WU_TRACE_N_VALUES; value++)
      {
        WuSensor *other;

        if (!(last & WU_TRACE_LOST_VALUE (kind, value)))
          continue;
        other = current_reporter (engine, sensor, kind, value, now_us);
        if (other != NULL)
          {
            wu_priority_hand_over (&engine->priority, kind, value, other,
                                   other->reported_us[kind][value]);
            /* the run goes on from the other's pedalling: it does not end here */
            if (value == 0 && engine->cadence_sensor == sensor)
              engine->cadence_sensor = other;
          }
        else
          forgotten |= WU_TRACE_LOST_VALUE (kind, value);
      }
  wu_priority_forget_values (&engine->priority, forgotten);
  return forgotten;
}

/* The revolution counters SENSOR fed since its link came up (WU_TRACE_LOST_CRANK() and
 * WU_TRACE_LOST_WHEEL()s): they re-anchor when it is back. */
static guint
counters_fed (const WuSensor *sensor)
{
  guint fed = 0;

  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    {
      if (sensor->motion[kind].fed & WU_MOTION_FED_CRANK)
        fed |= WU_TRACE_LOST_CRANK (kind);
      if (sensor->motion[kind].fed & WU_MOTION_FED_WHEEL)
        fed |= WU_TRACE_LOST_WHEEL (kind);
    }
  return fed;
}

/* What the priority filter left of a sensor's sample, to the controller. */
static void
feed_controller (WuEngine *engine, WuSensor *sensor, const WuSample *sample,
                 WuActions *actions)
{
  if (sample->cadence_rpm >= 0)
    engine->cadence_sensor = sensor;   /* the run goes on from its samples */
  wu_controller_sample (engine->controller, sample, actions);
}

static void
drop_packet (WuSensor *sensor, const WuRawEvent *event, const GError *error)
{
  sensor->dropped_packets++;
  g_debug ("%s: dropped %s at %.3f s: %s", sensor->id, wu_event_kind_to_string (event->kind),
           event->time_us / 1e6, error->message);
}

static void
feed_indoor_bike_data (WuEngine *engine, WuSensor *sensor, const WuRawEvent *event,
                       WuActions *actions)
{
  g_autoptr (GError) error = NULL;
  WuIndoorBikeData data;
  WuSample sample;

  if (!wu_ftms_decode_indoor_bike_data (event->payload, event->len, &data, &error))
    {
      drop_packet (sensor, event, error);
      return;
    }
  wu_sample_init (&sample, event->time_us);
  if (data.present & WU_IBD_HAS_CADENCE)
    {
      sample.cadence_rpm = sensor->cadence = data.cadence_rpm;
      wu_motion_note_cadence (&sensor->motion[WU_CADENCE_KIND_FTMS], event->time_us,
                              sensor->cadence);
    }
  /* Negative power (back-pedalling, a drifting zero) is no work done: 0, since -1 would
   * read as "unknown". */
  if (data.present & WU_IBD_HAS_POWER)
    {
      sample.power_w = sensor->power = MAX (data.power_w, 0);
      wu_motion_note_power (&sensor->motion[WU_CADENCE_KIND_FTMS], event->time_us,
                            sensor->power);
    }
  if (data.present & WU_IBD_HAS_SPEED)
    {
      sample.speed_kmh = sensor->speed = data.speed_kmh;
      wu_motion_note_speed (&sensor->motion[WU_CADENCE_KIND_FTMS], event->time_us,
                            sensor->speed);
    }
  if (data.present & WU_IBD_HAS_RESISTANCE)
    sample.resistance = sensor->resistance = data.resistance;
  if (data.present & WU_IBD_HAS_HEART_RATE)
    sensor->heart_rate = data.heart_rate_bpm;
  if (data.present & WU_IBD_HAS_DISTANCE)
    sensor->distance = data.distance_m;
  filter_by_priority (engine, sensor, WU_CADENCE_KIND_FTMS, &sample);
  feed_controller (engine, sensor, &sample, actions);
}

static void
feed_resistance_range (WuEngine *engine, WuSensor *sensor, const WuRawEvent *event,
                       WuActions *actions)
{
  g_autoptr (GError) error = NULL;
  WuFtmsRange range;

  if (!wu_ftms_decode_resistance_range (event->payload, event->len, &range, &error))
    {
      drop_packet (sensor, event, error);
      return;
    }
  g_debug ("%s: resistance range %.1f..%.1f step %.1f", sensor->id, range.minimum,
           range.maximum, range.increment);
  wu_controller_set_resistance_range (engine->controller, range.minimum, range.maximum,
                                      range.increment, actions);
}

static void
check_decodable (WuSensor *sensor, const WuRawEvent *event)
{
  g_autoptr (GError) error = NULL;
  WuFtmsRange range;
  WuFtmsFeature feature;
  gboolean ok;

  if (event->kind == WU_EVENT_FTMS_FEATURE)
    ok = wu_ftms_decode_feature (event->payload, event->len, &feature, &error);
  else
    ok = wu_ftms_decode_power_range (event->payload, event->len, &range, &error);
  if (!ok)
    drop_packet (sensor, event, error);
}

static gboolean
any_other_sensor_connected (WuEngine *engine, const WuSensor *except)
{
  for (guint i = 0; i < engine->sensors->len; i++)
    {
      const WuSensor *sensor = g_ptr_array_index (engine->sensors, i);
      if (sensor != except && sensor->connected)
        return TRUE;
    }
  return FALSE;
}

static gboolean
actions_include (const WuActions *actions, WuActionKind kind)
{
  for (guint i = 0; i < actions->n; i++)
    if (actions->items[i].kind == kind)
      return TRUE;
  return FALSE;
}

/* A source found after the warm-up began (a bike discovered after a cadence sensor or
 * `warmupctl start` started it) gets the cap in force when its link comes up: the
 * controller's link was already up, so it capped nobody. A source that was given this cap
 * before keeps it over a reconnect by itself. */
static void
cap_newcomer (WuEngine *engine, WuSensor *sensor)
{
  double cap = wu_controller_get_cap (engine->controller);

  if (cap < 0 || cap == sensor->cap_sent)
    return;
  if (apply_cap_to (sensor, cap, FALSE))
    g_message ("%s: resistance cap %.1f", sensor->id, cap);
}

/* A disconnected bike whose last word was a console stop (its session has not started it
 * again). */
static gboolean
stopped_bike_away (WuEngine *engine)
{
  for (guint i = 0; i < engine->sensors->len; i++)
    {
      const WuSensor *sensor = g_ptr_array_index (engine->sensors, i);

      if (!sensor->connected && sensor->stopped_at_console)
        return TRUE;
    }
  return FALSE;
}

/* The controller follows one link, up while any source is connected: a cadence sensor
 * dropping out must not blind it to the bike that is still sending. The sensor's own
 * values and counters are reset here. */
static void
set_link (WuEngine *engine, WuSensor *sensor, const WuRawEvent *event, WuActions *actions)
{
  gboolean others_up = any_other_sensor_connected (engine, sensor);
  gboolean was_up = sensor->connected;

  gboolean lost_among_others = !event->up && was_up && others_up;
  guint lost = 0;

  sensor->connected = event->up;
  if (!event->up)
    {
      /* nothing the source reported is current without its link */
      sensor->cadence = sensor->power = sensor->speed = -1;
      sensor->resistance = sensor->heart_rate = sensor->distance = -1;
      lost = counters_fed (sensor) | hand_over_reports (engine, sensor, event->time_us);
      init_motions (engine, sensor);   /* counters re-anchor on return */
    }
  sensor->reported = 0;
  /* A trace has one link, as the controller does: a recording of a bike and a cadence
   * sensor replays as the ride went only if one sensor's drop-out leaves it up. What the
   * drop-out changes is recorded as a source.lost instead. */
  if (!(was_up || others_up) != !(event->up || others_up))
    record_event (engine, event);
  else if (lost_among_others)
    record_source_lost (engine, sensor, event->time_us, lost);
  else if (others_up && event->up && !was_up)
    record_comment (engine, event->time_us, "%s link up (another source stays up)",
                    sensor->id);
  g_message ("%s: link %s", sensor->id, event->up ? "up" : "down");
  /* The controller's link stays up; what the sensor's own link meant is told here (a
   * single link, as in a recording, would have paused). */
  if (lost_among_others && engine->cadence_sensor == sensor)
    wu_controller_run_source_lost (engine->controller, event->time_us, actions);
  if (!event->up && engine->cadence_sensor == sensor)
    engine->cadence_sensor = NULL;   /* its run ended (or the link did) */
  if (event->up && !was_up && sensor->stopped_at_console)
    {
      wu_controller_stopped_bike_back (engine->controller, event->time_us, actions);
      sensor->stopped_at_console = FALSE;
    }
  wu_controller_link (engine->controller, event->time_us, event->up || others_up, actions);
  /* The controller forgot the console stop with its link; the bike that reported it is
   * still away (another source brought the link back): the rider's stop stands. */
  if (event->up && !others_up && stopped_bike_away (engine))
    wu_controller_machine_stopped (engine->controller, event->time_us, actions);
  if (event->up && !actions_include (actions, WU_ACTION_CAP))
    cap_newcomer (engine, sensor);
}

#define LOST_CRANKS (WU_TRACE_LOST_CRANK (WU_CADENCE_KIND_CSC) | WU_TRACE_LOST_CRANK (WU_CADENCE_KIND_CPS) \
                     | WU_TRACE_LOST_CRANK (WU_CADENCE_KIND_GPIO) | WU_TRACE_LOST_CRANK (WU_CADENCE_KIND_FTMS))
#define LOST_WHEELS (WU_TRACE_LOST_WHEEL (WU_CADENCE_KIND_CSC) | WU_TRACE_LOST_WHEEL (WU_CADENCE_KIND_CPS) \
                     | WU_TRACE_LOST_WHEEL (WU_CADENCE_KIND_GPIO) | WU_TRACE_LOST_WHEEL (WU_CADENCE_KIND_FTMS))

/* A replayed source.lost: the recorded ride's sensor lost its link while another stayed up,
 * told to the one sensor that replays them all. Its last reports stop blanking others', the
 * counters it fed re-anchor, and if its cadence was the running one, the run ends: as
 * set_link() did live. (Two sources feeding the same counter of a kind share it in a
 * replay, which has one estimator a kind.) */
static void
replay_source_lost (WuEngine *engine, WuSensor *sensor, const WuRawEvent *event,
                    WuActions *actions)
{
  wu_priority_forget_values (&engine->priority, event->lost);
  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    {
      guint counters = 0;

      if (event->lost & WU_TRACE_LOST_CRANK (kind))
        counters |= WU_MOTION_FED_CRANK;
      if (event->lost & WU_TRACE_LOST_WHEEL (kind))
        counters |= WU_MOTION_FED_WHEEL;
      if (counters != 0)
        wu_motion_reanchor (&sensor->motion[kind], &engine->motion, counters);
    }
  /* what the re-anchored counters showed is gone with them, as on the lost sensor live (a
   * value kept would never go stale: its deadline went with the counter) */
  if (event->lost & LOST_CRANKS)
    sensor->cadence = -1;
  if (event->lost & LOST_WHEELS)
    sensor->speed = -1;
  g_debug ("%s: a source lost its link, another stays up", sensor->id);
  if (event->up)
    wu_controller_run_source_lost (engine->controller, event->time_us, actions);
  else
    wu_controller_tick (engine->controller, event->time_us, actions);
}

/* Fitness Machine Status (0x2ADA): what the bike itself says about its target and its
 * running state (control permission is the FTMS source's business, not the controller's). */
static void
feed_status (WuEngine *engine, WuSensor *sensor, const WuRawEvent *event, WuActions *actions)
{
  g_autoptr (GError) error = NULL;
  WuFtmsStatus status;

  if (!wu_ftms_decode_status (event->payload, event->len, &status, &error))
    {
      drop_packet (sensor, event, error);
      return;
    }
  g_debug ("%s: status %s", sensor->id, wu_ftms_status_opcode_to_string (status.opcode));
  switch (status.opcode)
    {
    case WU_FTMS_STATUS_TARGET_RESISTANCE:
      wu_controller_target_resistance (engine->controller, event->time_us,
                                       status.target_resistance, actions);
      break;
    case WU_FTMS_STATUS_STOPPED_BY_USER:
    case WU_FTMS_STATUS_STOPPED_BY_SAFETY_KEY:
      sensor->stopped_at_console = TRUE;
      wu_controller_machine_stopped (engine->controller, event->time_us, actions);
      break;
    case WU_FTMS_STATUS_STARTED_BY_USER:
      sensor->stopped_at_console = FALSE;
      wu_controller_machine_started (engine->controller, event->time_us, actions);
      break;
    default:
      break;
    }
}

/* Training Status (0x2AD3): informative only; decoded so a bad one is counted. */
static void
feed_training_status (WuSensor *sensor, const WuRawEvent *event)
{
  g_autoptr (GError) error = NULL;
  WuFtmsTrainingStatus training;

  if (!wu_ftms_decode_training_status (event->payload, event->len, &training, &error))
    {
      drop_packet (sensor, event, error);
      return;
    }
  g_debug ("%s: training status %s%s%s", sensor->id,
           wu_ftms_training_status_to_string (training.status),
           training.has_string ? ": " : "", training.string);
}

/* A sample decoded from revolution data (or the estimator's cadence at a deadline): shown on
 * the sensor's own Sensor1, fed to the controller for the values no better-ranked kind of
 * source reports (CadencePriority). FALSE when nothing was left to feed. */
static gboolean
feed_motion_sample (WuEngine *engine, WuSensor *sensor, WuCadenceKind kind, WuSample *sample,
                    WuActions *actions)
{
  if (sample->cadence_rpm >= 0)
    sensor->cadence = sample->cadence_rpm;
  if (sample->power_w >= 0)
    sensor->power = sample->power_w;
  if (sample->speed_kmh >= 0)
    sensor->speed = sample->speed_kmh;
  if (!filter_by_priority (engine, sensor, kind, sample))
    return FALSE;
  feed_controller (engine, sensor, sample, actions);
  return TRUE;
}

/* A reed switch's line that chatters: the estimator discarded periods with far more edges
 * in them than contact bounce makes. Said at once, then at most once a minute. */
static void
warn_if_noisy (WuSensor *sensor, gint64 time_us)
{
  guint64 noisy = wu_cadence_take_noise_report (&sensor->motion[WU_CADENCE_KIND_GPIO].cadence,
                                                time_us);

  if (noisy > 0)
    g_warning ("%s: the line is noisy (far more edges than contact bounce: a loose wire, a "
               "broken switch, interference?): %" G_GUINT64_FORMAT " revolution period%s "
               "discarded, cadence 0 meanwhile", sensor->id, noisy, noisy == 1 ? "" : "s");
}

static void
feed_motion (WuEngine *engine, WuSensor *sensor, const WuRawEvent *event, WuActions *actions)
{
  g_autoptr (GError) error = NULL;
  WuCadenceKind kind = wu_motion_kind_of (event->kind);
  WuSample sample;

  if (!wu_motion_decode (&sensor->motion[kind], &engine->motion, event, &sample, &error))
    {
      drop_packet (sensor, event, error);
      return;
    }
  if (event->kind == WU_EVENT_GPIO_EDGE)
    warn_if_noisy (sensor, event->time_us);
  /* An event that measured nothing new (an opening edge, a repeated frame) still moves
   * time: let the controller's timers fire. */
  if (!feed_motion_sample (engine, sensor, kind, &sample, actions))
    wu_controller_tick (engine->controller, event->time_us, actions);
}

/* When each sensor's values shown next change on its own (the cadence overdue, falling or
 * stale; the speed or the power stale), noted in the sensor; returns the soonest. A change
 * already due is kept until published (wu_motion_refresh_due()): a frame handled at or
 * after the stale instant, before the deadline fired, must not wipe the fall to 0. */
static gint64
refresh_motion_due (WuEngine *engine, gint64 now_us)
{
  gint64 soonest = G_MAXINT64;

  for (guint i = 0; i < engine->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (engine->sensors, i);

      for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
        soonest = MIN (soonest, wu_motion_refresh_due (&sensor->motion[kind], now_us));
    }
  return soonest;
}

/* Publish the changes due at NOW: a sensor's cadence (also fed to the controller), and its
 * speed or power gone stale, shown as 0 on its Sensor1 only (the controller has its own
 * StaleAfter, and a stale value is no report for the priority). */
static gboolean
publish_kind_due (WuEngine *engine, WuSensor *sensor, WuCadenceKind kind, gint64 now_us,
                  WuActions *actions)
{
  WuMotion *motion = &sensor->motion[kind];
  WuSample sample;
  guint stale;

  if (motion->due_us > now_us || !wu_motion_take_due (motion, now_us, &sample, &stale))
    return FALSE;
  if (stale & WU_MOTION_STALE_SPEED)
    sensor->speed = 0;
  if (stale & WU_MOTION_STALE_POWER)
    sensor->power = 0;
  /* shown only: the controller has its own StaleAfter for the cadence it was fed */
  if (stale & WU_MOTION_STALE_CADENCE)
    sensor->cadence = 0;
  if (sample.cadence_rpm >= 0)
    feed_motion_sample (engine, sensor, kind, &sample, actions);
  return TRUE;
}

static void
publish_motion_due (WuEngine *engine, gint64 now_us, WuActions *actions)
{
  for (guint i = 0; i < engine->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (engine->sensors, i);
      gboolean changed = FALSE;

      for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
        changed |= publish_kind_due (engine, sensor, kind, now_us, actions);
      if (changed && engine->observer->sensor_changed != NULL)
        engine->observer->sensor_changed (engine->observer_data, sensor);
    }
}

/* Before an event at UNTIL: publish each cadence change due at or before it, at its own
 * time, so the event is decoded after them. In virtual time nothing fires between two
 * events; on the live clock the deadline timer may not have run yet (a frame handled at the
 * stale instant, before the timer). */
static void
catch_up_motion (WuEngine *engine, gint64 until_us)
{
  gint64 at = wu_engine_now (engine);   /* published up to here */
  gint64 due;

  while ((due = refresh_motion_due (engine, at)) <= until_us)
    {
      WuActions actions;

      /* A change kept from before AT is published at its own time too, and the next one
       * asked for from there: from AT, past the stale instant, it would be lost again. */
      at = due;
      if (engine->clock_external)
        engine->external_now = MAX (engine->external_now, due);
      wu_actions_clear (&actions);
      publish_motion_due (engine, due, &actions);
      /* Not finish_input(): its deadline would be asked for from the live clock's now, which
       * an event stamped ahead of it leaves behind AT, and the change just published would
       * come back as due again (a spin until the clock caught up). The caller's
       * finish_input() re-arms the deadline once the event is handled. */
      carry_out (engine, &actions);
      notify_changed (engine, actions.n > 0);
    }
}

/* The controller's next deadline, or a sensor's next cadence change if sooner. */
static gint64
engine_next_deadline (WuEngine *engine)
{
  return MIN (wu_controller_next_deadline (engine->controller),
              refresh_motion_due (engine, wu_engine_now (engine)));
}

static void
dispatch_event (WuEngine *engine, WuSensor *sensor, const WuRawEvent *event,
                WuActions *actions)
{
  switch (event->kind)
    {
    case WU_EVENT_FTMS_INDOOR_BIKE_DATA:
      feed_indoor_bike_data (engine, sensor, event, actions);
      break;
    case WU_EVENT_FTMS_RESISTANCE_RANGE:
      feed_resistance_range (engine, sensor, event, actions);
      break;
    case WU_EVENT_FTMS_FEATURE:
    case WU_EVENT_FTMS_POWER_RANGE:
      check_decodable (sensor, event);
      break;
    case WU_EVENT_LINK:
      set_link (engine, sensor, event, actions);
      break;
    case WU_EVENT_SOURCE_LOST:
      replay_source_lost (engine, sensor, event, actions);
      break;
    case WU_EVENT_CSC_MEASUREMENT:
    case WU_EVENT_CPS_MEASUREMENT:
    case WU_EVENT_GPIO_EDGE:
      feed_motion (engine, sensor, event, actions);
      break;
    case WU_EVENT_FTMS_STATUS:
      feed_status (engine, sensor, event, actions);
      break;
    case WU_EVENT_FTMS_TRAINING_STATUS:
      feed_training_status (sensor, event);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Source names the sensor whose readings lead: the best-ranked kind ([Sensors]
 * CadencePriority) among the connected sensors that delivered within StaleAfter. A bike and
 * a cadence sensor sending together would otherwise swap it at every event. */
static gboolean
label_should_move (WuEngine *engine, WuSensor *sensor, gint64 now_us)
{
  WuSensor *current = engine->label_sensor;

  if (current == sensor)
    return FALSE;
  if (current == NULL || !current->connected || !current->delivered
      || now_us - current->delivered_us >= engine->motion.stale_after_us)
    return TRUE;
  return engine->motion.cadence_rank[sensor->delivered_kind]
         < engine->motion.cadence_rank[current->delivered_kind];
}

static void
note_data (WuEngine *engine, WuSensor *sensor, const WuRawEvent *event)
{
  sensor->delivered_kind = wu_motion_kind_of (event->kind);
  if (label_should_move (engine, sensor, event->time_us))
    set_source_label (engine, sensor);
  sensor->delivered = TRUE;
  sensor->delivered_us = event->time_us;
}

/* --- the sink every source delivers to; user data is the WuSensor ---------------------- */

static void
sink_event (gpointer user_data, const WuRawEvent *event)
{
  WuSensor *sensor = user_data;
  WuEngine *engine = sensor->engine;
  WuActions actions;

  sensor->events++;
  if (engine->shutting_down)
    return;   /* the bike is being released: nothing may start a warm-up or a re-cap now */
  catch_up_motion (engine, event->time_us);
  if (engine->clock_external)
    engine->external_now = MAX (engine->external_now, event->time_us);
  if (event->kind == WU_EVENT_SOURCE_LOST)
    record_event (engine, event);
  else if (event->kind != WU_EVENT_LINK)
    {
      note_data (engine, sensor, event);
      record_event (engine, event);   /* link changes: set_link() */
    }
  wu_actions_clear (&actions);
  dispatch_event (engine, sensor, event, &actions);
  if (engine->observer->sensor_changed != NULL)
    engine->observer->sensor_changed (engine->observer_data, sensor);
  finish_input (engine, &actions);
}

static void
sink_finished (gpointer user_data, const GError *error)
{
  WuSensor *sensor = user_data;
  WuEngine *engine = sensor->engine;

  sensor->finished = TRUE;
  if (error != NULL)
    {
      g_free (sensor->error);
      sensor->error = g_utf8_make_valid (error->message, -1);   /* a D-Bus string */
    }
  else
    g_message ("%s: end of trace at %.3f s; time stops here", sensor->id,
               wu_engine_now (engine) / 1e6);
  if (engine->observer->sensor_changed != NULL)
    engine->observer->sensor_changed (engine->observer_data, sensor);
  if (engine->observer->source_finished != NULL)
    engine->observer->source_finished (engine->observer_data, sensor, error);
}

static gint64
sink_now (gpointer user_data)
{
  WuSensor *sensor = user_data;
  return wu_engine_now (sensor->engine);
}

static gint64
sink_from_monotonic (gpointer user_data, gint64 monotonic_us)
{
  WuSensor *sensor = user_data;
  WuEngine *engine = sensor->engine;

  if (engine->clock_external)
    return engine->external_now;  /* a replay's clock has no relation to the kernel's */
  return monotonic_us - engine->epoch;
}

/* A live source's trouble: shown on its Sensor1 (the source logs it and keeps retrying). */
static void
sink_error (gpointer user_data, const GError *error)
{
  WuSensor *sensor = user_data;
  WuEngine *engine = sensor->engine;
  const char *message = error != NULL ? error->message : NULL;

  /* D-Bus strings must be UTF-8, and a message may quote what others chose (the consumer
   * name of the process holding a GPIO line) */
  g_autofree char *valid = message != NULL ? g_utf8_make_valid (message, -1) : NULL;

  if (g_strcmp0 (sensor->error, valid) == 0)
    return;
  g_free (sensor->error);
  sensor->error = g_steal_pointer (&valid);
  if (engine->observer->sensor_changed != NULL)
    engine->observer->sensor_changed (engine->observer_data, sensor);
}

static void
sink_dropped (gpointer user_data, const char *what, const GError *error)
{
  WuSensor *sensor = user_data;
  WuEngine *engine = sensor->engine;

  sensor->dropped_packets++;
  g_debug ("%s: dropped %s: %s", sensor->id, what, error->message);
  if (engine->observer->sensor_changed != NULL)
    engine->observer->sensor_changed (engine->observer_data, sensor);
}

static void
sink_control (gpointer user_data, const char *mode)
{
  WuSensor *sensor = user_data;

  if (g_strcmp0 (sensor->control, mode) == 0)
    return;
  g_free (sensor->control);
  sensor->control = g_strdup (mode);
  notify_changed (sensor->engine, TRUE);
}

static gint64
sink_next_deadline (gpointer user_data)
{
  WuSensor *sensor = user_data;
  return engine_next_deadline (sensor->engine);
}

static void
sink_advance_to (gpointer user_data, gint64 time_us)
{
  WuSensor *sensor = user_data;
  WuEngine *engine = sensor->engine;
  WuActions actions;

  engine->external_now = MAX (engine->external_now, time_us);
  wu_actions_clear (&actions);
  publish_motion_due (engine, engine->external_now, &actions);
  wu_controller_tick (engine->controller, engine->external_now, &actions);
  finish_input (engine, &actions);
}

static gboolean
sink_wait_published (gpointer user_data, GCancellable *cancellable, GAsyncReadyCallback ready,
                     gpointer ready_data)
{
  WuSensor *sensor = user_data;
  WuEngine *engine = sensor->engine;

  if (engine->observer->wait_published == NULL)
    return FALSE;
  return engine->observer->wait_published (engine->observer_data, cancellable, ready,
                                           ready_data);
}

/* ------------------------------------------------------------------------------------- */

WuEngine *
wu_engine_new (const WuConfig *config, const WuEngineObserver *observer,
               gpointer observer_data)
{
  WuEngine *engine = g_new0 (WuEngine, 1);

  engine->controller = wu_controller_new (&config->controller);
  engine->routine = g_strdup (config->routine);
  engine->observer = observer;
  engine->observer_data = observer_data;
  engine->sensors = g_ptr_array_new_with_free_func (sensor_free);
  engine->source_label = g_strdup ("");
  engine->announced_cap = -1;
  engine->epoch = g_get_monotonic_time ();
  wu_motion_config_from (&engine->motion, config);
  wu_priority_init (&engine->priority);
  engine->sink = (WuSourceSink) {
    .event = sink_event,
    .finished = sink_finished,
    .now = sink_now,
    .from_monotonic = sink_from_monotonic,
    .error = sink_error,
    .dropped = sink_dropped,
    .control = sink_control,
    .next_deadline = sink_next_deadline,
    .advance_to = sink_advance_to,
    .wait_published = sink_wait_published,
  };
  return engine;
}

void
wu_engine_free (WuEngine *engine)
{
  if (engine->deadline_timer != NULL)
    {
      g_source_destroy (engine->deadline_timer);
      g_source_unref (engine->deadline_timer);
    }
  g_ptr_array_unref (engine->sensors);
  wu_controller_free (engine->controller);
  if (engine->record != NULL)
    fclose (engine->record);
  g_free (engine->record_path);
  g_free (engine->routine);
  g_free (engine->announced_routine);
  g_free (engine->source_label);
  g_free (engine);
}

gboolean
wu_engine_record_to (WuEngine *engine, const char *path, GError **error)
{
  FILE *file = fopen (path, "we");

  if (file == NULL)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  fprintf (file, "%s\n# recorded by warmupd %s\n", WU_TRACE_HEADER, PACKAGE_VERSION);
  engine->record = file;
  engine->record_path = g_strdup (path);
  return TRUE;
}

static WuSensor *
sensor_new (WuEngine *engine, const char *id_prefix)
{
  WuSensor *sensor = g_new0 (WuSensor, 1);

  sensor->engine = engine;
  sensor->id = g_strdup_printf ("%s%u", id_prefix, engine->next_sensor_number++);
  sensor->cadence = sensor->power = sensor->speed = sensor->resistance = -1;
  sensor->heart_rate = sensor->distance = -1;
  sensor->cap_sent = -1;
  init_motions (engine, sensor);
  return sensor;
}

/* Source names the sensor whose readings lead (label_should_move), or the first one added
 * until one delivers. */
static void
set_source_label (WuEngine *engine, WuSensor *sensor)
{
  engine->label_sensor = sensor;
  g_free (engine->source_label);
  engine->source_label = g_strdup_printf ("%s:%s", sensor->source->ops->kind, sensor->source->name);
}

WuSensor *
wu_engine_add_source (WuEngine *engine, const char *id_prefix, WuSourceFactory factory,
                      gpointer user_data, GError **error)
{
  WuSensor *sensor = sensor_new (engine, id_prefix);

  sensor->source = factory (&engine->sink, sensor, user_data, error);
  if (sensor->source == NULL)
    {
      sensor_free (sensor);
      return NULL;
    }
  /* A recording starts with its link up; a live source reports when it connects. */
  sensor->connected = sensor->source->ops->drives_clock;
  if (sensor->source->ops->drives_clock)
    engine->clock_external = TRUE;
  g_ptr_array_add (engine->sensors, sensor);
  if (engine->label_sensor == NULL)
    set_source_label (engine, sensor);
  if (engine->observer->sensor_added != NULL)
    engine->observer->sensor_added (engine->observer_data, sensor);
  if (engine->sources_started)
    sensor->source->ops->start (sensor->source);
  return sensor;
}

void
wu_engine_remove_source (WuEngine *engine, WuSensor *sensor)
{
  if (sensor->connected)
    {
      /* gone without a link-down of its own: take its link down as if it had sent one
       * (logged, recorded, and the controller's link down if it was the last) */
      WuRawEvent down = { .time_us = wu_engine_now (engine), .kind = WU_EVENT_LINK };
      WuActions actions;

      wu_actions_clear (&actions);
      set_link (engine, sensor, &down, &actions);
      finish_input (engine, &actions);
    }
  if (engine->observer->sensor_removed != NULL)
    engine->observer->sensor_removed (engine->observer_data, sensor);
  if (engine->cadence_sensor == sensor)
    engine->cadence_sensor = NULL;
  /* what it reported after a link-down of its own (none left by set_link): no pointer to
   * it may outlive it */
  wu_priority_forget_values (&engine->priority,
                             wu_priority_reported_by (&engine->priority, sensor));
  if (engine->label_sensor == sensor)
    {
      engine->label_sensor = NULL;
      g_free (engine->source_label);
      engine->source_label = g_strdup ("");
    }
  g_ptr_array_remove (engine->sensors, sensor);   /* frees it and its source */
  notify_changed (engine, FALSE);
}

typedef struct {
  const char *path;
  double speed;
} ReplayArgs;

static WuSource *
make_replay (const WuSourceSink *sink, gpointer sink_data, gpointer user_data, GError **error)
{
  const ReplayArgs *args = user_data;
  return wu_replay_source_new (args->path, args->speed, sink, sink_data, error);
}

WuSensor *
wu_engine_add_replay (WuEngine *engine, const char *path, double speed, GError **error)
{
  ReplayArgs args = { path, speed };
  return wu_engine_add_source (engine, "replay", make_replay, &args, error);
}

void
wu_engine_start_sources (WuEngine *engine)
{
  engine->sources_started = TRUE;
  for (guint i = 0; i < engine->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (engine->sensors, i);
      sensor->source->ops->start (sensor->source);
    }
  engine_schedule_deadline (engine);
}

GPtrArray *
wu_engine_get_sensors (WuEngine *engine)
{
  return engine->sensors;
}

void
wu_engine_set_config (WuEngine *engine, const WuConfig *config)
{
  WuActions actions;

  /* The sources are left alone: a replay has no settings here. When live bikes come, a
   * change of the bike settings (address, kind) will need the source reconnected; the
   * warm-up settings below never do. */
  wu_controller_set_config (engine->controller, &config->controller);
  g_free (engine->routine);
  engine->routine = g_strdup (config->routine);
  wu_motion_config_from (&engine->motion, config);
  for (guint i = 0; i < engine->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (engine->sensors, i);
      for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
        wu_motion_set_config (&sensor->motion[kind], &engine->motion);
    }
  /* New timings can make a deadline due now (a shorter Duration already counted): let the
   * controller act on them at once, then publish and re-arm the deadline timer. A replay
   * at speed > 0 picks up a moved deadline at its next wake-up (the next event). */
  wu_actions_clear (&actions);
  wu_controller_tick (engine->controller, wu_engine_now (engine), &actions);
  finish_input (engine, &actions);
}

gboolean
wu_engine_start_warmup (WuEngine *engine, GError **error)
{
  WuActions actions;
  gboolean ok;

  if (engine->shutting_down)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_WRONG_STATE, "warmupd is stopping");
      return FALSE;
    }
  wu_actions_clear (&actions);
  /* refused or not, the controller caught up with the clock first: what fell due (a pause,
   * an abandon and its release) is carried out all the same */
  ok = wu_controller_start (engine->controller, wu_engine_now (engine), &actions, error);
  finish_input (engine, &actions);
  return ok;
}

gboolean
wu_engine_stop_warmup (WuEngine *engine, GError **error)
{
  WuActions actions;

  gboolean ok;

  wu_actions_clear (&actions);
  ok = wu_controller_stop (engine->controller, wu_engine_now (engine), &actions, error);
  finish_input (engine, &actions);   /* refused or not: see wu_engine_start_warmup() */
  return ok;
}

void
wu_engine_release (WuEngine *engine)
{
  /* The main loop runs on while the bike answers the release: a re-cap falling due then
   * (ReapplyAfter, a target status, a bike's link coming up) must not take it back. */
  engine->shutting_down = TRUE;
  if (wu_controller_get_cap (engine->controller) >= 0)
    release_everywhere (engine);
}

gboolean
wu_engine_is_releasing (WuEngine *engine)
{
  for (guint i = 0; i < engine->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (engine->sensors, i);
      if (sensor->source->ops->releasing != NULL
          && sensor->source->ops->releasing (sensor->source))
        return TRUE;
    }
  return FALSE;
}

const char *
wu_engine_get_control (WuEngine *engine)
{
  gboolean advisory = FALSE;

  for (guint i = 0; i < engine->sensors->len; i++)
    {
      WuSensor *sensor = g_ptr_array_index (engine->sensors, i);
      const WuSourceOps *ops = sensor->source->ops;

      if (sensor->control != NULL && sensor->control[0] != '\0'
          && strcmp (sensor->control, "advisory") != 0)
        return sensor->control;   /* a source that really holds the machine wins */
      if ((sensor->control != NULL && strcmp (sensor->control, "advisory") == 0)
          || (!ops->drives_clock && ops->apply_cap == NULL))
        advisory = TRUE;
    }
  /* "advisory" says how a cap in force is held: with none (idle, finished, no cap
   * configured) there is nothing to hold, as ResistanceCap -1 says (a reed switch read
   * "advisory" in every state) */
  return advisory && wu_controller_get_cap (engine->controller) >= 0 ? "advisory" : "";
}

const WuController *
wu_engine_get_controller (WuEngine *engine)
{
  return engine->controller;
}

const char *
wu_engine_get_source_label (WuEngine *engine)
{
  return engine->source_label;
}

/* The routine a complete warm-up announced stays its routine through a reload that names
 * another (as its Duration does): a client that starts it late, and the history row, agree
 * with StartFloorRoutine.  Otherwise the one the next completion will announce. */
const char *
wu_engine_get_routine (WuEngine *engine)
{
  if (engine->announced_routine != NULL
      && wu_controller_get_state (engine->controller) == WU_STATE_COMPLETE)
    return engine->announced_routine;
  return engine->routine;
}

guint
wu_engine_get_pauses (WuEngine *engine)
{
  WuSummary summary;

  wu_controller_get_summary (engine->controller, &summary);
  return summary.pauses;
}
