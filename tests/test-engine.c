/* Table-driven tests of the engine with two fake live sources: a bike that can be capped
 * (sensor 0, kind "ftms") and a cadence/power sensor that cannot (sensor 1, kind "csc").
 * The test pushes raw events through each source's sink, as the BLE and GPIO sources do, and
 * checks what the controller believes, what the bike was told and what D-Bus would show. */
#include "engine.h"
#include "wu-error.h"
#include "wu-trace.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define BIKE 0
#define SENSOR 1
#define NONE (-1.0)

typedef struct {
  WuSource base;
  guint caps;
  double last_cap;
  guint resumes;       /* ride_resumed() calls: a console stop taken as over */
  guint releases;      /* release() calls: the bike handed back */
} FakeSource;

static void
fake_start (WuSource *source)
{
  (void) source;
}

static void
fake_apply_cap (WuSource *source, double level)
{
  FakeSource *fake = (FakeSource *) source;

  fake->caps++;
  fake->last_cap = level;
}

static void
fake_release (WuSource *source)
{
  ((FakeSource *) source)->releases++;
}

static void
fake_ride_resumed (WuSource *source)
{
  ((FakeSource *) source)->resumes++;
}

static void
fake_free (WuSource *source)
{
  (void) source;   /* wu_source_free() frees the rest */
}

static const WuSourceOps bike_ops = {
  .kind = "ftms", .start = fake_start, .apply_cap = fake_apply_cap,
  .ride_resumed = fake_ride_resumed, .release = fake_release, .free = fake_free,
};
static const WuSourceOps sensor_ops = { .kind = "csc", .start = fake_start, .free = fake_free };

static WuSource *
make_fake (const WuSourceSink *sink, gpointer sink_data, gpointer user_data, GError **error)
{
  const WuSourceOps *ops = user_data;
  FakeSource *fake = g_new0 (FakeSource, 1);

  (void) error;
  fake->base.ops = ops;
  fake->base.sink = sink;
  fake->base.sink_data = sink_data;
  fake->base.name = g_strdup (ops == &bike_ops ? "bike" : "sensor");
  fake->base.address = g_strdup ("00:11:22:33:44:55");
  fake->last_cap = NONE;
  return &fake->base;
}

typedef enum {
  STEP_END,          /* the rest of the table */
  STEP_LINK_UP,
  STEP_LINK_DOWN,
  STEP_BIKE_DATA,    /* Indoor Bike Data: cadence a rpm, power b W, each second from t to until */
  STEP_CPS_POWER,    /* Cycling Power Measurement with power a W only */
  STEP_START,        /* warmupctl start */
  STEP_REMOVE,       /* the source goes away without a link-down (device removed) */
  STEP_ADD_BIKE,     /* the bike is found (the cases start with the sensor alone) */
  STEP_TARGET,       /* the bike's status: target resistance changed to a */
  STEP_SHUTDOWN,     /* the daemon stops: wu_engine_release() */
  STEP_CSC_WHEEL,    /* CSC Measurement with wheel data only: a revolutions, b ticks */
  STEP_STOPPED,      /* the bike's status: stopped by the user at its console (0x02 0x01) */
  STEP_BIKE_FULL,    /* Indoor Bike Data: cadence a rpm, speed b km/h, resistance level 5 */
  STEP_CRANK,        /* CSC crank data, one revolution a second (60 rpm), from t to until */
} StepKind;

typedef struct {
  double t;
  StepKind kind;
  int sensor;
  double a, b;
  double until;

  /* expectations; NULL / FALSE: not checked */
  const char *state;
  const char *label;             /* Warmup1.Source */
  gboolean check_cadence;
  double believed_cadence;       /* the controller's (Warmup1.Cadence) */
  gboolean check_power;
  double sensor_power;           /* Sensor1.Power of the step's sensor */
  gboolean check_speed;
  double sensor_speed;           /* Sensor1.Speed of the step's sensor */
  gboolean check_bike_power;
  double bike_power;             /* Sensor1.Power of the bike */
  gboolean check_bike_motion;
  double bike_cadence, bike_speed, bike_resistance;   /* Sensor1's of the bike */
  gboolean check_sensor_power;
  double other_power;            /* Sensor1.Power of the sensor, whatever the step */
  gboolean check_caps;
  guint bike_caps;               /* caps the bike was sent */
  double bike_cap;               /* the last one (NONE: none yet) */
  gboolean check_resumes;
  guint bike_resumes;            /* of them, marked "riding again after a console stop" */
  gboolean check_elapsed;
  double elapsed;                /* the controller's counted time (s) */
} Step;

#define MAX_STEPS 16
#define CADENCE(rpm_) .check_cadence = TRUE, .believed_cadence = (rpm_)
#define POWER(w_) .check_power = TRUE, .sensor_power = (w_)
#define SPEED(kmh_) .check_speed = TRUE, .sensor_speed = (kmh_)
#define BIKE_POWER(w_) .check_bike_power = TRUE, .bike_power = (w_)
#define BIKE_MOTION(rpm_, kmh_, level_) .check_bike_motion = TRUE, .bike_cadence = (rpm_), \
  .bike_speed = (kmh_), .bike_resistance = (level_)
#define SENSOR_POWER(w_) .check_sensor_power = TRUE, .other_power = (w_)
#define CAPS(n_, last_) .check_caps = TRUE, .bike_caps = (n_), .bike_cap = (last_)
#define RESUMES(n_) .check_resumes = TRUE, .bike_resumes = (n_)
#define ELAPSED(s_) .check_elapsed = TRUE, .elapsed = (s_)

typedef struct {
  const char *name;
  double cap;                    /* [Resistance] Cap= as a level; NONE: the default percent */
  gboolean manual;               /* Autostart=manual */
  Step steps[MAX_STEPS];
} Case;

#define UP(t_, s_) .t = (t_), .kind = STEP_LINK_UP, .sensor = (s_)
#define DOWN(t_, s_) .t = (t_), .kind = STEP_LINK_DOWN, .sensor = (s_)
#define RIDE(from_, to_, cad_, pow_) .t = (from_), .until = (to_), .kind = STEP_BIKE_DATA, \
  .sensor = BIKE, .a = (cad_), .b = (pow_)
#define CPS(t_, pow_) .t = (t_), .kind = STEP_CPS_POWER, .sensor = SENSOR, .a = (pow_)
#define START(t_) .t = (t_), .kind = STEP_START
#define REMOVE(t_, s_) .t = (t_), .kind = STEP_REMOVE, .sensor = (s_)
#define ADD_BIKE(t_) .t = (t_), .kind = STEP_ADD_BIKE, .sensor = BIKE
#define TARGET(t_, level_) .t = (t_), .kind = STEP_TARGET, .sensor = BIKE, .a = (level_)
#define SHUTDOWN(t_) .t = (t_), .kind = STEP_SHUTDOWN
#define STOPPED(t_) .t = (t_), .kind = STEP_STOPPED, .sensor = BIKE
#define BIKE_FULL(t_, rpm_, kmh_) .t = (t_), .kind = STEP_BIKE_FULL, .sensor = BIKE, \
  .a = (rpm_), .b = (kmh_)
#define WHEEL(t_, revs_, ticks_) .t = (t_), .kind = STEP_CSC_WHEEL, .sensor = SENSOR, \
  .a = (revs_), .b = (ticks_)
#define CRANK(from_, to_) .t = (from_), .until = (to_), .kind = STEP_CRANK, .sensor = SENSOR
/* 3 wheel revolutions of 2.105 m (the default WheelCircumference) a second */
#define KMH_3_REVS (3 * 2.105 * 3.6)

