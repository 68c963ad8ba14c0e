"""Loaded by bench/perf.py into the dbusmock process of tests/bluez_mock.py (next to its
SimulatedBike): a trigger for timed notifications that bypasses D-Bus.

The bench sends a datagram (a little-endian double: the cadence in rpm) to a unix socket
bound here; the handler builds an Indoor Bike Data notification (flags 0x0064: speed,
cadence, resistance 5.0, power, as the mock's own stream), takes CLOCK_MONOTONIC, writes the
notification to the socket warmupd acquired (SimulatedBike.notify) and answers with the
time (u64 ns, 0 when nobody had acquired the characteristic).

Why not a D-Bus method on the mock: dbusmock broadcasts a MethodCalled signal for every
call, and warmupd, subscribed to everything org.bluez sends as real clients are, would
receive and dispatch one per notification: noise no real bluetoothd makes, in the very
figures measured (CPU per notification, latency)."""

import socket
import struct
import time

from gi.repository import GLib


class Trigger:
    def __init__(self, bike, path, uuid):
        self.bike = bike
        self.uuid = str(uuid)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK
                                  | socket.SOCK_CLOEXEC)
        self.sock.bind(str(path))
        self.watch = GLib.io_add_watch(self.sock.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN,
                                       self._on_request)

    def _on_request(self, fd, condition):
        while True:
            try:
                request, sender = self.sock.recvfrom(64)
            except BlockingIOError:
                return True
            cadence = struct.unpack("<d", request)[0]
            data = struct.pack("<HHHhh", 0x0064, round(cadence * 35), round(cadence * 2), 50,
                               round(cadence * 1.4))
            sent = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            if not self.bike.notify(self.uuid, data):
                sent = 0
            try:
                self.sock.sendto(struct.pack("<Q", sent), sender)
            except OSError:
                pass


class Pedalling:
    """A rider on the bike for the live memory session (bench/perf.py, section live): the
    bike's own stream (SimulatedBike, a GLib timer at its rate, 4 Hz there) sends Indoor Bike
    Data as always, and each sample gets a cadence of its own, 70 to 80 rpm (and the power
    with it), so that every notification changes Sensor1's figures as a rider's do. The
    resistance stays the bike's: what warmupd's cap wrote through the control point."""

    def __init__(self, bike):
        self.samples = 0
        plain = bike.indoor_bike_data

        def varied():
            self.samples += 1
            bike.cadence = 75.0 + ((self.samples * 7919) % 11 - 5)
            bike.power = round(bike.cadence * 1.4)
            return plain()
        bike.indoor_bike_data = varied
