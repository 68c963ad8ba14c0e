/* Fitness Machine Service (0x1826) decoders, per the Bluetooth FTMS 1.0 specification.
 * Pure: bytes in, values out. No I/O and no mutable state outside the arguments. */
#include "wu-ftms.h"
#include "wu-error.h"
#include "le-reader.h"

#include <math.h>
#include <string.h>

/* ---- Indoor Bike Data (0x2AD2) ---------------------------------------------------------- */

#define IBD_FLAGS_SIZE 2
/* Bits 13-15 are reserved for future use; a receiver ignores them. */
#define IBD_DEFINED_FLAGS 0x1fffu

/* The WuIbdPresent bits deliberately sit at the same positions as the wire flags that
 * announce them; only bit 0 differs, because "More Data" set means speed ABSENT. */
G_STATIC_ASSERT ((int) WU_IBD_HAS_SPEED == (int) WU_IBD_FLAG_MORE_DATA);
G_STATIC_ASSERT ((int) WU_IBD_HAS_AVG_SPEED == (int) WU_IBD_FLAG_AVG_SPEED);
G_STATIC_ASSERT ((int) WU_IBD_HAS_CADENCE == (int) WU_IBD_FLAG_INST_CADENCE);
G_STATIC_ASSERT ((int) WU_IBD_HAS_AVG_CADENCE == (int) WU_IBD_FLAG_AVG_CADENCE);
G_STATIC_ASSERT ((int) WU_IBD_HAS_DISTANCE == (int) WU_IBD_FLAG_TOTAL_DISTANCE);
G_STATIC_ASSERT ((int) WU_IBD_HAS_RESISTANCE == (int) WU_IBD_FLAG_RESISTANCE);
G_STATIC_ASSERT ((int) WU_IBD_HAS_POWER == (int) WU_IBD_FLAG_INST_POWER);
G_STATIC_ASSERT ((int) WU_IBD_HAS_AVG_POWER == (int) WU_IBD_FLAG_AVG_POWER);
G_STATIC_ASSERT ((int) WU_IBD_HAS_ENERGY == (int) WU_IBD_FLAG_EXPENDED_ENERGY);
G_STATIC_ASSERT ((int) WU_IBD_HAS_HEART_RATE == (int) WU_IBD_FLAG_HEART_RATE);
G_STATIC_ASSERT ((int) WU_IBD_HAS_MET == (int) WU_IBD_FLAG_MET);
G_STATIC_ASSERT ((int) WU_IBD_HAS_ELAPSED == (int) WU_IBD_FLAG_ELAPSED_TIME);
G_STATIC_ASSERT ((int) WU_IBD_HAS_REMAINING == (int) WU_IBD_FLAG_REMAINING_TIME);

static guint32
ibd_present_from_flags (guint16 flags)
{
  return ((guint32) flags ^ WU_IBD_FLAG_MORE_DATA) & IBD_DEFINED_FLAGS;
}

/* Fields in wire order, which is also bit order. */
static const struct {
  WuIbdPresent field;
  guint8 size;
} ibd_fields[] = {
  { WU_IBD_HAS_SPEED, 2 },
  { WU_IBD_HAS_AVG_SPEED, 2 },
  { WU_IBD_HAS_CADENCE, 2 },
  { WU_IBD_HAS_AVG_CADENCE, 2 },
  { WU_IBD_HAS_DISTANCE, 3 },
  { WU_IBD_HAS_RESISTANCE, 2 },
  { WU_IBD_HAS_POWER, 2 },
  { WU_IBD_HAS_AVG_POWER, 2 },
  { WU_IBD_HAS_ENERGY, 5 },   /* total u16 + per hour u16 + per minute u8 */
  { WU_IBD_HAS_HEART_RATE, 1 },
  { WU_IBD_HAS_MET, 1 },
  { WU_IBD_HAS_ELAPSED, 2 },
  { WU_IBD_HAS_REMAINING, 2 },
};

static gsize
ibd_required_length (guint32 present)
{
  gsize need = IBD_FLAGS_SIZE;

  for (gsize i = 0; i < G_N_ELEMENTS (ibd_fields); i++)
    if (present & ibd_fields[i].field)
      need += ibd_fields[i].size;
  return need;
}