static const Case cases[] = {
  /* stopped at the console mid-warm-up, on a bike that goes on sending cadence and never
   * says 0x04: the cadence going on after the stop does not end it; once the pedalling has
   * stopped (cadence 0), the warm-up resumes after StartAfter of riding, and the bike is
   * told the stop is over (its session starts it again), then capped */
  { "a console stop ends when the rider rides again", 5, FALSE, {
      { UP (0, BIKE) },
      { RIDE (1, 10, 80, 100), .state = "warming-up", CAPS (1, 5), RESUMES (0) },
      { STOPPED (10.5), .state = "paused", CAPS (1, 5), RESUMES (0) },
      { RIDE (11, 20, 80, 100), .state = "paused", CAPS (1, 5), RESUMES (0) },
      { RIDE (21, 21, 0, 0), .state = "paused", CAPS (1, 5), RESUMES (0) },
      { RIDE (22, 24, 80, 100), .state = "paused", CAPS (1, 5), RESUMES (0) },
      { RIDE (25, 25, 80, 100), .state = "warming-up", CAPS (2, 5), RESUMES (1) },
      { RIDE (26, 30, 80, 100), .state = "warming-up", CAPS (2, 5), RESUMES (1) },
    } },
  { "a sensor's link lost while the bike keeps sending", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0.5, SENSOR) },
      { RIDE (1, 30, 80, 100), .state = "warming-up", CADENCE (80) },
      { DOWN (30.5, SENSOR), .state = "warming-up", CADENCE (80) },
      { RIDE (31, 60, 80, 100), .state = "warming-up", CADENCE (80) },
      { DOWN (60.5, BIKE), .state = "paused", CADENCE (NONE) },
    } },
  /* the same with a cadence sensor connected throughout (the link stays up): the bike's
   * reconnect ends the stop all the same (its session takes, starts and caps it again) */
  { "a console stop ends with the bike's link while a sensor stays up", 5, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { RIDE (1, 10, 80, 100), .state = "warming-up" },
      { STOPPED (10.5), .state = "paused" },
      { RIDE (11, 15, 80, 100), .state = "paused" },
      { DOWN (15.5, BIKE), .state = "paused" },
      { UP (16, BIKE) },
      { RIDE (16.5, 30, 80, 100), .state = "warming-up" },
    } },
  /* the cadence sensor feeds the run, the bike (no cadence of its own here) was stopped at
   * its console and is lost: the rider's stop stands while the bike is away (its session
   * has not started it again), whatever the sensor says */
  { "a console stop outlives the bike's loss while a sensor keeps pedalling", 5, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { CRANK (1, 10), .state = "warming-up" },
      { STOPPED (10.5), .state = "paused" },
      { CRANK (11, 15), .state = "paused" },
      { DOWN (15.5, BIKE), .state = "paused" },
      { CRANK (16, 30), .state = "paused" },
    } },
  /* the same, and the sensor's own link blips meanwhile (no source up for a moment: the
   * controller's link down and up): the stop still stands while the bike is away, so its
   * rule holds (riding resumes only StartAfter after a gap, here the sensor's first
   * cadence 0 after it re-anchors), not a plain pause's (the first pedalling sample) */
  { "a console stop outlives the bike's loss and a sensor's blip", 5, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { CRANK (1, 10), .state = "warming-up" },
      { STOPPED (10.5), .state = "paused" },
      { CRANK (11, 15), .state = "paused" },
      { DOWN (15.5, BIKE), .state = "paused" },
      { CRANK (16, 20), .state = "paused" },
      { DOWN (20.5, SENSOR), .state = "paused" },
      { UP (20.6, SENSOR), .state = "paused" },
      { CRANK (21, 25), .state = "paused" },
      { CRANK (26, 26), .state = "warming-up" },
    } },
  /* the sensor fed the run: the bike's outage (it sends no cadence) does not end it */
  { "the run fed by a sensor goes on over the bike's outage", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { CRANK (1, 20), .state = "warming-up", ELAPSED (18) },
      { DOWN (20.5, BIKE), .state = "warming-up" },
      { CRANK (21, 25), .state = "warming-up", ELAPSED (23) },
    } },
  /* the bike led the pedalling run: nothing counts across its outage, sensor up or not */
  { "nothing is counted across the bike's outage while a sensor stays up", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { RIDE (1, 20, 80, 100), .state = "warming-up", ELAPSED (19) },
      { DOWN (20.2, BIKE), .state = "warming-up" },
      { UP (22.7, BIKE) },
      { RIDE (23, 23, 80, 100), .state = "warming-up", ELAPSED (19) },
      { RIDE (24, 25, 80, 100), .state = "warming-up", ELAPSED (21) },
    } },
  { "the bike's link lost while a sensor stays up: not blind, only without data", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { RIDE (1, 20, 80, 100), .state = "warming-up" },
      { DOWN (20.5, BIKE), .state = "warming-up" },
      { UP (21, BIKE) },
      { RIDE (21.5, 30, 75, 90), .state = "warming-up", CADENCE (75) },
    } },
  { "a bike found after a manual start is capped when its link comes up", 5, TRUE, {
      { REMOVE (0, BIKE) },
      { START (0), .state = "warming-up" },
      { ADD_BIKE (4), CAPS (0, NONE) },
      { UP (5, BIKE), CAPS (1, 5) },
      { RIDE (6, 10, 80, 100), CAPS (1, 5) },
    } },
  { "a bike found while a sensor alone kept the link up is capped", 5, FALSE, {
      { REMOVE (0, BIKE) },
      { UP (0, SENSOR) },
      { START (1), .state = "warming-up" },
      { ADD_BIKE (4), CAPS (0, NONE) },
      { UP (5, BIKE), CAPS (1, 5) },
      { DOWN (6, BIKE) },
      { UP (7, BIKE), CAPS (1, 5) },
    } },
  { "a bike known but not connected at the start is capped once", 5, TRUE, {
      { START (0), .state = "warming-up", CAPS (1, 5) },
      { UP (5, BIKE), CAPS (1, 5) },
    } },
  { "a reconnecting bike, the only source, is capped once more", 5, TRUE, {
      { UP (0, BIKE) },
      { START (1), CAPS (1, 5) },
      { DOWN (5, BIKE), .state = "paused", CAPS (1, NONE) },
      { UP (6, BIKE), CAPS (2, 5) },
    } },
  { "a target status above the cap re-caps at once", 5, TRUE, {
      { UP (0, BIKE) },
      { START (1), CAPS (1, 5) },
      { TARGET (2, 9), CAPS (2, 5) },
    } },
  { "once shutting down, nothing takes the released bike back", 5, TRUE, {
      { UP (0, BIKE) },
      { START (1), CAPS (1, 5) },
      { SHUTDOWN (2) },
      { TARGET (3, 9), CAPS (1, 5) },
      { RIDE (4, 10, 80, 100), CAPS (1, 5) },
    } },
  { "once shutting down, pedalling starts nothing", NONE, FALSE, {
      { UP (0, BIKE) },
      { SHUTDOWN (0.5) },
      { RIDE (1, 10, 80, 100), .state = "idle", CAPS (0, NONE) },
    } },
  { "no cap in force: a bike coming up is sent none", NONE, FALSE, {
      { UP (0, SENSOR) },
      { UP (1, BIKE), .state = "idle", CAPS (0, NONE) },
    } },
  { "Source follows the better-ranked sensor, not the last event", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { RIDE (1, 1, 80, 100), .label = "ftms:bike" },
      { CPS (1.5, 120), .label = "ftms:bike" },
      { RIDE (2, 2, 80, 100), .label = "ftms:bike" },
      { CPS (2.5, 120), .label = "ftms:bike" },
      /* the bike falls silent: the sensor leads once the bike's data is stale (3 s) */
      { CPS (4.5, 120), .label = "ftms:bike" },
      { CPS (5.5, 120), .label = "csc:sensor" },
      /* and the bike takes over again as soon as it sends */
      { RIDE (6, 6, 80, 100), .label = "ftms:bike" },
      { DOWN (7, BIKE), .label = "ftms:bike" },
      { CPS (7.5, 120), .label = "csc:sensor" },
    } },
  { "negative power reads as 0, not as unknown", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { CPS (1, 150), POWER (150) },
      { CPS (2, -5), POWER (0) },
      { RIDE (3, 3, 80, -1), POWER (0) },
      { RIDE (4, 4, 80, 60), POWER (60) },
    } },
  /* StaleAfter (3 s) after its last new revolution, a stopped wheel's speed is 0 (it
   * showed 22.73 km/h for good while the sensor repeated its last frame); published before
   * a frame that comes at that instant. After the stop, the first frame is a restart. */
  { "a stopped wheel's Sensor1.Speed falls to 0 after StaleAfter", NONE, FALSE, {
      { UP (0, SENSOR) },
      { WHEEL (1, 1000, 0) },
      { WHEEL (2, 1003, 1024), SPEED (NONE) },
      { WHEEL (3, 1006, 2048), SPEED (KMH_3_REVS) },
      { WHEEL (4, 1006, 2048), SPEED (KMH_3_REVS) },
      { WHEEL (5.9, 1006, 2048), SPEED (KMH_3_REVS) },
      { WHEEL (6, 1006, 2048), SPEED (0) },
      { WHEEL (9, 1006, 2048), SPEED (0) },
      { WHEEL (10, 1009, 2048 + 7 * 1024), SPEED (0) },
      { WHEEL (11, 1012, 2048 + 8 * 1024), SPEED (KMH_3_REVS) },
      { WHEEL (13.9, 1012, 2048 + 8 * 1024), SPEED (KMH_3_REVS) },
      { CPS (14, 0), SPEED (0) },
    } },
  /* StaleAfter after a power meter's last measurement, its power is 0 (another source's
   * event moves time here); a last measurement of 0 needs nothing. */
  { "a silent power meter's Sensor1.Power falls to 0 after StaleAfter", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { CPS (1, 150), POWER (150) },
      { CPS (2, 160), POWER (160) },
      { RIDE (4.9, 4.9, 80, 100), SENSOR_POWER (160) },
      { RIDE (5, 5, 80, 100), SENSOR_POWER (0) },
      { CPS (6, 0), POWER (0) },
      { RIDE (12, 12, 80, 100), SENSOR_POWER (0) },
    } },
  /* So does a bike's, when its Indoor Bike Data stops while its link stays up. */
  { "a silent bike's Sensor1.Power falls to 0 after StaleAfter", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { RIDE (1, 3, 80, 100), BIKE_POWER (100) },
      { CPS (5.9, 120), BIKE_POWER (100) },
      { CPS (6, 120), BIKE_POWER (0) },
      { RIDE (7, 7, 80, 90), BIKE_POWER (90) },
    } },
  /* And its own Cadence and Speed (they stayed as last sent while it stayed connected and
   * silent); shown only: the controller believes no cadence past StaleAfter anyway. A link
   * down leaves nothing it reported (Resistance stayed). */
  { "a silent bike's Sensor1 Cadence and Speed fall to 0 after StaleAfter", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { BIKE_FULL (1, 80, 25), BIKE_MOTION (80, 25, 5) },
      { BIKE_FULL (2, 78, 24), BIKE_MOTION (78, 24, 5) },
      { CPS (4.9, 120), BIKE_MOTION (78, 24, 5) },
      { CPS (5, 120), BIKE_MOTION (0, 0, 5) },
      { BIKE_FULL (6, 70, 22), BIKE_MOTION (70, 22, 5) },
      { DOWN (7, BIKE), BIKE_MOTION (NONE, NONE, NONE) },
    } },
  { "the last connected source removed without a link-down", NONE, FALSE, {
      { UP (0, BIKE) },
      { RIDE (1, 20, 80, 100), .state = "warming-up" },
      { REMOVE (20.5, BIKE), .state = "paused", CADENCE (NONE) },
    } },
  { "a source removed while another stays connected", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { RIDE (1, 20, 80, 100), .state = "warming-up" },
      { REMOVE (20.5, SENSOR), .state = "warming-up" },
      { RIDE (21, 25, 80, 100), .state = "warming-up", CADENCE (80) },
    } },
  /* The console stop is over (ridden through), later every source drops and the sensor
   * comes back first: a plain link pause, resumed by the first pedalling sample (the stop
   * was once brought back, and the bike told of a second resume) */
  { "an ended console stop is not revived by a link coming back", 5, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { RIDE (1, 10, 80, 100), .state = "warming-up", CAPS (1, 5), RESUMES (0) },
      { STOPPED (10.5), .state = "paused" },
      { RIDE (11, 11, 0, 0), .state = "paused" },
      { RIDE (12, 15, 80, 100), .state = "warming-up", RESUMES (1) },
      { DOWN (15.5, BIKE), .state = "warming-up" },
      { DOWN (16, SENSOR), .state = "paused" },
      { UP (17, SENSOR), .state = "paused" },
      { CRANK (18, 20), .state = "warming-up", RESUMES (1) },
      { CRANK (21, 30), .state = "warming-up", RESUMES (1) },
    } },
  /* The same with the default percent cap and no resistance range known (no cap in force,
   * so no resume cap): the ended console stop is not revived either */
  { "an ended console stop without a cap in force is not revived", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { RIDE (1, 10, 80, 100), .state = "warming-up" },
      { STOPPED (10.5), .state = "paused" },
      { RIDE (11, 11, 0, 0), .state = "paused" },
      { RIDE (12, 15, 80, 100), .state = "warming-up" },
      { DOWN (15.5, BIKE), .state = "warming-up" },
      { DOWN (16, SENSOR), .state = "paused" },
      { UP (17, SENSOR), .state = "paused" },
      { CRANK (18, 20), .state = "warming-up" },
      { CRANK (21, 30), .state = "warming-up" },
    } },
  /* Stopped at the console in idle (after a ride), the bike's link flaps while the
   * rider pedals on a crank sensor: its return does not cut the run autostart counts */
  { "an idle run is not cut by a stopped bike's return", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { STOPPED (0.5), .state = "idle" },
      { DOWN (1, BIKE), .state = "idle" },
      { CRANK (2, 5), .state = "idle" },
      { UP (5.5, BIKE), .state = "idle" },
      { CRANK (6, 12), ELAPSED (9) },
    } },
  { "an idle run after a console stop, no flap", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { STOPPED (0.5), .state = "idle" },
      { CRANK (2, 5), .state = "idle" },
      { CRANK (6, 12), ELAPSED (9) },
    } },
  { "an idle run, the link flapping, the bike not stopped", NONE, FALSE, {
      { UP (0, BIKE) },
      { UP (0, SENSOR) },
      { DOWN (1, BIKE), .state = "idle" },
      { CRANK (2, 5), .state = "idle" },
      { UP (5.5, BIKE), .state = "idle" },
      { CRANK (6, 12), ELAPSED (9) },
    } },
};

