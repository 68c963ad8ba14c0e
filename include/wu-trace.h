/* The trace format: warmupd's record of raw sensor events, and the replay source's input.
 *
 *   # warmupd trace 1
 *   0.000 ftms.indoor-bike-data 44 02 da 02 02 01 22 01 00
 *   1.250 gpio.edge falling
 *   2.500 link down
 *   3.000 source.lost ftms.cadence ftms.power run
 *
 * One event a line; `#` starts a comment line; blank lines are ignored. Time is seconds
 * from the start (non-negative decimal, at most 6 fraction digits, never decreasing);
 * payloads are the characteristic's bytes in hex, spaces between bytes optional; a value of
 * no bytes (an empty notification, which the decoders drop) is written "-".
 * Parsing is pure: the line parser does no I/O; the reader adds FILE:LINE to errors. */
#pragma once
#include <glib.h>
#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  WU_EVENT_FTMS_INDOOR_BIKE_DATA,  /* ftms.indoor-bike-data  HEX */
  WU_EVENT_FTMS_STATUS,            /* ftms.status            HEX */
  WU_EVENT_FTMS_TRAINING_STATUS,   /* ftms.training-status   HEX */
  WU_EVENT_FTMS_FEATURE,           /* ftms.feature           HEX (a read of 0x2ACC) */
  WU_EVENT_FTMS_RESISTANCE_RANGE,  /* ftms.resistance-range  HEX (a read of 0x2AD6) */
  WU_EVENT_FTMS_POWER_RANGE,       /* ftms.power-range       HEX (a read of 0x2AD8) */
  WU_EVENT_CSC_MEASUREMENT,        /* csc.measurement        HEX */
  WU_EVENT_CPS_MEASUREMENT,        /* cps.measurement        HEX */
  WU_EVENT_GPIO_EDGE,              /* gpio.edge rising|falling */
  WU_EVENT_LINK,                   /* link up|down */
  WU_EVENT_SOURCE_LOST,            /* source.lost WORD... [run] | run | - */
} WuEventKind;

#define WU_EVENT_N_KINDS (WU_EVENT_SOURCE_LOST + 1)

/* source.lost: one of several sources lost its link while another stays up, so the trace's
 * one link stays up. Its words, KIND.FIELD (KIND: "ftms", "csc", "cps", "gpio", a
 * WuCadenceKind's name), say what the loss changed:
 *   KIND.cadence, KIND.power, KIND.speed: a value the source reported last: it no longer
 *     outranks a worse-ranked kind's (CadencePriority);
 *   KIND.crank, KIND.wheel: a revolution counter the source fed: it re-anchors when data
 *     comes again;
 *   "run", last: its cadence was the running one, so the run ends;
 *   "-" alone: none of these. */
#define WU_TRACE_N_VALUES 3          /* cadence, power, speed, in that order */
#define WU_TRACE_N_FIELDS 5          /* the values, then the crank and wheel counters */
#define WU_TRACE_N_KIND_SLOTS 4      /* WU_CADENCE_N_KINDS (wu-config.h) */
#define WU_TRACE_LOST_FIELD(cadence_kind, field) \
  (1u << ((cadence_kind) * WU_TRACE_N_FIELDS + (field)))
#define WU_TRACE_LOST_VALUE(cadence_kind, value) WU_TRACE_LOST_FIELD (cadence_kind, value)
#define WU_TRACE_LOST_CRANK(cadence_kind) WU_TRACE_LOST_FIELD (cadence_kind, WU_TRACE_N_VALUES)
#define WU_TRACE_LOST_WHEEL(cadence_kind) \
  WU_TRACE_LOST_FIELD (cadence_kind, WU_TRACE_N_VALUES + 1)
#define WU_TRACE_LOST_ALL ((1u << (WU_TRACE_N_KIND_SLOTS * WU_TRACE_N_FIELDS)) - 1)

/* ATT's largest value (512 bytes) fits. */
#define WU_EVENT_MAX_PAYLOAD 512
#define WU_TRACE_HEADER "# warmupd trace 1"

typedef struct {
  gint64 time_us;      /* microseconds from the start of the trace */
  WuEventKind kind;
  gboolean up;         /* link: up; gpio.edge: rising; source.lost: run */
  guint lost;          /* source.lost: WU_TRACE_LOST_FIELD()s */
  gsize len;           /* payload length (hex kinds only) */
  guint8 payload[WU_EVENT_MAX_PAYLOAD];
} WuRawEvent;

const char *wu_event_kind_to_string (WuEventKind kind);
gboolean wu_event_kind_from_string (const char *name, WuEventKind *kind);
/* TRUE for the kinds whose argument is hex bytes. */
gboolean wu_event_kind_has_payload (WuEventKind kind);

/* Parse one line (without its newline; a trailing '\r' is tolerated). Returns TRUE and sets
 * *is_event to FALSE for blank and comment lines, TRUE with *ev filled for an event.
 * On a malformed line returns FALSE with WU_ERROR_MALFORMED and a reason such as
 * "unknown event kind 'ftms.foo'" (no file or line prefix). */
gboolean wu_trace_parse_line (const char *line, WuRawEvent *ev, gboolean *is_event,
                              GError **error);

/* Format an event as a trace line, no newline: "12.345 ftms.status 07 32"; an empty payload
 * as "12.345 csc.measurement -".
 * Times print with 3 fraction digits unless they need more (up to 6). */
char *wu_trace_format_event (const WuRawEvent *ev);

/* Streaming reader: constant memory whatever the trace length. */
typedef struct WuTraceReader WuTraceReader;
WuTraceReader *wu_trace_reader_open (const char *path, GError **error);
/* TRUE with *ev set; FALSE at end of file (error unset) or on a malformed line
 * (WU_ERROR_MALFORMED, message "FILE:LINE: reason"). Also rejects time going backwards
 * and a "# warmupd trace N" header with N other than 1. */
gboolean wu_trace_reader_next (WuTraceReader *reader, WuRawEvent *ev, GError **error);
guint wu_trace_reader_get_line (WuTraceReader *reader);
void wu_trace_reader_free (WuTraceReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuTraceReader, wu_trace_reader_free)

G_END_DECLS
