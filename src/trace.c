/* The trace format: parse and format one line; stream a file of them.
 *
 * Grammar (fields separated by spaces or tabs; leading and trailing blanks and a trailing
 * '\r' are ignored):
 *
 *   line    := blank | comment | event
 *   comment := '#' anything
 *   event   := TIME KIND ARGS
 *   TIME    := DIGIT+ [ '.' DIGIT{1,6} ]        exact, in microseconds, at most 10^12 s
 *   ARGS    := hex groups for the payload kinds  ("44 02 da", "4402da", "4402 da")
 *            | '-'                              for a payload of no bytes
 *            | 'rising' | 'falling'             for gpio.edge
 *            | 'up' | 'down'                    for link
 *            | WORD+ [ 'run' ] | 'run' | '-'     for source.lost (WORD: "ftms.cadence", "csc.crank")
 *
 * A hex group is a run of hex digits with no blank inside; it must hold whole bytes. */
#include "wu-trace.h"
#include "wu-config.h"
#include "wu-error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define US_PER_SECOND G_GINT64_CONSTANT (1000000)
#define MAX_TIME_SECONDS G_GINT64_CONSTANT (1000000000000) /* 10^12 s: ~31,700 years */
#define MAX_TIME_US (MAX_TIME_SECONDS * US_PER_SECOND)
#define MAX_FRACTION_DIGITS 6
/* Longest line the reader accepts; a full 512-byte payload needs about 1,600. */
#define MAX_LINE_BYTES 16384
/* Longest piece of a bad line quoted back in an error message. */
#define MAX_QUOTE_BYTES 40
#define TIME_STRING_SIZE 32
/* The payload of a value of no bytes (an empty notification, dropped when decoded). */
#define EMPTY_PAYLOAD "-"

/* ----------------------------------------------------------------------------------- */
/* Event kinds                                                                           */

typedef struct {
  const char *name;
  gboolean has_payload;
} KindInfo;

/* Indexed by WuEventKind. */
static const KindInfo kind_infos[] = {
  [WU_EVENT_FTMS_INDOOR_BIKE_DATA] = { "ftms.indoor-bike-data", TRUE },
  [WU_EVENT_FTMS_STATUS] = { "ftms.status", TRUE },
  [WU_EVENT_FTMS_TRAINING_STATUS] = { "ftms.training-status", TRUE },
  [WU_EVENT_FTMS_FEATURE] = { "ftms.feature", TRUE },
  [WU_EVENT_FTMS_RESISTANCE_RANGE] = { "ftms.resistance-range", TRUE },
  [WU_EVENT_FTMS_POWER_RANGE] = { "ftms.power-range", TRUE },
  [WU_EVENT_CSC_MEASUREMENT] = { "csc.measurement", TRUE },
  [WU_EVENT_CPS_MEASUREMENT] = { "cps.measurement", TRUE },
  [WU_EVENT_GPIO_EDGE] = { "gpio.edge", FALSE },
  [WU_EVENT_LINK] = { "link", FALSE },
  [WU_EVENT_SOURCE_LOST] = { "source.lost", FALSE },
};
G_STATIC_ASSERT (G_N_ELEMENTS (kind_infos) == WU_EVENT_N_KINDS);

static gboolean
kind_is_valid (WuEventKind kind)
{
  return (guint) kind < WU_EVENT_N_KINDS;
}

const char *
wu_event_kind_to_string (WuEventKind kind)
{
  g_return_val_if_fail (kind_is_valid (kind), NULL);
  return kind_infos[kind].name;
}

gboolean
wu_event_kind_from_string (const char *name, WuEventKind *kind)
{
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (kind_infos); i++)
    {
      if (strcmp (name, kind_infos[i].name) == 0)
        {
          if (kind != NULL)
            *kind = (WuEventKind) i;
          return TRUE;
        }
    }
  return FALSE;
}

gboolean
wu_event_kind_has_payload (WuEventKind kind)
{
  g_return_val_if_fail (kind_is_valid (kind), FALSE);
  return kind_infos[kind].has_payload;
}

/* ----------------------------------------------------------------------------------- */
/* Error helpers                                                                         */

static gboolean malformed (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Set WU_ERROR_MALFORMED and return FALSE, so parsers can `return malformed (...)`. */
static gboolean
malformed (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, WU_ERROR, WU_ERROR_MALFORMED, message);
  return FALSE;
}

