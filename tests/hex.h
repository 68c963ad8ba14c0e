/* Test helper: "44 02 da" (spaces optional) into bytes. */
#pragma once
#include <glib.h>

static inline gsize
test_parse_hex (const char *hex, guint8 *buf, gsize size)
{
  gsize n = 0;

  while (*hex)
    {
      int hi, lo;

      if (*hex == ' ')
        {
          hex++;
          continue;
        }
      hi = g_ascii_xdigit_value (hex[0]);
      lo = hex[1] ? g_ascii_xdigit_value (hex[1]) : -1;
      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      g_assert_cmpuint (n, <, size);
      buf[n++] = (guint8) (hi << 4 | lo);
      hex += 2;
    }
  return n;
}