static void
ibd_read_field (WuLeCursor *r, WuIbdPresent field, WuIndoorBikeData *out)
{
  switch (field) {
  case WU_IBD_HAS_SPEED: out->speed_kmh = wu_le_u16 (r) * 0.01; break;
  case WU_IBD_HAS_AVG_SPEED: out->avg_speed_kmh = wu_le_u16 (r) * 0.01; break;
  case WU_IBD_HAS_CADENCE: out->cadence_rpm = wu_le_u16 (r) * 0.5; break;
  case WU_IBD_HAS_AVG_CADENCE: out->avg_cadence_rpm = wu_le_u16 (r) * 0.5; break;
  case WU_IBD_HAS_DISTANCE: out->distance_m = wu_le_u24 (r); break;
  case WU_IBD_HAS_RESISTANCE: out->resistance = wu_le_s16 (r); break;
  case WU_IBD_HAS_POWER: out->power_w = wu_le_s16 (r); break;
  case WU_IBD_HAS_AVG_POWER: out->avg_power_w = wu_le_s16 (r); break;
  case WU_IBD_HAS_ENERGY:
    out->energy_total_kcal = wu_le_u16 (r);
    out->energy_per_hour_kcal = wu_le_u16 (r);
    out->energy_per_minute_kcal = wu_le_u8 (r);
    break;
  case WU_IBD_HAS_HEART_RATE: out->heart_rate_bpm = wu_le_u8 (r); break;
  case WU_IBD_HAS_MET: out->met = wu_le_u8 (r) * 0.1; break;
  case WU_IBD_HAS_ELAPSED: out->elapsed_s = wu_le_u16 (r); break;
  case WU_IBD_HAS_REMAINING: out->remaining_s = wu_le_u16 (r); break;
  default: g_assert_not_reached ();
  }
}

gboolean
wu_ftms_decode_indoor_bike_data (const guint8 *buf, gsize len, WuIndoorBikeData *out,
                                 GError **error)
{
  WuLeCursor r;
  WuIndoorBikeData d = { 0 };
  gsize need;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out = d;
  wu_le_init (&r, buf, len);
  d.flags = wu_le_u16 (&r);
  if (r.overrun) {
    g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                 "indoor bike data: %" G_GSIZE_FORMAT " bytes, need %d for the flags", len,
                 IBD_FLAGS_SIZE);
    return FALSE;
  }

  d.present = ibd_present_from_flags (d.flags);
  need = ibd_required_length (d.present);
  if (len < need) {
    g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                 "indoor bike data: %" G_GSIZE_FORMAT " bytes, flags 0x%04x need %" G_GSIZE_FORMAT,
                 len, d.flags, need);
    return FALSE;
  }

  for (gsize i = 0; i < G_N_ELEMENTS (ibd_fields); i++)
    if (d.present & ibd_fields[i].field)
      ibd_read_field (&r, ibd_fields[i].field, &d);
  /* The length check above makes this unreachable; kept so the sizes table and the
   * readers can never disagree silently. */
  g_return_val_if_fail (!r.overrun, FALSE);

  *out = d;
  return TRUE;
}

/* ---- Supported ranges (0x2AD6, 0x2AD8) and Feature (0x2ACC) ------------------------------ */

#define RANGE_SIZE 6
#define FEATURE_SIZE 8

static gboolean
check_length (const char *what, gsize len, gsize need, GError **error)
{
  if (len >= need)
    return TRUE;
  g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
               "%s: %" G_GSIZE_FORMAT " bytes, need %" G_GSIZE_FORMAT, what, len, need);
  return FALSE;
}

/* Both range characteristics share one layout and differ only in name and resolution. */
static gboolean
decode_range (const char *what, double resolution, const guint8 *buf, gsize len,
              WuFtmsRange *out, GError **error)
{
  WuLeCursor r;
  gint16 min, max;
  guint16 inc;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out = (WuFtmsRange) { 0 };
  if (!check_length (what, len, RANGE_SIZE, error))
    return FALSE;

  wu_le_init (&r, buf, len);
  min = wu_le_s16 (&r);
  max = wu_le_s16 (&r);
  inc = wu_le_u16 (&r);
  g_return_val_if_fail (!r.overrun, FALSE);

  /* Compared raw, before scaling, so the verdict cannot depend on rounding. */
  if (min > max) {
    g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED, "%s: minimum %d > maximum %d (raw)",
                 what, min, max);
    return FALSE;
  }

  out->minimum = min * resolution;
  out->maximum = max * resolution;
  out->increment = inc * resolution;
  return TRUE;
}