/* A piece of a bad line, safe to put in a (UTF-8) error message: printable ASCII as is,
 * other bytes as \xNN, cut at MAX_QUOTE_BYTES. */
static char *
quote_text (const char *text, gsize len)
{
  GString *out = g_string_sized_new (MIN (len, MAX_QUOTE_BYTES) + 8);

  for (gsize i = 0; i < len && i < MAX_QUOTE_BYTES; i++)
    {
      guchar c = (guchar) text[i];
      if (c >= 0x20 && c < 0x7f)
        g_string_append_c (out, (char) c);
      else
        g_string_append_printf (out, "\\x%02x", c);
    }
  if (len > MAX_QUOTE_BYTES)
    g_string_append (out, "...");
  return g_string_free (out, FALSE);
}

/* ----------------------------------------------------------------------------------- */
/* Tokens                                                                                */

typedef struct {
  const char *pos;
  const char *end;   /* trailing blanks and '\r' already cut off */
} Cursor;

typedef struct {
  const char *start;
  gsize len;
} Token;

static gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

static gboolean
is_trailing_junk (char c)
{
  return is_blank (c) || c == '\r';
}

static void
cursor_init (Cursor *cursor, const char *line)
{
  const char *end = line + strlen (line);

  while (end > line && is_trailing_junk (end[-1]))
    end--;
  cursor->pos = line;
  cursor->end = end;
}

static void
cursor_skip_blanks (Cursor *cursor)
{
  while (cursor->pos < cursor->end && is_blank (*cursor->pos))
    cursor->pos++;
}

static gboolean
cursor_at_end (Cursor *cursor)
{
  cursor_skip_blanks (cursor);
  return cursor->pos == cursor->end;
}

/* The next blank-separated field; FALSE when the line has no more. */
static gboolean
cursor_next_token (Cursor *cursor, Token *token)
{
  if (cursor_at_end (cursor))
    return FALSE;
  token->start = cursor->pos;
  while (cursor->pos < cursor->end && !is_blank (*cursor->pos))
    cursor->pos++;
  token->len = (gsize) (cursor->pos - token->start);
  return TRUE;
}

static gboolean
token_equals (const Token *token, const char *word)
{
  return token->len == strlen (word) && memcmp (token->start, word, token->len) == 0;
}

static char *
token_quote (const Token *token)
{
  return quote_text (token->start, token->len);
}

/* ----------------------------------------------------------------------------------- */
/* Time                                                                                  */

/* Append digits to *value (which must stay <= limit); returns how many digits it took. */
static gsize
accumulate_digits (const char *text, gsize len, gint64 limit, gint64 *value, gboolean *overflow)
{
  gsize n = 0;

  while (n < len && g_ascii_isdigit (text[n]))
    {
      gint64 digit = text[n] - '0';
      if (*value > (limit - digit) / 10)
        *overflow = TRUE;
      else
        *value = *value * 10 + digit;
      n++;
    }
  return n;
}

/* Why the time field is bad, or NULL with *time_us set. */
static const char *
time_problem (const Token *token, gint64 *time_us)
{
  const char *text = token->start;
  gsize len = token->len;
  gint64 seconds = 0, fraction = 0;
  gboolean overflow = FALSE;

  gsize n = accumulate_digits (text, len, MAX_TIME_SECONDS, &seconds, &overflow);
  if (n == 0)
    return "expected non-negative decimal seconds";
  if (n < len && text[n] == '.')
    {
      gsize digits = accumulate_digits (text + n + 1, len - n - 1, G_MAXINT64, &fraction,
                                        &overflow);
      if (digits == 0)
        return "expected digits after '.'";
      if (digits > MAX_FRACTION_DIGITS)
        return "more than 6 fraction digits";
      for (gsize i = digits; i < MAX_FRACTION_DIGITS; i++)
        fraction *= 10;
      n += 1 + digits;
    }
  if (n < len)
    return "expected non-negative decimal seconds";
  if (overflow || seconds * US_PER_SECOND + fraction > MAX_TIME_US)
    return "later than 10^12 s";
  *time_us = seconds * US_PER_SECOND + fraction;
  return NULL;
}

static gboolean
parse_time (const Token *token, gint64 *time_us, GError **error)
{
  const char *problem = time_problem (token, time_us);

  if (problem == NULL)
    return TRUE;
  g_autofree char *quoted = token_quote (token);
  return malformed (error, "bad time '%s': %s", quoted, problem);
}

