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

/* Fitness Machine Feature (0x2ACC): two u32 words. */
typedef struct {
  guint32 machine_features;
  guint32 target_setting_features;
} WuFtmsFeature;
gboolean wu_ftms_decode_feature (const guint8 *buf, gsize len, WuFtmsFeature *out,
                                 GError **error);

G_END_DECLS
