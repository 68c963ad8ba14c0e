/* Accuracy of the cadence estimator (src/cadence.c) on synthetic pulse trains.
 *
 * A reed switch closes once a revolution. Each closure is displaced by Gaussian timing
 * jitter (sigma 1 % of the period) and followed by 2-6 bounce edges within 3 ms. The
 * estimator sees every edge; its output is read on a 10 ms grid and right after every edge,
 * as a client reading Cadence would. Scenarios: steady 40-150 rpm, a step 60 -> 90 rpm (and
 * back), a stop and restart, and a BLE crank counter that wraps (65535 revolutions, 64 s of
 * event time). Deterministic (fixed seeds). Exit status 1 when a target is missed.
 *
 * Then a stop through the engine's path (motion.c's decoding and its projected samples at
 * each deadline, fed to the controller): how long after the last revolution the cadence
 * fed to the controller falls below MinCadence, and how far past the last revolution time
 * is counted (the last sample that added to Elapsed), and the time counted against the time
 * pedalled (first to last revolution), for a reed switch and BLE crank sensors reporting at
 * 1 Hz and 0.5 Hz, connected as the rider starts (the first frame already counts
 * revolutions: an anchor, no period) or beforehand (idle frames) (indicative: no target).
 *
 * Targets (issue 4): steady-state mean absolute error < 0.5 rpm; no reading above the true
 * cadence + 5 rpm caused by bounce; a step reflected within 2 revolutions; a stop shown as
 * 0 within StaleAfter. */
#include "wu-cadence.h"
#include "motion.h"
#include "wu-controller.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SEC(s) ((gint64) ((s) * G_USEC_PER_SEC))
#define GRID_US (10 * 1000)
#define JITTER 0.01               /* sigma, fraction of the period */
#define BOUNCE_WINDOW_US 3000
#define SPIKE_RPM 5.0
#define SETTLE_REVOLUTIONS 5      /* steady state starts after this many in a segment */
#define STEP_TOLERANCE 0.05       /* "reflected": within 5 % of the new cadence, and stays */
#define TRIALS 20
#define MIN_CADENCE 40.0
/* A revolution at 40 rpm: the last real closure before a stop is up to this much before it. */
#define SLOWEST_PERIOD_US SEC (1.5)

typedef struct {
  double rpm;      /* 0: stopped */
  double seconds;
} Segment;

typedef struct {
  gint64 time_us;
  gboolean closure;   /* FALSE: a bounce edge */
} Edge;

typedef struct {
  const Segment *segments;
  guint n_segments;
} Ride;

/* The true cadence at T, and the highest it was over the previous WINDOW: an estimate still
 * falling after a stop or a step down (for up to StaleAfter after the last closure) is
 * lag, not a spike. */
static double
truth_at (const Ride *ride, gint64 t)
{
  gint64 start = 0;

  for (guint i = 0; i < ride->n_segments; i++)
    {
      gint64 end = start + SEC (ride->segments[i].seconds);
      if (t < end)
        return ride->segments[i].rpm;
      start = end;
    }
  return 0;
}

static double
recent_truth_max (const Ride *ride, gint64 t, gint64 window)
{
  double best = 0;

  for (gint64 s = MAX (0, t - window); s <= t; s += GRID_US)
    best = MAX (best, truth_at (ride, s));
  return best;
}

static int
compare_edges (gconstpointer a, gconstpointer b)
{
  const Edge *x = a, *y = b;
  return (x->time_us > y->time_us) - (x->time_us < y->time_us);
}