/* The engine keeps a pointer to its observer: this one outlives every engine. */
static const WuEngineObserver no_observer = { 0 };

typedef struct {
  WuEngine *engine;
  WuSensor *sensors[2];
  gint64 origin;
} Fixture;

static gint64
at (const Fixture *fixture, double seconds)
{
  return fixture->origin + (gint64) (seconds * G_USEC_PER_SEC);
}

static void
push (WuSensor *sensor, const WuRawEvent *event)
{
  sensor->source->sink->event (sensor->source->sink_data, event);
}

static void
push_link (WuSensor *sensor, gint64 time_us, gboolean up)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_LINK, .up = up };
  push (sensor, &event);
}

/* Indoor Bike Data: flags 0x0044 (speed, cadence, power), speed 0, cadence in 0.5 rpm,
 * power SINT16 W. */
static void
push_bike_data (WuSensor *sensor, gint64 time_us, double rpm, double watts)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_FTMS_INDOOR_BIKE_DATA, .len = 8 };
  guint16 cadence = (guint16) (rpm * 2);
  gint16 power = (gint16) watts;
  const guint8 payload[] = { 0x44, 0x00, 0x00, 0x00, cadence & 0xff, cadence >> 8,
                             (guint16) power & 0xff, (guint16) power >> 8 };

  memcpy (event.payload, payload, sizeof payload);
  push (sensor, &event);
}

/* Indoor Bike Data: flags 0x24 (speed, cadence and resistance level 5). */
static void
push_bike_full (WuSensor *sensor, gint64 time_us, double rpm, double kmh)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_FTMS_INDOOR_BIKE_DATA, .len = 8 };
  guint16 speed = (guint16) (kmh * 100), cadence = (guint16) (rpm * 2);
  const guint8 payload[] = { 0x24, 0x00, speed & 0xff, speed >> 8, cadence & 0xff,
                             cadence >> 8, 5, 0 };

  memcpy (event.payload, payload, sizeof payload);
  push (sensor, &event);
}

/* Indoor Bike Data: flags 0x0040 (speed 0, power SINT16 W): a bike that shows no cadence. */
static void
push_bike_power (WuSensor *sensor, gint64 time_us, double watts)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_FTMS_INDOOR_BIKE_DATA, .len = 6 };
  gint16 power = (gint16) watts;
  const guint8 payload[] = { 0x40, 0x00, 0x00, 0x00, (guint16) power & 0xff,
                             (guint16) power >> 8 };

  memcpy (event.payload, payload, sizeof payload);
  push (sensor, &event);
}

/* Cycling Power Measurement: flags 0, instantaneous power SINT16 W. */
static void
push_cps_power (WuSensor *sensor, gint64 time_us, double watts)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_CPS_MEASUREMENT, .len = 4 };
  gint16 power = (gint16) watts;

  event.payload[2] = (guint16) power & 0xff;
  event.payload[3] = (guint16) power >> 8;
  push (sensor, &event);
}

/* CSC Measurement: flags 0x02 (crank data), cumulative revolutions, last event 1/1024 s. */
static void
push_csc_crank (WuSensor *sensor, gint64 time_us, guint16 revs, guint16 ticks)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_CSC_MEASUREMENT, .len = 5 };
  const guint8 payload[] = { 0x02, revs & 0xff, revs >> 8, ticks & 0xff, ticks >> 8 };

  memcpy (event.payload, payload, sizeof payload);
  push (sensor, &event);
}

/* CSC Measurement: flags 0x01 (wheel data), cumulative revolutions, last event 1/1024 s. */
static void
push_csc_wheel (WuSensor *sensor, gint64 time_us, guint32 revs, guint16 ticks)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_CSC_MEASUREMENT, .len = 7 };
  const guint8 payload[] = { 0x01, revs & 0xff, (revs >> 8) & 0xff, (revs >> 16) & 0xff,
                             revs >> 24, ticks & 0xff, ticks >> 8 };

  memcpy (event.payload, payload, sizeof payload);
  push (sensor, &event);
}

/* Fitness Machine Status 0x07: target resistance level changed, UINT8 in 0.1. */
static void
push_target_status (WuSensor *sensor, gint64 time_us, double level)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_FTMS_STATUS, .len = 2 };

  event.payload[0] = 0x07;
  event.payload[1] = (guint8) (level * 10);
  push (sensor, &event);
}

/* Fitness Machine Status 0x02: stopped (0x01) by the user at the console. */
static void
push_stopped_status (WuSensor *sensor, gint64 time_us)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_FTMS_STATUS, .len = 2 };

  event.payload[0] = 0x02;
  event.payload[1] = 0x01;
  push (sensor, &event);
}

static void
run_step (Fixture *fixture, const Step *step)
{
  WuSensor *sensor = fixture->sensors[step->sensor];

  switch (step->kind)
    {
    case STEP_LINK_UP:
    case STEP_LINK_DOWN:
      push_link (sensor, at (fixture, step->t), step->kind == STEP_LINK_UP);
      break;
    case STEP_BIKE_DATA:
      for (double t = step->t; t <= step->until; t += 1)
        push_bike_data (sensor, at (fixture, t), step->a, step->b);
      break;
    case STEP_CPS_POWER:
      push_cps_power (sensor, at (fixture, step->t), step->a);
      break;
    case STEP_START:
      g_assert_true (wu_engine_start_warmup (fixture->engine, NULL));
      break;
    case STEP_REMOVE:
      wu_engine_remove_source (fixture->engine, sensor);
      fixture->sensors[step->sensor] = NULL;
      break;
    case STEP_TARGET:
      push_target_status (sensor, at (fixture, step->t), step->a);
      break;
    case STEP_SHUTDOWN:
      wu_engine_release (fixture->engine);
      break;
    case STEP_BIKE_FULL:
      push_bike_full (sensor, at (fixture, step->t), step->a, step->b);
      break;
    case STEP_STOPPED:
      push_stopped_status (sensor, at (fixture, step->t));
      break;
    case STEP_CRANK:
      for (double t = step->t; t <= step->until; t += 1)
        push_csc_crank (sensor, at (fixture, t), (guint16) t, (guint16) (t * 1024));
      break;
    case STEP_CSC_WHEEL:
      push_csc_wheel (sensor, at (fixture, step->t), (guint32) step->a, (guint16) step->b);
      break;
    case STEP_ADD_BIKE:
      fixture->sensors[BIKE] = wu_engine_add_source (fixture->engine, "ftms", make_fake,
                                                     (gpointer) &bike_ops, NULL);
      break;
    default:
      g_assert_not_reached ();
    }
}

static double
last_time (const Step *step)
{
  return step->kind == STEP_BIKE_DATA ? step->until : step->t;
}

static void
check_step (const Fixture *fixture, const Case *c, guint index, const Step *step)
{
  const WuController *ctl = wu_engine_get_controller (fixture->engine);
  const WuSensor *bike_sensor = fixture->sensors[BIKE];
  const FakeSource *bike = bike_sensor != NULL ? (const FakeSource *) bike_sensor->source : NULL;
  gint64 now = at (fixture, last_time (step));
  g_autofree char *where = g_strdup_printf ("%s, step %u", c->name, index);

  if (step->state != NULL)
    g_assert_cmpstr (wu_state_to_string (wu_controller_get_state (ctl)), ==, step->state);
  if (step->label != NULL)
    g_assert_cmpstr (wu_engine_get_source_label (fixture->engine), ==, step->label);
  if (step->check_cadence && wu_controller_get_cadence (ctl, now) != step->believed_cadence)
    g_error ("%s: controller cadence %.1f, expected %.1f", where,
             wu_controller_get_cadence (ctl, now), step->believed_cadence);
  if (step->check_power)
    {
      double power = fixture->sensors[step->sensor]->power;
      if (power != step->sensor_power)
        g_error ("%s: Sensor1.Power %.1f, expected %.1f", where, power, step->sensor_power);
    }
  if (step->check_speed &&
      fabs (fixture->sensors[step->sensor]->speed - step->sensor_speed) > 1e-9)
    g_error ("%s: Sensor1.Speed %.3f, expected %.3f", where,
             fixture->sensors[step->sensor]->speed, step->sensor_speed);
  if (step->check_bike_power && bike_sensor->power != step->bike_power)
    g_error ("%s: the bike's Sensor1.Power %.1f, expected %.1f", where, bike_sensor->power,
             step->bike_power);
  if (step->check_bike_motion &&
      (bike_sensor->cadence != step->bike_cadence || bike_sensor->speed != step->bike_speed ||
       bike_sensor->resistance != step->bike_resistance))
    g_error ("%s: the bike's Sensor1 Cadence %.2f Speed %.2f Resistance %.1f, expected %.2f "
             "%.2f %.1f", where, bike_sensor->cadence, bike_sensor->speed,
             bike_sensor->resistance, step->bike_cadence, step->bike_speed,
             step->bike_resistance);
  if (step->check_sensor_power && fixture->sensors[SENSOR]->power != step->other_power)
    g_error ("%s: the sensor's Sensor1.Power %.1f, expected %.1f", where,
             fixture->sensors[SENSOR]->power, step->other_power);
  if (step->check_caps && bike == NULL)
    g_error ("%s: no bike to check", where);
  if (step->check_caps && bike->caps != step->bike_caps)
    g_error ("%s: the bike was sent %u caps, expected %u", where, bike->caps, step->bike_caps);
  if (step->check_caps && step->bike_cap != NONE && bike->last_cap != step->bike_cap)
    g_error ("%s: the bike's cap %.1f, expected %.1f", where, bike->last_cap, step->bike_cap);
  if (step->check_resumes && bike->resumes != step->bike_resumes)
    g_error ("%s: the bike was told of %u resumes, expected %u", where, bike->resumes,
             step->bike_resumes);
  if (step->check_elapsed && fabs (wu_controller_get_elapsed (ctl) - step->elapsed) > 1e-6)
    g_error ("%s: %.3f s counted, expected %.3f", where, wu_controller_get_elapsed (ctl),
             step->elapsed);
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  WuConfig config;
  Fixture fixture = { 0 };

  wu_config_init (&config);
  config.controller.start_after_us = 3 * G_USEC_PER_SEC;
  if (c->cap != NONE)
    config.controller.cap_level = c->cap;
  if (c->manual)
    config.controller.autostart = WU_AUTOSTART_MANUAL;
  fixture.engine = wu_engine_new (&config, &no_observer, NULL);
  fixture.sensors[BIKE] = wu_engine_add_source (fixture.engine, "ftms", make_fake,
                                                (gpointer) &bike_ops, NULL);
  fixture.sensors[SENSOR] = wu_engine_add_source (fixture.engine, "csc", make_fake,
                                                  (gpointer) &sensor_ops, NULL);
  wu_engine_start_sources (fixture.engine);
  fixture.origin = wu_engine_now (fixture.engine);
  wu_config_clear (&config);

  for (guint i = 0; i < MAX_STEPS && c->steps[i].kind != STEP_END; i++)
    {
      const Step *step = &c->steps[i];

      run_step (&fixture, step);
      check_step (&fixture, c, i, step);
    }
  wu_engine_free (fixture.engine);
}

