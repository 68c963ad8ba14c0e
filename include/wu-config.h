/* warmupd.conf: a GKeyFile. A missing file is not an error (defaults apply); an unknown
 * group or key is warned about with FILE:LINE and ignored; a bad value fails the load with
 * "FILE:LINE: [Group] Key: reason" (WU_ERROR_CONFIG). */
#pragma once
#include <glib.h>
#include "wu-controller.h"

G_BEGIN_DECLS

#define WU_DEFAULT_ROUTINE "after-bike-warmup"

typedef struct {
  WuControllerConfig controller;   /* [Warmup] and [Resistance] */
  char *routine;                   /* [Routine] Name= */
} WuConfig;

void wu_config_init (WuConfig *config);    /* the defaults */
void wu_config_clear (WuConfig *config);
/* Load PATH over the defaults. On failure CONFIG is left holding the defaults. */
gboolean wu_config_load (WuConfig *config, const char *path, GError **error);

G_END_DECLS