gboolean
wu_ftms_decode_resistance_range (const guint8 *buf, gsize len, WuFtmsRange *out,
                                 GError **error)
{
  return decode_range ("supported resistance level range", 0.1, buf, len, out, error);
}

gboolean
wu_ftms_decode_power_range (const guint8 *buf, gsize len, WuFtmsRange *out, GError **error)
{
  return decode_range ("supported power range", 1.0, buf, len, out, error);
}

gboolean
wu_ftms_decode_feature (const guint8 *buf, gsize len, WuFtmsFeature *out, GError **error)
{
  WuLeCursor r;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out = (WuFtmsFeature) { 0 };
  if (!check_length ("fitness machine feature", len, FEATURE_SIZE, error))
    return FALSE;

  wu_le_init (&r, buf, len);
  out->machine_features = wu_le_u32 (&r);
  out->target_setting_features = wu_le_u32 (&r);
  g_return_val_if_fail (!r.overrun, FALSE);
  return TRUE;
}

/* VALUE stepped down onto ORIGIN + k * STEP (STEP <= 0: VALUE as it is). The epsilon
 * absorbs binary noise such as 0.29 * 100 = 28.999999999999996, so that a value on a step
 * stays on it. */
static double
step_down (double value, double origin, double step)
{
  if (step <= 0)
    return value;
  return origin + floor ((value - origin) / step + 1e-9) * step;
}

double
wu_ftms_fit_target (double value, const WuFtmsRange *range, double resolution)
{
  if (range != NULL)
    {
      value = CLAMP (value, range->minimum, range->maximum);
      value = step_down (value, range->minimum, range->increment);
    }
  if (resolution <= 0)
    return value;
  /* The range's minimum and increment are whole steps of the resolution: the minimum stays.
   * Dividing by the steps in one unit (10 for 0.1) gives the double nearest the decimal
   * (7.6, where 76 * 0.1 is 7.6000000000000005). */
  double per_unit = 1.0 / resolution;
  return floor (value * per_unit + 1e-9) / per_unit;
}

gboolean
wu_ftms_above_target (double reported, double target)
{
  return reported > target + 1e-6;
}

/* ---- Feature bit names ------------------------------------------------------------------ */

static const char *const machine_feature_names[] = {
  "average-speed", "cadence", "total-distance", "inclination", "elevation-gain", "pace",
  "step-count", "resistance-level", "stride-count", "expended-energy", "heart-rate",
  "metabolic-equivalent", "elapsed-time", "remaining-time", "power-measurement",
  "force-on-belt-and-power-output", "user-data-retention",
};

static const char *const target_feature_names[] = {
  "speed-target", "inclination-target", "resistance-target", "power-target",
  "heart-rate-target", "targeted-expended-energy", "targeted-step-number",
  "targeted-stride-number", "targeted-distance", "targeted-training-time",
  "targeted-time-two-hr-zones", "targeted-time-three-hr-zones", "targeted-time-five-hr-zones",
  "indoor-bike-simulation", "wheel-circumference", "spin-down-control", "targeted-cadence",
};

const char *
wu_ftms_machine_feature_name (guint bit)
{
  return bit < G_N_ELEMENTS (machine_feature_names) ? machine_feature_names[bit] : NULL;
}

const char *
wu_ftms_target_feature_name (guint bit)
{
  return bit < G_N_ELEMENTS (target_feature_names) ? target_feature_names[bit] : NULL;
}

/* Appends the names of the set bits; a set reserved bit shows as "bitN". */
static void
append_bit_names (GString *out, guint32 word, const char *(*name_of) (guint bit))
{
  gboolean first = TRUE;

  for (guint bit = 0; bit < 32; bit++)
    {
      const char *name;

      if ((word & (1u << bit)) == 0)
        continue;
      name = name_of (bit);
      g_string_append (out, first ? "" : ", ");
      if (name != NULL)
        g_string_append (out, name);
      else
        g_string_append_printf (out, "bit%u", bit);
      first = FALSE;
    }
  if (first)
    g_string_append (out, "none");
}

