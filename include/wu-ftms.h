/* Fitness Machine Service (0x1826) codecs. Pure: bytes in, values out, no I/O.
 * Multi-byte fields are little-endian, as everywhere in GATT. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Indoor Bike Data (0x2AD2) flag bits. Bit 0 is inverted: "More Data" set means the
 * Instantaneous Speed field is ABSENT (the packet continues an earlier one). */
typedef enum {
  WU_IBD_FLAG_MORE_DATA = 1 << 0,
  WU_IBD_FLAG_AVG_SPEED = 1 << 1,
  WU_IBD_FLAG_INST_CADENCE = 1 << 2,
  WU_IBD_FLAG_AVG_CADENCE = 1 << 3,
  WU_IBD_FLAG_TOTAL_DISTANCE = 1 << 4,
  WU_IBD_FLAG_RESISTANCE = 1 << 5,
  WU_IBD_FLAG_INST_POWER = 1 << 6,
  WU_IBD_FLAG_AVG_POWER = 1 << 7,
  WU_IBD_FLAG_EXPENDED_ENERGY = 1 << 8,
  WU_IBD_FLAG_HEART_RATE = 1 << 9,
  WU_IBD_FLAG_MET = 1 << 10,
  WU_IBD_FLAG_ELAPSED_TIME = 1 << 11,
  WU_IBD_FLAG_REMAINING_TIME = 1 << 12,
} WuIbdFlag;

/* Which fields a decoded packet carried (independent of the inverted wire bit). */
typedef enum {
  WU_IBD_HAS_SPEED = 1 << 0,
  WU_IBD_HAS_AVG_SPEED = 1 << 1,
  WU_IBD_HAS_CADENCE = 1 << 2,
  WU_IBD_HAS_AVG_CADENCE = 1 << 3,
  WU_IBD_HAS_DISTANCE = 1 << 4,
  WU_IBD_HAS_RESISTANCE = 1 << 5,
  WU_IBD_HAS_POWER = 1 << 6,
  WU_IBD_HAS_AVG_POWER = 1 << 7,
  WU_IBD_HAS_ENERGY = 1 << 8,
  WU_IBD_HAS_HEART_RATE = 1 << 9,
  WU_IBD_HAS_MET = 1 << 10,
  WU_IBD_HAS_ELAPSED = 1 << 11,
  WU_IBD_HAS_REMAINING = 1 << 12,
} WuIbdPresent;

typedef struct {
  guint16 flags;            /* raw wire flags */
  guint32 present;          /* WuIbdPresent bits */
  double speed_kmh;         /* u16, 0.01 km/h */
  double avg_speed_kmh;     /* u16, 0.01 km/h */
  double cadence_rpm;       /* u16, 0.5 rpm */
  double avg_cadence_rpm;   /* u16, 0.5 rpm */
  guint32 distance_m;       /* u24, 1 m */
  gint16 resistance;        /* s16, unitless, resolution 1 */
  gint16 power_w;           /* s16, 1 W */
  gint16 avg_power_w;       /* s16, 1 W */
  guint16 energy_total_kcal;     /* u16; 0xFFFF = not available */
  guint16 energy_per_hour_kcal;  /* u16; 0xFFFF = not available */
  guint8 energy_per_minute_kcal; /* u8;  0xFF = not available */
  guint8 heart_rate_bpm;    /* u8 */
  double met;               /* u8, 0.1 */
  guint16 elapsed_s;        /* u16, 1 s */
  guint16 remaining_s;      /* u16, 1 s */
} WuIndoorBikeData;

/* Decode one Indoor Bike Data notification. Fails with WU_ERROR_MALFORMED when the
 * payload is shorter than its flags require (or shorter than the flags themselves).
 * Trailing bytes beyond the last flagged field are ignored. */
gboolean wu_ftms_decode_indoor_bike_data (const guint8 *buf, gsize len,
                                          WuIndoorBikeData *out, GError **error);

