#!/usr/bin/python3
"""Regenerate the static traces of tests/traces/ (the integration tests generate their
scenarios at run time with tools/gen-trace.py; these are the few fixed files they use).

    tests/traces/make-traces.py [OUTDIR]      # default: this directory

- still.trace          the rider sits still for 20 s (cadence 0), resistance range 0..100
- empty.trace          a header and no events at all
- bad-kind.trace       a well-formed trace with one line of an unknown kind (ftms.bogus)
- time-backwards.trace a well-formed trace with one line whose time goes backwards
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("WARMUPD_SRCDIR") or os.path.dirname(os.path.dirname(HERE))


def load_gen_trace():
    spec = importlib.util.spec_from_file_location(
        "gen_trace", os.path.join(SRCDIR, "tools", "gen-trace.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_bad_line(lines, index, bad):
    """Insert `bad` before event line `index` (0-based)."""
    return lines[:index] + [bad] + lines[index:]


def main(argv):
    outdir = argv[1] if len(argv) > 1 else HERE
    gt = load_gen_trace()

    still = gt.generate([gt.stop(20)], seed=3, title="still: the rider sits still for 20 s")
    still.write(os.path.join(outdir, "still.trace"))

    with open(os.path.join(outdir, "empty.trace"), "w") as f:
        f.write(gt.TRACE_HEADER + "\n# empty: no events at all\n")

    ride = gt.generate([gt.stop(2), gt.pedal(8, cadence=75, resistance=20)], seed=4,
                       title="bad-kind: line with an unknown event kind after 6 events")
    ride.lines = with_bad_line(ride.lines, 6, "3.500 ftms.bogus 00")
    ride.write(os.path.join(outdir, "bad-kind.trace"))

    ride = gt.generate([gt.stop(2), gt.pedal(8, cadence=75, resistance=20)], seed=5,
                       title="time-backwards: a line whose time goes back after 7 events")
    ride.lines = with_bad_line(ride.lines, 7, "3.000 link down")
    ride.write(os.path.join(outdir, "time-backwards.trace"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