char *
wu_ftms_feature_describe (const WuFtmsFeature *feature)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (feature != NULL, g_string_free (out, FALSE));
  append_bit_names (out, feature->machine_features, wu_ftms_machine_feature_name);
  g_string_append (out, "; targets: ");
  append_bit_names (out, feature->target_setting_features, wu_ftms_target_feature_name);
  return g_string_free (out, FALSE);
}

/* ---- Control Point requests (0x2AD9) ----------------------------------------------------- */

const char *
wu_ftms_opcode_to_string (guint8 opcode)
{
  switch (opcode)
    {
    case WU_FTMS_OP_REQUEST_CONTROL: return "request-control";
    case WU_FTMS_OP_RESET: return "reset";
    case WU_FTMS_OP_SET_TARGET_SPEED: return "set-target-speed";
    case WU_FTMS_OP_SET_TARGET_INCLINATION: return "set-target-inclination";
    case WU_FTMS_OP_SET_TARGET_RESISTANCE: return "set-target-resistance-level";
    case WU_FTMS_OP_SET_TARGET_POWER: return "set-target-power";
    case WU_FTMS_OP_SET_TARGET_HEART_RATE: return "set-target-heart-rate";
    case WU_FTMS_OP_START_RESUME: return "start-resume";
    case WU_FTMS_OP_STOP_PAUSE: return "stop-pause";
    case WU_FTMS_OP_SET_INDOOR_BIKE_SIMULATION: return "set-indoor-bike-simulation";
    case WU_FTMS_OP_RESPONSE_CODE: return "response-code";
    default: return "unknown";
    }
}

static void
request_begin (WuFtmsRequest *req, guint8 opcode)
{
  *req = (WuFtmsRequest) { .len = 1, .bytes = { opcode } };
}

static void
request_put_u8 (WuFtmsRequest *req, guint8 v)
{
  g_return_if_fail (req->len + 1u <= WU_FTMS_REQUEST_MAX);
  req->bytes[req->len++] = v;
}

static void
request_put_u16 (WuFtmsRequest *req, guint16 v)
{
  request_put_u8 (req, v & 0xff);
  request_put_u8 (req, v >> 8);
}

/* Two's complement for the wire, done on the unsigned value (portable C). */
static void
request_put_s16 (WuFtmsRequest *req, gint16 v)
{
  request_put_u16 (req, (guint16) ((gint32) v & 0xffff));
}

/* How a value becomes whole units of the field's resolution. */
typedef enum {
  TO_NEAREST,   /* a setting such as the simulated grade */
  STEP_DOWN,    /* a target that caps: never above the value asked for */
} Scaling;

/* VALUE in units of RESOLUTION, rounded as SCALING says; FALSE when NaN or the result is
 * outside [lo, hi]. */
static gboolean
scale_to_field (const char *what, double value, double resolution, Scaling scaling, long lo,
                long hi, long *raw, GError **error)
{
  double scaled = value / resolution;
  gboolean outside;

  if (scaling == STEP_DOWN)
    {
      /* the epsilon is step_down's: binary noise such as 7.7 / 0.1 = 76.99999999999999 */
      scaled = floor (scaled + 1e-9);
      outside = isnan (scaled) || scaled < lo || scaled > hi;
    }
  else
    outside = isnan (scaled) || scaled < lo - 0.5 || scaled >= hi + 0.5;
  if (outside)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_INVALID_ARGUMENT,
                   "%s %g is outside %g .. %g", what, value, lo * resolution, hi * resolution);
      return FALSE;
    }
  *raw = CLAMP (lround (scaled), lo, hi);
  return TRUE;
}

void
wu_ftms_encode_request_control (WuFtmsRequest *req)
{
  g_return_if_fail (req != NULL);
  request_begin (req, WU_FTMS_OP_REQUEST_CONTROL);
}

void
wu_ftms_encode_reset (WuFtmsRequest *req)
{
  g_return_if_fail (req != NULL);
  request_begin (req, WU_FTMS_OP_RESET);
}

void
wu_ftms_encode_start_resume (WuFtmsRequest *req)
{
  g_return_if_fail (req != NULL);
  request_begin (req, WU_FTMS_OP_START_RESUME);
}

