/* The service manager's side of warmupd: readiness, status lines, watchdog keep-alives,
 * reload and stop announcements over sd_notify(3). When warmupd is not started by systemd
 * (NOTIFY_SOCKET unset) every call here does nothing. */
#pragma once
#include <glib.h>

typedef struct WuNotifier WuNotifier;

/* Reads NOTIFY_SOCKET and the watchdog settings of the environment. If the service manager
 * asks for a watchdog, a main-loop timer at half its interval sends WATCHDOG=1 (a hung main
 * loop therefore stops the keep-alives and gets warmupd restarted). */
WuNotifier *wu_notifier_new (void);
void wu_notifier_free (WuNotifier *notifier);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WuNotifier, wu_notifier_free)

/* TRUE when a service manager listens (NOTIFY_SOCKET set). */
gboolean wu_notifier_is_enabled (WuNotifier *notifier);
/* READY=1 with the first STATUS= line. */
void wu_notifier_ready (WuNotifier *notifier, const char *status);
/* STATUS=, sent only when the text differs from the last one sent. */
void wu_notifier_status (WuNotifier *notifier, const char *status);
/* RELOADING=1 (with MONOTONIC_USEC=, which Type=notify-reload wants), then READY=1. */
void wu_notifier_reloading (WuNotifier *notifier);
void wu_notifier_reloaded (WuNotifier *notifier, const char *status);
void wu_notifier_stopping (WuNotifier *notifier);
