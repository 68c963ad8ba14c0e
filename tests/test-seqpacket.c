/* Reading BlueZ's notification fds (src/seqpacket.c) on real SOCK_SEQPACKET socket pairs, as
 * bluetoothd hands them out (AcquireNotify). Table-driven: what the peer sends, whether it
 * closes, whether the main loop's poll saw the hang-up, and what each read gives. */
#include "seqpacket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SENT 4
#define MAX_READS 8

typedef struct {
  const char *name;
  const char *sent[MAX_SENT];   /* datagrams, in order; "" is an empty one */
  gboolean peer_closes;         /* after sending */
  gboolean hangup;              /* the main loop's poll said G_IO_HUP */
  /* the reads, until END or AGAIN: a length, or END / AGAIN */
  int reads[MAX_READS];
} Case;

#define END (-1)
#define AGAIN (-2)

static const Case cases[] = {
  { "an empty notification, the peer still there", { "" }, FALSE, FALSE, { 0, AGAIN } },
  { "notifications, the peer still there", { "ab", "", "cde" }, FALSE, FALSE,
    { 2, 0, 3, AGAIN } },
  /* the main loop's poll said only G_IO_IN, the peer closed before the reads: reads of 0
   * bytes for ever, each taken for an empty notification (64 a wake-up) */
  { "the peer closed after the poll said readable", { "ab" }, TRUE, FALSE, { 2, END } },
  { "the peer closed with nothing queued, no hang-up seen", { NULL }, TRUE, FALSE, { END } },
  { "the hang-up seen: data first, then the end", { "ab" }, TRUE, TRUE, { 2, END } },
  /* an empty notification before the close is not told from the end, but one with bytes
   * queued behind it is still read */
  { "an empty notification and data queued before the close", { "", "cd" }, TRUE, FALSE,
    { 0, 2, END } },
  { "the same, the hang-up seen", { "", "cd" }, TRUE, TRUE, { 0, 2, END } },
};

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  guint8 buf[64];
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds),
                   ==, 0);
  for (guint i = 0; i < MAX_SENT && c->sent[i] != NULL; i++)
    g_assert_cmpint (send (fds[1], c->sent[i], strlen (c->sent[i]), 0), ==,
                     (ssize_t) strlen (c->sent[i]));
  if (c->peer_closes)
    close (fds[1]);
  for (guint i = 0; i < MAX_READS; i++)
    {
      gsize len = 99;
      WuSeqpacketRead got = wu_seqpacket_read (fds[0], buf, sizeof buf, c->hangup, &len);
      int expected = c->reads[i];

      if (expected == END)
        g_assert_cmpint (got, ==, WU_SEQPACKET_END);
      else if (expected == AGAIN)
        g_assert_cmpint (got, ==, WU_SEQPACKET_AGAIN);
      else
        {
          if (got != WU_SEQPACKET_VALUE)
            g_error ("%s: read %u gave %d, expected a value of %d bytes", c->name, i, got,
                     expected);
          g_assert_cmpuint (len, ==, (gsize) expected);
          continue;
        }
      break;
    }
  close (fds[0]);
  if (!c->peer_closes)
    close (fds[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/seqpacket/%u", i);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  return g_test_run ();
}