/* Closures on the nominal grid of each pedalling segment, jittered, with bounce. */
static GArray *
make_edges (const Ride *ride, GRand *rand, gboolean bounce)
{
  GArray *edges = g_array_new (FALSE, FALSE, sizeof (Edge));
  gint64 start = 0;
  double nominal = 0;   /* the next closure: a change of pace keeps the crank's phase */

  for (guint i = 0; i < ride->n_segments; i++)
    {
      const Segment *seg = &ride->segments[i];
      gint64 end = start + SEC (seg->seconds);

      if (seg->rpm <= 0)
        nominal = (double) end;   /* stopped: the first closure comes as pedalling resumes */
      else
        {
          double period = 60.0 * G_USEC_PER_SEC / seg->rpm;
          for (; nominal < (double) end; nominal += period)
            {
              /* Box-Muller: GRand has no Gaussian. */
              double u1 = g_rand_double_range (rand, 1e-12, 1.0), u2 = g_rand_double (rand);
              double jitter = sqrt (-2 * log (u1)) * cos (2 * G_PI * u2) * JITTER * period;
              Edge closure = { (gint64) (nominal + jitter), TRUE };

              g_array_append_val (edges, closure);
              for (int b = bounce ? g_rand_int_range (rand, 2, 7) : 0; b > 0; b--)
                {
                  Edge extra = { closure.time_us + g_rand_int_range (rand, 200, BOUNCE_WINDOW_US), FALSE };
                  g_array_append_val (edges, extra);
                }
            }
        }
      start = end;
    }
  g_array_sort (edges, compare_edges);
  return edges;
}

typedef struct {
  double abs_error_sum;
  guint64 steady_readings;
  guint spikes;
  double worst_spike;
} Score;

static void
score_reading (Score *score, const Ride *ride, const WuCadenceConfig *config, gint64 t,
               double reading, gboolean steady)
{
  double truth = truth_at (ride, t);
  double limit = recent_truth_max (ride, t, config->stale_after_us + SLOWEST_PERIOD_US) + SPIKE_RPM;

  if (steady)
    {
      score->abs_error_sum += fabs (reading - truth);
      score->steady_readings++;
    }
  if (reading > limit)
    {
      score->spikes++;
      score->worst_spike = MAX (score->worst_spike, reading - limit + SPIKE_RPM);
    }
}

/* Steady state: inside a pedalling segment, SETTLE_REVOLUTIONS after its start. */
static gboolean
is_steady (const Ride *ride, gint64 t)
{
  gint64 start = 0;

  for (guint i = 0; i < ride->n_segments; i++)
    {
      const Segment *seg = &ride->segments[i];
      gint64 end = start + SEC (seg->seconds);
      if (t < end)
        return seg->rpm > 0 && t >= start + SEC (SETTLE_REVOLUTIONS * 60.0 / seg->rpm);
      start = end;
    }
  return FALSE;
}

static void
run_pulses (const Ride *ride, const GArray *edges, const WuCadenceConfig *config,
            Score *score)
{
  WuCadence cadence;
  gint64 grid = 0, end = 0;
  guint next = 0;

  for (guint i = 0; i < ride->n_segments; i++)
    end += SEC (ride->segments[i].seconds);
  wu_cadence_init (&cadence, config);
  for (; grid <= end; grid += GRID_US)
    {
      for (; next < edges->len && g_array_index (edges, Edge, next).time_us <= grid; next++)
        {
          gint64 t = g_array_index (edges, Edge, next).time_us;
          wu_cadence_pulse (&cadence, t);
          score_reading (score, ride, config, t, wu_cadence_get (&cadence, t), FALSE);
        }
      score_reading (score, ride, config, grid, wu_cadence_get (&cadence, grid),
                     is_steady (ride, grid));
    }
}

static gboolean
report_steady (const WuCadenceConfig *config, Score *total)
{
  gboolean ok = TRUE;

  printf ("steady state (120 s each, 1 %% jitter, 2-6 bounce edges within 3 ms per closure):\n");
  printf ("  %6s  %9s  %6s\n", "rpm", "MAE rpm", "spikes");
  for (double rpm = 40; rpm <= 150; rpm += 10)
    {
      Segment segments[] = { { rpm, 120 } };
      Ride ride = { segments, 1 };
      g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) rpm);
      GArray *edges = make_edges (&ride, rand, TRUE);
      Score score = { 0 };
      double mae;

      run_pulses (&ride, edges, config, &score);
      mae = score.abs_error_sum / score.steady_readings;
      printf ("  %6.0f  %9.3f  %6u\n", rpm, mae, score.spikes);
      ok = ok && mae < 0.5;
      total->abs_error_sum += score.abs_error_sum;
      total->steady_readings += score.steady_readings;
      total->spikes += score.spikes;
      total->worst_spike = MAX (total->worst_spike, score.worst_spike);
      g_array_unref (edges);
    }
  return ok;
}