static void
format_time (gint64 time_us, char buffer[TIME_STRING_SIZE])
{
  gint64 seconds = time_us / US_PER_SECOND;
  gint64 micros = time_us % US_PER_SECOND;

  if (micros % 1000 == 0)
    g_snprintf (buffer, TIME_STRING_SIZE, "%" G_GINT64_FORMAT ".%03" G_GINT64_FORMAT,
                seconds, micros / 1000);
  else
    g_snprintf (buffer, TIME_STRING_SIZE, "%" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT,
                seconds, micros);
}

/* ----------------------------------------------------------------------------------- */
/* Arguments                                                                             */

/* One blank-free run of hex digits, appended to ev->payload. */
static gboolean
parse_hex_group (const Token *group, WuRawEvent *ev, GError **error)
{
  for (gsize i = 0; i < group->len; i += 2)
    {
      gsize pair_len = MIN (group->len - i, 2);
      int high = g_ascii_xdigit_value (group->start[i]);
      int low = pair_len == 2 ? g_ascii_xdigit_value (group->start[i + 1]) : 0;

      if (high < 0 || low < 0)
        {
          g_autofree char *quoted = quote_text (group->start + i, pair_len);
          return malformed (error, "bad hex byte '%s'", quoted);
        }
      if (pair_len == 1)
        {
          g_autofree char *quoted = token_quote (group);
          return malformed (error, "odd number of hex digits in '%s' (a byte is two digits)",
                            quoted);
        }
      if (ev->len == WU_EVENT_MAX_PAYLOAD)
        return malformed (error, "payload longer than %d bytes", WU_EVENT_MAX_PAYLOAD);
      ev->payload[ev->len++] = (guint8) (high << 4 | low);
    }
  return TRUE;
}

static gboolean
token_is_empty_payload (const Token *token)
{
  return token->len == 1 && token->start[0] == EMPTY_PAYLOAD[0];
}

/* Hex groups, or EMPTY_PAYLOAD alone for a value of no bytes (an empty notification). */
static gboolean
parse_payload (Cursor *cursor, WuRawEvent *ev, GError **error)
{
  Token group;
  gboolean first = TRUE;

  ev->len = 0;
  if (cursor_at_end (cursor))
    return malformed (error, "missing payload after %s ('%s' for an empty one)",
                      kind_infos[ev->kind].name, EMPTY_PAYLOAD);
  while (cursor_next_token (cursor, &group))
    {
      if (token_is_empty_payload (&group))
        {
          if (first && cursor_at_end (cursor))
            return TRUE;
          return malformed (error, "'%s' (an empty payload) must stand alone", EMPTY_PAYLOAD);
        }
      if (!parse_hex_group (&group, ev, error))
        return FALSE;
      first = FALSE;
    }
  return TRUE;
}

/* A one-word argument and the end of the line: yes_word sets *flag TRUE, no_word FALSE. */
static gboolean
parse_word_argument (Cursor *cursor, const char *yes_word, const char *no_word,
                     gboolean *flag, GError **error)
{
  Token word;

  if (!cursor_next_token (cursor, &word))
    return malformed (error, "expected '%s' or '%s', found nothing", yes_word, no_word);
  if (!token_equals (&word, yes_word) && !token_equals (&word, no_word))
    {
      g_autofree char *quoted = token_quote (&word);
      return malformed (error, "expected '%s' or '%s', found '%s'", yes_word, no_word,
                        quoted);
    }
  *flag = token_equals (&word, yes_word);
  if (cursor_at_end (cursor))
    return TRUE;
  g_autofree char *rest = quote_text (cursor->pos, (gsize) (cursor->end - cursor->pos));
  return malformed (error, "unexpected text after '%s': '%s'", *flag ? yes_word : no_word,
                    rest);
}

/* source.lost's words: KIND.FIELD, kinds in WuCadenceKind order, fields in
 * WU_TRACE_LOST_FIELD() order. */
