/* CSC Measurement (0x2A5B) decoder, per the Bluetooth Cycling Speed and Cadence Service 1.0.
 * Pure: no I/O, no state outside the arguments. */
#include "wu-csc.h"
#include "wu-error.h"
#include "le-reader.h"

#include <string.h>

#define CSC_WHEEL_SIZE 6   /* u32 revs + u16 time */
#define CSC_CRANK_SIZE 4   /* u16 revs + u16 time */

gboolean
wu_csc_decode_measurement (const guint8 *buf, gsize len, WuCscMeasurement *out,
                           GError **error)
{
  WuLeCursor c;
  gsize need = 1;

  memset (out, 0, sizeof *out);
  if (len < 1)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED, "CSC measurement: empty payload");
      return FALSE;
    }
  wu_le_init (&c, buf, len);
  out->flags = wu_le_u8 (&c);
  out->has_wheel = (out->flags & WU_CSC_FLAG_WHEEL) != 0;
  out->has_crank = (out->flags & WU_CSC_FLAG_CRANK) != 0;
  need += (out->has_wheel ? CSC_WHEEL_SIZE : 0) + (out->has_crank ? CSC_CRANK_SIZE : 0);
  if (len < need)
    {
      g_set_error (error, WU_ERROR, WU_ERROR_MALFORMED,
                   "CSC measurement: flags 0x%02x need %" G_GSIZE_FORMAT " bytes, got %"
                   G_GSIZE_FORMAT, out->flags, need, len);
      return FALSE;
    }
  if (out->has_wheel)
    {
      out->wheel_revs = wu_le_u32 (&c);
      out->wheel_event_time = wu_le_u16 (&c);
    }
  if (out->has_crank)
    {
      out->crank_revs = wu_le_u16 (&c);
      out->crank_event_time = wu_le_u16 (&c);
    }
  g_assert (!c.overrun);
  return TRUE;
}