void
wu_ftms_encode_stop_pause (WuFtmsRequest *req, WuFtmsStopPause what)
{
  g_return_if_fail (req != NULL);
  g_return_if_fail (what == WU_FTMS_STOP || what == WU_FTMS_PAUSE);
  request_begin (req, WU_FTMS_OP_STOP_PAUSE);
  request_put_u8 (req, what);
}

/* The shape shared by every one-number target: opcode, then one scaled field. */
typedef enum { FIELD_U8, FIELD_U16, FIELD_S16 } FieldType;

static gboolean
encode_one_field (WuFtmsRequest *req, guint8 opcode, const char *what, double value,
                  double resolution, Scaling scaling, FieldType type, GError **error)
{
  static const long lo[] = { [FIELD_U8] = 0, [FIELD_U16] = 0, [FIELD_S16] = G_MININT16 };
  static const long hi[] = { [FIELD_U8] = G_MAXUINT8, [FIELD_U16] = G_MAXUINT16,
                             [FIELD_S16] = G_MAXINT16 };
  long raw;

  g_return_val_if_fail (req != NULL, FALSE);
  *req = (WuFtmsRequest) { 0 };
  if (!scale_to_field (what, value, resolution, scaling, lo[type], hi[type], &raw, error))
    return FALSE;
  request_begin (req, opcode);
  if (type == FIELD_U8)
    request_put_u8 (req, (guint8) raw);
  else if (type == FIELD_U16)
    request_put_u16 (req, (guint16) raw);
  else
    request_put_s16 (req, (gint16) raw);
  return TRUE;
}

gboolean
wu_ftms_encode_set_target_speed (WuFtmsRequest *req, double kmh, GError **error)
{
  return encode_one_field (req, WU_FTMS_OP_SET_TARGET_SPEED, "target speed (km/h)", kmh, 0.01,
                           TO_NEAREST, FIELD_U16, error);
}

gboolean
wu_ftms_encode_set_target_inclination (WuFtmsRequest *req, double percent, GError **error)
{
  return encode_one_field (req, WU_FTMS_OP_SET_TARGET_INCLINATION, "target inclination (%)",
                           percent, 0.1, TO_NEAREST, FIELD_S16, error);
}

gboolean
wu_ftms_encode_set_target_resistance (WuFtmsRequest *req, double level, GError **error)
{
  return encode_one_field (req, WU_FTMS_OP_SET_TARGET_RESISTANCE, "target resistance level",
                           level, WU_FTMS_RESISTANCE_RESOLUTION, STEP_DOWN, FIELD_U8, error);
}

gboolean
wu_ftms_encode_set_target_resistance_s16 (WuFtmsRequest *req, double level, GError **error)
{
  return encode_one_field (req, WU_FTMS_OP_SET_TARGET_RESISTANCE,
                           "target resistance level (sint16)", level,
                           WU_FTMS_RESISTANCE_RESOLUTION, STEP_DOWN, FIELD_S16, error);
}

gboolean
wu_ftms_encode_set_target_power (WuFtmsRequest *req, double watts, GError **error)
{
  return encode_one_field (req, WU_FTMS_OP_SET_TARGET_POWER, "target power (W)", watts,
                           WU_FTMS_POWER_RESOLUTION, STEP_DOWN, FIELD_S16, error);
}

gboolean
wu_ftms_encode_set_indoor_bike_simulation (WuFtmsRequest *req, const WuFtmsSimulation *sim,
                                           GError **error)
{
  long wind, grade, crr, cw;

  g_return_val_if_fail (req != NULL, FALSE);
  g_return_val_if_fail (sim != NULL, FALSE);
  *req = (WuFtmsRequest) { 0 };
  if (!scale_to_field ("wind speed (m/s)", sim->wind_speed_mps, 0.001, TO_NEAREST,
                       G_MININT16, G_MAXINT16,
                       &wind, error) ||
      !scale_to_field ("grade (%)", sim->grade_percent, 0.01, TO_NEAREST, G_MININT16,
                       G_MAXINT16, &grade, error) ||
      !scale_to_field ("crr", sim->crr, 0.0001, TO_NEAREST, 0, G_MAXUINT8, &crr, error) ||
      !scale_to_field ("cw (kg/m)", sim->cw_kg_per_m, 0.01, TO_NEAREST, 0, G_MAXUINT8, &cw, error))
    return FALSE;
  request_begin (req, WU_FTMS_OP_SET_INDOOR_BIKE_SIMULATION);
  request_put_s16 (req, (gint16) wind);
  request_put_s16 (req, (gint16) grade);
  request_put_u8 (req, (guint8) crr);
  request_put_u8 (req, (guint8) cw);
  return TRUE;
}