static const char *const lost_kind_names[] = { "ftms", "csc", "cps", "gpio" };
static const char *const lost_field_names[] = { "cadence", "power", "speed", "crank", "wheel" };
G_STATIC_ASSERT (G_N_ELEMENTS (lost_kind_names) == WU_CADENCE_N_KINDS);
G_STATIC_ASSERT (WU_TRACE_N_KIND_SLOTS == WU_CADENCE_N_KINDS);
G_STATIC_ASSERT (G_N_ELEMENTS (lost_field_names) == WU_TRACE_N_FIELDS);
G_STATIC_ASSERT (WU_CADENCE_KIND_FTMS == 0 && WU_CADENCE_KIND_CSC == 1 &&
                 WU_CADENCE_KIND_CPS == 2 && WU_CADENCE_KIND_GPIO == 3);
#define LOST_RUN_WORD "run"
#define LOST_NOTHING_WORD "-"

/* "csc.speed": its WU_TRACE_LOST_FIELD() bit. */
static gboolean
lost_bit_from_token (const Token *token, guint *bit)
{
  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    {
      gsize name_len = strlen (lost_kind_names[kind]);
      Token field;

      if (token->len <= name_len + 1 || memcmp (token->start, lost_kind_names[kind], name_len) != 0
          || token->start[name_len] != '.')
        continue;
      field = (Token) { token->start + name_len + 1, token->len - name_len - 1 };
      for (guint i = 0; i < WU_TRACE_N_FIELDS; i++)
        if (token_equals (&field, lost_field_names[i]))
          {
            *bit = WU_TRACE_LOST_FIELD (kind, i);
            return TRUE;
          }
    }
  return FALSE;
}

/* KIND.FIELD words in any order, then 'run' last; or 'run' alone, or '-' alone;
 * each word at most once. */
static gboolean
parse_lost_source (Cursor *cursor, WuRawEvent *ev, GError **error)
{
  Token word;
  guint bit;

  if (!cursor_next_token (cursor, &word))
    return malformed (error, "missing what the source's loss changed ('%s' for nothing)",
                      LOST_NOTHING_WORD);
  if (token_equals (&word, LOST_NOTHING_WORD) && cursor_at_end (cursor))
    return TRUE;
  do
    {
      g_autofree char *quoted = token_quote (&word);

      if (ev->up)
        return malformed (error, "unexpected text after '%s': '%s'", LOST_RUN_WORD, quoted);
      if (token_equals (&word, LOST_RUN_WORD))
        ev->up = TRUE;
      else if (token_equals (&word, LOST_NOTHING_WORD))
        return malformed (error, "'%s' (nothing changed) must stand alone", LOST_NOTHING_WORD);
      else if (!lost_bit_from_token (&word, &bit))
        return malformed (error, "expected a word such as 'ftms.cadence' or 'csc.crank', or "
                          "'%s'; found '%s'", LOST_RUN_WORD, quoted);
      else if (ev->lost & bit)
        return malformed (error, "'%s' named twice", quoted);
      else
        ev->lost |= bit;
    }
  while (cursor_next_token (cursor, &word));
  return TRUE;
}

/* In bit order; then 'run'. */
static void
format_lost_source (const WuRawEvent *ev, GString *out)
{
  for (guint kind = 0; kind < WU_CADENCE_N_KINDS; kind++)
    for (guint i = 0; i < WU_TRACE_N_FIELDS; i++)
      if (ev->lost & WU_TRACE_LOST_FIELD (kind, i))
        g_string_append_printf (out, " %s.%s", lost_kind_names[kind], lost_field_names[i]);
  if (ev->up)
    g_string_append (out, " " LOST_RUN_WORD);
  if ((ev->lost & WU_TRACE_LOST_ALL) == 0 && !ev->up)
    g_string_append (out, " " LOST_NOTHING_WORD);
}

static gboolean
parse_arguments (Cursor *cursor, WuRawEvent *ev, GError **error)
{
  ev->up = FALSE;
  ev->len = 0;
  ev->lost = 0;
  if (kind_infos[ev->kind].has_payload)
    return parse_payload (cursor, ev, error);
  if (ev->kind == WU_EVENT_SOURCE_LOST)
    return parse_lost_source (cursor, ev, error);
  if (ev->kind == WU_EVENT_LINK)
    return parse_word_argument (cursor, "up", "down", &ev->up, error);
  return parse_word_argument (cursor, "rising", "falling", &ev->up, error);
}

static gboolean
parse_kind (Cursor *cursor, WuEventKind *kind, GError **error)
{
  Token token;

  if (!cursor_next_token (cursor, &token))
    return malformed (error, "missing event kind after the time");
  for (guint i = 0; i < G_N_ELEMENTS (kind_infos); i++)
    {
      if (token_equals (&token, kind_infos[i].name))
        {
          *kind = (WuEventKind) i;
          return TRUE;
        }
    }
  g_autofree char *quoted = token_quote (&token);
  return malformed (error, "unknown event kind '%s'", quoted);
}

