/* Cycling Power (0x1818): the Cycling Power Measurement (0x2A63) decoder. Pure: bytes in,
 * values out, no I/O. Multi-byte fields are little-endian; the optional fields follow the
 * u16 flags and s16 instantaneous power in this order, each present when its flag is set:
 *
 *   bit 0  pedal power balance       u8, 1/2 %      (bit 1: 1 = left pedal, 0 = unknown)
 *   bit 2  accumulated torque        u16, 1/32 Nm   (bit 3: 1 = crank based, 0 = wheel)
 *   bit 4  wheel revolution data     u32 revs, u16 last wheel event time 1/2048 s
 *   bit 5  crank revolution data     u16 revs, u16 last crank event time 1/1024 s
 *   bit 6  extreme force magnitudes  s16 max, s16 min, N
 *   bit 7  extreme torque magnitudes s16 max, s16 min, 1/32 Nm
 *   bit 8  extreme angles            u12 max, u12 min, degrees, packed in 3 bytes
 *   bit 9  top dead spot angle       u16, degrees
 *   bit 10 bottom dead spot angle    u16, degrees
 *   bit 11 accumulated energy        u16, kJ
 *   bit 12 offset compensation indicator (no field); bits 13-15 reserved
 */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  WU_CPS_FLAG_BALANCE = 1 << 0,
  WU_CPS_FLAG_BALANCE_LEFT = 1 << 1,
  WU_CPS_FLAG_TORQUE = 1 << 2,
  WU_CPS_FLAG_TORQUE_CRANK = 1 << 3,
  WU_CPS_FLAG_WHEEL = 1 << 4,
  WU_CPS_FLAG_CRANK = 1 << 5,
  WU_CPS_FLAG_EXTREME_FORCE = 1 << 6,
  WU_CPS_FLAG_EXTREME_TORQUE = 1 << 7,
  WU_CPS_FLAG_EXTREME_ANGLES = 1 << 8,
  WU_CPS_FLAG_TOP_DEAD_SPOT = 1 << 9,
  WU_CPS_FLAG_BOTTOM_DEAD_SPOT = 1 << 10,
  WU_CPS_FLAG_ENERGY = 1 << 11,
  WU_CPS_FLAG_OFFSET_COMPENSATION = 1 << 12,
} WuCpsFlag;

/* CPS wheel event times tick at 2048 Hz (wrap every 32 s), crank event times at 1024 Hz. */
#define WU_CPS_WHEEL_TIME_HZ 2048
#define WU_CPS_CRANK_TIME_HZ 1024

typedef struct {
  guint16 flags;                  /* raw wire flags; the presence of a field is its bit */
  gint16 power_w;                 /* instantaneous power, W */
  double balance_percent;         /* pedal power balance, % */
  gboolean balance_left;          /* the balance is the left pedal's share */
  double torque_nm;               /* accumulated torque, Nm (wraps at 2048 Nm) */
  gboolean torque_crank_based;
  guint32 wheel_revs;             /* cumulative */
  guint16 wheel_event_time;       /* 1/2048 s */
  guint16 crank_revs;             /* cumulative */
  guint16 crank_event_time;       /* 1/1024 s */
  gint16 max_force_n, min_force_n;
  double max_torque_nm, min_torque_nm;
  guint16 max_angle_deg, min_angle_deg;   /* 12 bits each */
  guint16 top_dead_spot_deg, bottom_dead_spot_deg;
  guint16 energy_kj;              /* accumulated energy */
} WuCpsMeasurement;

/* Decode one Cycling Power Measurement notification. Fails with WU_ERROR_MALFORMED when
 * the payload is shorter than its flags require (or than flags + power); trailing bytes
 * are ignored. */
gboolean wu_cps_decode_measurement (const guint8 *buf, gsize len, WuCpsMeasurement *out,
                                    GError **error);

G_END_DECLS
