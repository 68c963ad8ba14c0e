/* A test double of libgpiod, linked into tests/test-gpio in place of the library (not
 * preloaded), so that the real backend (src/source-gpio-v1.c or -v2.c) runs unchanged.
 *
 * Two layers:
 * - a fake kernel (gpiod-double.c): chips with named lines, line requests, and edge events
 *   written as records in the kernel's own layout (struct gpioevent_data for the v1 ABI,
 *   struct gpio_v2_line_event for v2) into a pipe whose read end is the request's fd, so it
 *   becomes readable in the main loop like the real one. Removing a chip deletes its file
 *   (as devtmpfs deletes the node) and, as kernels that wake a line's pollers on removal do,
 *   closes the write ends: the fd hangs up, and reading it fails with ENODEV. Debian's 6.1
 *   kernel does not wake them: gpiochip_remove() leaves a polled line fd silent (poll()
 *   reports the hang-up only when called anew, and read() fails with ENODEV even with
 *   events queued); fake_gpio_remove_chip_silently() models that, where only the node's
 *   removal tells.
 * - the libgpiod API of one version on top (gpiod-double-v1.c, gpiod-double-v2.c): it
 *   reads and decodes those records as the library does.
 *
 * A C library's API carries no user data, so the fake kernel is one global instance:
 * tests reset it with fake_gpio_reset(). */
#pragma once
#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* --- for tests: the world the backend sees ------------------------------------------- */

typedef enum { FAKE_BIAS_AS_IS, FAKE_BIAS_PULL_UP, FAKE_BIAS_PULL_DOWN, FAKE_BIAS_DISABLED } FakeBias;
typedef enum { FAKE_EDGE_NONE, FAKE_EDGE_RISING, FAKE_EDGE_FALLING, FAKE_EDGE_BOTH } FakeEdge;

typedef struct {
  gboolean requested;
  char consumer[32];
  gboolean active_low;
  FakeBias bias;
  FakeEdge edge;
  guint debounce_us;     /* the kernel debounce period asked for (v2 only; warmupd asks none) */
  int abi;               /* 1 or 2: the record layout the request reads */
} FakeLineState;

/* Forget every chip and request (closing their fds). */
void fake_gpio_reset (void);
/* A chip at PATH (the file is created too, for directory listings) with N_LINES lines;
 * NAMES (NULL-terminated, may be shorter or NULL) names the first ones. */
void fake_gpio_add_chip (const char *path, const char *label, guint n_lines,
                         const char *const *names);
/* The chip goes away: its file is deleted, opening it fails with ENOENT; its requests hang
 * up (reading them: end of file, which the libgpiod doubles turn into ENODEV). */
void fake_gpio_remove_chip (const char *path);
/* The same on Debian's 6.1 kernel: the requests' fds stay silent (no hang-up, nothing to
 * read), and reading them fails with ENODEV. */
void fake_gpio_remove_chip_silently (const char *path);
/* Opening the chip fails with OPEN_ERRNO (EACCES: the node's permissions; 0: it opens
 * again), as for a user outside the node's group or in a sandbox. */
void fake_gpio_deny_chip (const char *path, int open_errno);
/* Another program holds the line (CONSUMER), or lets it go (NULL). */
void fake_gpio_hold_line (const char *path, guint offset, const char *consumer);
/* The physical level of the line changes at TIMESTAMP_NS (CLOCK_MONOTONIC, never going
 * back). The fake kernel applies the request's active-low and edge detection and writes the
 * record. A v2 request with a debounce period is debounced the way gpiolib-cdev.c does it:
 * every edge restarts the period, and the level is reported (if it changed) only once it
 * has been stable for the whole period, stamped with the period's end; a closure shorter
 * than the period is never reported. The double has no clock of its own: that delayed
 * report happens at the next edge, or at fake_gpio_settle(). */
void fake_gpio_edge (const char *path, guint offset, gboolean physical_rising,
                     guint64 timestamp_ns);
/* Time has reached NOW_NS on the line: a debounce period ending by then reports. */
void fake_gpio_settle (const char *path, guint offset, guint64 now_ns);
/* What the line's current (or last) request asked for. */
FakeLineState fake_gpio_line_state (const char *path, guint offset);
/* Chip handles open now: 0 when the backend closed everything. */
guint fake_gpio_open_chip_handles (void);
/* The ABI the linked libgpiod double speaks: 1 or 2. */
int fake_gpio_abi (void);

/* --- for the libgpiod doubles --------------------------------------------------------- */

typedef struct FakeChip FakeChip;

FakeChip *fake_kernel_open_chip (const char *path);   /* NULL, errno ENOENT or as denied */
void fake_kernel_close_chip (FakeChip *chip);
const char *fake_kernel_chip_path (FakeChip *chip);
const char *fake_kernel_chip_name (FakeChip *chip);          /* "gpiochip0" */
const char *fake_kernel_chip_label (FakeChip *chip);
guint fake_kernel_chip_num_lines (FakeChip *chip);
const char *fake_kernel_line_name (FakeChip *chip, guint offset);      /* NULL: unnamed */
const char *fake_kernel_line_consumer (FakeChip *chip, guint offset);  /* NULL: free */
guint fake_kernel_line_debounce_us (FakeChip *chip, guint offset);
/* Request the line for edge events: the fd to read records from, or -1 with errno
 * (EINVAL: no such line; EBUSY: held; ENODEV: the chip is gone). */
int fake_kernel_request_line (FakeChip *chip, guint offset, const FakeLineState *settings,
                              const char *consumer);
/* Release the request reading from FD (closes FD). */
void fake_kernel_release_line (int fd);
/* Whether the request reading from FD lost its chip silently: its reads fail with ENODEV. */
gboolean fake_kernel_request_gone (int fd);

G_END_DECLS
