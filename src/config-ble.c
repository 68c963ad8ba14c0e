/* [Bike] and [Sensors] keys: which Bluetooth LE devices and adapter warmupd uses. */
#include "config-ble.h"

#include <string.h>

#define MAX_SENSORS 8

void
wu_ble_config_init (WuBleConfig *ble)
{
  memset (ble, 0, sizeof *ble);
}

void
wu_ble_config_clear (WuBleConfig *ble)
{
  g_clear_pointer (&ble->bike_address, g_free);
  g_clear_pointer (&ble->adapter, g_free);
  g_clear_pointer (&ble->sensor_addresses, g_strfreev);
}

void
wu_ble_config_copy (WuBleConfig *dest, const WuBleConfig *src)
{
  dest->bike_address = g_strdup (src->bike_address);
  dest->adapter = g_strdup (src->adapter);
  dest->sensor_addresses = g_strdupv (src->sensor_addresses);
}

gboolean
wu_ble_is_valid_address (const char *text)
{
  if (strlen (text) != 17)
    return FALSE;
  for (guint i = 0; i < 17; i++)
    if (i % 3 == 2 ? text[i] != ':' : !g_ascii_isxdigit (text[i]))
      return FALSE;
  return TRUE;
}

/* "hci0" .. "hci99", or an adapter's address. */
static gboolean
is_valid_adapter (const char *text)
{
  gsize len = strlen (text);

  if (wu_ble_is_valid_address (text))
    return TRUE;
  if (len < 4 || len > 5 || strncmp (text, "hci", 3) != 0)
    return FALSE;
  for (gsize i = 3; i < len; i++)
    if (!g_ascii_isdigit (text[i]))
      return FALSE;
  return TRUE;
}

static char *
not_an_address (const char *value)
{
  return g_strdup_printf ("'%s' is not a Bluetooth address like AA:BB:CC:DD:EE:FF", value);
}

/* A list separated by ';' (GKeyFile's list separator), ',' or blanks. */
static char *
apply_sensor_addresses (WuBleConfig *ble, const char *value)
{
  g_auto (GStrv) items = g_strsplit_set (value, ";, \t", -1);
  g_autoptr (GPtrArray) addresses = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; items[i] != NULL; i++)
    {
      g_autofree char *address = NULL;

      if (items[i][0] == '\0')
        continue;
      if (!wu_ble_is_valid_address (items[i]))
        return not_an_address (items[i]);
      address = g_ascii_strup (items[i], -1);
      /* discovery looks for as many sensors as listed: a repeat would be waited for forever */
      if (g_ptr_array_find_with_equal_func (addresses, address, g_str_equal, NULL))
        return g_strdup_printf ("'%s' is listed twice", items[i]);
      if (addresses->len == MAX_SENSORS)
        return g_strdup_printf ("more than %d addresses", MAX_SENSORS);
      g_ptr_array_add (addresses, g_steal_pointer (&address));
    }
  g_clear_pointer (&ble->sensor_addresses, g_strfreev);
  if (addresses->len > 0)
    {
      g_ptr_array_add (addresses, NULL);
      ble->sensor_addresses = (char **) g_ptr_array_steal (addresses, NULL);
    }
  return NULL;
}

char *
wu_ble_config_apply_key (WuBleConfig *ble, const char *group, const char *key,
                         const char *value)
{
  if (strcmp (group, "Bike") == 0 && strcmp (key, "Address") == 0)
    {
      if (value[0] != '\0' && !wu_ble_is_valid_address (value))
        return not_an_address (value);
      g_free (ble->bike_address);
      ble->bike_address = value[0] != '\0' ? g_ascii_strup (value, -1) : NULL;
      return NULL;
    }
  if (strcmp (group, "Bike") == 0 && strcmp (key, "Adapter") == 0)
    {
      if (value[0] != '\0' && !is_valid_adapter (value))
        return g_strdup_printf ("'%s' is not an adapter name like hci0 or an address like "
                                "AA:BB:CC:DD:EE:FF", value);
      g_free (ble->adapter);
      ble->adapter = value[0] != '\0' ? g_strdup (value) : NULL;
      return NULL;
    }
  if (strcmp (group, "Sensors") == 0 && strcmp (key, "Addresses") == 0)
    return apply_sensor_addresses (ble, value);
  g_return_val_if_reached (g_strdup ("unknown key"));
}
