#!/usr/bin/python3
"""Generate warmupd traces of an FTMS indoor bike (standard library only).

As a command:

    tools/gen-trace.py demo                 # the shipped data/traces/demo.trace
    tools/gen-trace.py hour --rate 4 -o x   # one steady hour at 4 Hz (14,400 samples)

As a library (the file name has a dash, so load it by path):

    import importlib.util
    spec = importlib.util.spec_from_file_location("gen_trace", "tools/gen-trace.py")
    gt = importlib.util.module_from_spec(spec); spec.loader.exec_module(gt)

    trace = gt.generate([gt.stop(3), gt.pedal(60, cadence=80), gt.stop(10)], seed=7)
    trace.write("/tmp/t.trace")          # or trace.text()
    trace.pedalling_seconds()            # 59.0 (pairs of samples both >= 40 rpm)

A scenario is a list of segments, rendered in order on one clock. Samples are Indoor Bike
Data (0x2AD2) notifications at `rate` Hz carrying speed, cadence, distance, resistance,
power, heart rate and elapsed time (flags 0x0A74). Every segment but silence() keeps the
notifications coming; while the link is down (link_down() .. link_up()) the rider's state
still evolves but no sample is written, as a real recording would show.
"""

import argparse
import math
import random
import struct
import sys
from dataclasses import dataclass, field

TRACE_HEADER = "# warmupd trace 1"

# Indoor Bike Data flag bits (bit 0 is inverted: set = Instantaneous Speed ABSENT).
IBD_MORE_DATA = 1 << 0
IBD_AVG_SPEED = 1 << 1
IBD_INST_CADENCE = 1 << 2
IBD_AVG_CADENCE = 1 << 3
IBD_TOTAL_DISTANCE = 1 << 4
IBD_RESISTANCE = 1 << 5
IBD_INST_POWER = 1 << 6
IBD_AVG_POWER = 1 << 7
IBD_EXPENDED_ENERGY = 1 << 8
IBD_HEART_RATE = 1 << 9
IBD_MET = 1 << 10
IBD_ELAPSED_TIME = 1 << 11
IBD_REMAINING_TIME = 1 << 12

# What generated samples carry: speed (bit 0 clear), cadence, distance, resistance, power,
# heart rate, elapsed time.
SAMPLE_FLAGS = 0x0A74

# Fitness Machine Feature (0x2ACC): cadence(1), total distance(2), resistance level(7),
# heart rate(10), elapsed time(12), power(14); target settings: resistance level(2).
DEFAULT_FEATURE = (0x00005486, 0x00000004)
DEFAULT_RESISTANCE_RANGE = (0.0, 100.0, 1.0)

PEDALLING_RPM = 40.0


# --------------------------------------------------------------------------------------
# Encoders: exact GATT little-endian layouts

def _pack(fmt, *values):
    try:
        return struct.pack("<" + fmt, *values)
    except struct.error as e:
        raise ValueError("value out of range for '%s': %r (%s)" % (fmt, values, e)) from None


def _u24(value):
    if not 0 <= value < 1 << 24:
        raise ValueError("u24 out of range: %r" % value)
    return value.to_bytes(3, "little")


def encode_indoor_bike_data(speed_kmh=None, avg_speed_kmh=None, cadence_rpm=None,
                            avg_cadence_rpm=None, distance_m=None, resistance=None,
                            power_w=None, avg_power_w=None, energy=None, heart_rate_bpm=None,
                            met=None, elapsed_s=None, remaining_s=None):
    """Indoor Bike Data (0x2AD2): u16 flags, then each given field in the spec's order.

    speed/avg speed u16 0.01 km/h (speed present when flag bit 0 is CLEAR); cadence/avg
    cadence u16 0.5 rpm; distance u24 m; resistance s16; power/avg power s16 W; energy a
    (total kcal u16, per hour u16, per minute u8) tuple; heart rate u8; MET u8 0.1;
    elapsed/remaining u16 s. None leaves a field out."""
    flags = 0
    body = b""
    if speed_kmh is None:
        flags |= IBD_MORE_DATA
    else:
        body += _pack("H", round(speed_kmh * 100))
    fields = [
        (IBD_AVG_SPEED, avg_speed_kmh, lambda v: _pack("H", round(v * 100))),
        (IBD_INST_CADENCE, cadence_rpm, lambda v: _pack("H", round(v * 2))),
        (IBD_AVG_CADENCE, avg_cadence_rpm, lambda v: _pack("H", round(v * 2))),
        (IBD_TOTAL_DISTANCE, distance_m, lambda v: _u24(int(v))),
        (IBD_RESISTANCE, resistance, lambda v: _pack("h", round(v))),
        (IBD_INST_POWER, power_w, lambda v: _pack("h", round(v))),
        (IBD_AVG_POWER, avg_power_w, lambda v: _pack("h", round(v))),
        (IBD_EXPENDED_ENERGY, energy, lambda v: _pack("HHB", *v)),
        (IBD_HEART_RATE, heart_rate_bpm, lambda v: _pack("B", round(v))),
        (IBD_MET, met, lambda v: _pack("B", round(v * 10))),
        (IBD_ELAPSED_TIME, elapsed_s, lambda v: _pack("H", int(v))),
        (IBD_REMAINING_TIME, remaining_s, lambda v: _pack("H", int(v))),
    ]
    for bit, value, encode in fields:
        if value is not None:
            flags |= bit
            body += encode(value)
    return _pack("H", flags) + body


