/* Cycling Speed and Cadence (0x1816): the CSC Measurement (0x2A5B) decoder. Pure: bytes in,
 * values out, no I/O. Multi-byte fields are little-endian.
 *
 *   u8 flags | [u32 cumulative wheel revs, u16 last wheel event time (1/1024 s)]
 *            | [u16 cumulative crank revs, u16 last crank event time (1/1024 s)]
 *
 * The counters and event times are cumulative and wrap; turning them into cadence and
 * speed is the estimator's job (wu-cadence.h), not the decoder's. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  WU_CSC_FLAG_WHEEL = 1 << 0,   /* wheel revolution data present */
  WU_CSC_FLAG_CRANK = 1 << 1,   /* crank revolution data present */
} WuCscFlag;

/* CSC event times tick at 1024 Hz and wrap every 64 s. */
#define WU_CSC_TIME_HZ 1024

typedef struct {
  guint8 flags;               /* raw wire flags (bits 2-7 reserved, ignored) */
  gboolean has_wheel;
  gboolean has_crank;
  guint32 wheel_revs;         /* cumulative, wraps at 2^32 */
  guint16 wheel_event_time;   /* 1/1024 s, wraps at 64 s */
  guint16 crank_revs;         /* cumulative, wraps at 2^16 */
  guint16 crank_event_time;   /* 1/1024 s, wraps at 64 s */
} WuCscMeasurement;

/* Decode one CSC Measurement notification. Fails with WU_ERROR_MALFORMED when the payload
 * is empty or shorter than its flags require; trailing bytes are ignored. */
gboolean wu_csc_decode_measurement (const guint8 *buf, gsize len, WuCscMeasurement *out,
                                    GError **error);

G_END_DECLS
