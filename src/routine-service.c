/* Routine1: GetRoutine, the guided session's calls and its properties. The session logic is
 * the pure WuGuide; this file turns D-Bus calls into its calls, times the rest, and
 * publishes. */
#include "routine-service.h"
#include "wu-dbus-generated.h"
#include "wu-error.h"

#define WU_OBJECT_PATH "/io/github/warmupd"

struct WuRoutineService {
  GPtrArray *routines;          /* of WuRoutine*, sorted by id */
  char *dir;                    /* where they were read from; NULL: it could not be read */
  WuGuide *guide;
  WuRoutine1 *skeleton;
  guint rest_timer;             /* the guide's deadline, 0: none */
  gint64 rest_deadline;         /* the guide's deadline (monotonic) RestEndsAt was set for */
  guint64 rest_ends_at;         /* RestEndsAt: that deadline in wall-clock time, 0: no rest */
  gboolean outcome_reported;    /* the current session's end was told */
  WuRoutineOutcomeFunc outcome_func;
  gpointer outcome_data;
  WuRoutineBegunFunc begun_func;
  gpointer begun_data;
};

static void publish (WuRoutineService *service);

char *
wu_routine_service_default_dir (const char *datadir)
{
  const char *dir = g_getenv ("WARMUPD_ROUTINES_DIR");

  if (dir != NULL && dir[0] != '\0')
    return g_strdup (dir);
  return g_build_filename (datadir, "warmupd", "routines", NULL);
}

/* --- GetRoutine ------------------------------------------------------------------------ */

static GVariant *
routine_to_variant (const WuRoutine *routine)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  const WuRoundRule *rule = &routine->rounds;

  g_variant_builder_add (&b, "{sv}", "id", g_variant_new_string (routine->id));
  g_variant_builder_add (&b, "{sv}", "title", g_variant_new_string (routine->title));
  g_variant_builder_add (&b, "{sv}", "source", g_variant_new_string (routine->source));
  g_variant_builder_add (&b, "{sv}", "before", g_variant_new_string (routine->before));
  g_variant_builder_add (&b, "{sv}", "caution", g_variant_new_string (routine->caution));
  g_variant_builder_add (&b, "{sv}", "rounds", g_variant_new_boolean (rule->present));
  if (rule->present)
    {
      const char *keys[WU_N_ASSESSMENTS] = { "on_better", "on_same", "on_irritated" };
      for (int how = 0; how < WU_N_ASSESSMENTS; how++)
        g_variant_builder_add (&b, "{sv}", keys[how],
                               g_variant_new_string (wu_round_action_to_string (rule->on[how])));
      g_variant_builder_add (&b, "{sv}", "max_rounds", g_variant_new_uint32 (rule->max_rounds));
      g_variant_builder_add (&b, "{sv}", "rest_seconds", g_variant_new_uint32 (rule->rest_seconds));
      g_variant_builder_add (&b, "{sv}", "rest_position",
                             g_variant_new_string (wu_position_to_string (rule->rest_position)));
      g_variant_builder_add (&b, "{sv}", "rest_instruction",
                             g_variant_new_string (rule->rest_instruction));
    }
  return g_variant_builder_end (&b);
}

static GVariant *
step_to_variant (const WuStep *step)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  g_variant_builder_add (&b, "{sv}", "id", g_variant_new_string (step->id));
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (step->name));
  g_variant_builder_add (&b, "{sv}", "count",
                         g_variant_new_string (wu_count_kind_to_string (step->count)));
  g_variant_builder_add (&b, "{sv}", "amount", g_variant_new_uint32 (step->amount));
  g_variant_builder_add (&b, "{sv}", "sides", g_variant_new_string (wu_sides_to_string (step->sides)));
  g_variant_builder_add (&b, "{sv}", "per_side", g_variant_new_boolean (step->sides != WU_SIDES_NONE));
  g_variant_builder_add (&b, "{sv}", "position",
                         g_variant_new_string (wu_position_to_string (step->position)));
  g_variant_builder_add (&b, "{sv}", "hold", g_variant_new_uint32 (step->hold_seconds));
  g_variant_builder_add (&b, "{sv}", "sets_min", g_variant_new_uint32 (step->sets_min));
  g_variant_builder_add (&b, "{sv}", "sets_max", g_variant_new_uint32 (step->sets_max));
  g_variant_builder_add (&b, "{sv}", "note", g_variant_new_string (step->note));
  g_variant_builder_add (&b, "{sv}", "instruction", g_variant_new_string (step->instruction));
  return g_variant_builder_end (&b);
}