def encode_resistance_range(minimum=0.0, maximum=100.0, increment=1.0):
    """Supported Resistance Level Range (0x2AD6): s16 min, s16 max, u16 increment, 0.1."""
    return _pack("hhH", round(minimum * 10), round(maximum * 10), round(increment * 10))


def encode_power_range(minimum=0, maximum=1000, increment=1):
    """Supported Power Range (0x2AD8): s16 min W, s16 max W, u16 increment W."""
    return _pack("hhH", round(minimum), round(maximum), round(increment))


def encode_feature(machine_features=DEFAULT_FEATURE[0], target_features=DEFAULT_FEATURE[1]):
    """Fitness Machine Feature (0x2ACC): two u32 bit fields."""
    return _pack("II", machine_features, target_features)


def hexbytes(data):
    """b'\\x74\\x0a' -> '74 0a' (the trace's payload spelling)."""
    return " ".join("%02x" % b for b in data)


def format_event(time_s, kind, args):
    """One trace line: '%.3f kind args'."""
    return "%.3f %s %s" % (time_s, kind, args)


# --------------------------------------------------------------------------------------
# Segments

@dataclass(frozen=True)
class Segment:
    """One piece of a scenario; build them with the functions below."""
    kind: str                      # pedal, stop, silence, link, garbage, event
    seconds: float = 0.0
    cadence: object = None         # number (exact) or (lo, hi) smooth random walk
    resistance: object = None      # number, (lo, hi) slow wander, or None: keep current
    power: object = None           # number (exact) or None: derived
    overrides: tuple = ()          # ((offset_s, seconds, resistance), ...)
    ramp: float = 0.0              # seconds to move cadence from where it was into range
    up: bool = True                # link
    event_kind: str = ""           # garbage / event
    args: str = ""                 # garbage / event
    label: str = ""


def pedal(seconds, cadence=(70, 85), resistance=25, power=None, overrides=(), ramp=0.0,
          label="pedal"):
    """Pedal for `seconds`. cadence: a number (exact) or a (lo, hi) range the cadence wanders
    in smoothly. resistance: a number, a (lo, hi) range it drifts in a level at a time, or
    None to keep the current level. power: None derives it from cadence and resistance.
    overrides: resistance windows inside the segment, built with override(). ramp: seconds
    to get from the previous cadence (0 after a stop) into the range."""
    return Segment("pedal", float(seconds), cadence=cadence, resistance=resistance,
                   power=power, overrides=tuple(overrides), ramp=float(ramp), label=label)


def spin(seconds, cadence=(105, 115), resistance=None, power=None, ramp=0.0):
    """Pedal too fast (above the daemon's max cadence); keeps the resistance by default."""
    return pedal(seconds, cadence=cadence, resistance=resistance, power=power, ramp=ramp,
                 label="spin")


def override(offset, seconds, resistance):
    """Inside a pedal(): from `offset` s into the segment, hold `resistance` for `seconds`."""
    return (float(offset), float(seconds), resistance)


def stop(seconds):
    """Rest: the bike keeps notifying with cadence 0, speed 0, power 0."""
    return Segment("stop", float(seconds), label="stop")


def silence(seconds):
    """No notifications at all for `seconds` (a stalled bike or radio)."""
    return Segment("silence", float(seconds), label="silence")


def link_down():
    """A 'link down' event; samples are then withheld until link_up()."""
    return Segment("link", up=False, label="link down")