/* Closures from FROM (inclusive) until the reading is within STEP_TOLERANCE of TARGET and
 * stays there for the rest of the segment (read at each closure, after it). */
static guint
revolutions_to_settle (const GArray *edges, const WuCadenceConfig *config, gint64 from,
                       gint64 until, double target)
{
  WuCadence cadence;
  guint closures = 0, settled_at = G_MAXUINT;

  wu_cadence_init (&cadence, config);
  for (guint i = 0; i < edges->len; i++)
    {
      const Edge *e = &g_array_index (edges, Edge, i);
      double reading;

      if (e->time_us >= until)
        break;
      wu_cadence_pulse (&cadence, e->time_us);
      if (e->time_us < from || !e->closure)
        continue;
      closures++;
      reading = wu_cadence_get (&cadence, e->time_us);
      if (fabs (reading - target) <= STEP_TOLERANCE * target)
        settled_at = MIN (settled_at, closures);
      else
        settled_at = G_MAXUINT;
    }
  return settled_at;
}

static gboolean
report_steps (const WuCadenceConfig *config, Score *total)
{
  static const double steps[][2] = { { 60, 90 }, { 90, 60 } };
  guint worst[2] = { 0, 0 };

  for (guint s = 0; s < G_N_ELEMENTS (steps); s++)
    for (guint trial = 0; trial < TRIALS; trial++)
      {
        /* The step lands at a different phase of the revolution each trial. */
        double before = 20 + trial * 0.0517;
        Segment segments[] = { { steps[s][0], before }, { steps[s][1], 20 } };
        Ride ride = { segments, 2 };
        g_autoptr (GRand) rand = g_rand_new_with_seed (100 + trial);
        GArray *edges = make_edges (&ride, rand, TRUE);
        Score score = { 0 };

        run_pulses (&ride, edges, config, &score);
        total->spikes += score.spikes;
        worst[s] = MAX (worst[s], revolutions_to_settle (edges, config, SEC (before),
                                                         SEC (before + 20), steps[s][1]));
        g_array_unref (edges);
      }
  printf ("step response (revolutions until within %.0f %% and staying, worst of %d):\n"
          "  60 -> 90 rpm: %u\n  90 -> 60 rpm: %u\n", STEP_TOLERANCE * 100, TRIALS,
          worst[0], worst[1]);
  return worst[0] <= 2 && worst[1] <= 2;
}

/* Seconds from the last closure until the reading first satisfies BELOW (0 or < 40). */
static gboolean
report_stop (const WuCadenceConfig *config, Score *total)
{
  double worst_zero = 0, worst_below = 0;
  guint worst_restart = 0;

  for (guint trial = 0; trial < TRIALS; trial++)
    {
      Segment segments[] = { { 60 + trial, 30 }, { 0, 20 }, { 70, 20 } };
      Ride ride = { segments, 3 };
      g_autoptr (GRand) rand = g_rand_new_with_seed (200 + trial);
      GArray *edges = make_edges (&ride, rand, TRUE);
      WuCadence cadence;
      gint64 last_closure = 0;
      double zero_after = -1, below_after = -1;
      Score score = { 0 };

      run_pulses (&ride, edges, config, &score);
      total->spikes += score.spikes;
      wu_cadence_init (&cadence, config);
      for (guint i = 0; i < edges->len; i++)
        {
          const Edge *e = &g_array_index (edges, Edge, i);
          if (e->time_us >= SEC (30))
            break;
          wu_cadence_pulse (&cadence, e->time_us);
          if (e->closure)
            last_closure = e->time_us;
        }
      for (gint64 t = last_closure; t < SEC (50) && zero_after < 0; t += GRID_US)
        {
          double reading = wu_cadence_get (&cadence, t);
          if (below_after < 0 && reading < MIN_CADENCE)
            below_after = (t - last_closure) / 1e6;
          if (reading == 0)
            zero_after = (t - last_closure) / 1e6;
        }
      worst_zero = MAX (worst_zero, zero_after);
      worst_below = MAX (worst_below, below_after);
      worst_restart = MAX (worst_restart, revolutions_to_settle (edges, config, SEC (50),
                                                                 SEC (70), 70));
      g_array_unref (edges);
    }
  printf ("stop and restart (worst of %d):\n  below %.0f rpm after %.2f s, 0 after %.2f s "
          "(StaleAfter %.1f s)\n  restart at 70 rpm reflected after %u revolutions\n",
          TRIALS, MIN_CADENCE, worst_below, worst_zero, config->stale_after_us / 1e6,
          worst_restart);
  return worst_zero >= 0 && worst_zero <= config->stale_after_us / 1e6;
}