/* ----------------------------------------------------------------------------------- */
/* Lines                                                                                 */

gboolean
wu_trace_parse_line (const char *line, WuRawEvent *ev, gboolean *is_event, GError **error)
{
  Cursor cursor;
  Token time_token;

  g_return_val_if_fail (line != NULL, FALSE);
  g_return_val_if_fail (ev != NULL, FALSE);
  g_return_val_if_fail (is_event != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *is_event = FALSE;
  cursor_init (&cursor, line);
  if (!cursor_next_token (&cursor, &time_token) || time_token.start[0] == '#')
    return TRUE;
  if (!parse_time (&time_token, &ev->time_us, error) ||
      !parse_kind (&cursor, &ev->kind, error) ||
      !parse_arguments (&cursor, ev, error))
    return FALSE;
  *is_event = TRUE;
  return TRUE;
}

static const char *
switch_word (const WuRawEvent *ev)
{
  if (ev->kind == WU_EVENT_LINK)
    return ev->up ? "up" : "down";
  return ev->up ? "rising" : "falling";
}

char *
wu_trace_format_event (const WuRawEvent *ev)
{
  char time_string[TIME_STRING_SIZE];

  g_return_val_if_fail (ev != NULL, NULL);
  g_return_val_if_fail (ev->time_us >= 0, NULL);
  g_return_val_if_fail (kind_is_valid (ev->kind), NULL);
  g_return_val_if_fail (ev->len <= WU_EVENT_MAX_PAYLOAD, NULL);
  g_return_val_if_fail ((ev->lost & ~WU_TRACE_LOST_ALL) == 0, NULL);

  format_time (ev->time_us, time_string);
  GString *out = g_string_new (time_string);
  g_string_append_c (out, ' ');
  g_string_append (out, kind_infos[ev->kind].name);
  if (kind_infos[ev->kind].has_payload && ev->len == 0)
    {
      g_string_append_c (out, ' ');
      g_string_append (out, EMPTY_PAYLOAD);
    }
  else if (kind_infos[ev->kind].has_payload)
    {
      for (gsize i = 0; i < ev->len; i++)
        g_string_append_printf (out, " %02x", ev->payload[i]);
    }
  else if (ev->kind == WU_EVENT_SOURCE_LOST)
    format_lost_source (ev, out);
  else
    {
      g_string_append_c (out, ' ');
      g_string_append (out, switch_word (ev));
    }
  return g_string_free (out, FALSE);
}

/* ----------------------------------------------------------------------------------- */
/* Reader                                                                                */

typedef enum {
  READ_LINE_OK,
  READ_LINE_TOO_LONG,
  READ_LINE_EOF,
  READ_LINE_IO_ERROR,
} ReadLineStatus;

struct WuTraceReader {
  FILE *file;
  char *display_name;
  guint line;
  gint64 last_time_us;
  gboolean finished;                 /* EOF or I/O error seen */
  gsize line_len;
  char buffer[MAX_LINE_BYTES + 1];
};

static gboolean
reject_directory (FILE *file, const char *display_name, GError **error)
{
  struct stat st;

  if (fstat (fileno (file), &st) == 0 && S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR,
                   "Cannot open trace '%s': %s", display_name, g_strerror (EISDIR));
      return FALSE;
    }
  return TRUE;
}

WuTraceReader *
wu_trace_reader_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *display_name = g_filename_display_name (path);
  FILE *file = fopen (path, "re");
  if (file == NULL)
    {
      int saved_errno = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "Cannot open trace '%s': %s", display_name, g_strerror (saved_errno));
      return NULL;
    }
  if (!reject_directory (file, display_name, error))
    {
      fclose (file);
      return NULL;
    }

  WuTraceReader *reader = g_new0 (WuTraceReader, 1);
  reader->file = file;
  reader->display_name = g_steal_pointer (&display_name);
  return reader;
}

void
wu_trace_reader_free (WuTraceReader *reader)
{
  if (reader == NULL)
    return;
  fclose (reader->file);
  g_free (reader->display_name);
  g_free (reader);
}