def link_up():
    """A 'link up' event; samples flow again."""
    return Segment("link", up=True, label="link up")


def garbage(kind="ftms.indoor-bike-data", hexbytes="74 0a 20"):
    """A well-formed line whose payload the codec must reject (default: Indoor Bike Data
    whose flags promise 14 bytes of fields but only one byte follows)."""
    return Segment("garbage", event_kind=kind, args=hexbytes, label="garbage")


def event(kind, args):
    """Any other line at the current time, e.g. event('gpio.edge', 'falling')."""
    return Segment("event", event_kind=kind, args=args, label=kind)


# --------------------------------------------------------------------------------------
# Rendering

@dataclass
class Sample:
    """One Indoor Bike Data sample as encoded (values quantized like the wire)."""
    time_s: float
    cadence_rpm: float
    speed_kmh: float
    power_w: int
    resistance: int
    heart_rate_bpm: int
    distance_m: int
    elapsed_s: int
    written: bool                  # False while the link was down

    def payload(self):
        return encode_indoor_bike_data(
            speed_kmh=self.speed_kmh, cadence_rpm=self.cadence_rpm,
            distance_m=self.distance_m, resistance=self.resistance, power_w=self.power_w,
            heart_rate_bpm=self.heart_rate_bpm, elapsed_s=self.elapsed_s)


@dataclass
class Trace:
    header: list = field(default_factory=list)   # comment lines, header first
    lines: list = field(default_factory=list)    # event lines
    samples: list = field(default_factory=list)  # every Sample, written or not

    def text(self):
        return "".join(line + "\n" for line in self.header + self.lines)

    def write(self, path):
        with open(path, "w", encoding="ascii", newline="\n") as f:
            f.write(self.text())

    def pedalling_seconds(self, min_cadence=PEDALLING_RPM, max_gap=3.0):
        """Time between consecutive written samples that both have cadence >= min_cadence
        and are at most max_gap seconds apart (a gap from silence or a link drop does not
        count as pedalling)."""
        written = [s for s in self.samples if s.written]
        return sum(b.time_s - a.time_s for a, b in zip(written, written[1:])
                   if a.cadence_rpm >= min_cadence and b.cadence_rpm >= min_cadence
                   and b.time_s - a.time_s <= max_gap)


class _Rider:
    """The evolving state behind the samples."""

    def __init__(self, rng, rate):
        self.rng = rng
        self.rate = rate
        self.dt = 1.0 / rate
        self.index = 0            # next sample slot: time = index / rate
        self.cadence = 0.0
        self.velocity = 0.0       # rpm/s, for a smooth cadence walk
        self.resistance = 25
        self.heart_rate = 68.0
        self.distance = 0.0
        self.link_up = True

    @property
    def time_s(self):
        return self.index / self.rate

    def walk_cadence(self, lo, hi):
        """A damped random walk pulled toward the middle of [lo, hi], reflecting off the
        edges: smooth like a rider, not white noise."""
        dt = self.dt
        self.velocity += (-0.35 * self.velocity + 0.06 * ((lo + hi) / 2 - self.cadence)) * dt
        self.velocity += self.rng.gauss(0.0, 1.1 * math.sqrt(dt))
        self.cadence += self.velocity * dt
        if self.cadence < lo or self.cadence > hi:
            self.cadence = min(max(self.cadence, lo), hi)
            self.velocity = -0.5 * self.velocity

    def drift_resistance(self, spec):
        if spec is None:
            return
        if not isinstance(spec, tuple):
            self.resistance = round(spec)
            return
        lo, hi = spec
        if not lo <= self.resistance <= hi:
            self.resistance = self.rng.randint(round(lo), round(hi))
        elif self.rng.random() < 0.045 * self.dt:
            self.resistance = min(max(self.resistance + self.rng.choice((-1, 1)), lo), hi)

    def derived_power(self):
        if self.cadence <= 0:
            return 0
        watts = self.cadence * (0.4 + 0.06 * self.resistance)
        return max(0, round(watts * (1 + self.rng.gauss(0.0, 0.02))))

    def derived_speed(self):
        return self.cadence * 0.3 * (0.85 + self.resistance / 150)

    def sample(self, power=None):
        speed = round(self.derived_speed(), 2) if self.cadence > 0 else 0.0
        watts = self.derived_power() if power is None else round(power)
        target_hr = 65 + 0.3 * watts
        self.heart_rate += (target_hr - self.heart_rate) * (1 - math.exp(-self.dt / 30))
        self.distance += speed / 3.6 * self.dt
        s = Sample(time_s=self.time_s, cadence_rpm=round(self.cadence * 2) / 2,
                   speed_kmh=speed, power_w=watts, resistance=self.resistance,
                   heart_rate_bpm=round(self.heart_rate), distance_m=int(self.distance),
                   elapsed_s=int(self.time_s), written=self.link_up)
        self.index += 1
        return s