/* Supported Resistance Level Range (0x2AD6): s16 min, s16 max, u16 increment, all 0.1. */
typedef struct {
  double minimum, maximum, increment;
} WuFtmsRange;
gboolean wu_ftms_decode_resistance_range (const guint8 *buf, gsize len, WuFtmsRange *out,
                                          GError **error);
/* Supported Power Range (0x2AD8): s16 min W, s16 max W, u16 increment W. */
gboolean wu_ftms_decode_power_range (const guint8 *buf, gsize len, WuFtmsRange *out,
                                     GError **error);

/* The resolution targets are written in: Set Target Resistance Level (0.1 of a level) and
 * Set Target Power (1 W). */
#define WU_FTMS_RESISTANCE_RESOLUTION 0.1
#define WU_FTMS_POWER_RESOLUTION 1.0

/* A target the bike can be set to: VALUE clamped into RANGE, stepped down onto its increment
 * (0: none) and then onto RESOLUTION, so never above VALUE unless VALUE is below the range.
 * A value below the range's minimum gives the minimum: the lowest the bike can be set to.
 * RANGE NULL (not reported): only stepped down onto RESOLUTION. The FTMS session writes this
 * number and the controller caps at it, so both judge the bike's own reports (status 0x07)
 * against the same number. */
double wu_ftms_fit_target (double value, const WuFtmsRange *range, double resolution);
/* Whether a resistance level or power the bike reports is above TARGET (a fitted target).
 * Reports are whole steps of their resolution decoded as raw * 0.1, so 76 * 0.1 =
 * 7.6000000000000005 is the bike at 7.6, not above it. */
gboolean wu_ftms_above_target (double reported, double target);

/* Fitness Machine Feature (0x2ACC): two u32 words. */
typedef struct {
  guint32 machine_features;
  guint32 target_setting_features;
} WuFtmsFeature;
gboolean wu_ftms_decode_feature (const guint8 *buf, gsize len, WuFtmsFeature *out,
                                 GError **error);

/* ---- Fitness Machine Feature bits (FTMS 1.0, 4.3.1.1 and 4.3.1.2) ---------------------- */

/* The first word of 0x2ACC: what the machine measures. */
typedef enum {
  WU_FTMS_MACHINE_AVERAGE_SPEED = 1u << 0,
  WU_FTMS_MACHINE_CADENCE = 1u << 1,
  WU_FTMS_MACHINE_TOTAL_DISTANCE = 1u << 2,
  WU_FTMS_MACHINE_INCLINATION = 1u << 3,
  WU_FTMS_MACHINE_ELEVATION_GAIN = 1u << 4,
  WU_FTMS_MACHINE_PACE = 1u << 5,
  WU_FTMS_MACHINE_STEP_COUNT = 1u << 6,
  WU_FTMS_MACHINE_RESISTANCE_LEVEL = 1u << 7,
  WU_FTMS_MACHINE_STRIDE_COUNT = 1u << 8,
  WU_FTMS_MACHINE_EXPENDED_ENERGY = 1u << 9,
  WU_FTMS_MACHINE_HEART_RATE = 1u << 10,
  WU_FTMS_MACHINE_METABOLIC_EQUIVALENT = 1u << 11,
  WU_FTMS_MACHINE_ELAPSED_TIME = 1u << 12,
  WU_FTMS_MACHINE_REMAINING_TIME = 1u << 13,
  WU_FTMS_MACHINE_POWER_MEASUREMENT = 1u << 14,
  WU_FTMS_MACHINE_FORCE_ON_BELT_AND_POWER = 1u << 15,
  WU_FTMS_MACHINE_USER_DATA_RETENTION = 1u << 16,
} WuFtmsMachineFeature;

