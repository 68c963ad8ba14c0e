/* The D-Bus face of warmupd: Warmup1 at /io/github/warmupd, an ObjectManager there, and
 * one Sensor1 child per sensor. All of it generated from data/io.github.warmupd.xml. */
#pragma once
#include <gio/gio.h>
#include "engine.h"
#include "history-keeper.h"

#define WU_BUS_NAME "io.github.warmupd"
#define WU_OBJECT_PATH "/io/github/warmupd"

typedef struct WuService WuService;

WuService *wu_service_new (WuEngine *engine);
/* Serve GetHistory and HistoryError from KEEPER (not owned; NULL: no history). */
void wu_service_set_history (WuService *service, WuHistoryKeeper *keeper);
void wu_service_free (WuService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuService, wu_service_free)

gboolean wu_service_export (WuService *service, GDBusConnection *connection, GError **error);
/* Publish Warmup1. On a live clock every input is published at once; a replay's inputs
 * are published after the main-loop pass, unless NOW (a transition that must not be
 * folded into a later value). */
void wu_service_publish (WuService *service, gboolean now);
void wu_service_publish_sensor (WuService *service, WuSensor *sensor);
/* Publish now what a replay's main-loop pass left for after it (nothing on a live clock). */
void wu_service_publish_pending (WuService *service);
/* A sensor appeared or is going away: its Sensor1 object follows (once exported). */
void wu_service_add_sensor (WuService *service, WuSensor *sensor);
void wu_service_remove_sensor (WuService *service, WuSensor *sensor);
void wu_service_emit_start_floor_routine (WuService *service, const WuSummary *summary);
