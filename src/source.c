/* What every sensor source shares. */
#include "wu-source.h"

void
wu_source_free (WuSource *source)
{
  if (source == NULL)
    return;
  source->ops->free (source);
  g_free (source->name);
  g_free (source->address);
  g_free (source);
}