/* The second word of 0x2ACC: which targets the control point accepts. */
typedef enum {
  WU_FTMS_TARGET_SPEED = 1u << 0,
  WU_FTMS_TARGET_INCLINATION = 1u << 1,
  WU_FTMS_TARGET_RESISTANCE = 1u << 2,
  WU_FTMS_TARGET_POWER = 1u << 3,
  WU_FTMS_TARGET_HEART_RATE = 1u << 4,
  WU_FTMS_TARGET_EXPENDED_ENERGY = 1u << 5,
  WU_FTMS_TARGET_STEP_NUMBER = 1u << 6,
  WU_FTMS_TARGET_STRIDE_NUMBER = 1u << 7,
  WU_FTMS_TARGET_DISTANCE = 1u << 8,
  WU_FTMS_TARGET_TRAINING_TIME = 1u << 9,
  WU_FTMS_TARGET_TIME_TWO_HR_ZONES = 1u << 10,
  WU_FTMS_TARGET_TIME_THREE_HR_ZONES = 1u << 11,
  WU_FTMS_TARGET_TIME_FIVE_HR_ZONES = 1u << 12,
  WU_FTMS_TARGET_INDOOR_BIKE_SIMULATION = 1u << 13,
  WU_FTMS_TARGET_WHEEL_CIRCUMFERENCE = 1u << 14,
  WU_FTMS_TARGET_SPIN_DOWN_CONTROL = 1u << 15,
  WU_FTMS_TARGET_CADENCE = 1u << 16,
} WuFtmsTargetFeature;

/* The name of one bit ("resistance-level", "resistance-target", ...); NULL for a reserved bit. */
const char *wu_ftms_machine_feature_name (guint bit);
const char *wu_ftms_target_feature_name (guint bit);
/* "cadence, resistance-level; targets: resistance-target, power-target" (for the log). */
char *wu_ftms_feature_describe (const WuFtmsFeature *feature);

/* ---- Fitness Machine Control Point (0x2AD9) ------------------------------------------- */

typedef enum {
  WU_FTMS_OP_REQUEST_CONTROL = 0x00,
  WU_FTMS_OP_RESET = 0x01,
  WU_FTMS_OP_SET_TARGET_SPEED = 0x02,
  WU_FTMS_OP_SET_TARGET_INCLINATION = 0x03,
  WU_FTMS_OP_SET_TARGET_RESISTANCE = 0x04,
  WU_FTMS_OP_SET_TARGET_POWER = 0x05,
  WU_FTMS_OP_SET_TARGET_HEART_RATE = 0x06,
  WU_FTMS_OP_START_RESUME = 0x07,
  WU_FTMS_OP_STOP_PAUSE = 0x08,
  WU_FTMS_OP_SET_INDOOR_BIKE_SIMULATION = 0x11,
  WU_FTMS_OP_RESPONSE_CODE = 0x80,
} WuFtmsOpcode;

const char *wu_ftms_opcode_to_string (guint8 opcode);   /* "request-control", ...; "unknown" */

/* One encoded request, ready to write. The longest we send (0x11) is 7 bytes. */
#define WU_FTMS_REQUEST_MAX 8
typedef struct {
  guint8 len;
  guint8 bytes[WU_FTMS_REQUEST_MAX];
} WuFtmsRequest;

typedef enum {
  WU_FTMS_STOP = 0x01,
  WU_FTMS_PAUSE = 0x02,
} WuFtmsStopPause;

/* Indoor Bike Simulation parameters (0x11 request, 0x12 status). */
typedef struct {
  double wind_speed_mps;   /* s16, 0.001 m/s */
  double grade_percent;    /* s16, 0.01 % */
  double crr;              /* u8, 0.0001 */
  double cw_kg_per_m;      /* u8, 0.01 kg/m */
} WuFtmsSimulation;

/* Encoders. Values are rounded to the field's resolution, but targets (resistance level,
 * power) are stepped down onto it, never above the value asked for; a value outside the
 * field's range (or NaN) fails with WU_ERROR_INVALID_ARGUMENT and leaves REQ empty (len 0). */
