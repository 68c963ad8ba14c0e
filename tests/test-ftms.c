/* Table-driven tests for the FTMS decoders (after iio-sensor-proxy's test-orientation). */
#include "wu-ftms.h"
#include "wu-error.h"

#include <math.h>
#include <string.h>

#define MAX_PAYLOAD 64

/* ---- helpers ------------------------------------------------------------------------- */

/* Parse "44 02 da" (spaces optional) into buf; returns the byte count. */
static gsize
parse_hex (const char *hex, guint8 *buf, gsize size)
{
  gsize n = 0;

  while (*hex) {
    int hi, lo;

    if (*hex == ' ') {
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

#define assert_double(a, b) g_assert_cmpfloat_with_epsilon ((a), (b), 1e-9)

static void
assert_ibd_equal (const WuIndoorBikeData *got, const WuIndoorBikeData *want)
{
  g_assert_cmphex (got->flags, ==, want->flags);
  g_assert_cmphex (got->present, ==, want->present);
  assert_double (got->speed_kmh, want->speed_kmh);
  assert_double (got->avg_speed_kmh, want->avg_speed_kmh);
  assert_double (got->cadence_rpm, want->cadence_rpm);
  assert_double (got->avg_cadence_rpm, want->avg_cadence_rpm);
  g_assert_cmpuint (got->distance_m, ==, want->distance_m);
  g_assert_cmpint (got->resistance, ==, want->resistance);
  g_assert_cmpint (got->power_w, ==, want->power_w);
  g_assert_cmpint (got->avg_power_w, ==, want->avg_power_w);
  g_assert_cmpuint (got->energy_total_kcal, ==, want->energy_total_kcal);
  g_assert_cmpuint (got->energy_per_hour_kcal, ==, want->energy_per_hour_kcal);
  g_assert_cmpuint (got->energy_per_minute_kcal, ==, want->energy_per_minute_kcal);
  g_assert_cmpuint (got->heart_rate_bpm, ==, want->heart_rate_bpm);
  assert_double (got->met, want->met);
  g_assert_cmpuint (got->elapsed_s, ==, want->elapsed_s);
  g_assert_cmpuint (got->remaining_s, ==, want->remaining_s);
}

/* ---- Indoor Bike Data: captured and hand-made vectors --------------------------------- */

typedef struct {
  const char *name;
  const char *hex;
  WuIndoorBikeData want;
} IbdVector;

static const IbdVector ibd_vectors[] = {
  /* Captured from a real bike: speed + cadence + power + heart rate (no strap: 0). */
  { "captured-0244", "44 02 da 02 02 01 22 01 00",
    { .flags = 0x0244,
      .present = WU_IBD_HAS_SPEED | WU_IBD_HAS_CADENCE | WU_IBD_HAS_POWER | WU_IBD_HAS_HEART_RATE,
      .speed_kmh = 7.30, .cadence_rpm = 129.0, .power_w = 290, .heart_rate_bpm = 0 } },
  /* The common speed + cadence + power packet: 25.00 km/h, 85.5 rpm, 150 W. */
  { "captured-0044", "44 00 c4 09 ab 00 96 00",
    { .flags = 0x0044,
      .present = WU_IBD_HAS_SPEED | WU_IBD_HAS_CADENCE | WU_IBD_HAS_POWER,
      .speed_kmh = 25.00, .cadence_rpm = 85.5, .power_w = 150 } },
  /* Stopped bike: all zero values are still present. */
  { "stopped-0044", "44 00 00 00 00 00 00 00",
    { .flags = 0x0044,
      .present = WU_IBD_HAS_SPEED | WU_IBD_HAS_CADENCE | WU_IBD_HAS_POWER } },
  /* More Data continuation: no speed; distance 1234 m, elapsed 600 s. */
  { "more-data-0811", "11 08 d2 04 00 58 02",
    { .flags = 0x0811, .present = WU_IBD_HAS_DISTANCE | WU_IBD_HAS_ELAPSED,
      .distance_m = 1234, .elapsed_s = 600 } },
  /* More Data alone: a packet that carries nothing but its flags. */
  { "more-data-only", "01 00", { .flags = 0x0001, .present = 0 } },
  /* No flags at all: speed only (bit 0 is inverted). */
  { "speed-only", "00 00 10 27", { .flags = 0x0000, .present = WU_IBD_HAS_SPEED,
                                   .speed_kmh = 100.00 } },
  /* Reserved bits 13-15 set: ignored, but kept in the raw flags. */
  { "reserved-bits", "44 e0 c4 09 ab 00 96 00",
    { .flags = 0xe044,
      .present = WU_IBD_HAS_SPEED | WU_IBD_HAS_CADENCE | WU_IBD_HAS_POWER,
      .speed_kmh = 25.00, .cadence_rpm = 85.5, .power_w = 150 } },
  /* Trailing bytes after the last flagged field are ignored. */
  { "trailing-bytes", "44 00 c4 09 ab 00 96 00 ff ff ff",
    { .flags = 0x0044,
      .present = WU_IBD_HAS_SPEED | WU_IBD_HAS_CADENCE | WU_IBD_HAS_POWER,
      .speed_kmh = 25.00, .cadence_rpm = 85.5, .power_w = 150 } },
  /* s16 resistance -10 and power -20 (a bike braking / calibrating). */
  { "negative-resistance-power", "61 00 f6 ff ec ff",
    { .flags = 0x0061, .present = WU_IBD_HAS_RESISTANCE | WU_IBD_HAS_POWER,
      .resistance = -10, .power_w = -20 } },
  { "s16-extremes", "e1 00 00 80 ff 7f ff ff",
    { .flags = 0x00e1,
      .present = WU_IBD_HAS_RESISTANCE | WU_IBD_HAS_POWER | WU_IBD_HAS_AVG_POWER,
      .resistance = G_MININT16, .power_w = G_MAXINT16, .avg_power_w = -1 } },
  /* u24 distance at its maximum, 16777215 m. */
  { "distance-u24-max", "11 00 ff ff ff", { .flags = 0x0011, .present = WU_IBD_HAS_DISTANCE,
                                            .distance_m = 0xffffff } },
  /* u16 maxima: 655.35 km/h, 32767.5 rpm. */
  { "u16-maxima", "04 00 ff ff ff ff", { .flags = 0x0004,
                                         .present = WU_IBD_HAS_SPEED | WU_IBD_HAS_CADENCE,
                                         .speed_kmh = 655.35, .cadence_rpm = 32767.5 } },
  /* Expended energy "not available" markers pass through raw. */
  { "energy-not-available", "01 01 ff ff ff ff ff",
    { .flags = 0x0101, .present = WU_IBD_HAS_ENERGY, .energy_total_kcal = 0xffff,
      .energy_per_hour_kcal = 0xffff, .energy_per_minute_kcal = 0xff } },
  /* Every field, each with a distinct value, in wire order. */
  { "all-fields", "fe 1f"
                  " 01 02"        /* speed 5.13 */
                  " 03 04"        /* avg speed 10.27 */
                  " 05 06"        /* cadence 770.5 */
                  " 07 08"        /* avg cadence 1027.5 */
                  " 09 0a 0b"     /* distance 0x0b0a09 */
                  " 0c 0d"        /* resistance 0x0d0c */
                  " 0e 0f"        /* power 0x0f0e */
                  " 10 11"        /* avg power 0x1110 */
                  " 12 13 14 15 16" /* energy 0x1312, 0x1514, 0x16 */
                  " 17"           /* heart rate 23 */
                  " 18"           /* MET 2.4 */
                  " 19 1a"        /* elapsed 0x1a19 */
                  " 1b 1c",       /* remaining 0x1c1b */
    { .flags = 0x1ffe, .present = 0x1fff, .speed_kmh = 5.13, .avg_speed_kmh = 10.27,
      .cadence_rpm = 770.5, .avg_cadence_rpm = 1027.5, .distance_m = 0x0b0a09,
      .resistance = 0x0d0c, .power_w = 0x0f0e, .avg_power_w = 0x1110,
      .energy_total_kcal = 0x1312, .energy_per_hour_kcal = 0x1514,
      .energy_per_minute_kcal = 0x16, .heart_rate_bpm = 0x17, .met = 2.4,
      .elapsed_s = 0x1a19, .remaining_s = 0x1c1b } },
};

static void
test_ibd_vector (gconstpointer data)
{
  const IbdVector *v = data;
  guint8 buf[MAX_PAYLOAD];
  gsize len = parse_hex (v->hex, buf, sizeof buf);
  g_autofree guint8 *copy = g_memdup2 (buf, len);  /* exact size: over-reads get caught */
  WuIndoorBikeData got;
  g_autoptr (GError) error = NULL;

  g_assert_true (wu_ftms_decode_indoor_bike_data (copy, len, &got, &error));
  g_assert_no_error (error);
  assert_ibd_equal (&got, &v->want);
}

/* ---- Indoor Bike Data: malformed vectors ------------------------------------------------ */

typedef struct {
  const char *name;
  const char *hex;
  const char *message;  /* the exact error message */
} MalformedVector;

static const MalformedVector ibd_malformed[] = {
  { "empty", "", "indoor bike data: 0 bytes, need 2 for the flags" },
  { "one-byte", "44", "indoor bike data: 1 bytes, need 2 for the flags" },
  { "flags-only-needs-speed", "00 00", "indoor bike data: 2 bytes, flags 0x0000 need 4" },
  { "captured-0244-cut", "44 02 da 02 02 01 22",
    "indoor bike data: 7 bytes, flags 0x0244 need 9" },
  { "captured-0244-one-short", "44 02 da 02 02 01 22 01",
    "indoor bike data: 8 bytes, flags 0x0244 need 9" },
  { "distance-two-of-three", "11 00 ff ff", "indoor bike data: 4 bytes, flags 0x0011 need 5" },
  { "energy-four-of-five", "01 01 ff ff ff ff",
    "indoor bike data: 6 bytes, flags 0x0101 need 7" },
  { "all-fields-empty", "fe ff", "indoor bike data: 2 bytes, flags 0xfffe need 30" },
};

static void
assert_malformed (const GError *error, const char *message)
{
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
  if (message)
    g_assert_cmpstr (error->message, ==, message);
}

static void
test_ibd_malformed (gconstpointer data)
{
  const MalformedVector *v = data;
  guint8 buf[MAX_PAYLOAD];
  gsize len = parse_hex (v->hex, buf, sizeof buf);
  g_autofree guint8 *copy = g_memdup2 (buf, len);
  WuIndoorBikeData got, zero = { 0 };
  g_autoptr (GError) error = NULL;

  memset (&got, 0xa5, sizeof got);
  g_assert_false (wu_ftms_decode_indoor_bike_data (copy, len, &got, &error));
  assert_malformed (error, v->message);
  /* A failed decode leaves nothing half-filled behind. */
  assert_ibd_equal (&got, &zero);
}

/* A NULL buffer with length 0 is a valid (empty) input, and is malformed. */
static void
test_ibd_null_empty (void)
{
  WuIndoorBikeData got;
  g_autoptr (GError) error = NULL;

  g_assert_false (wu_ftms_decode_indoor_bike_data (NULL, 0, &got, &error));
  assert_malformed (error, "indoor bike data: 0 bytes, need 2 for the flags");
}

/* ---- Indoor Bike Data: every flag combination ------------------------------------------- */

/* An encoder written independently of the decoder: explicit, in spec order, with its own
 * byte writers. It produces raw field values from a seeded PRNG and the expected decode. */
typedef struct {
  guint8 bytes[MAX_PAYLOAD];
  gsize len;
} Payload;

static void
put_u8 (Payload *p, guint v)
{
  g_assert_cmpuint (p->len, <, sizeof p->bytes);
  p->bytes[p->len++] = (guint8) v;
}

static void
put_u16 (Payload *p, guint v)
{
  put_u8 (p, v & 0xff);
  put_u8 (p, (v >> 8) & 0xff);
}

static void
put_u24 (Payload *p, guint32 v)
{
  put_u16 (p, v & 0xffff);
  put_u8 (p, (v >> 16) & 0xff);
}

static guint
rand_bits (GRand *rand, guint bits)
{
  return g_rand_int (rand) & ((1u << bits) - 1);
}

/* s16 values spread over the whole signed range, negatives included. */
static gint16
rand_s16 (GRand *rand)
{
  return (gint16) g_rand_int_range (rand, G_MININT16, (gint32) G_MAXINT16 + 1);
}

static void
encode_ibd (guint16 flags, GRand *rand, Payload *p, WuIndoorBikeData *want)
{
  memset (p, 0, sizeof *p);
  memset (want, 0, sizeof *want);
  want->flags = flags;
  put_u16 (p, flags);

  if (!(flags & 0x0001)) {
    guint v = rand_bits (rand, 16);
    put_u16 (p, v);
    want->speed_kmh = v / 100.0;
    want->present |= WU_IBD_HAS_SPEED;
  }
  if (flags & 0x0002) {
    guint v = rand_bits (rand, 16);
    put_u16 (p, v);
    want->avg_speed_kmh = v / 100.0;
    want->present |= WU_IBD_HAS_AVG_SPEED;
  }
  if (flags & 0x0004) {
    guint v = rand_bits (rand, 16);
    put_u16 (p, v);
    want->cadence_rpm = v / 2.0;
    want->present |= WU_IBD_HAS_CADENCE;
  }
  if (flags & 0x0008) {
    guint v = rand_bits (rand, 16);
    put_u16 (p, v);
    want->avg_cadence_rpm = v / 2.0;
    want->present |= WU_IBD_HAS_AVG_CADENCE;
  }
  if (flags & 0x0010) {
    guint32 v = rand_bits (rand, 24);
    put_u24 (p, v);
    want->distance_m = v;
    want->present |= WU_IBD_HAS_DISTANCE;
  }
  if (flags & 0x0020) {
    gint16 v = rand_s16 (rand);
    put_u16 (p, (guint16) v);
    want->resistance = v;
    want->present |= WU_IBD_HAS_RESISTANCE;
  }
  if (flags & 0x0040) {
    gint16 v = rand_s16 (rand);
    put_u16 (p, (guint16) v);
    want->power_w = v;
    want->present |= WU_IBD_HAS_POWER;
  }
  if (flags & 0x0080) {
    gint16 v = rand_s16 (rand);
    put_u16 (p, (guint16) v);
    want->avg_power_w = v;
    want->present |= WU_IBD_HAS_AVG_POWER;
  }
  if (flags & 0x0100) {
    want->energy_total_kcal = (guint16) rand_bits (rand, 16);
    want->energy_per_hour_kcal = (guint16) rand_bits (rand, 16);
    want->energy_per_minute_kcal = (guint8) rand_bits (rand, 8);
    put_u16 (p, want->energy_total_kcal);
    put_u16 (p, want->energy_per_hour_kcal);
    put_u8 (p, want->energy_per_minute_kcal);
    want->present |= WU_IBD_HAS_ENERGY;
  }
  if (flags & 0x0200) {
    want->heart_rate_bpm = (guint8) rand_bits (rand, 8);
    put_u8 (p, want->heart_rate_bpm);
    want->present |= WU_IBD_HAS_HEART_RATE;
  }
  if (flags & 0x0400) {
    guint v = rand_bits (rand, 8);
    put_u8 (p, v);
    want->met = v / 10.0;
    want->present |= WU_IBD_HAS_MET;
  }
  if (flags & 0x0800) {
    want->elapsed_s = (guint16) rand_bits (rand, 16);
    put_u16 (p, want->elapsed_s);
    want->present |= WU_IBD_HAS_ELAPSED;
  }
  if (flags & 0x1000) {
    want->remaining_s = (guint16) rand_bits (rand, 16);
    put_u16 (p, want->remaining_s);
    want->present |= WU_IBD_HAS_REMAINING;
  }
}

/* Decode len bytes of p from an exact-size heap copy, so valgrind/ASan see over-reads. */
static gboolean
decode_copy (const Payload *p, gsize len, WuIndoorBikeData *out, GError **error)
{
  g_autofree guint8 *copy = g_memdup2 (p->bytes, len);

  return wu_ftms_decode_indoor_bike_data (copy, len, out, error);
}

/* Decode one encoded combination exactly, with a trailing byte, and one byte short. */
static void
check_combination (guint16 flags, GRand *rand)
{
  Payload p;
  WuIndoorBikeData want, got;
  GError *error = NULL;

  encode_ibd (flags, rand, &p, &want);

  g_assert_true (decode_copy (&p, p.len, &got, &error));
  g_assert_no_error (error);
  assert_ibd_equal (&got, &want);

  g_assert_true (decode_copy (&p, p.len + 1, &got, &error));  /* encode_ibd zeroed the rest */
  g_assert_no_error (error);
  assert_ibd_equal (&got, &want);

  /* Even the shortest packet (More Data, nothing else) has 2 bytes: one short always fails. */
  g_assert_false (decode_copy (&p, p.len - 1, &got, &error));
  assert_malformed (error, NULL);
  g_clear_error (&error);
}

static void
test_ibd_all_combinations (void)
{
  for (guint flags = 0; flags <= 0x1fff; flags++) {
    g_autoptr (GRand) rand = g_rand_new_with_seed (flags);

    check_combination ((guint16) flags, rand);
    /* Reserved bits 13-15 must change nothing but the raw flags. */
    check_combination ((guint16) (flags | 0xe000), rand);
  }
}

/* ---- Indoor Bike Data: every truncation of a full packet -------------------------------- */

static void
test_ibd_truncations (void)
{
  guint8 full[MAX_PAYLOAD];
  gsize full_len = parse_hex (ibd_vectors[G_N_ELEMENTS (ibd_vectors) - 1].hex, full,
                              sizeof full);
  WuIndoorBikeData got;

  g_assert_cmpuint (full_len, ==, 30);
  for (gsize len = 0; len < full_len; len++) {
    g_autoptr (GError) error = NULL;
    /* A heap copy of exactly len bytes, so valgrind/ASan catch any over-read. */
    g_autofree guint8 *copy = g_memdup2 (full, len);

    g_assert_false (wu_ftms_decode_indoor_bike_data (copy, len, &got, &error));
    assert_malformed (error, NULL);
    if (len >= 2)
      g_assert_nonnull (strstr (error->message, "flags 0x1ffe need 30"));
  }

  {
    g_autoptr (GError) error = NULL;
    g_autofree guint8 *copy = g_memdup2 (full, full_len);

    g_assert_true (wu_ftms_decode_indoor_bike_data (copy, full_len, &got, &error));
    g_assert_no_error (error);
    assert_ibd_equal (&got, &ibd_vectors[G_N_ELEMENTS (ibd_vectors) - 1].want);
  }
}

/* ---- Supported ranges ----------------------------------------------------------------------- */

typedef gboolean (*RangeDecoder) (const guint8 *, gsize, WuFtmsRange *, GError **);

typedef struct {
  const char *name;
  RangeDecoder decode;
  const char *hex;
  const char *message;  /* NULL: expect success */
  WuFtmsRange want;
} RangeVector;

static const RangeVector range_vectors[] = {
  /* Resistance: 0.1 resolution. */
  { "resistance/typical", wu_ftms_decode_resistance_range, "00 00 e8 03 0a 00", NULL,
    { 0.0, 100.0, 1.0 } },
  { "resistance/negative-min", wu_ftms_decode_resistance_range, "9c ff 64 00 01 00", NULL,
    { -10.0, 10.0, 0.1 } },
  { "resistance/min-equals-max", wu_ftms_decode_resistance_range, "32 00 32 00 00 00", NULL,
    { 5.0, 5.0, 0.0 } },
  { "resistance/extremes", wu_ftms_decode_resistance_range, "00 80 ff 7f ff ff", NULL,
    { -3276.8, 3276.7, 6553.5 } },
  { "resistance/trailing", wu_ftms_decode_resistance_range, "00 00 e8 03 0a 00 ff", NULL,
    { 0.0, 100.0, 1.0 } },
  { "resistance/empty", wu_ftms_decode_resistance_range, "",
    "supported resistance level range: 0 bytes, need 6", { 0, 0, 0 } },
  { "resistance/five-bytes", wu_ftms_decode_resistance_range, "00 00 e8 03 0a",
    "supported resistance level range: 5 bytes, need 6", { 0, 0, 0 } },
  { "resistance/min-above-max", wu_ftms_decode_resistance_range, "e8 03 00 00 0a 00",
    "supported resistance level range: minimum 1000 > maximum 0 (raw)", { 0, 0, 0 } },
  { "resistance/min-above-negative-max", wu_ftms_decode_resistance_range, "ff ff 00 80 01 00",
    "supported resistance level range: minimum -1 > maximum -32768 (raw)", { 0, 0, 0 } },
  /* Power: 1 W resolution. */
  { "power/typical", wu_ftms_decode_power_range, "00 00 e8 03 01 00", NULL,
    { 0.0, 1000.0, 1.0 } },
  { "power/negative-min", wu_ftms_decode_power_range, "ce ff 20 03 05 00", NULL,
    { -50.0, 800.0, 5.0 } },
  { "power/min-equals-max", wu_ftms_decode_power_range, "64 00 64 00 01 00", NULL,
    { 100.0, 100.0, 1.0 } },
  { "power/trailing", wu_ftms_decode_power_range, "00 00 e8 03 01 00 aa bb", NULL,
    { 0.0, 1000.0, 1.0 } },
  { "power/empty", wu_ftms_decode_power_range, "", "supported power range: 0 bytes, need 6", { 0, 0, 0 } },
  { "power/one-byte", wu_ftms_decode_power_range, "00", "supported power range: 1 bytes, need 6", { 0, 0, 0 } },
  { "power/five-bytes", wu_ftms_decode_power_range, "00 00 e8 03 01",
    "supported power range: 5 bytes, need 6", { 0, 0, 0 } },
  { "power/min-above-max", wu_ftms_decode_power_range, "c8 00 64 00 01 00",
    "supported power range: minimum 200 > maximum 100 (raw)", { 0, 0, 0 } },
};

static void
test_range (gconstpointer data)
{
  const RangeVector *v = data;
  guint8 buf[MAX_PAYLOAD];
  gsize len = parse_hex (v->hex, buf, sizeof buf);
  g_autofree guint8 *copy = g_memdup2 (buf, len);
  WuFtmsRange got;
  g_autoptr (GError) error = NULL;
  gboolean ok;
  const WuFtmsRange zero = { 0 }, *want = &v->want;

  memset (&got, 0xa5, sizeof got);
  ok = v->decode (copy, len, &got, &error);
  if (v->message) {
    g_assert_false (ok);
    assert_malformed (error, v->message);
    want = &zero;  /* a failed decode leaves nothing half-filled */
  } else {
    g_assert_true (ok);
    g_assert_no_error (error);
  }
  assert_double (got.minimum, want->minimum);
  assert_double (got.maximum, want->maximum);
  assert_double (got.increment, want->increment);
}

/* ---- Fitness Machine Feature ---------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *hex;
  const char *message;  /* NULL: expect success */
  WuFtmsFeature want;
} FeatureVector;

static const FeatureVector feature_vectors[] = {
  /* A typical smart bike: cadence, total distance, resistance, HR, elapsed time, power;
   * targets: resistance + power. */
  { "typical", "86 54 00 00 0c 00 00 00", NULL, { 0x00005486, 0x0000000c } },
  { "byte-order", "01 02 03 04 05 06 07 08", NULL, { 0x04030201, 0x08070605 } },
  { "all-ones", "ff ff ff ff ff ff ff ff", NULL, { 0xffffffff, 0xffffffff } },
  { "trailing", "01 00 00 00 02 00 00 00 ff", NULL, { 1, 2 } },
  { "empty", "", "fitness machine feature: 0 bytes, need 8", { 0, 0 } },
  { "four-bytes", "86 54 00 00", "fitness machine feature: 4 bytes, need 8", { 0, 0 } },
  { "seven-bytes", "86 54 00 00 0c 00 00", "fitness machine feature: 7 bytes, need 8", { 0, 0 } },
};

static void
test_feature (gconstpointer data)
{
  const FeatureVector *v = data;
  guint8 buf[MAX_PAYLOAD];
  gsize len = parse_hex (v->hex, buf, sizeof buf);
  g_autofree guint8 *copy = g_memdup2 (buf, len);
  WuFtmsFeature got;
  g_autoptr (GError) error = NULL;
  gboolean ok;

  memset (&got, 0xa5, sizeof got);
  ok = wu_ftms_decode_feature (copy, len, &got, &error);
  if (v->message) {
    g_assert_false (ok);
    assert_malformed (error, v->message);
    g_assert_cmphex (got.machine_features, ==, 0);
    g_assert_cmphex (got.target_setting_features, ==, 0);
    return;
  }
  g_assert_true (ok);
  g_assert_no_error (error);
  g_assert_cmphex (got.machine_features, ==, v->want.machine_features);
  g_assert_cmphex (got.target_setting_features, ==, v->want.target_setting_features);
}

/* ---- Fitting a target onto what the bike can be set to ------------------------------------ */

typedef struct {
  const char *name;
  double value;
  gboolean range_known;
  WuFtmsRange range;
  double resolution;
  double want;
} FitVector;

#define R WU_FTMS_RESISTANCE_RESOLUTION
#define W WU_FTMS_POWER_RESOLUTION
static const FitVector fit_vectors[] = {
  { "no-range", 7.3, FALSE, { 0, 0, 0 }, R, 7.3 },
  { "no-range-stepped-down-onto-a-tenth", 7.67, FALSE, { 0, 0, 0 }, R, 7.6 },
  { "no-range-whole-watts", 99.6, FALSE, { 0, 0, 0 }, W, 99 },
  { "inside", 7, TRUE, { 1, 32, 1 }, R, 7 },
  { "below-the-minimum-is-the-minimum", 0, TRUE, { 1, 32, 1 }, R, 1 },
  { "half-below-the-minimum", 0.5, TRUE, { 1, 32, 0 }, R, 1 },
  { "above-the-maximum-is-the-maximum", 40, TRUE, { 1, 32, 1 }, R, 32 },
  { "stepped-down-onto-the-increment", 3.7, TRUE, { 0, 20, 0.5 }, R, 3.5 },
  { "increment-from-the-minimum", 4.9, TRUE, { 1, 32, 2 }, R, 3 },
  { "no-increment-stepped-down-onto-a-tenth", 7.67, TRUE, { 1, 32, 0 }, R, 7.6 },
  { "on-a-tenth-stays", 7.7, TRUE, { 1, 32, 0 }, R, 7.7 },
  { "increment-in-tenths-stays", 1.9, TRUE, { 1, 32, 0.3 }, R, 1.9 },
  { "on-a-step-stays", 29, TRUE, { 0, 100, 1 }, R, 29 },
  { "binary-noise", 0.29 * 100, TRUE, { 0, 100, 1 }, R, 29 },
  { "power-range", 157, TRUE, { 25, 1000, 5 }, W, 155 },
};
#undef R
#undef W

static void
test_fit (gconstpointer data)
{
  const FitVector *v = data;

  double got = wu_ftms_fit_target (v->value, v->range_known ? &v->range : NULL,
                                   v->resolution);

  g_assert_cmpfloat_with_epsilon (got, v->want, 1e-9);
}

static void
test_above_target (void)
{
  g_assert_false (wu_ftms_above_target (76 * 0.1, 7.6));   /* as decoded: the bike at 7.6 */
  g_assert_false (wu_ftms_above_target (7.5, 7.6));
  g_assert_true (wu_ftms_above_target (77 * 0.1, 7.6));
  g_assert_false (wu_ftms_above_target (100, 100));
  g_assert_true (wu_ftms_above_target (101, 100));
}

/* ---- Control Point requests: byte-exact encoders ---------------------------------------- */

typedef gboolean (*EncodeNumber) (WuFtmsRequest *req, double value, GError **error);

typedef struct {
  const char *name;
  EncodeNumber encode;
  double value;
  const char *hex;      /* NULL: must fail with WU_ERROR_INVALID_ARGUMENT */
} EncodeVector;

static const EncodeVector encode_vectors[] = {
  { "speed-25.5", wu_ftms_encode_set_target_speed, 25.5, "02 f6 09" },
  { "speed-0", wu_ftms_encode_set_target_speed, 0, "02 00 00" },
  { "speed-max", wu_ftms_encode_set_target_speed, 655.35, "02 ff ff" },
  { "speed-rounds", wu_ftms_encode_set_target_speed, 10.004, "02 e8 03" },
  { "speed-negative", wu_ftms_encode_set_target_speed, -1, NULL },
  { "speed-too-high", wu_ftms_encode_set_target_speed, 655.36, NULL },
  { "speed-nan", wu_ftms_encode_set_target_speed, NAN, NULL },
  { "inclination-2.5", wu_ftms_encode_set_target_inclination, 2.5, "03 19 00" },
  { "inclination-minus-1", wu_ftms_encode_set_target_inclination, -1.0, "03 f6 ff" },
  { "inclination-too-low", wu_ftms_encode_set_target_inclination, -3276.9, NULL },
  { "resistance-u8-3.0", wu_ftms_encode_set_target_resistance, 3.0, "04 1e" },
  { "resistance-u8-binary-noise", wu_ftms_encode_set_target_resistance, 0.1 * 3, "04 03" },
  { "resistance-u8-stepped-down", wu_ftms_encode_set_target_resistance, 7.67, "04 4c" },
  { "resistance-u8-on-a-step", wu_ftms_encode_set_target_resistance, 7.7, "04 4d" },
  { "resistance-u8-just-under-max", wu_ftms_encode_set_target_resistance, 25.59, "04 ff" },
  { "resistance-u8-max", wu_ftms_encode_set_target_resistance, 25.5, "04 ff" },
  { "resistance-u8-too-high", wu_ftms_encode_set_target_resistance, 25.6, NULL },
  { "resistance-u8-negative", wu_ftms_encode_set_target_resistance, -0.1, NULL },
  { "resistance-s16-3.0", wu_ftms_encode_set_target_resistance_s16, 3.0, "04 1e 00" },
  { "resistance-s16-30.0", wu_ftms_encode_set_target_resistance_s16, 30.0, "04 2c 01" },
  { "resistance-s16-negative", wu_ftms_encode_set_target_resistance_s16, -2.0, "04 ec ff" },
  { "resistance-s16-stepped-down", wu_ftms_encode_set_target_resistance_s16, 30.09,
    "04 2c 01" },
  { "resistance-s16-too-high", wu_ftms_encode_set_target_resistance_s16, 3276.8, NULL },
  { "power-100", wu_ftms_encode_set_target_power, 100, "05 64 00" },
  { "power-1000", wu_ftms_encode_set_target_power, 1000, "05 e8 03" },
  { "power-stepped-down", wu_ftms_encode_set_target_power, 99.6, "05 63 00" },
  { "power-binary-noise", wu_ftms_encode_set_target_power, 0.29 * 100, "05 1d 00" },
  { "power-max", wu_ftms_encode_set_target_power, 32767, "05 ff 7f" },
  { "power-too-high", wu_ftms_encode_set_target_power, 32768, NULL },
  { "power-inf", wu_ftms_encode_set_target_power, INFINITY, NULL },
};

static void
assert_request (const WuFtmsRequest *req, const char *hex)
{
  guint8 want[MAX_PAYLOAD];
  gsize n = parse_hex (hex, want, sizeof want);

  g_assert_cmpmem (req->bytes, req->len, want, n);
}

static void
test_encode_vector (gconstpointer data)
{
  const EncodeVector *v = data;
  g_autoptr (GError) error = NULL;
  WuFtmsRequest req;
  gboolean ok;

  memset (&req, 0xaa, sizeof req);
  ok = v->encode (&req, v->value, &error);
  if (v->hex == NULL)
    {
      g_assert_false (ok);
      g_assert_error (error, WU_ERROR, WU_ERROR_INVALID_ARGUMENT);
      g_assert_cmpuint (req.len, ==, 0);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  assert_request (&req, v->hex);
}

static void
test_encode_fixed (void)
{
  WuFtmsRequest req;

  wu_ftms_encode_request_control (&req);
  assert_request (&req, "00");
  wu_ftms_encode_reset (&req);
  assert_request (&req, "01");
  wu_ftms_encode_start_resume (&req);
  assert_request (&req, "07");
  wu_ftms_encode_stop_pause (&req, WU_FTMS_STOP);
  assert_request (&req, "08 01");
  wu_ftms_encode_stop_pause (&req, WU_FTMS_PAUSE);
  assert_request (&req, "08 02");
}

typedef struct {
  const char *name;
  WuFtmsSimulation sim;
  const char *hex;      /* NULL: invalid */
} SimulationVector;

static const SimulationVector simulation_vectors[] = {
  { "flat-road", { 0, 0, 0.004, 0.51 }, "11 00 00 00 00 28 33" },
  { "climb-and-headwind", { 1.5, 4.25, 0.0033, 0.6 }, "11 dc 05 a9 01 21 3c" },
  { "descent-tailwind", { -2.0, -3.5, 0, 0 }, "11 30 f8 a2 fe 00 00" },
  { "limits", { 32.767, 327.67, 0.0255, 2.55 }, "11 ff 7f ff 7f ff ff" },
  { "crr-too-high", { 0, 0, 0.0256, 0.51 }, NULL },
  { "cw-negative", { 0, 0, 0.004, -0.01 }, NULL },
  { "wind-too-high", { 32.768, 0, 0.004, 0.51 }, NULL },
  { "grade-nan", { 0, NAN, 0.004, 0.51 }, NULL },
};

static void
test_encode_simulation (gconstpointer data)
{
  const SimulationVector *v = data;
  g_autoptr (GError) error = NULL;
  WuFtmsRequest req;
  gboolean ok = wu_ftms_encode_set_indoor_bike_simulation (&req, &v->sim, &error);

  if (v->hex == NULL)
    {
      g_assert_false (ok);
      g_assert_error (error, WU_ERROR, WU_ERROR_INVALID_ARGUMENT);
      g_assert_cmpuint (req.len, ==, 0);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  assert_request (&req, v->hex);
}

/* ---- Control Point responses ------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *hex;
  gboolean ok;
  guint8 request_opcode, result;
  const char *parameter_hex;
} ResponseVector;

static const ResponseVector response_vectors[] = {
  { "request-control-success", "80 00 01", TRUE, 0x00, WU_FTMS_RESULT_SUCCESS, "" },
  { "resistance-not-supported", "80 04 02", TRUE, 0x04, WU_FTMS_RESULT_OP_CODE_NOT_SUPPORTED, "" },
  { "resistance-invalid-parameter", "80 04 03", TRUE, 0x04, WU_FTMS_RESULT_INVALID_PARAMETER, "" },
  { "start-operation-failed", "80 07 04", TRUE, 0x07, WU_FTMS_RESULT_OPERATION_FAILED, "" },
  { "power-not-permitted", "80 05 05", TRUE, 0x05, WU_FTMS_RESULT_CONTROL_NOT_PERMITTED, "" },
  { "spin-down-with-parameter", "80 13 01 10 27 20 4e", TRUE, 0x13, WU_FTMS_RESULT_SUCCESS,
    "10 27 20 4e" },
  { "empty", "", FALSE, 0, 0, "" },
  { "one-byte", "80", FALSE, 0, 0, "" },
  { "two-bytes", "80 00", FALSE, 0, 0, "" },
  { "not-a-response", "00 00 01", FALSE, 0, 0, "" },
  { "result-zero", "80 00 00", FALSE, 0, 0, "" },
  { "result-reserved", "80 00 06", FALSE, 0, 0, "" },
  { "parameter-too-long",
    "80 13 01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 "
    "1a 1b 1c 1d 1e 1f 20", FALSE, 0, 0, "" },
};

static void
test_response (gconstpointer data)
{
  const ResponseVector *v = data;
  g_autoptr (GError) error = NULL;
  guint8 buf[MAX_PAYLOAD], param[MAX_PAYLOAD];
  gsize n = parse_hex (v->hex, buf, sizeof buf);
  WuFtmsResponse got;
  gboolean ok = wu_ftms_decode_response (buf, n, &got, &error);

  if (!v->ok)
    {
      g_assert_false (ok);
      g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmphex (got.request_opcode, ==, v->request_opcode);
  g_assert_cmphex (got.result, ==, v->result);
  n = parse_hex (v->parameter_hex, param, sizeof param);
  g_assert_cmpmem (got.parameter, got.parameter_len, param, n);
}

/* ---- Fitness Machine Status ------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *hex;
  gboolean minimal;   /* exactly the size the opcode needs: every shorter prefix is malformed */
  WuFtmsStatus want;
} StatusVector;

static const StatusVector status_vectors[] = {
  { "reset", "01", TRUE, { .opcode = 0x01 } },
  { "stopped-by-user", "02 01", TRUE, { .opcode = 0x02, .stop_pause = WU_FTMS_STOP } },
  { "paused-by-user", "02 02", TRUE, { .opcode = 0x02, .stop_pause = WU_FTMS_PAUSE } },
  { "stopped-by-safety-key", "03", TRUE, { .opcode = 0x03 } },
  { "started-by-user", "04", TRUE, { .opcode = 0x04 } },
  { "target-speed", "05 c4 09", TRUE, { .opcode = 0x05, .target_speed_kmh = 25.0 } },
  { "target-incline", "06 ec ff", TRUE, { .opcode = 0x06, .target_incline_percent = -2.0 } },
  { "target-resistance-u8", "07 32", TRUE, { .opcode = 0x07, .target_resistance = 5.0 } },
  { "target-resistance-s16", "07 2c 01", FALSE,
    { .opcode = 0x07, .target_resistance = 30.0, .resistance_s16 = TRUE } },
  { "target-resistance-s16-negative", "07 f6 ff", FALSE,
    { .opcode = 0x07, .target_resistance = -1.0, .resistance_s16 = TRUE } },
  { "target-power", "08 96 00", TRUE, { .opcode = 0x08, .target_power_w = 150 } },
  { "target-power-negative", "08 ff ff", TRUE, { .opcode = 0x08, .target_power_w = -1 } },
  { "target-heart-rate", "09 8c", TRUE, { .opcode = 0x09, .target_heart_rate_bpm = 140 } },
  { "target-energy", "0a f4 01", TRUE, { .opcode = 0x0a, .target_energy_kcal = 500 } },
  { "target-steps", "0b 10 27", TRUE, { .opcode = 0x0b, .target_steps = 10000 } },
  { "target-strides", "0c e8 03", TRUE, { .opcode = 0x0c, .target_strides = 1000 } },
  { "target-distance", "0d a0 86 01", TRUE, { .opcode = 0x0d, .target_distance_m = 100000 } },
  { "target-training-time", "0e 58 02", TRUE, { .opcode = 0x0e, .target_time_s = 600 } },
  { "target-time-two-zones", "0f 3c 00 78 00", TRUE,
    { .opcode = 0x0f, .n_zones = 2, .zone_time_s = { 60, 120 } } },
  { "target-time-three-zones", "10 01 00 02 00 03 00", TRUE,
    { .opcode = 0x10, .n_zones = 3, .zone_time_s = { 1, 2, 3 } } },
  { "target-time-five-zones", "11 01 00 02 00 03 00 04 00 ff ff", TRUE,
    { .opcode = 0x11, .n_zones = 5, .zone_time_s = { 1, 2, 3, 4, 65535 } } },
  { "simulation-parameters", "12 dc 05 a9 01 28 33", TRUE,
    { .opcode = 0x12, .simulation = { 1.5, 4.25, 0.004, 0.51 } } },
  { "simulation-parameters-negative", "12 30 f8 a2 fe 00 00", TRUE,
    { .opcode = 0x12, .simulation = { -2.0, -3.5, 0, 0 } } },
  { "wheel-circumference", "13 e6 52", TRUE,
    { .opcode = 0x13, .wheel_circumference_mm = 2122.2 } },
  { "spin-down", "14 02", TRUE, { .opcode = 0x14, .spin_down_status = 2 } },
  { "target-cadence", "15 b4 00", TRUE, { .opcode = 0x15, .target_cadence_rpm = 90.0 } },
  { "control-permission-lost", "ff", TRUE, { .opcode = 0xff } },
  { "trailing-bytes-ignored", "08 64 00 aa bb", FALSE, { .opcode = 0x08, .target_power_w = 100 } },
};

static void
assert_status_equal (const WuFtmsStatus *got, const WuFtmsStatus *want)
{
  g_assert_cmphex (got->opcode, ==, want->opcode);
  g_assert_cmpint (got->stop_pause, ==, want->stop_pause);
  assert_double (got->target_speed_kmh, want->target_speed_kmh);
  assert_double (got->target_incline_percent, want->target_incline_percent);
  assert_double (got->target_resistance, want->target_resistance);
  g_assert_cmpint (got->resistance_s16, ==, want->resistance_s16);
  g_assert_cmpint (got->target_power_w, ==, want->target_power_w);
  g_assert_cmpuint (got->target_heart_rate_bpm, ==, want->target_heart_rate_bpm);
  g_assert_cmpuint (got->target_energy_kcal, ==, want->target_energy_kcal);
  g_assert_cmpuint (got->target_steps, ==, want->target_steps);
  g_assert_cmpuint (got->target_strides, ==, want->target_strides);
  g_assert_cmpuint (got->target_distance_m, ==, want->target_distance_m);
  g_assert_cmpuint (got->target_time_s, ==, want->target_time_s);
  g_assert_cmpuint (got->n_zones, ==, want->n_zones);
  for (guint i = 0; i < G_N_ELEMENTS (got->zone_time_s); i++)
    g_assert_cmpuint (got->zone_time_s[i], ==, want->zone_time_s[i]);
  assert_double (got->simulation.wind_speed_mps, want->simulation.wind_speed_mps);
  assert_double (got->simulation.grade_percent, want->simulation.grade_percent);
  assert_double (got->simulation.crr, want->simulation.crr);
  assert_double (got->simulation.cw_kg_per_m, want->simulation.cw_kg_per_m);
  assert_double (got->wheel_circumference_mm, want->wheel_circumference_mm);
  g_assert_cmpuint (got->spin_down_status, ==, want->spin_down_status);
  assert_double (got->target_cadence_rpm, want->target_cadence_rpm);
}

static void
assert_status_malformed (const guint8 *buf, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *exact = g_memdup2 (buf, len);   /* so ASan sees a read past the end */
  WuFtmsStatus got;

  g_assert_false (wu_ftms_decode_status (exact, len, &got, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
  g_assert_cmphex (got.opcode, ==, 0);
}

static void
test_status (gconstpointer data)
{
  const StatusVector *v = data;
  g_autoptr (GError) error = NULL;
  guint8 buf[MAX_PAYLOAD];
  gsize n = parse_hex (v->hex, buf, sizeof buf);
  WuFtmsStatus got;

  g_assert_true (wu_ftms_decode_status (buf, n, &got, &error));
  g_assert_no_error (error);
  assert_status_equal (&got, &v->want);
  g_assert_cmpstr (wu_ftms_status_opcode_to_string (got.opcode), !=, "unknown");

  /* every truncation of a minimal vector is malformed */
  if (v->minimal)
    for (gsize len = 0; len < n; len++)
      assert_status_malformed (buf, len);
}

/* Every opcode the specification does not define, and a bad stop/pause parameter. */
static void
test_status_malformed (void)
{
  guint8 buf[12] = { 0 };

  for (guint opcode = 0; opcode <= 0xff; opcode++)
    {
      gboolean defined = (opcode >= 0x01 && opcode <= 0x15) || opcode == 0xff;

      if (defined)
        continue;
      buf[0] = (guint8) opcode;
      assert_status_malformed (buf, sizeof buf);
      g_assert_cmpstr (wu_ftms_status_opcode_to_string ((guint8) opcode), ==, "unknown");
    }
  assert_status_malformed ((const guint8 *) "\x02\x00", 2);
  assert_status_malformed ((const guint8 *) "\x02\x03", 2);
  assert_status_malformed (NULL, 0);
}

/* ---- Training Status -------------------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *hex;
  gboolean ok;
  guint8 flags, status;
  gboolean has_string;
  const char *string;
} TrainingVector;

static const TrainingVector training_vectors[] = {
  { "idle", "00 01", TRUE, 0x00, 0x01, FALSE, "" },
  { "warming-up", "00 02", TRUE, 0x00, 0x02, FALSE, "" },
  { "with-string", "01 0d 51 75 69 63 6b", TRUE, 0x01, 0x0d, TRUE, "Quick" },
  { "extended-string", "03 02 57 61 72 6d", TRUE, 0x03, 0x02, TRUE, "Warm" },
  { "empty-string", "01 01", TRUE, 0x01, 0x01, TRUE, "" },
  { "utf8-string", "01 02 c3 a9 6c 61 6e", TRUE, 0x01, 0x02, TRUE, "\xc3\xa9lan" },
  { "nul-terminated", "01 02 41 42 00 00", TRUE, 0x01, 0x02, TRUE, "AB" },
  { "bytes-without-flag-ignored", "00 0b ff fe", TRUE, 0x00, 0x0b, FALSE, "" },
  { "empty", "", FALSE, 0, 0, 0, "" },
  { "flags-only", "01", FALSE, 0, 0, 0, "" },
  { "invalid-utf8", "01 02 c3 28", FALSE, 0, 0, 0, "" },
  { "truncated-utf8", "01 02 41 e2 82", FALSE, 0, 0, 0, "" },
  { "embedded-nul", "01 02 41 00 42", FALSE, 0, 0, 0, "" },
};

static void
test_training_status (gconstpointer data)
{
  const TrainingVector *v = data;
  g_autoptr (GError) error = NULL;
  guint8 buf[MAX_PAYLOAD];
  gsize n = parse_hex (v->hex, buf, sizeof buf);
  g_autofree guint8 *exact = g_memdup2 (buf, n);
  WuFtmsTrainingStatus got;
  gboolean ok = wu_ftms_decode_training_status (exact, n, &got, &error);

  if (!v->ok)
    {
      g_assert_false (ok);
      g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
      g_assert_false (got.has_string);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmphex (got.flags, ==, v->flags);
  g_assert_cmphex (got.status, ==, v->status);
  g_assert_cmpint (got.has_string, ==, v->has_string);
  g_assert_cmpstr (got.string, ==, v->string);
}

static void
test_training_status_long_string (void)
{
  g_autoptr (GError) error = NULL;
  guint8 buf[2 + WU_FTMS_TRAINING_STRING_MAX + 1];
  WuFtmsTrainingStatus got;

  buf[0] = WU_FTMS_TRAINING_STRING_PRESENT;
  buf[1] = 0x02;
  memset (buf + 2, 'a', sizeof buf - 2);
  g_assert_true (wu_ftms_decode_training_status (buf, sizeof buf - 1, &got, &error));
  g_assert_cmpuint (strlen (got.string), ==, WU_FTMS_TRAINING_STRING_MAX);
  g_assert_false (wu_ftms_decode_training_status (buf, sizeof buf, &got, &error));
  g_assert_error (error, WU_ERROR, WU_ERROR_MALFORMED);
  g_assert_cmpstr (wu_ftms_training_status_to_string (0x01), ==, "idle");
  g_assert_cmpstr (wu_ftms_training_status_to_string (0x0f), ==, "post-workout");
  g_assert_cmpstr (wu_ftms_training_status_to_string (0x10), ==, "unknown");
}

/* ---- names ------------------------------------------------------------------------------ */

static void
test_feature_names (void)
{
  WuFtmsFeature feature = {
    .machine_features = WU_FTMS_MACHINE_CADENCE | WU_FTMS_MACHINE_RESISTANCE_LEVEL |
                        (1u << 31),
    .target_setting_features = WU_FTMS_TARGET_RESISTANCE | WU_FTMS_TARGET_POWER |
                               WU_FTMS_TARGET_INDOOR_BIKE_SIMULATION,
  };
  g_autofree char *described = wu_ftms_feature_describe (&feature);
  g_autofree char *none = wu_ftms_feature_describe (&(WuFtmsFeature) { 0 });

  /* the bit positions of FTMS 1.0, 4.3.1.2 */
  g_assert_cmphex (WU_FTMS_TARGET_RESISTANCE, ==, 1u << 2);
  g_assert_cmphex (WU_FTMS_TARGET_POWER, ==, 1u << 3);
  g_assert_cmphex (WU_FTMS_TARGET_INDOOR_BIKE_SIMULATION, ==, 1u << 13);
  g_assert_cmpstr (wu_ftms_target_feature_name (2), ==, "resistance-target");
  g_assert_cmpstr (wu_ftms_target_feature_name (16), ==, "targeted-cadence");
  g_assert_null (wu_ftms_target_feature_name (17));
  g_assert_cmpstr (wu_ftms_machine_feature_name (7), ==, "resistance-level");
  g_assert_cmpstr (wu_ftms_machine_feature_name (16), ==, "user-data-retention");
  g_assert_null (wu_ftms_machine_feature_name (17));
  g_assert_cmpstr (described, ==, "cadence, resistance-level, bit31; targets: resistance-target, "
                                  "power-target, indoor-bike-simulation");
  g_assert_cmpstr (none, ==, "none; targets: none");
  g_assert_cmpstr (wu_ftms_opcode_to_string (0x04), ==, "set-target-resistance-level");
  g_assert_cmpstr (wu_ftms_opcode_to_string (0x42), ==, "unknown");
  g_assert_cmpstr (wu_ftms_result_to_string (0x05), ==, "control-not-permitted");
  g_assert_cmpstr (wu_ftms_result_to_string (0x00), ==, "unknown");
}

/* ---- main ------------------------------------------------------------------------------------ */

#define ADD_TABLE(prefix, table, func)                                                   \
  for (gsize i_ = 0; i_ < G_N_ELEMENTS (table); i_++) {                                 \
    g_autofree char *path_ = g_strdup_printf ("%s/%s", (prefix), (table)[i_].name);     \
    g_test_add_data_func (path_, &(table)[i_], (func));                                 \
  }

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  ADD_TABLE ("/ftms/indoor-bike-data/vector", ibd_vectors, test_ibd_vector);
  ADD_TABLE ("/ftms/indoor-bike-data/malformed", ibd_malformed, test_ibd_malformed);
  g_test_add_func ("/ftms/indoor-bike-data/malformed/null-empty", test_ibd_null_empty);
  g_test_add_func ("/ftms/indoor-bike-data/all-flag-combinations", test_ibd_all_combinations);
  g_test_add_func ("/ftms/indoor-bike-data/truncations", test_ibd_truncations);
  ADD_TABLE ("/ftms/range", range_vectors, test_range);
  ADD_TABLE ("/ftms/feature", feature_vectors, test_feature);
  g_test_add_func ("/ftms/feature/names", test_feature_names);
  ADD_TABLE ("/ftms/fit-target", fit_vectors, test_fit);
  g_test_add_func ("/ftms/above-target", test_above_target);
  ADD_TABLE ("/ftms/control-point/encode", encode_vectors, test_encode_vector);
  g_test_add_func ("/ftms/control-point/encode/fixed", test_encode_fixed);
  ADD_TABLE ("/ftms/control-point/encode/simulation", simulation_vectors,
             test_encode_simulation);
  ADD_TABLE ("/ftms/control-point/response", response_vectors, test_response);
  ADD_TABLE ("/ftms/status", status_vectors, test_status);
  g_test_add_func ("/ftms/status/malformed", test_status_malformed);
  ADD_TABLE ("/ftms/training-status", training_vectors, test_training_status);
  g_test_add_func ("/ftms/training-status/long-string", test_training_status_long_string);

  return g_test_run ();
}