/* ---- Control Point responses ------------------------------------------------------------ */

const char *
wu_ftms_result_to_string (guint8 result)
{
  switch (result)
    {
    case WU_FTMS_RESULT_SUCCESS: return "success";
    case WU_FTMS_RESULT_OP_CODE_NOT_SUPPORTED: return "op-code-not-supported";
    case WU_FTMS_RESULT_INVALID_PARAMETER: return "invalid-parameter";
    case WU_FTMS_RESULT_OPERATION_FAILED: return "operation-failed";
    case WU_FTMS_RESULT_CONTROL_NOT_PERMITTED: return "control-not-permitted";
    default: return "unknown";
    }
}

#define RESPONSE_HEADER_SIZE 3

gboolean
wu_ftms_decode_response (const guint8 *buf, gsize len, WuFtmsResponse *out, GError **error)
{
  gsize param_len;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out = (WuFtmsResponse) { 0 };
  if (!check_length ("control point response", len, RESPONSE_HEADER_SIZE, error))
    return FALSE;
  if (buf[0] != WU_FTMS_OP_RESPONSE_CODE)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "control point response: op code 0x%02x, expected 0x80", buf[0]);
      return FALSE;
    }
  if (buf[2] < WU_FTMS_RESULT_SUCCESS || buf[2] > WU_FTMS_RESULT_CONTROL_NOT_PERMITTED)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "control point response to 0x%02x: unknown result code 0x%02x", buf[1],
                   buf[2]);
      return FALSE;
    }
  param_len = len - RESPONSE_HEADER_SIZE;
  if (param_len > WU_FTMS_RESPONSE_PARAM_MAX)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "control point response: %" G_GSIZE_FORMAT " parameter bytes, at most %d",
                   param_len, WU_FTMS_RESPONSE_PARAM_MAX);
      return FALSE;
    }
  out->request_opcode = buf[1];
  out->result = buf[2];
  out->parameter_len = (guint8) param_len;
  if (param_len > 0)
    memcpy (out->parameter, buf + RESPONSE_HEADER_SIZE, param_len);
  return TRUE;
}

/* ---- Fitness Machine Status (0x2ADA) ---------------------------------------------------- */

/* Every opcode the specification defines, with the size of its parameter. */
static const struct {
  guint8 opcode;
  guint8 param_size;
  const char *name;
} status_opcodes[] = {
  { WU_FTMS_STATUS_RESET, 0, "reset" },
  { WU_FTMS_STATUS_STOPPED_BY_USER, 1, "stopped-or-paused-by-user" },
  { WU_FTMS_STATUS_STOPPED_BY_SAFETY_KEY, 0, "stopped-by-safety-key" },
  { WU_FTMS_STATUS_STARTED_BY_USER, 0, "started-or-resumed-by-user" },
  { WU_FTMS_STATUS_TARGET_SPEED, 2, "target-speed-changed" },
  { WU_FTMS_STATUS_TARGET_INCLINE, 2, "target-incline-changed" },
  { WU_FTMS_STATUS_TARGET_RESISTANCE, 1, "target-resistance-level-changed" },
  { WU_FTMS_STATUS_TARGET_POWER, 2, "target-power-changed" },
  { WU_FTMS_STATUS_TARGET_HEART_RATE, 1, "target-heart-rate-changed" },
  { WU_FTMS_STATUS_TARGET_EXPENDED_ENERGY, 2, "targeted-expended-energy-changed" },
  { WU_FTMS_STATUS_TARGET_STEPS, 2, "targeted-steps-changed" },
  { WU_FTMS_STATUS_TARGET_STRIDES, 2, "targeted-strides-changed" },
  { WU_FTMS_STATUS_TARGET_DISTANCE, 3, "targeted-distance-changed" },
  { WU_FTMS_STATUS_TARGET_TRAINING_TIME, 2, "targeted-training-time-changed" },
  { WU_FTMS_STATUS_TARGET_TIME_TWO_ZONES, 4, "targeted-time-two-hr-zones-changed" },
  { WU_FTMS_STATUS_TARGET_TIME_THREE_ZONES, 6, "targeted-time-three-hr-zones-changed" },
  { WU_FTMS_STATUS_TARGET_TIME_FIVE_ZONES, 10, "targeted-time-five-hr-zones-changed" },
  { WU_FTMS_STATUS_SIMULATION_PARAMETERS, 6, "indoor-bike-simulation-parameters-changed" },
  { WU_FTMS_STATUS_WHEEL_CIRCUMFERENCE, 2, "wheel-circumference-changed" },
  { WU_FTMS_STATUS_SPIN_DOWN, 1, "spin-down-status" },
  { WU_FTMS_STATUS_TARGET_CADENCE, 2, "targeted-cadence-changed" },
  { WU_FTMS_STATUS_CONTROL_PERMISSION_LOST, 0, "control-permission-lost" },
};