void wu_ftms_encode_request_control (WuFtmsRequest *req);
void wu_ftms_encode_reset (WuFtmsRequest *req);
void wu_ftms_encode_start_resume (WuFtmsRequest *req);
void wu_ftms_encode_stop_pause (WuFtmsRequest *req, WuFtmsStopPause what);
gboolean wu_ftms_encode_set_target_speed (WuFtmsRequest *req, double kmh, GError **error);
gboolean wu_ftms_encode_set_target_inclination (WuFtmsRequest *req, double percent,
                                                GError **error);
/* Per spec: UINT8, resolution 0.1 (levels 0 .. 25.5). */
gboolean wu_ftms_encode_set_target_resistance (WuFtmsRequest *req, double level,
                                               GError **error);
/* The SINT16, 0.1 form some bikes need instead. */
gboolean wu_ftms_encode_set_target_resistance_s16 (WuFtmsRequest *req, double level,
                                                   GError **error);
gboolean wu_ftms_encode_set_target_power (WuFtmsRequest *req, double watts, GError **error);
gboolean wu_ftms_encode_set_indoor_bike_simulation (WuFtmsRequest *req,
                                                    const WuFtmsSimulation *sim,
                                                    GError **error);

typedef enum {
  WU_FTMS_RESULT_SUCCESS = 0x01,
  WU_FTMS_RESULT_OP_CODE_NOT_SUPPORTED = 0x02,
  WU_FTMS_RESULT_INVALID_PARAMETER = 0x03,
  WU_FTMS_RESULT_OPERATION_FAILED = 0x04,
  WU_FTMS_RESULT_CONTROL_NOT_PERMITTED = 0x05,
} WuFtmsResult;

const char *wu_ftms_result_to_string (guint8 result);   /* "success", ...; "unknown" */

#define WU_FTMS_RESPONSE_PARAM_MAX 32
/* A control point indication: 0x80, the request's opcode, the result, optional parameter. */
typedef struct {
  guint8 request_opcode;
  guint8 result;                      /* a WuFtmsResult */
  guint8 parameter_len;
  guint8 parameter[WU_FTMS_RESPONSE_PARAM_MAX];
} WuFtmsResponse;

/* WU_ERROR_MALFORMED: shorter than 3 bytes, first byte not 0x80, a result code outside
 * 0x01..0x05, or a parameter longer than WU_FTMS_RESPONSE_PARAM_MAX. */
gboolean wu_ftms_decode_response (const guint8 *buf, gsize len, WuFtmsResponse *out,
                                  GError **error);

/* ---- Fitness Machine Status (0x2ADA) --------------------------------------------------- */

typedef enum {
  WU_FTMS_STATUS_RESET = 0x01,
  WU_FTMS_STATUS_STOPPED_BY_USER = 0x02,          /* u8: 0x01 stop, 0x02 pause */
  WU_FTMS_STATUS_STOPPED_BY_SAFETY_KEY = 0x03,
  WU_FTMS_STATUS_STARTED_BY_USER = 0x04,
  WU_FTMS_STATUS_TARGET_SPEED = 0x05,             /* u16, 0.01 km/h */
  WU_FTMS_STATUS_TARGET_INCLINE = 0x06,           /* s16, 0.1 % */
  WU_FTMS_STATUS_TARGET_RESISTANCE = 0x07,        /* u8, 0.1 (s16 tolerated) */
  WU_FTMS_STATUS_TARGET_POWER = 0x08,             /* s16, W */
  WU_FTMS_STATUS_TARGET_HEART_RATE = 0x09,        /* u8, bpm */
  WU_FTMS_STATUS_TARGET_EXPENDED_ENERGY = 0x0A,   /* u16, kcal */
  WU_FTMS_STATUS_TARGET_STEPS = 0x0B,             /* u16 */
  WU_FTMS_STATUS_TARGET_STRIDES = 0x0C,           /* u16 */
  WU_FTMS_STATUS_TARGET_DISTANCE = 0x0D,          /* u24, m */
  WU_FTMS_STATUS_TARGET_TRAINING_TIME = 0x0E,     /* u16, s */
  WU_FTMS_STATUS_TARGET_TIME_TWO_ZONES = 0x0F,    /* 2 x u16, s */
  WU_FTMS_STATUS_TARGET_TIME_THREE_ZONES = 0x10,  /* 3 x u16, s */
  WU_FTMS_STATUS_TARGET_TIME_FIVE_ZONES = 0x11,   /* 5 x u16, s */
  WU_FTMS_STATUS_SIMULATION_PARAMETERS = 0x12,    /* s16, s16, u8, u8 */
  WU_FTMS_STATUS_WHEEL_CIRCUMFERENCE = 0x13,      /* u16, 0.1 mm */
  WU_FTMS_STATUS_SPIN_DOWN = 0x14,                /* u8 */
  WU_FTMS_STATUS_TARGET_CADENCE = 0x15,           /* u16, 0.5 rpm */
  WU_FTMS_STATUS_CONTROL_PERMISSION_LOST = 0xFF,
} WuFtmsStatusOpcode;