guint
wu_trace_reader_get_line (WuTraceReader *reader)
{
  g_return_val_if_fail (reader != NULL, 0);
  return reader->line;
}

/* Read one line (without '\n') into reader->buffer; a longer line is consumed whole but
 * reported as READ_LINE_TOO_LONG, so reading can go on after it. */
static ReadLineStatus
read_line (WuTraceReader *reader)
{
  gsize n = 0;
  gboolean too_long = FALSE;
  int c;

  while ((c = getc (reader->file)) != EOF && c != '\n')
    {
      if (n < MAX_LINE_BYTES)
        reader->buffer[n++] = (char) c;
      else
        too_long = TRUE;
    }
  if (c == EOF && ferror (reader->file))
    return READ_LINE_IO_ERROR;
  if (c == EOF && n == 0 && !too_long)
    return READ_LINE_EOF;
  reader->buffer[n] = '\0';
  reader->line_len = n;
  return too_long ? READ_LINE_TOO_LONG : READ_LINE_OK;
}

/* "# warmupd trace N": when N starts with a digit this is a version header, and only
 * version 1 is understood. Other comments, "# warmupd trace from ..." included, pass. */
static gboolean
check_version_comment (const char *line, GError **error)
{
  Cursor cursor;
  Token token;

  cursor_init (&cursor, line);
  cursor_skip_blanks (&cursor);
  cursor.pos++;   /* the '#' */
  if (!cursor_next_token (&cursor, &token) || !token_equals (&token, "warmupd") ||
      !cursor_next_token (&cursor, &token) || !token_equals (&token, "trace") ||
      !cursor_next_token (&cursor, &token) || !g_ascii_isdigit (token.start[0]))
    return TRUE;
  if (token_equals (&token, "1"))
    return TRUE;
  g_autofree char *quoted = token_quote (&token);
  return malformed (error, "unsupported trace version %s (this warmupd reads version 1)",
                    quoted);
}

static gboolean
check_time_order (WuTraceReader *reader, const WuRawEvent *ev, GError **error)
{
  char now[TIME_STRING_SIZE], before[TIME_STRING_SIZE];

  if (ev->time_us >= reader->last_time_us)
    return TRUE;
  format_time (ev->time_us, now);
  format_time (reader->last_time_us, before);
  return malformed (error, "time goes backwards (%s after %s)", now, before);
}

/* Parse the line in reader->buffer. TRUE with *is_event set, or FALSE with an error
 * that has no FILE:LINE prefix yet. */
static gboolean
process_line (WuTraceReader *reader, WuRawEvent *ev, gboolean *is_event, GError **error)
{
  if (strlen (reader->buffer) != reader->line_len)
    return malformed (error, "line contains a NUL byte");
  if (!wu_trace_parse_line (reader->buffer, ev, is_event, error))
    return FALSE;
  if (!*is_event)
    return check_version_comment (reader->buffer, error);
  if (!check_time_order (reader, ev, error))
    return FALSE;
  reader->last_time_us = ev->time_us;
  return TRUE;
}

static gboolean
fail_at_line (WuTraceReader *reader, GError *local_error, GError **error)
{
  g_propagate_prefixed_error (error, local_error, "%s:%u: ", reader->display_name,
                              reader->line);
  return FALSE;
}

gboolean
wu_trace_reader_next (WuTraceReader *reader, WuRawEvent *ev, GError **error)
{
  g_return_val_if_fail (reader != NULL, FALSE);
  g_return_val_if_fail (ev != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  while (!reader->finished)
    {
      GError *local_error = NULL;
      gboolean is_event = FALSE;
      ReadLineStatus status = read_line (reader);

      if (status == READ_LINE_EOF || status == READ_LINE_IO_ERROR)
        {
          int saved_errno = errno;
          reader->finished = TRUE;
          if (status == READ_LINE_EOF)
            return FALSE;
          g_set_error (&local_error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       "read error: %s", g_strerror (saved_errno));
          return fail_at_line (reader, local_error, error);
        }
      reader->line++;
      if (status == READ_LINE_TOO_LONG)
        {
          malformed (&local_error, "line longer than %d bytes", MAX_LINE_BYTES);
          return fail_at_line (reader, local_error, error);
        }
      if (!process_line (reader, ev, &is_event, &local_error))
        return fail_at_line (reader, local_error, error);
      if (is_event)
        return TRUE;
    }
  return FALSE;
}
