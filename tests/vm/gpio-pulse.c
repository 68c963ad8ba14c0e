/* A reed switch for tests/vm/test-real-gpio.sh: drives a gpio-sim line by writing its
 * sysfs `pull` attribute at absolute CLOCK_MONOTONIC deadlines (clock_nanosleep with
 * TIMER_ABSTIME), so the pace does not drift with the guest's scheduling jitter, and logs
 * when each write really happened. Built by the test with the host's cc; run in the guest.
 *
 *   gpio-pulse drive PULL_FILE PERIOD_MS LOW_MS COUNT
 *       The line idles high (pull-up). COUNT pulses, one every PERIOD_MS from one second
 *       after the start: pull-down (the switch closes: a falling edge), LOW_MS later
 *       pull-up again. The line is left high. One line per pulse on stdout:
 *         pulse K DEADLINE_NS BEFORE_NS AFTER_NS
 *       (the falling edge's deadline, the clock just before and just after the write;
 *       all CLOCK_MONOTONIC), then a summary line:
 *         late-us max M mean A   (AFTER - DEADLINE over the falling edges)
 *   gpio-pulse stamp
 *       Copies stdin to stdout, each line prefixed with the CLOCK_MONOTONIC time it was
 *       read, in seconds ("%.6f "): timestamps `gdbus monitor` output on the same clock.
 *
 * Exit status: 0, or 1 with a message on stderr. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_MSEC 1000000LL

static int64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void
sleep_until (int64_t deadline_ns)
{
  struct timespec ts = { .tv_sec = deadline_ns / NSEC_PER_SEC,
                         .tv_nsec = deadline_ns % NSEC_PER_SEC };
  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

static int
set_pull (int fd, const char *pull)
{
  if (pwrite (fd, pull, strlen (pull), 0) < 0)
    {
      fprintf (stderr, "gpio-pulse: writing %s: %s\n", pull, strerror (errno));
      return -1;
    }
  return 0;
}

static long
parse_positive (const char *text, const char *what)
{
  char *end;
  long v = strtol (text, &end, 10);
  if (*text == '\0' || *end != '\0' || v <= 0)
    {
      fprintf (stderr, "gpio-pulse: %s: '%s' is not a positive number\n", what, text);
      exit (1);
    }
  return v;
}

static int
drive (const char *pull_file, long period_ms, long low_ms, long count)
{
  struct sched_param param = { .sched_priority = 50 };
  int64_t start, deadline, before, after, late, max_late = 0, sum_late = 0;
  int fd;

  if (low_ms >= period_ms)
    {
      fprintf (stderr, "gpio-pulse: LOW_MS must be shorter than PERIOD_MS\n");
      return 1;
    }
  fd = open (pull_file, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    {
      fprintf (stderr, "gpio-pulse: %s: %s\n", pull_file, strerror (errno));
      return 1;
    }
  /* Test equipment: it should not be the one that jitters. Best effort. */
  if (sched_setscheduler (0, SCHED_FIFO, &param) != 0)
    fprintf (stderr, "gpio-pulse: no SCHED_FIFO (%s); carrying on\n", strerror (errno));
  mlockall (MCL_CURRENT | MCL_FUTURE);

  if (set_pull (fd, "pull-up") != 0)
    return 1;
  start = now_ns () + NSEC_PER_SEC;
  for (long k = 0; k < count; k++)
    {
      deadline = start + k * period_ms * NSEC_PER_MSEC;
      sleep_until (deadline);
      before = now_ns ();
      if (set_pull (fd, "pull-down") != 0)
        return 1;
      after = now_ns ();
      late = after - deadline;
      max_late = late > max_late ? late : max_late;
      sum_late += late;
      printf ("pulse %ld %lld %lld %lld\n", k, (long long) deadline, (long long) before,
              (long long) after);
      fflush (stdout);
      sleep_until (deadline + low_ms * NSEC_PER_MSEC);
      if (set_pull (fd, "pull-up") != 0)
        return 1;
    }
  printf ("late-us max %lld mean %lld\n", (long long) (max_late / 1000),
          (long long) (sum_late / count / 1000));
  close (fd);
  return 0;
}

/* A line storm: the pull flipped as fast as writes go for MS milliseconds, as a floating
 * input picking up noise would; the switch is left open. Prints how many flips. */
static int
storm (const char *pull_file, long ms)
{
  int64_t start = now_ns (), end = start + ms * NSEC_PER_MSEC;
  long flips = 0;
  int fd = open (pull_file, O_WRONLY | O_CLOEXEC);

  if (fd < 0)
    {
      fprintf (stderr, "gpio-pulse: %s: %s\n", pull_file, strerror (errno));
      return 1;
    }
  while (now_ns () < end)
    {
      if (set_pull (fd, flips % 2 == 0 ? "pull-down" : "pull-up") != 0)
        return 1;
      flips++;
    }
  if (flips % 2 != 0 && set_pull (fd, "pull-up") != 0)
    return 1;
  printf ("flips %ld\nstorm_ms %lld\n", flips, (long long) ((now_ns () - start) / NSEC_PER_MSEC));
  close (fd);
  return 0;
}

static int
stamp (void)
{
  char *line = NULL;
  size_t size = 0;
  ssize_t n;

  while ((n = getline (&line, &size, stdin)) >= 0)
    {
      int64_t t = now_ns ();
      printf ("%lld.%06lld %s", (long long) (t / NSEC_PER_SEC),
              (long long) (t % NSEC_PER_SEC / 1000), line);
      if (n == 0 || line[n - 1] != '\n')
        putchar ('\n');
      fflush (stdout);
    }
  free (line);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 6 && strcmp (argv[1], "drive") == 0)
    return drive (argv[2], parse_positive (argv[3], "PERIOD_MS"),
                  parse_positive (argv[4], "LOW_MS"), parse_positive (argv[5], "COUNT"));
  if (argc == 4 && strcmp (argv[1], "storm") == 0)
    return storm (argv[2], parse_positive (argv[3], "MS"));
  if (argc == 2 && strcmp (argv[1], "stamp") == 0)
    return stamp ();
  fprintf (stderr, "usage: gpio-pulse drive PULL_FILE PERIOD_MS LOW_MS COUNT\n"
                   "       gpio-pulse storm PULL_FILE MS\n"
                   "       gpio-pulse stamp\n");
  return 1;
}