static gint
find_status_opcode (guint8 opcode)
{
  for (gsize i = 0; i < G_N_ELEMENTS (status_opcodes); i++)
    if (status_opcodes[i].opcode == opcode)
      return (gint) i;
  return -1;
}

const char *
wu_ftms_status_opcode_to_string (guint8 opcode)
{
  gint i = find_status_opcode (opcode);

  return i < 0 ? "unknown" : status_opcodes[i].name;
}

static void
read_zone_times (WuLeCursor *r, guint n, WuFtmsStatus *out)
{
  out->n_zones = n;
  for (guint i = 0; i < n; i++)
    out->zone_time_s[i] = wu_le_u16 (r);
}

/* The parameter after the opcode; the caller has checked its length. */
static void
read_status_parameter (WuLeCursor *r, gsize param_len, WuFtmsStatus *out)
{
  switch (out->opcode)
    {
    case WU_FTMS_STATUS_STOPPED_BY_USER: out->stop_pause = wu_le_u8 (r); break;
    case WU_FTMS_STATUS_TARGET_SPEED: out->target_speed_kmh = wu_le_u16 (r) * 0.01; break;
    case WU_FTMS_STATUS_TARGET_INCLINE: out->target_incline_percent = wu_le_s16 (r) * 0.1; break;
    case WU_FTMS_STATUS_TARGET_RESISTANCE:
      /* The spec says UINT8; bikes that take SINT16 levels report them that way too. */
      out->resistance_s16 = param_len >= 2;
      out->target_resistance = (out->resistance_s16 ? wu_le_s16 (r) : wu_le_u8 (r)) * 0.1;
      break;
    case WU_FTMS_STATUS_TARGET_POWER: out->target_power_w = wu_le_s16 (r); break;
    case WU_FTMS_STATUS_TARGET_HEART_RATE: out->target_heart_rate_bpm = wu_le_u8 (r); break;
    case WU_FTMS_STATUS_TARGET_EXPENDED_ENERGY: out->target_energy_kcal = wu_le_u16 (r); break;
    case WU_FTMS_STATUS_TARGET_STEPS: out->target_steps = wu_le_u16 (r); break;
    case WU_FTMS_STATUS_TARGET_STRIDES: out->target_strides = wu_le_u16 (r); break;
    case WU_FTMS_STATUS_TARGET_DISTANCE: out->target_distance_m = wu_le_u24 (r); break;
    case WU_FTMS_STATUS_TARGET_TRAINING_TIME: out->target_time_s = wu_le_u16 (r); break;
    case WU_FTMS_STATUS_TARGET_TIME_TWO_ZONES: read_zone_times (r, 2, out); break;
    case WU_FTMS_STATUS_TARGET_TIME_THREE_ZONES: read_zone_times (r, 3, out); break;
    case WU_FTMS_STATUS_TARGET_TIME_FIVE_ZONES: read_zone_times (r, 5, out); break;
    case WU_FTMS_STATUS_SIMULATION_PARAMETERS:
      out->simulation.wind_speed_mps = wu_le_s16 (r) * 0.001;
      out->simulation.grade_percent = wu_le_s16 (r) * 0.01;
      out->simulation.crr = wu_le_u8 (r) * 0.0001;
      out->simulation.cw_kg_per_m = wu_le_u8 (r) * 0.01;
      break;
    case WU_FTMS_STATUS_WHEEL_CIRCUMFERENCE:
      out->wheel_circumference_mm = wu_le_u16 (r) * 0.1;
      break;
    case WU_FTMS_STATUS_SPIN_DOWN: out->spin_down_status = wu_le_u8 (r); break;
    case WU_FTMS_STATUS_TARGET_CADENCE: out->target_cadence_rpm = wu_le_u16 (r) * 0.5; break;
    default: break;   /* no parameter */
    }
}