static WuRoutine *
find_routine (WuRoutineService *service, const char *id, GError **error)
{
  WuRoutine *routine = wu_routine_find (service->routines, id);

  if (routine == NULL)
    g_set_error (error, WU_ERROR, WU_ERROR_UNKNOWN_ROUTINE, "no routine '%s'", id);
  return routine;
}

static gboolean
handle_get_routine (WuRoutine1 *skeleton, GDBusMethodInvocation *invocation, const char *id,
                    gpointer user_data)
{
  WuRoutineService *service = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GVariantBuilder) steps = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aa{sv}"));
  WuRoutine *routine = find_routine (service, id, &error);

  if (routine == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  for (guint i = 0; i < routine->steps->len; i++)
    g_variant_builder_add_value (&steps, step_to_variant (g_ptr_array_index (routine->steps, i)));
  wu_routine1_complete_get_routine (skeleton, invocation, routine_to_variant (routine),
                                    g_variant_builder_end (&steps));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* --- the session ------------------------------------------------------------------------ */

static gboolean on_rest_over (gpointer user_data);

static void
report_outcome_once (WuRoutineService *service)
{
  WuGuideOutcome outcome;

  if (service->outcome_reported || !wu_guide_get_outcome (service->guide, &outcome))
    return;
  service->outcome_reported = TRUE;
  g_message ("guided session of %s ended: %u round%s, last assessment %s%s",
             outcome.routine_id, outcome.rounds_done, outcome.rounds_done == 1 ? "" : "s",
             outcome.last_assessment == WU_ASSESSMENT_NONE
               ? "none" : wu_assessment_to_string (outcome.last_assessment),
             outcome.completed ? "" : " (finished early)");
  if (service->outcome_func != NULL)
    service->outcome_func (service->outcome_data, &outcome);
}

/* RestEndsAt for DEADLINE (monotonic, -1: no rest), converted to wall-clock time once per
 * deadline: recomputed at each publication it would jitter and emit PropertiesChanged. */
static void
update_rest_ends_at (WuRoutineService *service, gint64 deadline)
{
  if (deadline == service->rest_deadline)
    return;
  service->rest_deadline = deadline;
  service->rest_ends_at = deadline < 0 ? 0
    : (guint64) (g_get_real_time () + (deadline - g_get_monotonic_time ()));
}

/* After every call or tick: time the rest, tell the history, publish, log the transition. */
static void
after_change (WuRoutineService *service, WuGuideState old_state)
{
  WuGuideState state = wu_guide_get_state (service->guide);
  gint64 deadline = wu_guide_get_deadline (service->guide);

  if (state != old_state)
    g_message ("routine session: %s -> %s", wu_guide_state_to_string (old_state),
               wu_guide_state_to_string (state));
  g_clear_handle_id (&service->rest_timer, g_source_remove);
  update_rest_ends_at (service, deadline);
  if (deadline >= 0)
    {
      gint64 wait_ms = MAX (0, (deadline - g_get_monotonic_time () + 999) / 1000);
      service->rest_timer = g_timeout_add ((guint) MIN (wait_ms, G_MAXUINT), on_rest_over, service);
    }
  if (state == WU_GUIDE_DONE || (state == WU_GUIDE_IDLE && old_state != WU_GUIDE_IDLE))
    report_outcome_once (service);
  publish (service);
}

static gboolean
on_rest_over (gpointer user_data)
{
  WuRoutineService *service = user_data;
  WuGuideState old_state = wu_guide_get_state (service->guide);

  service->rest_timer = 0;
  wu_guide_tick (service->guide, g_get_monotonic_time ());
  after_change (service, old_state);
  return G_SOURCE_REMOVE;
}

/* Reply to INVOCATION: the error, or success (a method without results). */
static gboolean
finish_call (WuRoutineService *service, GDBusMethodInvocation *invocation, WuGuideState old_state,
             gboolean ok, GError *error)
{
  if (!ok)
    {
      g_debug ("%s() from %s refused: %s", g_dbus_method_invocation_get_method_name (invocation),
               g_dbus_method_invocation_get_sender (invocation), error->message);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  after_change (service, old_state);
  g_dbus_method_invocation_return_value (invocation, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_begin (WuRoutine1 *skeleton, GDBusMethodInvocation *invocation, const char *id,
              gpointer user_data)
{
  WuRoutineService *service = user_data;
  g_autoptr (GError) error = NULL;
  WuGuideState old_state = wu_guide_get_state (service->guide);
  WuRoutine *routine = find_routine (service, id, &error);
  gboolean ok = routine != NULL
                && wu_guide_begin (service->guide, routine, g_get_monotonic_time (), &error);

  if (ok)
    {
      service->outcome_reported = FALSE;
      g_message ("guided session of %s begun by %s", id,
                 g_dbus_method_invocation_get_sender (invocation));
      if (service->begun_func != NULL)
        service->begun_func (service->begun_data, id);
    }
  return finish_call (service, invocation, old_state, ok, error);
}

static gboolean
handle_next (WuRoutine1 *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  WuRoutineService *service = user_data;
  g_autoptr (GError) error = NULL;
  WuGuideState old_state = wu_guide_get_state (service->guide);
  gboolean ok = wu_guide_next (service->guide, g_get_monotonic_time (), &error);

  return finish_call (service, invocation, old_state, ok, error);
}

static gboolean
handle_next_from (WuRoutine1 *skeleton, GDBusMethodInvocation *invocation, gint step_index,
                  guint round, gpointer user_data)
{
  WuRoutineService *service = user_data;
  g_autoptr (GError) error = NULL;
  WuGuideState old_state = wu_guide_get_state (service->guide);
  gboolean ok = wu_guide_next_from (service->guide, step_index, round, g_get_monotonic_time (),
                                    &error);

  return finish_call (service, invocation, old_state, ok, error);
}

static gboolean
handle_assess (WuRoutine1 *skeleton, GDBusMethodInvocation *invocation, const char *how,
               gpointer user_data)
{
  WuRoutineService *service = user_data;
  g_autoptr (GError) error = NULL;
  WuGuideState old_state = wu_guide_get_state (service->guide);
  WuAssessment assessment = wu_assessment_from_string (how);
  guint round = wu_guide_get_round (service->guide);   /* another round would change it */
  gboolean ok;

  /* the state is checked first: a wrong word in the wrong state is a WrongState */
  if (assessment == WU_ASSESSMENT_NONE && old_state == WU_GUIDE_ASSESS)
    {
      g_set_error (&error, WU_ERROR, WU_ERROR_INVALID_ARGUMENT,
                   "Assess: '%s' is not better, same or irritated", how);
      ok = FALSE;
    }
  else
    ok = wu_guide_assess (service->guide, assessment, g_get_monotonic_time (), &error);
  if (ok)
    g_message ("round %u assessed: %s", round, how);
  return finish_call (service, invocation, old_state, ok, error);
}

/* Finish() or Dismiss(): END the session (wu_guide_finish() or wu_guide_dismiss()). */
static gboolean
end_session (WuRoutineService *service, GDBusMethodInvocation *invocation,
             gboolean (*end) (WuGuide *guide, GError **error))
{
  g_autoptr (GError) error = NULL;
  WuGuideState old_state = wu_guide_get_state (service->guide);
  gboolean ok = end (service->guide, &error);

  return finish_call (service, invocation, old_state, ok, error);
}

static gboolean
handle_finish (WuRoutine1 *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  return end_session (user_data, invocation, wu_guide_finish);
}

static gboolean
handle_dismiss (WuRoutine1 *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  return end_session (user_data, invocation, wu_guide_dismiss);
}

/* --- publishing ------------------------------------------------------------------------- */

static GVariant *
routines_variant (WuRoutineService *service)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(ss)"));

  for (guint i = 0; i < service->routines->len; i++)
    {
      const WuRoutine *routine = g_ptr_array_index (service->routines, i);
      g_variant_builder_add (&b, "(ss)", routine->id, routine->title);
    }
  return g_variant_builder_end (&b);
}

static void
publish (WuRoutineService *service)
{
  WuRoutine1 *s = service->skeleton;
  WuGuide *guide = service->guide;
  WuRoutine *routine = wu_guide_get_routine (guide);
  const WuStep *step = wu_guide_get_step (guide);

  /* the generated setters emit PropertiesChanged only for values that changed */
  wu_routine1_set_current_routine (s, routine != NULL ? routine->id : "");
  wu_routine1_set_current_step (s, step != NULL ? step->id : "");
  wu_routine1_set_step_index (s, wu_guide_get_step_index (guide));
  wu_routine1_set_round (s, wu_guide_get_round (guide));
  wu_routine1_set_routine_state (s, wu_guide_state_to_string (wu_guide_get_state (guide)));
  wu_routine1_set_last_assessment (s, wu_guide_get_state (guide) == WU_GUIDE_IDLE
                                   ? "" : wu_assessment_to_string (wu_guide_get_last_assessment (guide)));
  wu_routine1_set_rest_ends_at (s, service->rest_ends_at);
  /* a transition every screen must see, even if the next comes within this pass */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (s));
}

/* --- life cycle ------------------------------------------------------------------------- */

/* [Routine] Name= only names the routine StartFloorRoutine announces: one that is not in
 * ROUTINES is warned about (at start-up, on reload, by --check-config), never fatal. */
static void
check_default_routine (GPtrArray *routines, const char *dir, const char *default_routine)
{
  if (default_routine != NULL && wu_routine_find (routines, default_routine) == NULL)
    g_warning ("[Routine] Name=%s: no such routine in %s", default_routine, dir);
}

/* NULL when DIR cannot be read (*ERROR says why); a broken file is left out, in ERRORS. */
static GPtrArray *
load_routines (const char *dir, GPtrArray *errors, GError **error)
{
  GPtrArray *routines = NULL;

  if (!wu_routine_load_dir (dir, &routines, errors, error))
    return NULL;
  return routines;
}

void
wu_routine_service_check_name (WuRoutineService *service, const char *default_routine)
{
  if (service->dir != NULL)
    check_default_routine (service->routines, service->dir, default_routine);
}

void
wu_routine_check_name_in_dir (const char *dir, const char *default_routine)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) routines = load_routines (dir, errors, NULL);

  if (routines != NULL)
    check_default_routine (routines, dir, default_routine);
}

