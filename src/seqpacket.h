/* Reading one of BlueZ's notification fds (AcquireNotify): a non-blocking SOCK_SEQPACKET
 * socket from bluetoothd, one datagram a notification. A read of 0 bytes is either an empty
 * notification or the end (the peer closed it): only the socket's state tells them apart. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  WU_SEQPACKET_VALUE,   /* a notification of *LEN bytes (0: an empty one) */
  WU_SEQPACKET_AGAIN,   /* nothing queued */
  WU_SEQPACKET_END,     /* the peer closed the socket and nothing is left to read */
  WU_SEQPACKET_ERROR,   /* read() failed: errno */
} WuSeqpacketRead;

/* Read the next datagram of FD into BUF (SIZE bytes). HANGUP: the main loop's poll already
 * said the peer hung up. A read of 0 bytes is the end only when the peer has closed and no
 * byte is queued behind it; without HANGUP the socket is asked (poll, no wait), since the
 * peer may have closed after the main loop's poll said only "readable". */
WuSeqpacketRead wu_seqpacket_read (int fd, guint8 *buf, gsize size, gboolean hangup,
                                   gsize *len);

G_END_DECLS
