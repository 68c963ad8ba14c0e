/* Cycling Power Measurement (0x2A63) decoder, per the Bluetooth Cycling Power Service 1.1.
 * Pure: no I/O, no state outside the arguments. */
#include "wu-cps.h"
#include "wu-error.h"
#include "le-reader.h"

#include <string.h>

#define CPS_HEADER_SIZE 4   /* u16 flags + s16 power */
#define TORQUE_PER_NM 32.0

/* Optional field sizes in wire order, which is also flag-bit order. */
static const struct {
  WuCpsFlag flag;
  guint8 size;
} cps_fields[] = {
  { WU_CPS_FLAG_BALANCE, 1 },
  { WU_CPS_FLAG_TORQUE, 2 },
  { WU_CPS_FLAG_WHEEL, 6 },
  { WU_CPS_FLAG_CRANK, 4 },
  { WU_CPS_FLAG_EXTREME_FORCE, 4 },
  { WU_CPS_FLAG_EXTREME_TORQUE, 4 },
  { WU_CPS_FLAG_EXTREME_ANGLES, 3 },
  { WU_CPS_FLAG_TOP_DEAD_SPOT, 2 },
  { WU_CPS_FLAG_BOTTOM_DEAD_SPOT, 2 },
  { WU_CPS_FLAG_ENERGY, 2 },
};

static gsize
cps_size_for_flags (guint16 flags)
{
  gsize size = CPS_HEADER_SIZE;

  for (gsize i = 0; i < G_N_ELEMENTS (cps_fields); i++)
    if (flags & cps_fields[i].flag)
      size += cps_fields[i].size;
  return size;
}

/* Maximum angle in the low 12 bits, minimum angle in the high 12 bits of 3 bytes. */
static void
read_extreme_angles (WuLeCursor *c, WuCpsMeasurement *out)
{
  const guint8 *p = wu_le_take (c, 3);

  if (p == NULL)
    return;
  out->max_angle_deg = (guint16) (p[0] | ((p[1] & 0x0f) << 8));
  out->min_angle_deg = (guint16) ((p[1] >> 4) | (p[2] << 4));
}

static void
read_fields (WuLeCursor *c, WuCpsMeasurement *out)
{
  guint16 flags = out->flags;

  out->power_w = wu_le_s16 (c);
  if (flags & WU_CPS_FLAG_BALANCE)
    {
      out->balance_percent = wu_le_u8 (c) / 2.0;
      out->balance_left = (flags & WU_CPS_FLAG_BALANCE_LEFT) != 0;
    }
  if (flags & WU_CPS_FLAG_TORQUE)
    {
      out->torque_nm = wu_le_u16 (c) / TORQUE_PER_NM;
      out->torque_crank_based = (flags & WU_CPS_FLAG_TORQUE_CRANK) != 0;
    }
  if (flags & WU_CPS_FLAG_WHEEL)
    {
      out->wheel_revs = wu_le_u32 (c);
      out->wheel_event_time = wu_le_u16 (c);
    }
  if (flags & WU_CPS_FLAG_CRANK)
    {
      out->crank_revs = wu_le_u16 (c);
      out->crank_event_time = wu_le_u16 (c);
    }
  if (flags & WU_CPS_FLAG_EXTREME_FORCE)
    {
      out->max_force_n = wu_le_s16 (c);
      out->min_force_n = wu_le_s16 (c);
    }
  if (flags & WU_CPS_FLAG_EXTREME_TORQUE)
    {
      out->max_torque_nm = wu_le_s16 (c) / TORQUE_PER_NM;
      out->min_torque_nm = wu_le_s16 (c) / TORQUE_PER_NM;
    }
  if (flags & WU_CPS_FLAG_EXTREME_ANGLES)
    read_extreme_angles (c, out);
  if (flags & WU_CPS_FLAG_TOP_DEAD_SPOT)
    out->top_dead_spot_deg = wu_le_u16 (c);
  if (flags & WU_CPS_FLAG_BOTTOM_DEAD_SPOT)
    out->bottom_dead_spot_deg = wu_le_u16 (c);
  if (flags & WU_CPS_FLAG_ENERGY)
    out->energy_kj = wu_le_u16 (c);
}

gboolean
wu_cps_decode_measurement (const guint8 *buf, gsize len, WuCpsMeasurement *out,
                           GError **error)
{
  WuLeCursor c;
  gsize need;

  memset (out, 0, sizeof *out);
  if (len < CPS_HEADER_SIZE)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "cycling power measurement: %" G_GSIZE_FORMAT " bytes, need at least %d",
                   len, CPS_HEADER_SIZE);
      return FALSE;
    }
  wu_le_init (&c, buf, len);
  out->flags = wu_le_u16 (&c);
  need = cps_size_for_flags (out->flags);
  if (len < need)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "cycling power measurement: flags 0x%04x need %" G_GSIZE_FORMAT
                   " bytes, got %" G_GSIZE_FORMAT, out->flags, need, len);
      memset (out, 0, sizeof *out);
      return FALSE;
    }
  read_fields (&c, out);
  g_assert (!c.overrun);
  return TRUE;
}