WuRoutineService *
wu_routine_service_new (const char *dir, const char *default_routine)
{
  WuRoutineService *service = g_new0 (WuRoutineService, 1);
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  wu_error_register_dbus_names ();
  service->routines = load_routines (dir, errors, &error);
  if (service->routines == NULL)
    {
      g_warning ("no routines: %s", error->message);
      service->routines = g_ptr_array_new_with_free_func ((GDestroyNotify) wu_routine_unref);
    }
  else
    {
      service->dir = g_strdup (dir);
      for (guint i = 0; i < errors->len; i++)
        g_warning ("routine left out: %s", (const char *) g_ptr_array_index (errors, i));
      g_message ("%u routine%s loaded from %s", service->routines->len,
                 service->routines->len == 1 ? "" : "s", dir);
      check_default_routine (service->routines, dir, default_routine);
    }
  service->guide = wu_guide_new ();
  service->rest_deadline = -1;
  service->skeleton = wu_routine1_skeleton_new ();
  wu_routine1_set_routines (service->skeleton, routines_variant (service));
  g_signal_connect (service->skeleton, "handle-get-routine", G_CALLBACK (handle_get_routine), service);
  g_signal_connect (service->skeleton, "handle-begin", G_CALLBACK (handle_begin), service);
  g_signal_connect (service->skeleton, "handle-next", G_CALLBACK (handle_next), service);
  g_signal_connect (service->skeleton, "handle-next-from", G_CALLBACK (handle_next_from), service);
  g_signal_connect (service->skeleton, "handle-assess", G_CALLBACK (handle_assess), service);
  g_signal_connect (service->skeleton, "handle-finish", G_CALLBACK (handle_finish), service);
  g_signal_connect (service->skeleton, "handle-dismiss", G_CALLBACK (handle_dismiss), service);
  publish (service);
  return service;
}