gboolean
wu_ftms_decode_status (const guint8 *buf, gsize len, WuFtmsStatus *out, GError **error)
{
  WuLeCursor r;
  gint entry;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out = (WuFtmsStatus) { 0 };
  if (!check_length ("fitness machine status", len, 1, error))
    return FALSE;
  entry = find_status_opcode (buf[0]);
  if (entry < 0)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "fitness machine status: unknown op code 0x%02x", buf[0]);
      return FALSE;
    }
  if (len - 1 < status_opcodes[entry].param_size)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "fitness machine status %s: %" G_GSIZE_FORMAT " parameter bytes, need %u",
                   status_opcodes[entry].name, len - 1, status_opcodes[entry].param_size);
      return FALSE;
    }

  wu_le_init (&r, buf, len);
  out->opcode = wu_le_u8 (&r);
  read_status_parameter (&r, len - 1, out);
  g_return_val_if_fail (!r.overrun, FALSE);

  if (out->opcode == WU_FTMS_STATUS_STOPPED_BY_USER && out->stop_pause != WU_FTMS_STOP &&
      out->stop_pause != WU_FTMS_PAUSE)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "fitness machine status %s: parameter 0x%02x, expected 0x01 (stop) or 0x02 "
                   "(pause)", status_opcodes[entry].name, out->stop_pause);
      *out = (WuFtmsStatus) { 0 };
      return FALSE;
    }
  return TRUE;
}

/* ---- Training Status (0x2AD3) ----------------------------------------------------------- */

static const char *const training_status_names[] = {
  "other", "idle", "warming-up", "low-intensity-interval", "high-intensity-interval",
  "recovery-interval", "isometric", "heart-rate-control", "fitness-test",
  "speed-outside-control-region-low", "speed-outside-control-region-high", "cool-down",
  "watt-control", "manual-mode", "pre-workout", "post-workout",
};

const char *
wu_ftms_training_status_to_string (guint8 status)
{
  return status < G_N_ELEMENTS (training_status_names) ? training_status_names[status]
                                                        : "unknown";
}

#define TRAINING_STATUS_HEADER_SIZE 2

gboolean
wu_ftms_decode_training_status (const guint8 *buf, gsize len, WuFtmsTrainingStatus *out,
                                GError **error)
{
  const char *text;
  gsize text_len;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (out, 0, sizeof *out);
  if (!check_length ("training status", len, TRAINING_STATUS_HEADER_SIZE, error))
    return FALSE;
  out->flags = buf[0];
  out->status = buf[1];
  if ((out->flags & WU_FTMS_TRAINING_STRING_PRESENT) == 0)
    return TRUE;   /* bytes after the status without the flag are ignored, like IBD's */

  text = (const char *) buf + TRAINING_STATUS_HEADER_SIZE;
  text_len = len - TRAINING_STATUS_HEADER_SIZE;
  /* Some machines NUL-terminate the string; the spec does not, and both are fine. */
  while (text_len > 0 && text[text_len - 1] == '\0')
    text_len--;
  if (text_len > WU_FTMS_TRAINING_STRING_MAX)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "training status: a %" G_GSIZE_FORMAT "-byte string, at most %d", text_len,
                   WU_FTMS_TRAINING_STRING_MAX);
      memset (out, 0, sizeof *out);
      return FALSE;
    }
  if (!g_utf8_validate_len (text, text_len, NULL))
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "training status: the string is not valid UTF-8");
      memset (out, 0, sizeof *out);
      return FALSE;
    }
  out->has_string = TRUE;
  memcpy (out->string, text, text_len);
  out->string[text_len] = '\0';
  return TRUE;
}