/* A BLE CSC sensor at 80 rpm reporting once a second (20-80 ms delivery delay), its crank
 * counter starting just below 65535 and its event time wrapping every 64 s. */
static gboolean
report_counter_wrap (const WuCadenceConfig *config)
{
  Segment segments[] = { { 80, 200 } };
  Ride ride = { segments, 1 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (300);
  GArray *edges = make_edges (&ride, rand, FALSE);
  WuCadence cadence;
  Score score = { 0 };
  const guint16 first_revs = 65500, first_ticks = 60000;
  guint closures = 0, counter_wraps = 0, time_wraps = 0;
  guint16 revs = first_revs, ticks = first_ticks;
  gint64 last_closure = 0;

  wu_cadence_init (&cadence, config);
  for (gint64 frame = SEC (1); frame < SEC (199); frame += SEC (1))
    {
      gint64 arrival = frame + g_rand_int_range (rand, 20000, 80000);
      guint16 old_revs = revs, old_ticks = ticks;

      for (; closures < edges->len && g_array_index (edges, Edge, closures).time_us <= frame;
           closures++)
        last_closure = g_array_index (edges, Edge, closures).time_us;
      revs = (guint16) (first_revs + closures);
      ticks = (guint16) (first_ticks + last_closure * 1024 / G_USEC_PER_SEC);
      counter_wraps += revs < old_revs;
      time_wraps += ticks < old_ticks;
      wu_cadence_crank (&cadence, arrival, revs, ticks);
      for (gint64 t = arrival; t < arrival + SEC (1); t += GRID_US)
        score_reading (&score, &ride, config, t, wu_cadence_get (&cadence, t),
                       t > SEC (10));
    }
  printf ("BLE crank counter, 80 rpm, 1 Hz frames, 200 s (%u counter wraps, %u event-time "
          "wraps):\n  MAE %.3f rpm, %u spikes, %" G_GUINT64_FORMAT " rejected\n",
          counter_wraps, time_wraps, score.abs_error_sum / score.steady_readings,
          score.spikes, cadence.rejected);
  g_array_unref (edges);
  return score.abs_error_sum / score.steady_readings < 0.5 && score.spikes == 0 &&
         counter_wraps > 0 && time_wraps > 0;
}

/* ---- a stop, through motion.c and the controller ---------------------------------------- */

typedef struct {
  WuMotionConfig config;
  WuMotion motion;
  WuPriority priority;
  WuController *ctl;
  WuCadenceKind kind;
  gint64 at;                /* the motion's deadlines are taken up to here */
  gint64 first_revolution, last_revolution;   /* the rider's, true */
  double elapsed;
  gint64 last_counted;      /* the last sample that added to Elapsed */
  gint64 below;             /* the first sample below MinCadence after the last revolution */
} StopRun;

static void
stop_run_init (StopRun *run, WuCadenceKind kind, gint64 first_revolution,
               gint64 last_revolution)
{
  WuControllerConfig controller;
  WuActions actions;

  memset (run, 0, sizeof *run);
  wu_cadence_config_init (&run->config.cadence);
  run->config.stale_after_us = run->config.cadence.stale_after_us;
  run->config.wheel_circumference_mm = 2105;
  run->config.gpio_edge = WU_GPIO_EDGE_FALLING;
  for (guint i = 0; i < WU_CADENCE_N_KINDS; i++)
    run->config.cadence_rank[i] = i;
  wu_motion_init (&run->motion, &run->config);
  wu_priority_init (&run->priority);
  wu_controller_config_init (&controller);
  controller.autostart = WU_AUTOSTART_MANUAL;
  run->ctl = wu_controller_new (&controller);
  wu_actions_clear (&actions);
  wu_controller_link (run->ctl, 0, TRUE, &actions);
  wu_controller_start (run->ctl, 0, &actions, NULL);
  run->kind = kind;
  run->first_revolution = first_revolution;
  run->last_revolution = last_revolution;
  run->below = -1;
}

static void
stop_run_feed (StopRun *run, WuSample *sample)
{
  WuActions actions;
  double elapsed;

  wu_actions_clear (&actions);
  if (!wu_priority_filter (&run->priority, &run->config, run->kind, run, sample))
    return;
  wu_controller_sample (run->ctl, sample, &actions);
  elapsed = wu_controller_get_elapsed (run->ctl);
  if (elapsed > run->elapsed)
    {
      run->elapsed = elapsed;
      run->last_counted = sample->time_us;
    }
  if (run->below < 0 && sample->time_us > run->last_revolution && sample->cadence_rpm >= 0 &&
      sample->cadence_rpm < MIN_CADENCE)
    run->below = sample->time_us;
}

/* The projected samples due up to UNTIL, each at its own time (engine.c's catch-up). */
static void
stop_run_catch_up (StopRun *run, gint64 until)
{
  gint64 due;

  while ((due = wu_motion_refresh_due (&run->motion, run->at)) <= until)
    {
      WuSample sample;
      guint stale;

      run->at = due;
      if (wu_motion_take_due (&run->motion, due, &sample, &stale) && sample.cadence_rpm >= 0)
        stop_run_feed (run, &sample);
    }
  run->at = MAX (run->at, until);
}

static void
stop_run_event (StopRun *run, const WuRawEvent *event)
{
  WuSample sample;

  stop_run_catch_up (run, event->time_us);
  wu_motion_decode (&run->motion, &run->config, event, &sample, NULL);
  stop_run_feed (run, &sample);
}

/* Pedalling at RPM from 1 s until STOP_S (revolutions 1 % jittered), then nothing for 10 s:
 * a reed switch's closures (FRAME_HZ 0) or a CSC crank sensor's frames at FRAME_HZ, the
 * first PHASE_S after 1 s (after 0 s when CONNECTED_IDLE: the sensor reports the crank
 * still before the rider starts), each delivered 20-80 ms after it is sent. */
static void
ride_and_stop (StopRun *run, GRand *rand, double rpm, double stop_s, double frame_hz,
               double phase_s, gboolean connected_idle)
{
  GArray *revolutions = g_array_new (FALSE, FALSE, sizeof (gint64));
  double period = 60.0 / rpm;
  gint64 last = 0;

  for (double t = 1.0; t <= stop_s; t += period)
    {
      gint64 at = SEC (t + g_rand_double_range (rand, -0.01, 0.01) * period);
      g_array_append_val (revolutions, at);
      last = at;
    }
  stop_run_init (run, frame_hz > 0 ? WU_CADENCE_KIND_CSC : WU_CADENCE_KIND_GPIO,
                 g_array_index (revolutions, gint64, 0), last);
  if (frame_hz <= 0)
    for (guint i = 0; i < revolutions->len; i++)
      {
        WuRawEvent event = { .kind = WU_EVENT_GPIO_EDGE,
                             .time_us = g_array_index (revolutions, gint64, i) };
        stop_run_event (run, &event);
      }
  else
    for (double sent = (connected_idle ? 0 : 1.0) + phase_s; sent <= stop_s + 10;
         sent += 1.0 / frame_hz)
      {
        guint n = 0;
        gint64 event_us = 0;
        guint16 ticks;
        WuRawEvent event = { .kind = WU_EVENT_CSC_MEASUREMENT, .len = 5 };

        for (; n < revolutions->len && g_array_index (revolutions, gint64, n) <= SEC (sent); n++)
          event_us = g_array_index (revolutions, gint64, n);
        ticks = (guint16) (event_us * 1024 / G_USEC_PER_SEC);
        event.time_us = SEC (sent) + g_rand_int_range (rand, 20000, 80000);
        event.payload[0] = 0x02;
        event.payload[1] = n & 0xff;
        event.payload[2] = (n >> 8) & 0xff;
        event.payload[3] = ticks & 0xff;
        event.payload[4] = ticks >> 8;
        stop_run_event (run, &event);
      }
  stop_run_catch_up (run, SEC (stop_s + 10));
  g_array_unref (revolutions);
}

static void
report_stop_counted (void)
{
  static const struct { const char *name; double frame_hz; gboolean connected_idle; } sources[] = {
    { "reed switch", 0, FALSE },
    { "BLE crank, 1 Hz frames", 1, FALSE },
    { "BLE crank, 0.5 Hz frames", 0.5, FALSE },
    { "BLE 1 Hz, connected idle", 1, TRUE },
    { "BLE 0.5 Hz, connected idle", 0.5, TRUE },
  };

  printf ("a stop through the engine's path (60-98 rpm, frame phases varied, %d trials),\n"
          "from the last revolution; counted against pedalled (first to last revolution):\n"
          "  %-26s %-22s %-26s %s\n", TRIALS, "", "below 40 rpm after (s)",
          "time counted past it (s)", "counted - pedalled (s)");
  for (guint s = 0; s < G_N_ELEMENTS (sources); s++)
    {
      double below_min = G_MAXDOUBLE, below_max = 0, past_min = G_MAXDOUBLE, past_max = 0;
      double error_min = G_MAXDOUBLE, error_max = -G_MAXDOUBLE;

      for (guint trial = 0; trial < TRIALS; trial++)
        {
          g_autoptr (GRand) rand = g_rand_new_with_seed (400 + trial);
          double rpm = 60 + trial * 2, phase = trial * 0.0537;
          StopRun run;
          double below, past, error;

          ride_and_stop (&run, rand, rpm, 30 + trial * 0.0731, sources[s].frame_hz,
                         fmod (phase, sources[s].frame_hz > 0 ? 1 / sources[s].frame_hz : 1),
                         sources[s].connected_idle);
          below = (run.below - run.last_revolution) / 1e6;
          past = (run.last_counted - run.last_revolution) / 1e6;
          below_min = MIN (below_min, below);
          below_max = MAX (below_max, below);
          past_min = MIN (past_min, past);
          past_max = MAX (past_max, past);
          error = run.elapsed - (run.last_revolution - run.first_revolution) / 1e6;
          error_min = MIN (error_min, error);
          error_max = MAX (error_max, error);
          wu_controller_free (run.ctl);
        }
      printf ("  %-26s %5.2f .. %-14.2f %5.2f .. %-18.2f %5.2f .. %.2f\n", sources[s].name,
              below_min, below_max, past_min, past_max, error_min, error_max);
    }
}

int
main (void)
{
  WuCadenceConfig config;
  Score total = { 0 };
  gboolean steady_ok, steps_ok, stop_ok, wrap_ok;

  wu_cadence_config_init (&config);   /* Debounce 5 ms, 220 rpm, StaleAfter 3 s */
  steady_ok = report_steady (&config, &total);
  steps_ok = report_steps (&config, &total);
  stop_ok = report_stop (&config, &total);
  wrap_ok = report_counter_wrap (&config);
  report_stop_counted ();
  printf ("spikes above truth + %.0f rpm, all pulse scenarios: %u\n", SPIKE_RPM, total.spikes);
  printf ("targets: steady MAE < 0.5 rpm: %s; no spikes: %s; step within 2 revolutions: %s; "
          "stop shown as 0 within StaleAfter: %s; counter wraps: %s\n",
          steady_ok ? "met" : "MISSED", total.spikes == 0 ? "met" : "MISSED",
          steps_ok ? "met" : "MISSED", stop_ok ? "met" : "MISSED", wrap_ok ? "met" : "MISSED");
  return steady_ok && total.spikes == 0 && steps_ok && stop_ok && wrap_ok ? 0 : 1;
}