def _slots(seconds, rate):
    return round(seconds * rate)


def _in_override(overrides, offset):
    for start, seconds, level in overrides:
        if start <= offset < start + seconds:
            return level
    return None


def _render_pedal(rider, seg, trace):
    slots = _slots(seg.seconds, rider.rate)
    cadence = seg.cadence
    lo, hi = cadence if isinstance(cadence, tuple) else (cadence, cadence)
    start_cadence = rider.cadence
    ramp_target = min(max(start_cadence, lo), hi) if seg.ramp <= 0 else rider.rng.uniform(lo, hi)
    ramp_slots = _slots(seg.ramp, rider.rate)
    rider.drift_resistance(seg.resistance)
    for i in range(slots):
        offset = i / rider.rate
        if i < ramp_slots:
            step = (ramp_target - start_cadence) / (ramp_slots + 1)
            rider.cadence = start_cadence + step * (i + 1)
        elif isinstance(cadence, tuple):
            if i == ramp_slots and ramp_slots:
                rider.cadence = ramp_target
            rider.walk_cadence(lo, hi)
        else:
            rider.cadence = float(cadence)
        rider.drift_resistance(seg.resistance)
        level = _in_override(seg.overrides, offset)
        saved = rider.resistance
        if level is not None:
            rider.resistance = round(level)
        _emit_sample(rider, trace, seg.power)
        rider.resistance = saved


def _render_stop(rider, seg, trace):
    rider.cadence = 0.0
    rider.velocity = 0.0
    for _ in range(_slots(seg.seconds, rider.rate)):
        _emit_sample(rider, trace, 0)


def _emit_sample(rider, trace, power):
    s = rider.sample(power)
    trace.samples.append(s)
    if s.written:
        trace.lines.append(format_event(s.time_s, "ftms.indoor-bike-data",
                                        hexbytes(s.payload())))


def _describe(seg, start, end):
    span = "%8.3f-%8.3f" % (start, end)
    if seg.kind == "pedal":
        text = "%s %s, cadence %s rpm, resistance %s" % (
            span, seg.label, _range_text(seg.cadence), _range_text(seg.resistance, "kept"))
        for offset, seconds, level in seg.overrides:
            text += "; resistance %s from %.3f to %.3f" % (
                level, start + offset, start + offset + seconds)
        if seg.power is not None:
            text += ", power %s W" % seg.power
        return text
    if seg.kind in ("stop", "silence"):
        return "%s %s" % (span, seg.label)
    return "%8.3f          %s" % (start, seg.label)


def _range_text(value, none_text="-"):
    if value is None:
        return none_text
    if isinstance(value, tuple):
        return "%g-%g" % value
    return "%g" % value