const char *wu_ftms_status_opcode_to_string (guint8 opcode);   /* "reset", ...; "unknown" */

/* One decoded status notification: OPCODE says which field is meaningful; the rest are 0. */
typedef struct {
  guint8 opcode;
  WuFtmsStopPause stop_pause;     /* 0x02 */
  double target_speed_kmh;        /* 0x05 */
  double target_incline_percent;  /* 0x06 */
  double target_resistance;       /* 0x07 (level, 0.1) */
  gboolean resistance_s16;        /* 0x07 came in the SINT16 form */
  gint16 target_power_w;          /* 0x08 */
  guint8 target_heart_rate_bpm;   /* 0x09 */
  guint16 target_energy_kcal;     /* 0x0A */
  guint16 target_steps;           /* 0x0B */
  guint16 target_strides;         /* 0x0C */
  guint32 target_distance_m;      /* 0x0D */
  guint16 target_time_s;          /* 0x0E */
  guint n_zones;                  /* 0x0F: 2, 0x10: 3, 0x11: 5 */
  guint16 zone_time_s[5];
  WuFtmsSimulation simulation;    /* 0x12 */
  double wheel_circumference_mm;  /* 0x13 */
  guint8 spin_down_status;        /* 0x14 */
  double target_cadence_rpm;      /* 0x15 */
} WuFtmsStatus;

/* WU_ERROR_MALFORMED: empty, an unknown opcode, or a parameter shorter than its opcode
 * needs (0x02's parameter must be 0x01 or 0x02). Trailing bytes are ignored. */
gboolean wu_ftms_decode_status (const guint8 *buf, gsize len, WuFtmsStatus *out,
                                GError **error);

/* ---- Training Status (0x2AD3) ---------------------------------------------------------- */

typedef enum {
  WU_FTMS_TRAINING_STRING_PRESENT = 1 << 0,
  WU_FTMS_TRAINING_EXTENDED_STRING = 1 << 1,   /* the string continues in a later read */
} WuFtmsTrainingFlag;

#define WU_FTMS_TRAINING_STRING_MAX 512
typedef struct {
  guint8 flags;
  guint8 status;      /* 0x01 idle, 0x02 warming up, ... (wu_ftms_training_status_to_string) */
  gboolean has_string;
  char string[WU_FTMS_TRAINING_STRING_MAX + 1];   /* valid UTF-8, NUL-terminated */
} WuFtmsTrainingStatus;

const char *wu_ftms_training_status_to_string (guint8 status);   /* "idle", ...; "unknown" */

/* WU_ERROR_MALFORMED: shorter than 2 bytes, a string that is not valid UTF-8 (trailing NULs
 * are tolerated and dropped; an embedded NUL is not) or longer than the maximum. */
gboolean wu_ftms_decode_training_status (const guint8 *buf, gsize len,
                                         WuFtmsTrainingStatus *out, GError **error);

G_END_DECLS
