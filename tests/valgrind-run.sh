#!/bin/sh
# LOG_COMPILER of `make check-valgrind` for the unit tests (the C test programs): run one
# under memcheck. Any error, or any definitely lost block, makes it exit 3, which the TAP
# driver reports as an ERROR for that test. Only GLib's suppressions (its caches and one-time
# type registrations): the project has none of its own.
# The integration tests run warmupd under the same options through WARMUPD_VALGRIND=1
# (tests/wutest.py).
set -- --tool=memcheck --error-exitcode=3 --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --num-callers=30 --track-fds=no "$@"
supp=/usr/share/glib-2.0/valgrind/glib.supp
[ -f "$supp" ] && set -- --suppressions="$supp" "$@"
exec valgrind "$@"
