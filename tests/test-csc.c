/* Table-driven tests for the CSC Measurement (0x2A5B) decoder. */
#include "wu-csc.h"
#include "wu-error.h"
#include "hex.h"

#include <string.h>

typedef struct {
  const char *name;
  const char *hex;
  WuCscMeasurement want;
} CscVector;

#define WHEEL(r, t) .has_wheel = TRUE, .wheel_revs = (r), .wheel_event_time = (t)
#define CRANK(r, t) .has_crank = TRUE, .crank_revs = (r), .crank_event_time = (t)

static const CscVector vectors[] = {
  /* Captured from real combined speed/cadence sensors (published in incyclist/devices'
   * CSC tests): wheel + crank, wheel only, and two consecutive crank-only frames of a
   * sensor at 114 rpm (one revolution in 539/1024 s). */
  { "captured-wheel-crank", "03d9000000770c01000098",
    { .flags = 0x03, WHEEL (217, 0x0c77), CRANK (1, 0x9800) } },
  { "captured-wheel-only", "01db0000001812", { .flags = 0x01, WHEEL (219, 0x1218) } },
  { "captured-wheel-crank-2", "03dc000000911403004e9f",
    { .flags = 0x03, WHEEL (220, 0x1491), CRANK (3, 0x9f4e) } },
  { "captured-crank-1", "02f70050c1", { .flags = 0x02, CRANK (247, 0xc150) } },
  { "captured-crank-2", "02f8006bc3", { .flags = 0x02, CRANK (248, 0xc36b) } },
  /* The README's trace example. */
  { "readme-crank", "02 f0 b7 67 2b", { .flags = 0x02, CRANK (0xb7f0, 0x2b67) } },
  /* Edges of the ranges; reserved flag bits ignored; trailing bytes ignored. */
  { "max-values", "03 ff ff ff ff ff ff ff ff ff ff",
    { .flags = 0x03, WHEEL (G_MAXUINT32, 0xffff), CRANK (0xffff, 0xffff) } },
  { "no-data", "00", { .flags = 0x00 } },
  { "reserved-bits", "fc", { .flags = 0xfc } },
  { "trailing-bytes", "02 01 00 00 04 aa bb", { .flags = 0x02, CRANK (1, 1024) } },
};

static const struct {
  const char *name;
  const char *hex;
} malformed[] = {
  { "empty", "" },
  { "wheel-short", "01 00 00 00 00 00" },
  { "crank-short", "02 f7 00 50" },
  { "both-short", "03 d9 00 00 00 77 0c 01 00 00" },
  { "crank-flag-only", "02" },
};

static void
test_vector (gconstpointer data)
{
  const CscVector *v = data;
  g_autoptr (GError) error = NULL;
  guint8 buf[64];
  gsize len = test_parse_hex (v->hex, buf, sizeof buf);
  WuCscMeasurement got;

  g_assert_true (wu_csc_decode_measurement (buf, len, &got, &error));
  g_assert_no_error (error);
  g_assert_cmphex (got.flags, ==, v->want.flags);
  g_assert_cmpint (got.has_wheel, ==, v->want.has_wheel);
  g_assert_cmpint (got.has_crank, ==, v->want.has_crank);
  g_assert_cmpuint (got.wheel_revs, ==, v->want.wheel_revs);
  g_assert_cmpuint (got.wheel_event_time, ==, v->want.wheel_event_time);
  g_assert_cmpuint (got.crank_revs, ==, v->want.crank_revs);
  g_assert_cmpuint (got.crank_event_time, ==, v->want.crank_event_time);
}

static void
test_malformed (gconstpointer data)
{
  const char *hex = data;
  g_autoptr (GError) error = NULL;
  guint8 buf[64];
  gsize len = test_parse_hex (hex, buf, sizeof buf);
  /* Exact-size heap copy: ASan/valgrind catch any read past the end. */
  g_autofree guint8 *exact = g_memdup2 (buf, len);
  WuCscMeasurement got;

  g_assert_false (wu_csc_decode_measurement (exact, len, &got, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autofree char *path = g_strdup_printf ("/csc/decode/%s", vectors[i].name);
      g_test_add_data_func (path, &vectors[i], test_vector);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_autofree char *path = g_strdup_printf ("/csc/malformed/%s", malformed[i].name);
      g_test_add_data_func (path, malformed[i].hex, test_malformed);
    }
  return g_test_run ();
}
