#!/bin/sh
# LOG_COMPILER of `make check-valgrind` for the unit tests (the C test programs): run one
# under memcheck. Any error, or any definitely lost block, makes it exit 3, which the TAP
# driver reports as an ERROR for that test. GLib's suppressions (its caches and one-time
# type registrations), then the project's (tests/valgrind.supp, each entry justified there).
# The integration tests run warmupd under the same options through WARMUPD_VALGRIND=1
# (tests/wutest.py).
here=$(dirname "$0")
set -- --tool=memcheck --error-exitcode=3 --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --num-callers=30 --track-fds=no "$@"
for supp in /usr/share/glib-2.0/valgrind/glib.supp "$here/valgrind.supp"; do
  [ -f "$supp" ] && set -- --suppressions="$supp" "$@"
done
exec valgrind "$@"