static void
test_start_refused_once_shutting_down (void)
{
  g_autoptr (GError) error = NULL;
  WuConfig config;
  WuEngine *engine;

  wu_config_init (&config);
  engine = wu_engine_new (&config, &no_observer, NULL);
  wu_config_clear (&config);
  wu_engine_release (engine);
  g_assert_false (wu_engine_start_warmup (engine, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_WRONG_STATE);
  g_assert_cmpint (wu_controller_get_state (wu_engine_get_controller (engine)), ==,
                   WU_STATE_IDLE);
  wu_engine_free (engine);
}

/* The fixture's engine, recording to a trace in a directory of its own. */
static char *
start_recording (Fixture *fixture)
{
  g_autofree char *dir = g_dir_make_tmp ("test-engine-XXXXXX", NULL);
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, "rec.trace", NULL);
  WuConfig config;

  wu_config_init (&config);
  fixture->engine = wu_engine_new (&config, &no_observer, NULL);
  wu_config_clear (&config);
  g_assert_true (wu_engine_record_to (fixture->engine, path, &error));
  g_assert_no_error (error);
  fixture->sensors[BIKE] = wu_engine_add_source (fixture->engine, "ftms", make_fake,
                                                 (gpointer) &bike_ops, NULL);
  fixture->sensors[SENSOR] = wu_engine_add_source (fixture->engine, "csc", make_fake,
                                                   (gpointer) &sensor_ops, NULL);
  wu_engine_start_sources (fixture->engine);
  fixture->origin = wu_engine_now (fixture->engine);
  return path;
}

/* Every event of the recording at PATH (which is then removed, with its directory). */
static GArray *
read_recording (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WuTraceReader) reader = wu_trace_reader_open (path, &error);
  g_autofree char *dir = g_path_get_dirname (path);
  GArray *events = g_array_new (FALSE, FALSE, sizeof (WuRawEvent));
  WuRawEvent event;

  g_assert_no_error (error);
  while (wu_trace_reader_next (reader, &event, &error))
    g_array_append_val (events, event);
  g_assert_no_error (error);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  return events;
}

/* A recording interleaves sources that stamp differently (a GPIO edge with the time it
 * happened, a BLE value with the time it was read): it must still replay. */
static void
test_recording_stays_in_order (void)
{
  Fixture fixture = { 0 };
  g_autofree char *path = start_recording (&fixture);
  g_autoptr (GArray) events = NULL;
  WuSensor *bike = fixture.sensors[BIKE];

  push_link (bike, fixture.origin + 5143, TRUE);
  push_bike_data (bike, fixture.origin + 52, 80, 100);      /* stamped 5 ms earlier */
  push_bike_data (bike, fixture.origin + 250000, 80, 100);
  wu_engine_free (fixture.engine);

  events = read_recording (path);
  g_assert_cmpuint (events->len, ==, 3);
  for (guint i = 1; i < events->len; i++)
    g_assert_cmpint (g_array_index (events, WuRawEvent, i).time_us, >=,
                     g_array_index (events, WuRawEvent, i - 1).time_us);
}

/* A trace has one link, like the controller: with a bike and a cadence sensor, the
 * sensor dropping out while the bike sends on is left out of it, or the replay would pause;
 * a source.lost says what the drop-out changed (here: nothing the sensor reported). */
static void
test_recording_has_one_link (void)
{
  Fixture fixture = { 0 };
  g_autofree char *path = start_recording (&fixture);
  g_autoptr (GArray) events = NULL;
  g_autoptr (GString) links = g_string_new ("");
  g_autofree char *text = NULL;
  WuSensor *bike = fixture.sensors[BIKE], *sensor = fixture.sensors[SENSOR];

  push_link (bike, at (&fixture, 0), TRUE);
  push_link (sensor, at (&fixture, 0.5), TRUE);
  push_bike_data (bike, at (&fixture, 1), 80, 100);
  push_link (sensor, at (&fixture, 2), FALSE);
  push_bike_data (bike, at (&fixture, 3), 80, 100);
  push_link (sensor, at (&fixture, 4), TRUE);
  push_link (bike, at (&fixture, 5), FALSE);
  push_link (sensor, at (&fixture, 6), FALSE);
  push_link (bike, at (&fixture, 7), TRUE);
  wu_engine_free (fixture.engine);

  /* the source's own link change is said in comments too (which a replay skips) */
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, " csc1 link down (another source stays up)\n"));
  g_assert_nonnull (strstr (text, " csc1 link up (another source stays up)\n"));
  g_assert_nonnull (strstr (text, " ftms0 link down (another source stays up)\n"));
  g_assert_nonnull (strstr (text, "\n# "));
  g_assert_null (strstr (text, "ftms0 link up (another"));   /* the link was down: an event */
  events = read_recording (path);
  for (guint i = 0; i < events->len; i++)
    {
      const WuRawEvent *event = &g_array_index (events, WuRawEvent, i);
      if (event->kind == WU_EVENT_LINK)
        g_string_append (links, event->up ? "up " : "down ");
      else if (event->kind == WU_EVENT_SOURCE_LOST)
        g_string_append_printf (links, "lost(%#x%s) ", event->lost,
                                event->up ? ",run" : "");
    }
  /* the sensor at 2 s (sent nothing), the bike at 5 s (reported cadence, power and speed
   * last; its cadence ran the warm-up) */
  g_assert_cmpstr (links->str, ==, "up lost(0) lost(0x7,run) down up ");
}

/* The last connected source removed without a link-down: the trace's link goes down too. */
static void
test_recording_source_removed (void)
{
  Fixture fixture = { 0 };
  g_autofree char *path = start_recording (&fixture);
  g_autoptr (GArray) events = NULL;
  const WuRawEvent *last;

  push_link (fixture.sensors[BIKE], at (&fixture, 0), TRUE);
  push_bike_data (fixture.sensors[BIKE], at (&fixture, 1), 80, 100);
  wu_engine_remove_source (fixture.engine, fixture.sensors[BIKE]);
  wu_engine_free (fixture.engine);

  events = read_recording (path);
  last = &g_array_index (events, WuRawEvent, events->len - 1);
  g_assert_cmpint (last->kind, ==, WU_EVENT_LINK);
  g_assert_false (last->up);
}

/* An empty notification (a value of no bytes) is dropped and counted, and recorded so that
 * the recording replays: "csc.measurement -" (it was written with no payload at all, which
 * the reader refuses). */
static void
test_recording_empty_value (void)
{
  Fixture fixture = { 0 };
  g_autofree char *path = start_recording (&fixture);
  g_autoptr (GArray) events = NULL;
  WuSensor *sensor = fixture.sensors[SENSOR];
  WuRawEvent empty = { .time_us = at (&fixture, 0.068916), .kind = WU_EVENT_CSC_MEASUREMENT };
  g_autofree char *line = NULL;

  push_link (sensor, at (&fixture, 0), TRUE);
  push (sensor, &empty);
  g_assert_cmpuint (sensor->dropped_packets, ==, 1);
  g_assert_true (sensor->connected);
  wu_engine_free (fixture.engine);

  events = read_recording (path);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpint (g_array_index (events, WuRawEvent, 1).kind, ==, WU_EVENT_CSC_MEASUREMENT);
  g_assert_cmpuint (g_array_index (events, WuRawEvent, 1).len, ==, 0);
  line = wu_trace_format_event (&g_array_index (events, WuRawEvent, 1));
  g_assert_cmpstr (strchr (line, ' '), ==, " csc.measurement -");
}

/* What the bike had been sent when the observer heard of each transition. */
typedef struct {
  Fixture fixture;
  GString *seen;
} OrderFixture;

static void
note_transition (gpointer user_data, WuState old_state, WuState new_state)
{
  OrderFixture *order = user_data;
  const FakeSource *bike = (const FakeSource *) order->fixture.sensors[BIKE]->source;

  g_string_append_printf (order->seen, "%s->%s caps %u; ", wu_state_to_string (old_state),
                          wu_state_to_string (new_state), bike->caps);
}

/* Stop() coming once the abandon deadline has passed, before its timer ran: refused (no
 * warm-up runs any more), and what fell due is carried out all the same: the pause, the
 * cancel with the bike's release, each heard by the observer (which writes the history
 * row). They were dropped with the refusal: a bike left capped, a row left "running". */