void
wu_routine_service_free (WuRoutineService *service)
{
  g_clear_handle_id (&service->rest_timer, g_source_remove);
  /* Never exported when the bus was out of reach or we stopped before it came. */
  if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (service->skeleton)))
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (service->skeleton));
  g_object_unref (service->skeleton);
  wu_guide_free (service->guide);
  g_ptr_array_unref (service->routines);
  g_free (service->dir);
  g_free (service);
}

gboolean
wu_routine_service_export (WuRoutineService *service, GDBusConnection *connection,
                           GError **error)
{
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (service->skeleton),
                                           connection, WU_OBJECT_PATH, error);
}

void
wu_routine_service_set_outcome_func (WuRoutineService *service, WuRoutineOutcomeFunc func,
                                     gpointer user_data)
{
  service->outcome_func = func;
  service->outcome_data = user_data;
}

void
wu_routine_service_set_begun_func (WuRoutineService *service, WuRoutineBegunFunc func,
                                   gpointer user_data)
{
  service->begun_func = func;
  service->begun_data = user_data;
}

gboolean
wu_routine_service_get_outcome (WuRoutineService *service, WuGuideOutcome *outcome)
{
  return wu_guide_get_outcome (service->guide, outcome);
}

GPtrArray *
wu_routine_service_get_routines (WuRoutineService *service)
{
  return service->routines;
}