def generate(segments, rate=1.0, seed=0, resistance_range=DEFAULT_RESISTANCE_RANGE,
             feature=DEFAULT_FEATURE, title=None, comments=()):
    """Render a scenario into a Trace. resistance_range: (min, max, increment) for a leading
    `0.000 ftms.resistance-range` event, or None; feature: (machine, target) u32 words for
    a leading `0.000 ftms.feature`, or None. Deterministic for a given seed."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    rider = _Rider(random.Random(seed), float(rate))
    trace = Trace()
    if feature is not None:
        trace.lines.append(format_event(0.0, "ftms.feature", hexbytes(encode_feature(*feature))))
    if resistance_range is not None:
        trace.lines.append(format_event(0.0, "ftms.resistance-range",
                                        hexbytes(encode_resistance_range(*resistance_range))))
    described = []
    for seg in segments:
        start = rider.time_s
        _render_segment(rider, seg, trace)
        described.append(_describe(seg, start, rider.time_s))

    trace.header = [TRACE_HEADER]
    if title:
        trace.header.append("# " + title)
    trace.header += ["# " + c for c in comments]
    trace.header.append("# generated by tools/gen-trace.py: %g Hz, seed %s, %d samples, "
                        "%.0f s pedalling (>= %g rpm)"
                        % (rate, seed, sum(s.written for s in trace.samples),
                           trace.pedalling_seconds(), PEDALLING_RPM))
    trace.header += ["# " + d for d in described]
    return trace


def _render_segment(rider, seg, trace):
    if seg.kind == "pedal":
        _render_pedal(rider, seg, trace)
    elif seg.kind == "stop":
        _render_stop(rider, seg, trace)
    elif seg.kind == "silence":
        rider.index += _slots(seg.seconds, rider.rate)
    elif seg.kind == "link":
        rider.link_up = seg.up
        trace.lines.append(format_event(rider.time_s, "link", "up" if seg.up else "down"))
    elif seg.kind in ("garbage", "event"):
        trace.lines.append(format_event(rider.time_s, seg.event_kind, seg.args))
    else:
        raise ValueError("unknown segment kind %r" % seg.kind)


# --------------------------------------------------------------------------------------
# Revolution data: a reed switch (gpio.edge), BLE CSC (0x2A5B) and CPS (0x2A63) sensors.
#
#   lines = gt.revolution_lines([(3, 0), (620, 75), (10, 0)], "gpio", seed=1)
#   gt.write_lines("/tmp/t.trace", lines, title="reed switch")
#
# spans: (seconds, rpm) pieces, rpm 0 for a rest. A change of pace keeps the crank's phase.

CSC_WHEEL = 1 << 0
CSC_CRANK = 1 << 1
CPS_WHEEL = 1 << 4
CPS_CRANK = 1 << 5


def encode_csc_measurement(wheel=None, crank=None):
    """CSC Measurement (0x2A5B): u8 flags, [u32 wheel revs, u16 time 1/1024 s],
    [u16 crank revs, u16 time 1/1024 s]. wheel, crank: (revs, time ticks) or None; the
    values wrap like the sensor's counters."""
    flags, body = 0, b""
    if wheel is not None:
        flags |= CSC_WHEEL
        body += _pack("IH", wheel[0] % (1 << 32), wheel[1] % (1 << 16))
    if crank is not None:
        flags |= CSC_CRANK
        body += _pack("HH", crank[0] % (1 << 16), crank[1] % (1 << 16))
    return _pack("B", flags) + body


def encode_cps_measurement(power_w, wheel=None, crank=None):
    """Cycling Power Measurement (0x2A63): u16 flags, s16 power, [u32 wheel revs, u16 time
    1/2048 s], [u16 crank revs, u16 time 1/1024 s]."""
    flags, body = 0, b""
    if wheel is not None:
        flags |= CPS_WHEEL
        body += _pack("IH", wheel[0] % (1 << 32), wheel[1] % (1 << 16))
    if crank is not None:
        flags |= CPS_CRANK
        body += _pack("HH", crank[0] % (1 << 16), crank[1] % (1 << 16))
    return _pack("Hh", flags, round(power_w)) + body


def crank_closures(spans, rng, jitter=0.01):
    """Times (s) of the crank's revolutions over spans, each displaced by Gaussian timing
    jitter (sigma `jitter` of the period)."""
    times, start, nominal = [], 0.0, 0.0
    for seconds, rpm in spans:
        end = start + seconds
        if rpm <= 0:
            nominal = end              # the first revolution comes as pedalling resumes
        else:
            period = 60.0 / rpm
            while nominal < end:
                times.append(max(0.0, nominal + rng.gauss(0.0, jitter * period)))
                nominal += period
        start = end
    return sorted(times), start


def _format_precise(time_s, kind, args):
    return "%.6f %s %s" % (time_s, kind, args)


def gpio_lines(spans, seed=0, jitter=0.01, bounce=(2, 6), closed_s=0.030):
    """A reed switch pulled up, closed by the magnet once a revolution: a falling edge,
    `bounce` (lo, hi) extra edges within 3 ms, and a rising edge when it opens. Ends with
    a rising edge at the end of the last span (so a replay's clock gets there)."""
    rng = random.Random(seed)
    closures, end = crank_closures(spans, rng, jitter)
    lines = []
    for t in closures:
        edges = [(t, "falling")]
        extra = rng.randint(*bounce) if bounce else 0
        offsets = sorted(rng.uniform(0.0002, 0.003) for _ in range(extra))
        for i, offset in enumerate(offsets):
            edges.append((t + offset, "rising" if i % 2 == 0 else "falling"))
        if extra % 2 == 1:
            edges.append((t + 0.0031, "falling"))   # bounce ends with the switch closed
        edges.append((t + closed_s, "rising"))
        lines += [_format_precise(when, "gpio.edge", edge) for when, edge in edges]
    lines.append(_format_precise(end, "gpio.edge", "rising"))
    return lines


