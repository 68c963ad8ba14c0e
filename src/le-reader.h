/* A bounded little-endian reader for GATT payloads, shared by every decoder (FTMS, CSC, CPS).
 * Internal to warmupd (static inline, no state outside the cursor). A read that would pass
 * the end returns 0, reads nothing and latches `overrun`, so a decoder may read a whole
 * record and check once at the end; no read can touch memory outside buf[0, len). */
#pragma once
#include <glib.h>

typedef struct {
  const guint8 *buf;
  gsize len;
  gsize pos;
  gboolean overrun;
} WuLeCursor;

static inline void
wu_le_init (WuLeCursor *c, const guint8 *buf, gsize len)
{
  c->buf = buf;
  c->len = len;
  c->pos = 0;
  c->overrun = FALSE;
}

static inline const guint8 *
wu_le_take (WuLeCursor *c, gsize n)
{
  const guint8 *p;

  if (c->overrun || n > c->len - c->pos)
    {
      c->overrun = TRUE;
      return NULL;
    }
  p = c->buf + c->pos;
  c->pos += n;
  return p;
}

static inline guint8
wu_le_u8 (WuLeCursor *c)
{
  const guint8 *p = wu_le_take (c, 1);
  return p ? p[0] : 0;
}

static inline guint16
wu_le_u16 (WuLeCursor *c)
{
  const guint8 *p = wu_le_take (c, 2);
  return p ? (guint16) (p[0] | (p[1] << 8)) : 0;
}

/* Two's complement done arithmetically: portable C. */
static inline gint16
wu_le_s16 (WuLeCursor *c)
{
  guint16 u = wu_le_u16 (c);
  return u <= G_MAXINT16 ? (gint16) u : (gint16) ((gint32) u - 0x10000);
}

static inline guint32
wu_le_u24 (WuLeCursor *c)
{
  const guint8 *p = wu_le_take (c, 3);
  return p ? (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) : 0;
}

static inline guint32
wu_le_u32 (WuLeCursor *c)
{
  const guint8 *p = wu_le_take (c, 4);
  return p ? (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) |
               ((guint32) p[3] << 24)
           : 0;
}
