/* Notification fds from bluetoothd (see seqpacket.h). */
#include "seqpacket.h"

#include <errno.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* After a read of 0 bytes: has the peer closed the socket (the end), or was it an empty
 * datagram? A close leaves POLLHUP/POLLRDHUP set. An empty datagram queued just before the
 * close reads as the end too (it would have been dropped anyway), unless a notification
 * with bytes is still queued behind it: that one is read first. */
static gboolean
peer_closed (int fd, gboolean hangup)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };
  int queued = 0;

  if (!hangup)
    {
      int ready;

      do
        ready = poll (&pfd, 1, 0);
      while (ready < 0 && errno == EINTR);
      if (ready <= 0 || (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)) == 0)
        return FALSE;
    }
  return ioctl (fd, SIOCINQ, &queued) != 0 || queued <= 0;
}

WuSeqpacketRead
wu_seqpacket_read (int fd, guint8 *buf, gsize size, gboolean hangup, gsize *len)
{
  ssize_t n;

  *len = 0;
  do
    n = read (fd, buf, size);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    {
      *len = (gsize) n;
      return WU_SEQPACKET_VALUE;
    }
  if (n == 0)
    return peer_closed (fd, hangup) ? WU_SEQPACKET_END : WU_SEQPACKET_VALUE;
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    return WU_SEQPACKET_AGAIN;
  return WU_SEQPACKET_ERROR;
}