def counter_lines(spans, kind="csc", seed=0, jitter=0.01, report_s=1.0, first_revs=65500,
                  first_ticks=60000, wheel_per_crank=2, power=None):
    """A BLE sensor notifying every `report_s` with its cumulative crank counter and the time
    of the last crank event (1/1024 s), starting near the wrap of both; CSC frames also
    carry a wheel counter (a whole `wheel_per_crank` wheel revolutions a crank revolution,
    timed with the crank: a fixed gear);
    CPS frames carry power (`power(rpm)`, default 1.6 W/rpm) and the crank counter.
    Frames keep coming, repeated, while the rider rests."""
    rng = random.Random(seed)
    closures, end = crank_closures(spans, rng, jitter)
    power = power or (lambda rpm: 1.6 * rpm)
    lines, seen, t = [], 0, report_s

    def rpm_at(when):
        start = 0.0
        for seconds, rpm in spans:
            if when < start + seconds:
                return rpm
            start += seconds
        return 0

    while t <= end:
        while seen < len(closures) and closures[seen] <= t:
            seen += 1
        last = closures[seen - 1] if seen else 0.0
        crank = (first_revs + seen, first_ticks + int(last * 1024))
        if kind == "csc":
            wheel = (seen * wheel_per_crank, first_ticks + int(last * 1024))
            payload = encode_csc_measurement(wheel=wheel, crank=crank)
        else:
            payload = encode_cps_measurement(power(rpm_at(t)), crank=crank)
        arrival = t + rng.uniform(0.01, 0.05)
        lines.append(format_event(arrival, "%s.measurement" % kind, hexbytes(payload)))
        t += report_s
    return lines


def revolution_lines(spans, source="gpio", seed=0, **kwargs):
    """Trace lines of a `source` ("gpio", "csc" or "cps") over spans of (seconds, rpm)."""
    if source == "gpio":
        return gpio_lines(spans, seed=seed, **kwargs)
    if source in ("csc", "cps"):
        return counter_lines(spans, kind=source, seed=seed, **kwargs)
    raise ValueError("unknown revolution source %r" % source)


def write_lines(path, lines, title=None):
    """Write event lines (sorted by time, as a trace must be) under the trace header."""
    header = [TRACE_HEADER] + (["# " + title] if title else [])
    ordered = sorted(lines, key=lambda line: float(line.split(" ", 1)[0]))
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("".join(line + "\n" for line in header + ordered))


# --------------------------------------------------------------------------------------
# Canned scenarios

def demo_scenario():
    """~12.4 minutes at 1 Hz: rest, pedal with an over-cap stretch, a 90 s stop, pedal with
    a too-fast stretch, rest. Over 600 s of pedalling before the final rest."""
    return [
        stop(5),
        pedal(250, cadence=(70, 85), resistance=(20, 28), ramp=3,
              overrides=[override(120, 15, 45)]),
        stop(90),
        pedal(120, cadence=(70, 85), resistance=(20, 28), ramp=3),
        spin(20, cadence=(105, 115), ramp=2),
        pedal(245, cadence=(70, 85), resistance=(20, 28), ramp=2),
        stop(15),
    ]


def hour_scenario():
    """One steady hour of pedalling (benchmark input)."""
    return [pedal(3600, cadence=(75, 85), resistance=(22, 26))]


SCENARIOS = {
    "demo": (demo_scenario, "demo: a warm-up with an over-cap stretch, a stop and a spin"),
    "hour": (hour_scenario, "hour: one steady hour of pedalling"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate a warmupd FTMS bike trace.")
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--rate", type=float, default=1.0, help="samples per second (1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--no-range", action="store_true",
                        help="no leading ftms.resistance-range event")
    parser.add_argument("--no-feature", action="store_true",
                        help="no leading ftms.feature event")
    parser.add_argument("-o", "--output", default="-", help="output file (stdout)")
    args = parser.parse_args(argv)

    build, title = SCENARIOS[args.scenario]
    trace = generate(build(), rate=args.rate, seed=args.seed,
                     resistance_range=None if args.no_range else DEFAULT_RESISTANCE_RANGE,
                     feature=None if args.no_feature else DEFAULT_FEATURE, title=title)
    if args.output == "-":
        sys.stdout.write(trace.text())
    else:
        trace.write(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