static void
test_refused_stop_carries_out_what_fell_due (void)
{
  static const WuEngineObserver observer = { .state_changed = note_transition };
  OrderFixture order = { .seen = g_string_new ("") };
  g_autoptr (GError) error = NULL;
  WuEngine *engine;
  WuSensor *bike;
  WuConfig config;
  gint64 due;

  wu_config_init (&config);
  config.controller.cap_level = 5;
  config.controller.autostart = WU_AUTOSTART_MANUAL;
  config.controller.pause_after_us = 1000;
  config.controller.abandon_after_us = 1000;
  engine = order.fixture.engine = wu_engine_new (&config, &observer, &order);
  wu_config_clear (&config);
  bike = order.fixture.sensors[BIKE] = wu_engine_add_source (engine, "ftms", make_fake,
                                                             (gpointer) &bike_ops, NULL);
  wu_engine_start_sources (engine);
  order.fixture.origin = wu_engine_now (engine);
  push_link (bike, at (&order.fixture, 0), TRUE);
  g_assert_true (wu_engine_start_warmup (engine, NULL));
  /* no main loop runs here: both deadlines pass with their timer pending */
  due = wu_engine_now (engine) + 3000;
  while (wu_engine_now (engine) < due)
    g_usleep (500);
  g_assert_false (wu_engine_stop_warmup (engine, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_NOT_RUNNING);
  g_assert_cmpstr (order.seen->str, ==, "idle->warming-up caps 1; "
                   "warming-up->paused caps 1; paused->cancelled caps 1; "
                   "cancelled->idle caps 1; ");
  g_assert_cmpuint (((const FakeSource *) bike->source)->releases, ==, 1);
  wu_engine_free (engine);
  g_string_free (order.seen, TRUE);
}

/* The observer writes the history row on a transition, which can wait on a locked
 * database: the cap that comes with the start must already be on its way to the bike. */
static void
test_cap_sent_before_the_observer_hears (void)
{
  static const WuEngineObserver observer = { .state_changed = note_transition };
  OrderFixture order = { .seen = g_string_new ("") };
  WuSensor *bike;
  WuConfig config;

  wu_config_init (&config);
  config.controller.cap_level = 5;
  config.controller.autostart = WU_AUTOSTART_MANUAL;
  order.fixture.engine = wu_engine_new (&config, &observer, &order);
  wu_config_clear (&config);
  bike = order.fixture.sensors[BIKE] = wu_engine_add_source (order.fixture.engine, "ftms",
                                                             make_fake, (gpointer) &bike_ops,
                                                             NULL);
  wu_engine_start_sources (order.fixture.engine);
  order.fixture.origin = wu_engine_now (order.fixture.engine);
  push_link (bike, at (&order.fixture, 0), TRUE);
  g_assert_true (wu_engine_start_warmup (order.fixture.engine, NULL));
  g_assert_cmpstr (order.seen->str, ==, "idle->warming-up caps 1; ");
  wu_engine_free (order.fixture.engine);
  g_string_free (order.seen, TRUE);
}

static void
sleep_until (WuEngine *engine, gint64 time_us)
{
  while (wu_engine_now (engine) < time_us)
    g_usleep (MAX (time_us - wu_engine_now (engine), 100));
}

/* On the live clock, a coasting frame (a repeat) handled at or after the instant the cadence
 * goes stale, before the deadline timer has fired: the fall to 0 is published first, and
 * not lost (Sensor1.Cadence stayed at the last value for good while repeats came). */
static void
test_stale_cadence_published_before_a_late_frame (void)
{
  WuConfig config;
  WuEngine *engine;
  WuSensor *sensor;
  gint64 origin, last_new = 0;
  guint16 revs = 10, ticks = 0;

  wu_config_init (&config);
  config.controller.stale_after_us = G_USEC_PER_SEC;
  engine = wu_engine_new (&config, &no_observer, NULL);
  wu_config_clear (&config);
  sensor = wu_engine_add_source (engine, "csc", make_fake, (gpointer) &sensor_ops, NULL);
  wu_engine_start_sources (engine);
  origin = wu_engine_now (engine);
  push_link (sensor, origin, TRUE);
  /* 120 rpm: a new revolution every other frame, frames every 250 ms. The main loop is not
   * run: the deadline timer cannot fire before the frame below. */
  for (guint k = 0; k <= 6; k++)
    {
      sleep_until (engine, origin + k * 250000);
      if (k % 2 == 0)
        {
          revs++;
          ticks += 512;
          last_new = wu_engine_now (engine);
        }
      push_csc_crank (sensor, wu_engine_now (engine), revs, ticks);
    }
  g_assert_cmpfloat_with_epsilon (sensor->cadence, 120.0, 0.5);
  sleep_until (engine, last_new + G_USEC_PER_SEC + 1000);
  push_csc_crank (sensor, wu_engine_now (engine), revs, ticks);
  g_assert_cmpfloat (sensor->cadence, ==, 0.0);
  /* and it stays so while the repeats come, the timer free to run */
  for (guint k = 0; k < 3; k++)
    {
      g_usleep (100000);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      push_csc_crank (sensor, wu_engine_now (engine), revs, ticks);
      g_assert_cmpfloat (sensor->cadence, ==, 0.0);
    }
  wu_engine_free (engine);
}

static void
count_sensor_changes (gpointer user_data, WuSensor *sensor)
{
  guint *changes = user_data;

  (void) sensor;
  (*changes)++;
}

/* A live event stamped ahead of the clock (the table cases all are) with cadence changes
 * due before it: each is published once. The catch-up used to re-arm the deadline from the
 * clock's now, behind the change just published, which then came back as due: it spun,
 * publishing the same change, until the real clock reached the event's time. */
static void
test_catch_up_ahead_of_the_clock (void)
{
  static const WuEngineObserver observer = { .sensor_changed = count_sensor_changes };
  guint changes = 0;
  Fixture fixture = { 0 };
  WuSensor *sensor;
  WuConfig config;

  wu_config_init (&config);
  fixture.engine = wu_engine_new (&config, &observer, &changes);
  wu_config_clear (&config);
  sensor = wu_engine_add_source (fixture.engine, "csc", make_fake, (gpointer) &sensor_ops, NULL);
  wu_engine_start_sources (fixture.engine);
  fixture.origin = wu_engine_now (fixture.engine);
  push_link (sensor, at (&fixture, 0), TRUE);
  for (guint i = 1; i <= 3; i++)
    push_csc_crank (sensor, at (&fixture, i), (guint16) i, (guint16) (i * 1024));
  push_csc_crank (sensor, at (&fixture, 5.8), 3, 3 * 1024);   /* a repeat: the crank stopped */
  g_test_message ("%u sensor changes published", changes);
  /* one per event and a few for the fall after the last revolution; the spin made
   * hundreds of thousands */
  g_assert_cmpuint (changes, <, 30);
  g_assert_cmpfloat (sensor->cadence, <, 60);
  wu_engine_free (fixture.engine);
}

/* A reed switch's closure: a falling edge (the default [Gpio] Edge=falling). */
static void
push_gpio_closure (WuSensor *sensor, gint64 time_us)
{
  WuRawEvent event = { .time_us = time_us, .kind = WU_EVENT_GPIO_EDGE, .up = FALSE };

  push (sensor, &event);
}

/* A reed switch at 60 rpm: a closure each second, FIRST_S to LAST_S. */
static void
push_gpio_closures_each_second (Fixture *fixture, guint first_s, guint last_s)
{
  for (guint i = first_s; i <= last_s; i++)
    push_gpio_closure (fixture->sensors[SENSOR], at (fixture, i));
}

/* A warm-up begun with Start() and a cadence sensor alone, link up at 0. */
static void
begin_with_sensor (Fixture *fixture)
{
  WuConfig config;

  wu_config_init (&config);
  config.controller.autostart = WU_AUTOSTART_MANUAL;
  fixture->engine = wu_engine_new (&config, &no_observer, NULL);
  wu_config_clear (&config);
  fixture->sensors[SENSOR] = wu_engine_add_source (fixture->engine, "csc", make_fake,
                                                   (gpointer) &sensor_ops, NULL);
  wu_engine_start_sources (fixture->engine);
  fixture->origin = wu_engine_now (fixture->engine);
  push_link (fixture->sensors[SENSOR], at (fixture, 0), TRUE);
  g_assert_true (wu_engine_start_warmup (fixture->engine, NULL));
}

/* The rider stops: nothing is counted after the last revolution. The estimator's cadence
 * stays >= MinCadence for a while after it (the next revolution due, then overdue and
 * falling), and each step of that fall, fed to the controller, counted its time: ~1.5 s a
 * stop from a reed switch, ~2.5 s here from a crank sensor at 1 Hz. Counted now: from the
 * revolution the first cadence was measured from (the first closure; the first frame with
 * a new revolution, the anchor's being no revolution to measure from) to the last
 * revolution's sample. Counted from the first sample with a cadence, it was 8 and 7 s. */
static void
test_a_stop_counts_nothing_after_the_last_revolution (void)
{
  const WuController *ctl;
  Fixture fixture = { 0 };

  /* a reed switch, 60 rpm: closures at 1..10 s, then none for 10 s */
  begin_with_sensor (&fixture);
  ctl = wu_engine_get_controller (fixture.engine);
  push_gpio_closures_each_second (&fixture, 1, 10);
  push_cps_power (fixture.sensors[SENSOR], at (&fixture, 20), 0);   /* time passes */
  g_assert_cmpfloat_with_epsilon (wu_controller_get_elapsed (ctl), 10 - 1, 1e-6);
  wu_engine_free (fixture.engine);

  /* a crank sensor, 60 rpm, a frame half a second after each revolution (1..10 s), then the
   * same frame repeated once a second */
  fixture = (Fixture) { 0 };
  begin_with_sensor (&fixture);
  ctl = wu_engine_get_controller (fixture.engine);
  for (guint i = 1; i <= 20; i++)
    push_csc_crank (fixture.sensors[SENSOR], at (&fixture, i + 0.5), (guint16) MIN (i, 10),
                    (guint16) (MIN (i, 10) * 1024));
  g_assert_cmpfloat_with_epsilon (wu_controller_get_elapsed (ctl), 10.5 - 2.5, 1e-6);
  wu_engine_free (fixture.engine);
}

/* A source's error may quote what another process chose (the consumer name of whoever
 * holds a GPIO line): Sensor1.Error is a D-Bus string, so it is made valid UTF-8 (invalid
 * bytes raised a GLib critical in the skeleton, fatal under G_DEBUG=fatal-criticals). */
static void
test_source_error_is_made_valid_utf8 (void)
{
  g_autoptr (GError) error = g_error_new_literal (WU_ERROR, WU_ERROR_FAILED,
                                                  "line 17 is busy: used by \xff\xfeowner");
  Fixture fixture = { 0 };
  WuSource *source;

  begin_with_sensor (&fixture);
  source = fixture.sensors[SENSOR]->source;
  source->sink->error (source->sink_data, error);
  g_assert_true (g_utf8_validate (fixture.sensors[SENSOR]->error, -1, NULL));
  g_assert_true (g_str_has_prefix (fixture.sensors[SENSOR]->error, "line 17 is busy: used by "));
  g_assert_true (g_str_has_suffix (fixture.sensors[SENSOR]->error, "owner"));
  source->sink->error (source->sink_data, NULL);
  g_assert_null (fixture.sensors[SENSOR]->error);
  wu_engine_free (fixture.engine);
}

/* A bout after a rest counts from its first revolution, as the first bout does: the period
 * the first cadence was measured over was pedalled. Counted from that first cadence, each
 * bout lost a revolution (reed switch) or a report interval more (a crank sensor, whose
 * first frame after the rest measures nothing). */
static void
test_a_bout_counts_from_its_first_revolution (void)
{
  const WuController *ctl;
  Fixture fixture = { 0 };

  /* a reed switch, 60 rpm: closures at 1..10 s and 20..25 s: 9 + 5 s (was 8 + 4) */
  begin_with_sensor (&fixture);
  ctl = wu_engine_get_controller (fixture.engine);
  push_gpio_closures_each_second (&fixture, 1, 10);
  push_gpio_closures_each_second (&fixture, 20, 25);
  push_cps_power (fixture.sensors[SENSOR], at (&fixture, 40), 0);   /* time passes */
  g_assert_cmpfloat_with_epsilon (wu_controller_get_elapsed (ctl), 9 + 5, 1e-6);
  g_assert_cmpuint (wu_controller_get_state (ctl), ==, WU_STATE_PAUSED);
  wu_engine_free (fixture.engine);

  /* a crank sensor, 60 rpm, revolutions at 1..10 s and 20..25 s, a frame half a second
   * after each second (repeats during the rest): 2.5..10.5 s, then from the frame of the
   * bout's first revolution, 20.5 s, to 25.5 s: 8 + 5 s (was 7 + 4) */
  fixture = (Fixture) { 0 };
  begin_with_sensor (&fixture);
  ctl = wu_engine_get_controller (fixture.engine);
  for (guint i = 1; i <= 30; i++)
    {
      guint16 revs = (guint16) (i <= 10 ? i : i < 20 ? 10 : MIN (i, 25) - 9);
      guint16 event_s = (guint16) (i <= 10 ? i : i < 20 ? 10 : MIN (i, 25));

      push_csc_crank (fixture.sensors[SENSOR], at (&fixture, i + 0.5), revs,
                      (guint16) (event_s * 1024));
    }
  g_assert_cmpfloat_with_epsilon (wu_controller_get_elapsed (ctl), 8 + 5, 1e-6);
  wu_engine_free (fixture.engine);
}

/* Short bouts from a BLE crank sensor (frames every INTERVAL s, a bout every fifth frame,
 * rests longer than StaleAfter): two revolutions SECOND_AFTER s apart, the first 0.01 s
 * before a frame, the second after it, reported at the next frame. Returns the time
 * pedalled (first revolution to last, per bout). */
static double
push_short_bouts (Fixture *fixture, double interval, double second_after, guint bouts)
{
  guint16 revs = 0;
  double event_s = 0, pedalled = 0;

  for (guint f = 0; f < bouts * 5 + 5; f++)
    {
      double arrival_s = f * interval;
      gboolean in_bouts = f >= 5 && f / 5 <= bouts;

      if (in_bouts && f % 5 == 1)
        {
          revs++;
          event_s = arrival_s - 0.01;
        }
      else if (in_bouts && f % 5 == 2)
        {
          revs++;
          event_s = arrival_s - interval + second_after;
          pedalled += second_after + 0.01;
        }
      push_csc_crank (fixture->sensors[SENSOR], at (fixture, arrival_s), revs,
                      (guint16) llround (event_s * 1024));
    }
  return pedalled;
}

/* Each such bout counts no more than was pedalled. Its run counted back from its first
 * sample to the frame that reported the revolution before (a whole report interval for one
 * short revolution: 20 s counted for 7.5 s pedalled at 0.5 Hz, 10 s for 3.1 s at 1 Hz); it
 * counts the span of event time its cadence was measured over. */
static void
test_short_ble_bouts_count_no_more_than_pedalled (void)
{
  static const struct { double interval, second_after; } rates[] = { { 2.0, 0.74 }, { 1.0, 0.30 } };

  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    {
      const WuController *ctl;
      Fixture fixture = { 0 };
      double pedalled;

      begin_with_sensor (&fixture);
      ctl = wu_engine_get_controller (fixture.engine);
      pedalled = push_short_bouts (&fixture, rates[i].interval, rates[i].second_after, 10);
      g_test_message ("frames every %.0f s: pedalled %.2f s, counted %.2f s",
                      rates[i].interval, pedalled, wu_controller_get_elapsed (ctl));
      g_assert_cmpfloat (wu_controller_get_elapsed (ctl), <=, pedalled + 1e-6);
      g_assert_cmpfloat (wu_controller_get_elapsed (ctl), >, 0);
      wu_engine_free (fixture.engine);
    }
}

/* Autostart (StartAfter 3 s) after 2.21 s of pedalling from a BLE sensor at 0.5 Hz: three
 * revolutions at 9.99, 11.2 and 12.2 s reported at 10, 12 and 14 s, the sensor sending
 * idle frames before: it stays idle (measured from the first revolution's period start,
 * the frame before it, it started with 4 s counted). */
static void
test_ble_autostart_needs_start_after_of_pedalling (void)
{
  const WuController *ctl;
  Fixture fixture = { 0 };
  WuConfig config;

  wu_config_init (&config);   /* Autostart=pedal, StartAfter 3 s */
  fixture.engine = wu_engine_new (&config, &no_observer, NULL);
  wu_config_clear (&config);
  fixture.sensors[SENSOR] = wu_engine_add_source (fixture.engine, "csc", make_fake,
                                                  (gpointer) &sensor_ops, NULL);
  wu_engine_start_sources (fixture.engine);
  fixture.origin = wu_engine_now (fixture.engine);
  push_link (fixture.sensors[SENSOR], at (&fixture, 0), TRUE);
  ctl = wu_engine_get_controller (fixture.engine);
  for (guint f = 0; f <= 4; f += 2)
    push_csc_crank (fixture.sensors[SENSOR], at (&fixture, f), 0, 0);
  push_csc_crank (fixture.sensors[SENSOR], at (&fixture, 10), 1, (guint16) llround (9.99 * 1024));
  push_csc_crank (fixture.sensors[SENSOR], at (&fixture, 12), 2, (guint16) llround (11.2 * 1024));
  push_csc_crank (fixture.sensors[SENSOR], at (&fixture, 14), 3, (guint16) llround (12.2 * 1024));
  g_assert_cmpstr (wu_state_to_string (wu_controller_get_state (ctl)), ==, "idle");
  wu_engine_free (fixture.engine);
}

/* An observer standing for the bus: it holds a replay's wait after each batch until the test
 * says the bus has taken it (or, with GO_ON_AT_ONCE, says there is nothing to wait for). */
typedef struct {
  guint waits;
  GTask *pending;
  gboolean go_on_at_once;
  /* Publications, as warmupd's service makes them during a replay: what the engine says
   * changed is published once after the main-loop pass (an idle at default priority). */
  guint publish_idle;
  guint passes;                /* passes that published since the last wait */
  guint most_passes;           /* ... at most, between two waits */
} BusStandIn;

/* What is left to publish, published now (warmupd does so before it waits for the bus). */
static void
stand_in_publish_pending (BusStandIn *bus)
{
  if (bus->publish_idle == 0)
    return;
  g_clear_handle_id (&bus->publish_idle, g_source_remove);
  bus->passes++;
}

static gboolean
stand_in_wait_published (gpointer user_data, GCancellable *cancellable,
                         GAsyncReadyCallback ready, gpointer ready_data)
{
  BusStandIn *bus = user_data;

  g_assert_null (bus->pending);   /* never more than one batch ahead */
  bus->waits++;
  stand_in_publish_pending (bus);
  bus->most_passes = MAX (bus->most_passes, bus->passes);
  bus->passes = 0;
  if (bus->go_on_at_once)
    return FALSE;
  bus->pending = g_task_new (NULL, cancellable, ready, ready_data);
  return TRUE;
}

static void
stand_in_taken (BusStandIn *bus)
{
  g_autoptr (GTask) task = g_steal_pointer (&bus->pending);

  g_assert_nonnull (task);
  g_task_return_boolean (task, TRUE);
}

static void
iterate_until_idle (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* A trace of EVENTS Indoor Bike Data notifications at 4 Hz, in a new directory. */
static char *
write_bike_trace (guint events)
{
  g_autofree char *dir = g_dir_make_tmp ("test-engine-XXXXXX", NULL);
  g_autoptr (GString) text = g_string_new ("# warmupd trace 1\n");
  char *path = g_build_filename (dir, "bike.trace", NULL);

  for (guint i = 0; i < events; i++)
    g_string_append_printf (text, "%u.%03u ftms.indoor-bike-data 44 00 00 00 a0 00 64 00\n",
                            i / 4, i % 4 * 250);
  g_assert_true (g_file_set_contents (path, text->str, (gssize) text->len, NULL));
  return path;
}

static void
remove_trace (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static WuEngine *
start_replay_configured (const char *path, double speed, gint64 stale_after_us,
                         const WuEngineObserver *observer, BusStandIn *bus, WuSensor **sensor)
{
  g_autoptr (GError) error = NULL;
  WuEngine *engine;
  WuConfig config;

  wu_config_init (&config);
  if (stale_after_us > 0)
    config.controller.stale_after_us = stale_after_us;
  engine = wu_engine_new (&config, observer, bus);
  wu_config_clear (&config);
  *sensor = wu_engine_add_replay (engine, path, speed, &error);
  g_assert_no_error (error);
  wu_engine_start_sources (engine);
  return engine;
}

static WuEngine *
start_replay_at (const char *path, double speed, const WuEngineObserver *observer,
                 BusStandIn *bus, WuSensor **sensor)
{
  return start_replay_configured (path, speed, 0, observer, bus, sensor);
}

static WuEngine *
start_replay (const char *path, const WuEngineObserver *observer, BusStandIn *bus,
              WuSensor **sensor)
{
  return start_replay_at (path, 0, observer, bus, sensor);
}

/* Takes every wait at once until the replay is finished. */
static void
run_replay_to_the_end (BusStandIn *bus, WuSensor *sensor)
{
  while (!sensor->finished)
    {
      if (bus->pending != NULL)
        stand_in_taken (bus);
      g_main_context_iteration (NULL, TRUE);
    }
}

static gboolean
on_stand_in_publish (gpointer user_data)
{
  BusStandIn *bus = user_data;

  bus->publish_idle = 0;
  bus->passes++;
  return G_SOURCE_REMOVE;
}

static void
stand_in_note_change (BusStandIn *bus)
{
  if (bus->publish_idle == 0)
    bus->publish_idle = g_idle_add_full (G_PRIORITY_DEFAULT, on_stand_in_publish, bus, NULL);
}

static void
stand_in_changed (gpointer user_data, gboolean transition)
{
  (void) transition;
  stand_in_note_change (user_data);
}

static void
stand_in_sensor_changed (gpointer user_data, WuSensor *sensor)
{
  (void) sensor;
  stand_in_note_change (user_data);
}

/* The end of a test: nothing of the stand-in's left in the main context. */
static void
stand_in_clear (BusStandIn *bus)
{
  g_clear_handle_id (&bus->publish_idle, g_source_remove);
  g_assert_null (bus->pending);
}

static const WuEngineObserver stand_in_observer = {
  .wait_published = stand_in_wait_published,
  .changed = stand_in_changed,
  .sensor_changed = stand_in_sensor_changed,
};

/* In virtual time a replay delivers one batch, then waits for the bus to take what it
 * published before the next: it never runs further ahead of the bus than that. */
static void
test_virtual_replay_waits_for_the_bus (void)
{
  g_autofree char *path = write_bike_trace (1000);
  BusStandIn bus = { 0 };
  WuSensor *sensor;
  WuEngine *engine = start_replay (path, &stand_in_observer, &bus, &sensor);
  guint64 batch;

  iterate_until_idle ();
  g_assert_cmpuint (bus.waits, ==, 1);
  batch = sensor->events;
  g_assert_cmpuint (batch, >, 0);
  g_assert_cmpuint (batch, <, 1000);
  iterate_until_idle ();
  g_assert_cmpuint (sensor->events, ==, batch);   /* nothing more while the bus is busy */

  stand_in_taken (&bus);
  iterate_until_idle ();
  g_assert_cmpuint (bus.waits, ==, 2);
  g_assert_cmpuint (sensor->events, ==, 2 * batch);

  while (bus.pending != NULL)
    {
      stand_in_taken (&bus);
      iterate_until_idle ();
    }
  g_assert_true (sensor->finished);
  g_assert_cmpuint (sensor->events, ==, 1000);
  g_assert_cmpuint (bus.waits, ==, (1000 - 1) / batch);   /* none after the last event */
  stand_in_clear (&bus);
  wu_engine_free (engine);
  remove_trace (path);
}

/* A timed replay fast enough to outrun the bus (the trace's 250 s in 2.5 ms) waits for it
 * after each batch too; at a real-time pace the wait costs nothing, due times being taken
 * from the start. */
static void
test_fast_timed_replay_waits_for_the_bus (void)
{
  g_autofree char *path = write_bike_trace (1000);
  BusStandIn bus = { 0 };
  WuSensor *sensor;
  WuEngine *engine = start_replay_at (path, 100000, &stand_in_observer, &bus, &sensor);
  gint64 all_due = g_get_monotonic_time () + 2500;   /* 249.75 s of trace at 100000x */
  guint64 batch;

  while (bus.waits == 0 && !sensor->finished)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (bus.waits, ==, 1);
  batch = sensor->events;
  g_assert_cmpuint (batch, >, 0);
  g_assert_cmpuint (batch, <, 1000);
  /* once the whole trace is due: still nothing more while the bus is busy */
  while (g_get_monotonic_time () <= all_due)
    g_main_context_iteration (NULL, FALSE);
  iterate_until_idle ();
  g_assert_cmpuint (sensor->events, ==, batch);
  run_replay_to_the_end (&bus, sensor);
  g_assert_cmpuint (sensor->events, ==, 1000);
  g_assert_cmpuint (bus.waits, ==, (1000 - 1) / batch);
  stand_in_clear (&bus);
  wu_engine_free (engine);
  remove_trace (path);
}

/* A timed replay's steps between two events (the cadence falling step by step through a
 * long stop, until StaleAfter) publish as events do: they count towards a batch too. They
 * once did not, and a 10-minute stop with StaleAfter=600 at 100000x published 2,400 times
 * with no wait for the bus (a day's stop at 1000000x took warmupd to 970 MB). */
static void
test_timed_replay_waits_for_the_bus_through_a_long_stop (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-engine-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "stop.trace", NULL);
  g_autoptr (GString) text = g_string_new ("# warmupd trace 1\n");
  BusStandIn bus = { 0 };
  WuSensor *sensor;
  WuEngine *engine;

  for (guint s = 0; s < 60; s++)   /* a minute at 60 rpm, then a 10-minute stop */
    g_string_append_printf (text, "%u.000 gpio.edge falling\n", s);
  g_string_append (text, "659.000 gpio.edge falling\n");
  g_assert_true (g_file_set_contents (path, text->str, (gssize) text->len, NULL));
  engine = start_replay_configured (path, 100000, 600 * G_USEC_PER_SEC, &stand_in_observer,
                                    &bus, &sensor);
  run_replay_to_the_end (&bus, sensor);
  stand_in_publish_pending (&bus);
  bus.most_passes = MAX (bus.most_passes, bus.passes);   /* after the last wait */
  g_test_message ("%u waits, at most %u publishing passes between two", bus.waits,
                  bus.most_passes);
  g_assert_cmpuint (sensor->events, ==, 61);
  g_assert_cmpuint (bus.waits, >, 2);
  /* a batch is 32 steps, one main-loop pass each */
  g_assert_cmpuint (bus.most_passes, <=, 32);
  stand_in_clear (&bus);
  wu_engine_free (engine);
  remove_trace (path);
}

/* A timed replay no faster than live sources publish (here 24 steps a second: 32 of them take
 * 1.3 s) never waits for the bus, as those never do: each wait costs GDBus a flush thread. */
static void
test_unhurried_timed_replay_does_not_wait (void)
{
  g_autofree char *path = write_bike_trace (34);
  BusStandIn bus = { 0 };
  WuSensor *sensor;
  WuEngine *engine = start_replay_at (path, 6, &stand_in_observer, &bus, &sensor);

  while (!sensor->finished)
    {
      g_assert_null (bus.pending);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (sensor->events, ==, 34);
  g_assert_cmpuint (bus.waits, ==, 0);
  stand_in_clear (&bus);
  wu_engine_free (engine);
  remove_trace (path);
}

/* With nothing to wait for (no bus yet, or it is gone) the replay goes straight on. */
static void
test_virtual_replay_without_a_bus_goes_on (void)
{
  g_autofree char *path = write_bike_trace (1000);
  BusStandIn bus = { .go_on_at_once = TRUE };
  WuSensor *sensor;
  WuEngine *engine = start_replay (path, &stand_in_observer, &bus, &sensor);

  iterate_until_idle ();
  g_assert_true (sensor->finished);
  g_assert_cmpuint (sensor->events, ==, 1000);
  g_assert_cmpuint (bus.waits, >=, 1);
  stand_in_clear (&bus);
  wu_engine_free (engine);
  remove_trace (path);
}

/* The replay freed while it waits (warmupd stopping): the bus's late answer finds the wait
 * cancelled and touches nothing (ASan and valgrind see it if it did). */
static void
test_replay_freed_while_waiting_for_the_bus (gconstpointer data)
{
  const double *speed = data;
  g_autofree char *path = write_bike_trace (1000);
  BusStandIn bus = { 0 };
  WuSensor *sensor;
  WuEngine *engine = start_replay_at (path, *speed, &stand_in_observer, &bus, &sensor);
  g_autoptr (GTask) task = NULL;

  while (bus.pending == NULL && !sensor->finished)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (bus.pending);
  task = g_object_ref (bus.pending);
  wu_engine_free (engine);
  g_assert_true (g_cancellable_is_cancelled (g_task_get_cancellable (task)));
  stand_in_taken (&bus);
  iterate_until_idle ();
  g_assert_true (g_task_get_completed (task));
  g_assert_cmpuint (bus.waits, ==, 1);
  stand_in_clear (&bus);
  remove_trace (path);
}

/* An engine that records its live sources to PATH (StaleAfter STALE_AFTER_US; 0: the
 * default). */
static WuEngine *
recording_engine (const char *path, gint64 stale_after_us)
{
  g_autoptr (GError) error = NULL;
  WuEngine *engine;
  WuConfig config;

  wu_config_init (&config);
  if (stale_after_us > 0)
    config.controller.stale_after_us = stale_after_us;
  engine = wu_engine_new (&config, &no_observer, NULL);
  wu_config_clear (&config);
  g_assert_true (wu_engine_record_to (engine, path, &error));
  return engine;
}

/* Two fake sources A and B on ENGINE, started, their links up: the origin of the ride. */
static gint64
start_two_sources (WuEngine *engine, const char *prefix_a, const WuSourceOps *ops_a,
                   WuSensor **a, const char *prefix_b, const WuSourceOps *ops_b, WuSensor **b)
{
  gint64 origin;

  *a = wu_engine_add_source (engine, prefix_a, make_fake, (gpointer) ops_a, NULL);
  *b = wu_engine_add_source (engine, prefix_b, make_fake, (gpointer) ops_b, NULL);
  wu_engine_start_sources (engine);
  origin = wu_engine_now (engine);
  push_link (*a, origin, TRUE);
  push_link (*b, origin, TRUE);
  return origin;
}

/* What a replay of a recording counted, and what its sensor showed at the end. */
typedef struct {
  double elapsed;
  guint pauses;
  double speed;
} Replayed;

/* PATH replayed in virtual time to its end (StaleAfter as recording_engine()), then
 * removed. */
static void
replay_recording (const char *path, gint64 stale_after_us, Replayed *replayed)
{
  BusStandIn bus = { .go_on_at_once = TRUE };
  WuSensor *replay;
  WuEngine *engine = start_replay_configured (path, 0, stale_after_us, &stand_in_observer,
                                              &bus, &replay);

  run_replay_to_the_end (&bus, replay);
  replayed->elapsed = wu_controller_get_elapsed (wu_engine_get_controller (engine));
  replayed->pauses = wu_engine_get_pauses (engine);
  replayed->speed = replay->speed;
  wu_engine_free (engine);
  stand_in_clear (&bus);
  remove_trace (path);
}

/* The bike (ftms, better-ranked) leads, a crank sensor pedals along; the bike's link is lost
 * at 20.2 s while the sensor stays up (StaleAfter=8). The bike's last reports stop blanking
 * the sensor's cadence at once: no pause, the whole ride counts (it paused, 32 s counted,
 * when they blanked it for StaleAfter). Recorded, then replayed: the recording's source.lost
 * makes the replay count what the live ride counted. */
static void
test_lost_bike_replays_as_live (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-engine-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "rec.trace", NULL);
  g_autofree char *recording = NULL;
  WuEngine *engine = recording_engine (path, 8 * G_USEC_PER_SEC);
  WuSensor *bike, *sensor;
  gint64 origin;
  double live;
  guint live_pauses;
  Replayed replayed;

  origin = start_two_sources (engine, "ftms", &bike_ops, &bike, "csc", &sensor_ops, &sensor);
#define T(s_) (origin + (gint64) ((s_) * G_USEC_PER_SEC))
  for (guint i = 1; i <= 40; i++)
    {
      if (i <= 20)
        push_bike_data (bike, T (i), 80, 100);
      if (i == 20)
        push_link (bike, T (20.2), FALSE);
      push_csc_crank (sensor, T (i + 0.5), (guint16) i, (guint16) (i * 1024));
    }
#undef T
  live = wu_controller_get_elapsed (wu_engine_get_controller (engine));
  live_pauses = wu_engine_get_pauses (engine);
  wu_engine_free (engine);
  g_assert_true (g_file_get_contents (path, &recording, NULL, NULL));
  g_test_message ("%s", recording);
  g_assert_nonnull (strstr (recording, " source.lost ftms.cadence ftms.power ftms.speed run\n"));

  replay_recording (path, 8 * G_USEC_PER_SEC, &replayed);
  g_test_message ("live %.6f s (%u pauses), replayed %.6f s (%u pauses)", live, live_pauses,
                  replayed.elapsed, replayed.pauses);
  g_assert_cmpuint (live_pauses, ==, 0);
  g_assert_cmpfloat (live, >, 39.0);
  g_assert_cmpuint (replayed.pauses, ==, live_pauses);
  g_assert_cmpfloat_with_epsilon (replayed.elapsed, live, 1e-6);
}

/* A bike that shows only power, and a crank sensor (60 rpm, a measurement at each second +
 * 0.5) whose link is lost for a while as the bike sends on; the rider pedals on meanwhile, so
 * its counter has moved on when it returns. Live, the run ends with the link and the counters
 * re-anchor on return: the outage counts nothing. Replayed, the recording's source.lost does
 * the same (without it the replay read 60 rpm across the outage). */
typedef struct {
  double lost_at, back_at;   /* s */
  const char *lost_line;     /* the source.lost recorded */
  double most_counted;       /* s: the ride, less the outage and a re-anchoring */
} LostCrankCase;

static const LostCrankCase lost_crank_while_running = {
  10.7, 15, " source.lost csc.cadence csc.crank run\n", 30.5 - 1.5 - 4.3,
};
/* lost after its first measurement, which only anchored the counter: no cadence yet */
static const LostCrankCase lost_crank_after_anchoring = {
  0.7, 5, " source.lost csc.crank\n", 30.5 - 6.5 + 1e-6,
};

static void
test_lost_crank_sensor_replays_as_live (gconstpointer data)
{
  const LostCrankCase *test = data;
  g_autofree char *dir = g_dir_make_tmp ("test-engine-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "rec.trace", NULL);
  g_autofree char *recording = NULL;
  WuEngine *engine = recording_engine (path, 0);
  WuSensor *bike, *sensor;
  gint64 origin;
  double live;
  Replayed replayed;

  origin = start_two_sources (engine, "ftms", &bike_ops, &bike, "csc", &sensor_ops, &sensor);
#define T(s_) (origin + (gint64) ((s_) * G_USEC_PER_SEC))
  for (guint i = 0; i <= 30; i++)
    {
      if (i > 0)
        push_bike_power (bike, T (i), 100);
      if (i + 0.5 < test->lost_at || i + 0.5 > test->back_at)
        push_csc_crank (sensor, T (i + 0.5), (guint16) i, (guint16) (i * 1024));
      if (i + 1 > test->lost_at && i < test->lost_at)
        push_link (sensor, T (test->lost_at), FALSE);
      if (i + 1 > test->back_at && i < test->back_at)
        push_link (sensor, T (test->back_at), TRUE);
    }
#undef T
  live = wu_controller_get_elapsed (wu_engine_get_controller (engine));
  wu_engine_free (engine);
  g_assert_true (g_file_get_contents (path, &recording, NULL, NULL));
  g_assert_nonnull (strstr (recording, test->lost_line));

  replay_recording (path, 0, &replayed);
  g_test_message ("live %.6f s, replayed %.6f s", live, replayed.elapsed);
  g_assert_cmpfloat (live, <, test->most_counted);   /* the outage counted nothing */
  g_assert_cmpfloat_with_epsilon (replayed.elapsed, live, 1e-6);
}

/* A crank sensor and a wheel-only speed sensor, both CSC; the speed sensor's link is lost at
 * 10.7 s while the crank pedals on. Only the wheel counter re-anchors, live and replayed:
 * the replay (one CSC estimator for both) keeps the crank's anchor. */
static void
test_lost_wheel_sensor_keeps_the_crank_anchor (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-engine-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "rec.trace", NULL);
  g_autofree char *recording = NULL;
  WuEngine *engine = recording_engine (path, 0);
  WuSensor *crank, *wheel;
  gint64 origin;
  double live;
  Replayed replayed;

  origin = start_two_sources (engine, "csc", &sensor_ops, &crank, "csc", &sensor_ops, &wheel);
#define T(s_) (origin + (gint64) ((s_) * G_USEC_PER_SEC))
  for (guint i = 0; i <= 30; i++)
    {
      if (i <= 10)
        push_csc_wheel (wheel, T (i + 0.25), i * 3, (guint16) (i * 1024));
      push_csc_crank (crank, T (i + 0.5), (guint16) i, (guint16) (i * 1024));
      if (i == 10)
        push_link (wheel, T (10.7), FALSE);
    }
#undef T
  live = wu_controller_get_elapsed (wu_engine_get_controller (engine));
  wu_engine_free (engine);
  g_assert_true (g_file_get_contents (path, &recording, NULL, NULL));
  g_assert_nonnull (strstr (recording, " source.lost csc.speed csc.wheel\n"));

  replay_recording (path, 0, &replayed);
  g_test_message ("live %.6f s, replayed %.6f s", live, replayed.elapsed);
  /* the wheel's last speed went with its counter (it showed 22.7 km/h to the end) */
  g_assert_cmpfloat (replayed.speed, <=, 0);
  g_assert_cmpfloat (live, >, 28.9);   /* 1.5 s to 30.5 s: the whole ride */
  g_assert_cmpfloat_with_epsilon (replayed.elapsed, live, 1e-6);
}

/* Two CSC crank sensors at 60 rpm (B reports at each second + 0.3 s, A at + 0.6 s) and a
 * reed switch at 30 rpm (worse-ranked). A's link is lost at 10.7 s: its report of the CSC
 * cadence goes over to B's, still current, and the reed switch's 30 rpm stays blanked. */
static void
test_lost_sensor_hands_its_report_to_one_of_its_kind (void)
{
  WuEngine *engine;
  WuSensor *a, *b, *reed;
  gint64 origin;
  WuConfig config;

  wu_config_init (&config);
  engine = wu_engine_new (&config, &no_observer, NULL);
  wu_config_clear (&config);
  a = wu_engine_add_source (engine, "csc", make_fake, (gpointer) &sensor_ops, NULL);
  b = wu_engine_add_source (engine, "csc", make_fake, (gpointer) &sensor_ops, NULL);
  reed = wu_engine_add_source (engine, "gpio", make_fake, (gpointer) &sensor_ops, NULL);
  wu_engine_start_sources (engine);
  origin = wu_engine_now (engine);
#define T(s_) (origin + (gint64) ((s_) * G_USEC_PER_SEC))
  push_link (a, T (0), TRUE);
  push_link (b, T (0), TRUE);
  push_link (reed, T (0), TRUE);
  for (guint i = 0; i <= 11; i++)
    {
      push_csc_crank (b, T (i + 0.3), (guint16) i, (guint16) (i * 1024 + 307));
      if (i <= 10)
        push_csc_crank (a, T (i + 0.6), (guint16) i, (guint16) (i * 1024 + 614));
      if (i == 10)
        push_link (a, T (10.7), FALSE);
      if (i % 2 == 0)
        push_gpio_closure (reed, T (i + 0.9));
      if (i == 10)
        g_assert_cmpfloat_with_epsilon (wu_controller_get_cadence (
                                          wu_engine_get_controller (engine), T (10.95)),
                                        60, 0.5);
    }
#undef T
  wu_engine_free (engine);
}

/* Two CSC crank sensors on one crank (the same counters; B's frames at each second + 0.3 s,
 * A's at + 0.6 s), from 0.3 s to 30.3 s; LOSE_A: A's link lost at 10.7 s. The elapsed time,
 * and the recording in *RECORDING. */
static double
ride_two_cranks (gboolean lose_a, char **recording)
{
  g_autofree char *dir = g_dir_make_tmp ("test-engine-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "rec.trace", NULL);
  WuEngine *engine = recording_engine (path, 0);
  WuSensor *a, *b;
  gint64 origin;
  double elapsed;

  origin = start_two_sources (engine, "csc", &sensor_ops, &a, "csc", &sensor_ops, &b);
#define T(s_) (origin + (gint64) ((s_) * G_USEC_PER_SEC))
  for (guint i = 0; i <= 30; i++)
    {
      push_csc_crank (b, T (i + 0.3), (guint16) i, (guint16) (i * 1024));
      if (lose_a ? i <= 10 : i < 30)   /* B's frame at 30.3 s ends both rides */
        push_csc_crank (a, T (i + 0.6), (guint16) i, (guint16) (i * 1024));
      if (lose_a && i == 10)
        push_link (a, T (10.7), FALSE);
    }
#undef T
  elapsed = wu_controller_get_elapsed (wu_engine_get_controller (engine));
  wu_engine_free (engine);
  g_assert_true (g_file_get_contents (path, recording, NULL, NULL));
  remove_trace (path);
  return elapsed;
}

/* One of two sensors of the crank lost while the other pedals on: its cadence goes over to
 * the other, and so does the run (it ended, and 0.4 s was lost). */
static void
test_lost_sensor_hands_the_run_to_one_of_its_kind (void)
{
  g_autofree char *with_loss = NULL, *without = NULL;
  double lost = ride_two_cranks (TRUE, &with_loss);
  double kept = ride_two_cranks (FALSE, &without);

  g_test_message ("one lost: %.6f s, both: %.6f s", lost, kept);
  g_assert_cmpfloat_with_epsilon (lost, kept, 1e-6);
  g_assert_nonnull (strstr (with_loss, " source.lost csc.crank\n"));   /* no "run" */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/case/%u", i);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  g_test_add_func ("/engine/lost-bike-replays-as-live", test_lost_bike_replays_as_live);
  g_test_add_func ("/engine/lost-sensor-hands-the-run-to-one-of-its-kind",
                   test_lost_sensor_hands_the_run_to_one_of_its_kind);
  g_test_add_func ("/engine/lost-wheel-sensor-keeps-the-crank-anchor",
                   test_lost_wheel_sensor_keeps_the_crank_anchor);
  g_test_add_func ("/engine/lost-sensor-hands-its-report-to-one-of-its-kind",
                   test_lost_sensor_hands_its_report_to_one_of_its_kind);
  g_test_add_data_func ("/engine/lost-crank-sensor-replays-as-live/running",
                        &lost_crank_while_running, test_lost_crank_sensor_replays_as_live);
  g_test_add_data_func ("/engine/lost-crank-sensor-replays-as-live/after-anchoring",
                        &lost_crank_after_anchoring, test_lost_crank_sensor_replays_as_live);
  g_test_add_func ("/engine/recording-stays-in-order", test_recording_stays_in_order);
  g_test_add_func ("/engine/recording-has-one-link", test_recording_has_one_link);
  g_test_add_func ("/engine/recording-source-removed", test_recording_source_removed);
  g_test_add_func ("/engine/recording-empty-value", test_recording_empty_value);
  g_test_add_func ("/engine/refused-stop-carries-out-what-fell-due",
                   test_refused_stop_carries_out_what_fell_due);
  g_test_add_func ("/engine/cap-sent-before-the-observer-hears",
                   test_cap_sent_before_the_observer_hears);
  g_test_add_func ("/engine/stale-cadence-published-before-a-late-frame",
                   test_stale_cadence_published_before_a_late_frame);
  g_test_add_func ("/engine/catch-up-ahead-of-the-clock", test_catch_up_ahead_of_the_clock);
  g_test_add_func ("/engine/source-error-is-made-valid-utf8",
                   test_source_error_is_made_valid_utf8);
  g_test_add_func ("/engine/a-stop-counts-nothing-after-the-last-revolution",
                   test_a_stop_counts_nothing_after_the_last_revolution);
  g_test_add_func ("/engine/a-bout-counts-from-its-first-revolution",
                   test_a_bout_counts_from_its_first_revolution);
  g_test_add_func ("/engine/short-ble-bouts-count-no-more-than-pedalled",
                   test_short_ble_bouts_count_no_more_than_pedalled);
  g_test_add_func ("/engine/ble-autostart-needs-start-after-of-pedalling",
                   test_ble_autostart_needs_start_after_of_pedalling);
  g_test_add_func ("/engine/start-refused-once-shutting-down",
                   test_start_refused_once_shutting_down);
  g_test_add_func ("/engine/virtual-replay-waits-for-the-bus",
                   test_virtual_replay_waits_for_the_bus);
  g_test_add_func ("/engine/fast-timed-replay-waits-for-the-bus",
                   test_fast_timed_replay_waits_for_the_bus);
  g_test_add_func ("/engine/unhurried-timed-replay-does-not-wait",
                   test_unhurried_timed_replay_does_not_wait);
  g_test_add_func ("/engine/timed-replay-waits-for-the-bus-through-a-long-stop",
                   test_timed_replay_waits_for_the_bus_through_a_long_stop);
  g_test_add_func ("/engine/virtual-replay-without-a-bus-goes-on",
                   test_virtual_replay_without_a_bus_goes_on);
  /* in virtual time, and timed (the trace's 250 s in 2.5 ms) */
  static const double virtual_time = 0, fast = 100000;
  g_test_add_data_func ("/engine/replay-freed-while-waiting-for-the-bus/virtual-time",
                        &virtual_time, test_replay_freed_while_waiting_for_the_bus);
  g_test_add_data_func ("/engine/replay-freed-while-waiting-for-the-bus/timed", &fast,
                        test_replay_freed_while_waiting_for_the_bus);
  return g_test_run ();
}
