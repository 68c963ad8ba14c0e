/* [Gpio] keys of warmupd.conf (see wu-config.h for WuGpioConfig); used by config.c. */
#pragma once
#include "wu-config.h"

void wu_gpio_config_init (WuGpioConfig *gpio);
void wu_gpio_config_clear (WuGpioConfig *gpio);
void wu_gpio_config_copy (WuGpioConfig *dest, const WuGpioConfig *src);
/* Parse VALUE for [Gpio] KEY into GPIO; on failure return the reason (to be freed). */
char *wu_gpio_config_apply_key (WuGpioConfig *gpio, const char *key, const char *value);
/* Debounce= against PulsesPerRevolution=: NULL when Debounce= is shorter than a pulse period
 * at 220 rpm, else the reason (to be freed). */
char *wu_gpio_config_check_debounce (const WuGpioConfig *gpio);
