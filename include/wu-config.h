/* warmupd.conf: a GKeyFile. A missing file is not an error (defaults apply); an unknown
 * group or key is warned about with FILE:LINE and ignored; a bad value fails the load with
 * "FILE:LINE: [Group] Key: reason" (WU_ERROR_CONFIG). */
#pragma once
#include <glib.h>
#include "wu-controller.h"

G_BEGIN_DECLS

#define WU_DEFAULT_ROUTINE "after-bike-warmup"

/* [Gpio]: a reed switch on a GPIO line (the magnet closes it once per pulse). */
typedef enum {
  WU_GPIO_BIAS_PULL_UP,      /* the default: the switch connects the line to ground */
  WU_GPIO_BIAS_PULL_DOWN,
  WU_GPIO_BIAS_DISABLED,
  WU_GPIO_BIAS_AS_IS,
} WuGpioBias;

typedef enum {
  WU_GPIO_EDGE_FALLING,      /* the default: the switch closing, with a pull-up */
  WU_GPIO_EDGE_RISING,
  WU_GPIO_EDGE_BOTH,
} WuGpioEdge;

typedef struct {
  char *line;                      /* Line=: an offset or a name ("GPIO17"); NULL: no GPIO */
  char *chip;                      /* Chip=: "gpiochip0", a path or a label; NULL: any chip
                                    * with a line of that name, else gpiochip0 */
  gboolean active_low;             /* ActiveLow= */
  WuGpioBias bias;                 /* Bias= */
  WuGpioEdge edge;                 /* Edge= */
  guint debounce_ms;               /* Debounce= */
  guint pulses_per_revolution;     /* PulsesPerRevolution= (magnets on the crank) */
} WuGpioConfig;

/* The kinds of source that can measure cadence, for [Sensors] CadencePriority=. */
typedef enum {
  WU_CADENCE_KIND_FTMS,      /* a smart bike's Indoor Bike Data */
  WU_CADENCE_KIND_CSC,       /* a BLE speed/cadence sensor's crank counter */
  WU_CADENCE_KIND_CPS,       /* a BLE power meter's crank counter */
  WU_CADENCE_KIND_GPIO,      /* a reed switch */
} WuCadenceKind;
#define WU_CADENCE_N_KINDS (WU_CADENCE_KIND_GPIO + 1)

/* [Sensors] keys that shape decoding. */
typedef struct {
  double wheel_circumference_mm;             /* WheelCircumference= (2105) */
  guint cadence_rank[WU_CADENCE_N_KINDS];    /* CadencePriority=: 0 is the most trusted */
} WuSensorsConfig;

/* [Bike] and [Sensors] Addresses=: Bluetooth LE devices, through BlueZ. */
typedef struct {
  char *bike_address;              /* [Bike] Address=; NULL: the first device offering FTMS */
  char *adapter;                   /* [Bike] Adapter= ("hci0" or an address); NULL: the
                                    * first powered adapter */
  char **sensor_addresses;         /* [Sensors] Addresses= (CSC/CPS); NULL: any found */
} WuBleConfig;

typedef struct {
  WuControllerConfig controller;   /* [Warmup] and [Resistance] */
  char *routine;                   /* [Routine] Name= */
  WuGpioConfig gpio;               /* [Gpio] */
  WuSensorsConfig sensors;         /* [Sensors] WheelCircumference=, CadencePriority= */
  WuBleConfig ble;                 /* [Bike], [Sensors] Addresses= */
} WuConfig;

const char *wu_gpio_bias_to_string (WuGpioBias bias);   /* "pull-up", ... */
const char *wu_gpio_edge_to_string (WuGpioEdge edge);   /* "falling", ... */

void wu_config_init (WuConfig *config);    /* the defaults */
void wu_config_clear (WuConfig *config);
/* Load PATH over the defaults. On failure CONFIG is left holding the defaults. */
gboolean wu_config_load (WuConfig *config, const char *path, GError **error);
/* The same for a file's LENGTH bytes already read; PATH names it in messages. */
gboolean wu_config_load_from_data (WuConfig *config, const char *data, gsize length,
                                   const char *path, GError **error);
/* With a reed switch ([Gpio] Line=), why MinCadence is not a cadence it can report (to be
 * freed; *KEY: the [Warmup] key to blame), or NULL. Loading checks it; a reload checks it
 * again once the running [Gpio] settings are put back. */
char *wu_config_check_min_cadence (const WuConfig *config, const char **key);
/* A reload: FRESH, loaded from PATH, runs with RUNNING's [Gpio] settings (kept until a
 * restart), so MinCadence is checked again with them. FALSE with ERROR (WU_ERROR_CONFIG)
 * naming PATH, the line and the key otherwise. */
gboolean wu_config_check_reload (const WuConfig *fresh, const WuConfig *running,
                                 const char *path, GError **error);

G_END_DECLS
