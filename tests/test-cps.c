/* Table-driven tests for the Cycling Power Measurement (0x2A63) decoder. The vectors are
 * built byte by byte from the Cycling Power Service 1.1 field table (flag bits and field
 * order in include/wu-cps.h); one exercises every optional field at once. */
#include "wu-cps.h"
#include "wu-error.h"
#include "hex.h"

#include <string.h>

typedef struct {
  const char *name;
  const char *hex;
  WuCpsMeasurement want;
} CpsVector;

static const CpsVector vectors[] = {
  { "power-only", "00 00 64 00", { .power_w = 100 } },
  { "negative-power", "00 00 9c ff", { .power_w = -100 } },
  /* The usual crank power meter frame: power + crank revolution data. */
  { "crank", "20 00 c8 00 0a 00 00 04",
    { .flags = 0x20, .power_w = 200, .crank_revs = 10, .crank_event_time = 1024 } },
  { "wheel-crank", "30 00 fa 00 e8 03 00 00 00 08 14 00 00 10",
    { .flags = 0x30, .power_w = 250, .wheel_revs = 1000, .wheel_event_time = 2048,
      .crank_revs = 20, .crank_event_time = 4096 } },
  { "balance-left", "03 00 96 00 65",
    { .flags = 0x03, .power_w = 150, .balance_percent = 50.5, .balance_left = TRUE } },
  { "balance-unknown-side", "01 00 96 00 64",
    { .flags = 0x01, .power_w = 150, .balance_percent = 50 } },
  { "torque-crank-based", "0c 00 96 00 40 01",
    { .flags = 0x0c, .power_w = 150, .torque_nm = 10, .torque_crank_based = TRUE } },
  /* Every field: 0x1fff (offset compensation bit 12 set, reserved bits clear). */
  { "every-field",
    "ff 1f 2c 01 5a 20 03 45 23 01 00 00 08 02 01 00 04 f4 01 38 ff 40 06 e0 ff b4 a0 05 "
    "0a 00 be 00 64 00",
    { .flags = 0x1fff, .power_w = 300, .balance_percent = 45, .balance_left = TRUE,
      .torque_nm = 25, .torque_crank_based = TRUE, .wheel_revs = 0x12345,
      .wheel_event_time = 0x0800, .crank_revs = 0x0102, .crank_event_time = 0x0400,
      .max_force_n = 500, .min_force_n = -200, .max_torque_nm = 50, .min_torque_nm = -1,
      .max_angle_deg = 180, .min_angle_deg = 90, .top_dead_spot_deg = 10,
      .bottom_dead_spot_deg = 190, .energy_kj = 100 } },
  /* Extreme angles at their 12-bit limits. */
  { "angles-max", "00 01 00 00 ff ff ff",
    { .flags = 0x0100, .max_angle_deg = 0xfff, .min_angle_deg = 0xfff } },
  { "energy-only-reserved-bits", "00 e8 0a 00 e8 03",
    { .flags = 0xe800, .power_w = 10, .energy_kj = 1000 } },
  { "trailing-bytes", "00 00 64 00 aa", { .power_w = 100 } },
};

static const struct {
  const char *name;
  const char *hex;
} malformed[] = {
  { "empty", "" },
  { "flags-only", "20 00" },
  { "power-short", "00 00 64" },
  { "crank-short", "20 00 c8 00 0a 00 00" },
  { "wheel-short", "10 00 c8 00 e8 03 00 00 00" },
  { "every-field-short",
    "ff 1f 2c 01 5a 20 03 45 23 01 00 00 08 02 01 00 04 f4 01 38 ff 40 06 e0 ff b4 a0 05 "
    "0a 00 be 00 64" },
};

#define assert_double(a, b) g_assert_cmpfloat_with_epsilon ((a), (b), 1e-9)

static void
test_vector (gconstpointer data)
{
  const CpsVector *v = data;
  const WuCpsMeasurement *want = &v->want;
  g_autoptr (GError) error = NULL;
  guint8 buf[64];
  gsize len = test_parse_hex (v->hex, buf, sizeof buf);
  WuCpsMeasurement got;

  g_assert_true (wu_cps_decode_measurement (buf, len, &got, &error));
  g_assert_no_error (error);
  g_assert_cmphex (got.flags, ==, want->flags);
  g_assert_cmpint (got.power_w, ==, want->power_w);
  assert_double (got.balance_percent, want->balance_percent);
  g_assert_cmpint (got.balance_left, ==, want->balance_left);
  assert_double (got.torque_nm, want->torque_nm);
  g_assert_cmpint (got.torque_crank_based, ==, want->torque_crank_based);
  g_assert_cmpuint (got.wheel_revs, ==, want->wheel_revs);
  g_assert_cmpuint (got.wheel_event_time, ==, want->wheel_event_time);
  g_assert_cmpuint (got.crank_revs, ==, want->crank_revs);
  g_assert_cmpuint (got.crank_event_time, ==, want->crank_event_time);
  g_assert_cmpint (got.max_force_n, ==, want->max_force_n);
  g_assert_cmpint (got.min_force_n, ==, want->min_force_n);
  assert_double (got.max_torque_nm, want->max_torque_nm);
  assert_double (got.min_torque_nm, want->min_torque_nm);
  g_assert_cmpuint (got.max_angle_deg, ==, want->max_angle_deg);
  g_assert_cmpuint (got.min_angle_deg, ==, want->min_angle_deg);
  g_assert_cmpuint (got.top_dead_spot_deg, ==, want->top_dead_spot_deg);
  g_assert_cmpuint (got.bottom_dead_spot_deg, ==, want->bottom_dead_spot_deg);
  g_assert_cmpuint (got.energy_kj, ==, want->energy_kj);
}

static void
test_malformed (gconstpointer data)
{
  const char *hex = data;
  g_autoptr (GError) error = NULL;
  guint8 buf[64];
  gsize len = test_parse_hex (hex, buf, sizeof buf);
  g_autofree guint8 *exact = g_memdup2 (buf, len);
  WuCpsMeasurement got;

  g_assert_false (wu_cps_decode_measurement (exact, len, &got, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cps/decode/%s", vectors[i].name);
      g_test_add_data_func (path, &vectors[i], test_vector);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cps/malformed/%s", malformed[i].name);
      g_test_add_data_func (path, malformed[i].hex, test_malformed);
    }
  return g_test_run ();
}
