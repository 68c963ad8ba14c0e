/* The GPIO reed-switch source, and the interface its two libgpiod backends implement.
 *
 * source-gpio.c is the source: it finds the chip and the line, keeps the line's fd in the
 * main loop, retries while the chip is missing or the line busy, and delivers each edge as a
 * `gpio.edge rising|falling` raw event stamped with the kernel's event time. It never calls
 * libgpiod itself: that is a backend's job, one file per libgpiod API, and configure builds
 * the one it finds (source-gpio-v1.c: libgpiod 1.5/1.6; source-gpio-v2.c: libgpiod >= 2.0).
 * tests/test-gpio links them against a test double of libgpiod instead of the library. */
#pragma once
#include "wu-config.h"
#include "wu-source.h"

G_BEGIN_DECLS

/* --- the source ------------------------------------------------------------------------ */

typedef struct {
  const char *dev_dir;           /* where the chips are: "/dev" */
  guint retry_interval_ms;       /* while the chip is missing or the line busy: 5000 */
} WuGpioSourceOptions;

#define WU_GPIO_DEFAULT_DEV_DIR "/dev"
#define WU_GPIO_DEFAULT_RETRY_MS 5000

/* Edges in one second beyond which the line is storming, for that many magnets. */
guint wu_gpio_storm_limit (guint pulses_per_revolution);

/* A source for the reed switch CONFIG describes (config->line must be set). OPTIONS NULL
 * means the defaults. Opening the chip waits for start(); until the line is ours the
 * source reports why on the sink's error() and retries. */
WuSource *wu_gpio_source_new (const WuGpioConfig *config, const WuGpioSourceOptions *options,
                              const WuSourceSink *sink, gpointer sink_data, GError **error);

/* --- a backend ------------------------------------------------------------------------- */

/* One requested line: the backend's own struct. */
typedef struct WuGpioRequest WuGpioRequest;

typedef struct {
  gint64 timestamp_ns;     /* the kernel's, CLOCK_MONOTONIC */
  gboolean rising;         /* after active-low: the logical edge */
} WuGpioEdgeEvent;

typedef struct {
  guint offset;
  const WuGpioConfig *config;    /* active-low, bias, edge (Debounce= stays in software) */
  const char *consumer;          /* the name the kernel shows for the line's user */
} WuGpioLineRequest;

/* "libgpiod 1.6.3 (v1 API)", to be freed. */
char *wu_gpio_backend_describe (void);

/* The label of the chip at PATH; NULL with an error if it cannot be opened. */
char *wu_gpio_backend_chip_label (const char *path, GError **error);

/* The offset of the line called NAME on the chip at PATH. FALSE with G_IO_ERROR_NOT_FOUND
 * when the chip has no such line, another error when the chip cannot be opened. */
gboolean wu_gpio_backend_find_line (const char *path, const char *name, guint *offset,
                                    GError **error);

/* Request the line for edge events. Errors: G_IO_ERROR_BUSY (the message names the line's
 * user), G_IO_ERROR_NOT_FOUND (no such chip), G_IO_ERROR_INVALID_ARGUMENT (no such offset),
 * G_IO_ERROR_FAILED. */
WuGpioRequest *wu_gpio_backend_request (const char *path, const WuGpioLineRequest *line,
                                        GError **error);

/* The fd that becomes readable when edge events are pending (the source sets O_NONBLOCK). */
int wu_gpio_request_get_fd (WuGpioRequest *request);

/* Read the pending edge events, at most MAX: the number read, 0 when none is pending, -1
 * with an error when the line is gone (the chip went away) or reading failed. */
int wu_gpio_request_read (WuGpioRequest *request, WuGpioEdgeEvent *events, guint max,
                          GError **error);

void wu_gpio_request_free (WuGpioRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuGpioRequest, wu_gpio_request_free)

G_END_DECLS
