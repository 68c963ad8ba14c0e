/* Fitness Machine Service (0x1826) decoders, per the Bluetooth FTMS 1.0 specification.
 * Pure: bytes in, values out. No I/O and no mutable state outside the arguments. */
#include "wu-ftms.h"
#include "wu-error.h"

/* ---- bounded little-endian reader ---------------------------------------------------- */

/* A cursor over a byte buffer. A read that would pass the end returns 0, reads nothing
 * and latches `overrun`, so callers may read a whole record and check once at the end;
 * no read can ever touch memory outside buf[0, len). */
typedef struct {
  const guint8 *buf;
  gsize len;
  gsize pos;
  gboolean overrun;
} WuLeReader;

static void
le_reader_init (WuLeReader *r, const guint8 *buf, gsize len)
{
  r->buf = buf;
  r->len = len;
  r->pos = 0;
  r->overrun = FALSE;
}

/* Claim n bytes; NULL (and overrun latched) when fewer than n remain. */
static const guint8 *
le_take (WuLeReader *r, gsize n)
{
  const guint8 *p;

  if (r->overrun || n > r->len - r->pos) {
    r->overrun = TRUE;
    return NULL;
  }
  p = r->buf + r->pos;
  r->pos += n;
  return p;
}

static guint8
le_u8 (WuLeReader *r)
{
  const guint8 *p = le_take (r, 1);

  return p ? p[0] : 0;
}

static guint16
le_u16 (WuLeReader *r)
{
  const guint8 *p = le_take (r, 2);

  return p ? (guint16) (p[0] | (p[1] << 8)) : 0;
}

/* Two's complement reinterpretation done arithmetically, so it is portable C. */
static gint16
le_s16 (WuLeReader *r)
{
  guint16 u = le_u16 (r);

  return u <= G_MAXINT16 ? (gint16) u : (gint16) ((gint32) u - 0x10000);
}

static guint32
le_u24 (WuLeReader *r)
{
  const guint8 *p = le_take (r, 3);

  return p ? (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) : 0;
}

static guint32
le_u32 (WuLeReader *r)
{
  const guint8 *p = le_take (r, 4);

  return p ? (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) |
                 ((guint32) p[3] << 24)
           : 0;
}

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
ibd_read_field (WuLeReader *r, WuIbdPresent field, WuIndoorBikeData *out)
{
  switch (field) {
  case WU_IBD_HAS_SPEED: out->speed_kmh = le_u16 (r) * 0.01; break;
  case WU_IBD_HAS_AVG_SPEED: out->avg_speed_kmh = le_u16 (r) * 0.01; break;
  case WU_IBD_HAS_CADENCE: out->cadence_rpm = le_u16 (r) * 0.5; break;
  case WU_IBD_HAS_AVG_CADENCE: out->avg_cadence_rpm = le_u16 (r) * 0.5; break;
  case WU_IBD_HAS_DISTANCE: out->distance_m = le_u24 (r); break;
  case WU_IBD_HAS_RESISTANCE: out->resistance = le_s16 (r); break;
  case WU_IBD_HAS_POWER: out->power_w = le_s16 (r); break;
  case WU_IBD_HAS_AVG_POWER: out->avg_power_w = le_s16 (r); break;
  case WU_IBD_HAS_ENERGY:
    out->energy_total_kcal = le_u16 (r);
    out->energy_per_hour_kcal = le_u16 (r);
    out->energy_per_minute_kcal = le_u8 (r);
    break;
  case WU_IBD_HAS_HEART_RATE: out->heart_rate_bpm = le_u8 (r); break;
  case WU_IBD_HAS_MET: out->met = le_u8 (r) * 0.1; break;
  case WU_IBD_HAS_ELAPSED: out->elapsed_s = le_u16 (r); break;
  case WU_IBD_HAS_REMAINING: out->remaining_s = le_u16 (r); break;
  default: g_assert_not_reached ();
  }
}

gboolean
wu_ftms_decode_indoor_bike_data (const guint8 *buf, gsize len, WuIndoorBikeData *out,
                                 GError **error)
{
  WuLeReader r;
  WuIndoorBikeData d = { 0 };
  gsize need;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out = d;
  le_reader_init (&r, buf, len);
  d.flags = le_u16 (&r);
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
  WuLeReader r;
  gint16 min, max;
  guint16 inc;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out = (WuFtmsRange) { 0 };
  if (!check_length (what, len, RANGE_SIZE, error))
    return FALSE;

  le_reader_init (&r, buf, len);
  min = le_s16 (&r);
  max = le_s16 (&r);
  inc = le_u16 (&r);
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
  WuLeReader r;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out = (WuFtmsFeature) { 0 };
  if (!check_length ("fitness machine feature", len, FEATURE_SIZE, error))
    return FALSE;

  le_reader_init (&r, buf, len);
  out->machine_features = le_u32 (&r);
  out->target_setting_features = le_u32 (&r);
  g_return_val_if_fail (!r.overrun, FALSE);
  return TRUE;
}
