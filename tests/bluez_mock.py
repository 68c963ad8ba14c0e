"""A simulated BlueZ 5.66 with a smart bike (FTMS) or a cadence sensor (CSC) on a private
system bus: the fixture of the live-source integration tests. Further devices can sit next
to the first one (BluezMock.add_device: a bike and a cadence sensor, two trainers).

Two halves live in this one file:

- the test side (SystemBus, BluezMock): starts a dbus-daemon with a <type>system</type>
  configuration on a temporary unix socket (allow-all policy), runs
  `python3 -m dbusmock --system -t bluez5 -l LOG` on it (every call is logged with its
  arguments), and builds the adapter and the device with the template's AddAdapter /
  AddDevice and the GATT database with org.freedesktop.DBus.Mock.AddObject + an
  ObjectManager.InterfacesAdded signal, exactly as bluetoothd exports a remote device
  (doc/gatt-api.txt, doc/device-api.txt, doc/adapter-api.txt). Method bodies are the
  dbusmock kind: Python strings run with `self` and `args`; they are one-liners that call
  into the bike model below.
- the mock side (SimulatedBike): loaded into the dbusmock process once (the `Load` method
  below imports this file there); it answers ReadValue/WriteValue/StartNotify/StopNotify/
  AcquireNotify like bluetoothd does for a remote GATT server, streams Indoor Bike Data or
  CSC Measurement at the rate the test sets, runs the FTMS control point (0x80 indications
  through PropertiesChanged on Value), and misbehaves on request.

What is modelled after BlueZ 5.66 (src/gatt-client.c, src/device.c):
- object paths hci0/dev_XX_XX_XX_XX_XX_XX/serviceXXXX/charYYYY, named by attribute handle;
- the GATT objects of a known device stay exported while it is disconnected (Cache=always);
  their use fails with org.bluez.Error.Failed "Not connected";
- Device1.Connect sets Connected, then (service discovery) ServicesResolved; a link loss
  closes every acquired notify socket (the client sees HUP) and clears Notifying, then
  ServicesResolved and Connected go false in one PropertiesChanged;
- AcquireNotify only on characteristics with the notify flag (NotifyAcquired is exported only
  there), returns a non-blocking SOCK_SEQPACKET fd and the MTU; one read is one notification;
  StartNotify on an acquired characteristic fails NotPermitted (and vice versa); the client
  closing its fd releases the acquisition (NotifyAcquired false);
- a write to the FTMS control point while its indications are off fails with ATT error
  0xfd (CCC improperly configured), as FTMS 1.0 4.16.2 requires of the bike.

Environment: the tests use /usr/bin/python3 (python3-dbusmock, python3-gi, python3-dbus).
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import time

BLUEZ = "org.bluez"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
BLUEZ_MOCK_IFACE = "org.bluez.Mock"       # the bluez5 template's AddAdapter / AddDevice
OM_IFACE = "org.freedesktop.DBus.ObjectManager"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
ADAPTER_IFACE = "org.bluez.Adapter1"
DEVICE_IFACE = "org.bluez.Device1"
SERVICE_IFACE = "org.bluez.GattService1"
CHRC_IFACE = "org.bluez.GattCharacteristic1"
BIKE_IFACE = "io.github.warmupd.Test.Bike"   # the test's remote control, on "/"

ADAPTER = "hci0"
ADAPTER_PATH = "/org/bluez/" + ADAPTER


def uuid16(short):
    return "%08x-0000-1000-8000-00805f9b34fb" % short


FTMS_SERVICE = uuid16(0x1826)
INDOOR_BIKE_DATA = uuid16(0x2AD2)
FTMS_FEATURE = uuid16(0x2ACC)
RESISTANCE_RANGE = uuid16(0x2AD6)
POWER_RANGE = uuid16(0x2AD8)
CONTROL_POINT = uuid16(0x2AD9)
MACHINE_STATUS = uuid16(0x2ADA)
TRAINING_STATUS = uuid16(0x2AD3)
CSC_SERVICE = uuid16(0x1816)
CSC_MEASUREMENT = uuid16(0x2A5B)
CSC_FEATURE = uuid16(0x2A5C)
SENSOR_LOCATION = uuid16(0x2A5D)
DEVICE_INFO_SERVICE = uuid16(0x180A)
MANUFACTURER_NAME = uuid16(0x2A29)

# Fitness Machine Feature (0x2ACC) bits used here
FEATURE_CADENCE = 1 << 1
FEATURE_RESISTANCE_LEVEL = 1 << 7
FEATURE_POWER_MEASUREMENT = 1 << 14
TARGET_RESISTANCE = 1 << 2
TARGET_POWER = 1 << 3
TARGET_SIMULATION = 1 << 13

# Control point opcodes and result codes (FTMS 1.0 4.16)
OP_REQUEST_CONTROL = 0x00
OP_RESET = 0x01
OP_SET_TARGET_RESISTANCE = 0x04
OP_SET_TARGET_POWER = 0x05
OP_START_RESUME = 0x07
OP_STOP_PAUSE = 0x08
OP_SET_SIMULATION = 0x11
OP_RESPONSE = 0x80
RESULT_SUCCESS = 0x01
RESULT_NOT_SUPPORTED = 0x02
RESULT_INVALID_PARAMETER = 0x03
RESULT_FAILED = 0x04
RESULT_NOT_PERMITTED = 0x05

# Fitness Machine Status opcodes
STATUS_RESET = 0x01
STATUS_STOPPED_BY_USER = 0x02
STATUS_STARTED_BY_USER = 0x04
STATUS_TARGET_RESISTANCE = 0x07
STATUS_TARGET_POWER = 0x08
STATUS_CONTROL_LOST = 0xFF

# What bluetoothd answers when a LE connection attempt gives up.
CONNECT_FAILED = "le-connection-abort-by-local"


# ======================================================================================
# The mock side: runs inside the dbusmock process (dbus-python, GLib main loop)
# ======================================================================================

def _gatt_layout(kind):
    """(service uuid, service handle, [(chrc uuid, decl handle, flags)]) for each service of
    the device. Handles as a real bike lays them out: declaration, value, CCC descriptor."""
    info = (DEVICE_INFO_SERVICE, 0x0010, [(MANUFACTURER_NAME, 0x0011, ["read"])])
    if kind == "ftms":
        return [info, (FTMS_SERVICE, 0x0020, [
            (FTMS_FEATURE, 0x0021, ["read"]),
            (INDOOR_BIKE_DATA, 0x0023, ["notify"]),
            (TRAINING_STATUS, 0x0026, ["read", "notify"]),
            (RESISTANCE_RANGE, 0x0029, ["read"]),
            (POWER_RANGE, 0x002b, ["read"]),
            (CONTROL_POINT, 0x002d, ["write", "indicate"]),
            (MACHINE_STATUS, 0x0030, ["notify"]),
        ])]
    if kind == "csc":
        return [info, (CSC_SERVICE, 0x0020, [
            (CSC_MEASUREMENT, 0x0021, ["notify"]),
            (CSC_FEATURE, 0x0024, ["read"]),
            (SENSOR_LOCATION, 0x0026, ["read"]),
        ])]
    raise ValueError("unknown device kind %r" % kind)


def device_path(address):
    return "%s/dev_%s" % (ADAPTER_PATH, address.replace(":", "_").upper())


def gatt_paths(kind, address):
    """{chrc uuid: object path} and [(service path, uuid)] for a device of KIND."""
    dev = device_path(address)
    chrcs, services = {}, []
    for service_uuid, handle, characteristics in _gatt_layout(kind):
        spath = "%s/service%04x" % (dev, handle)
        services.append((spath, service_uuid))
        for chrc_uuid, chandle, _ in characteristics:
            chrcs[chrc_uuid] = "%s/char%04x" % (spath, chandle)
    return chrcs, services


# Method bodies, the dbusmock way: Python strings run with `self` (the called object) and
# `args`, in dbusmock's globals (`objects`, `dbus`). They hand over to the bike model:
# BIKE is the first device (the test's remote control drives it), DEVICE_OF_PATH the one
# whose object (device, service or characteristic) was called ("/" keeps them by their
# dev_XX_XX_XX_XX_XX_XX path element).
BIKE = "objects['/'].bike"
DEVICE_OF_PATH = "objects['/'].devices[self.path.split('/')[4]]"
CHRC_METHODS = [
    ("ReadValue", "a{sv}", "ay", "ret = %s.read_value(self.path, args[0])" % DEVICE_OF_PATH),
    ("WriteValue", "aya{sv}", "", "%s.write_value(self.path, args[0], args[1])"
     % DEVICE_OF_PATH),
    ("StartNotify", "", "", "%s.start_notify(self.path)" % DEVICE_OF_PATH),
    ("StopNotify", "", "", "%s.stop_notify(self.path)" % DEVICE_OF_PATH),
    ("AcquireNotify", "a{sv}", "hq", "ret = %s.acquire_notify(self.path, args[0])"
     % DEVICE_OF_PATH),
]
# BlueZ's discovery: a filter that is checked, Discovering that follows Start/Stop (the
# template's StartDiscovery fails unless SetDiscoveryFilter came first, and its filter
# leaks into the adapter's properties).
ADAPTER_METHODS = [
    ("SetDiscoveryFilter", "a{sv}", "", (
        "bad = set(args[0]) - {'UUIDs', 'RSSI', 'Pathloss', 'Transport', "
        "'DuplicateData', 'Discoverable', 'Pattern'}\n"
        "if bad or str(args[0].get('Transport', 'auto')) not in ('auto', 'bredr', 'le'):\n"
        "    raise dbus.exceptions.DBusException('Invalid arguments in method call', "
        "name='org.bluez.Error.InvalidArguments')\n"
        "self.discovery_filter = args[0]\n")),
    ("StartDiscovery", "", "", (
        "self.UpdateProperties('org.bluez.Adapter1', {'Discovering': dbus.Boolean(True)})\n")),
    ("StopDiscovery", "", "", (
        "if not self.props['org.bluez.Adapter1']['Discovering']:\n"
        "    raise dbus.exceptions.DBusException('No discovery started', "
        "name='org.bluez.Error.Failed')\n"
        "self.UpdateProperties('org.bluez.Adapter1', {'Discovering': dbus.Boolean(False)})\n")),
]


class SimulatedBike:
    """The remote device's behaviour, driven by the mock's method calls and GLib timers.

    `root` is dbusmock's "/" object (EmitSignal for the ObjectManager), `objects` dbusmock's
    path -> DBusMockObject map. Parameters come from the test side (BluezMock); "extra"
    true: a further device (BluezMock.add_device) next to the first, on the same adapter."""

    def __init__(self, root, objects, params):
        import dbus
        from gi.repository import GLib
        self.dbus = dbus
        self.GLib = GLib
        self.root = root
        self.objects = objects
        p = {str(k): v for k, v in params.items()}
        self.kind = str(p["kind"])
        self.address = str(p["address"])
        self.name = str(p["name"])
        self.device = device_path(self.address)
        self.chrc_paths = gatt_paths(self.kind, self.address)[0] if self.kind else {}
        self.uuid_of = {path: uuid for uuid, path in self.chrc_paths.items()}
        self.mtu = int(p.get("mtu", 517))
        self.acquire_supported = bool(p.get("acquire_notify", True))
        # the simulated machine
        self.rate_hz = float(p.get("rate", 10.0))
        self.cadence = float(p.get("cadence", 0.0))
        self.power = float(p.get("power", 0.0))
        self.resistance = float(p.get("resistance", 15.0))
        self.range = tuple(float(x) for x in p.get("resistance_range", (1.0, 32.0, 1.0)))
        self.power_range = tuple(int(x) for x in p.get("power_range", (0, 1000, 1)))
        self.features = (int(p.get("machine_features", FEATURE_CADENCE | FEATURE_RESISTANCE_LEVEL
                                   | FEATURE_POWER_MEASUREMENT)),
                         int(p.get("target_features", TARGET_RESISTANCE)))
        # misbehaviour the test asks for
        self.refuse_control = 0          # answer this many Request Control with 0x05
        self.reject_uint8 = False        # Invalid Parameter for the 1-byte 0x04 form
        self.fail_operations = 0         # answer this many target requests with 0x04
        self.refuse_writes = ""          # every WriteValue fails with this BlueZ error
        self.connected_unsaid = False    # Connect never says Connected true
        self.silent = False              # never indicate a control point response
        self.fail_read = ""              # a characteristic (UUID) whose ReadValue fails
        self.fail_notify = ""            # a characteristic (UUID) whose StartNotify fails
        self.away = False                # out of range: Connect fails
        # state
        self.connected = False
        self.connected_at = 0.0          # time.monotonic() of the last Connect that succeeded
        self.in_control = False
        self.target_power = -1           # W of the last Set Target Power; -1: none (reset)
        self.acquired = {}               # chrc path -> (socket, GLib watch id)
        self.notifying = set()           # chrc paths with a StartNotify session
        self.stream_timer = 0
        self.started = time.monotonic()
        self.write_times = {}            # chrc path -> time.monotonic() of every WriteValue
        self.statuses = []               # Machine Status notifications delivered, in order
        self.crank_revs = float(p.get("crank_revs", 65530.0))   # near the u16 wrap
        self.crank_event_s = float(p.get("crank_time", 63.5))   # near the 64 s wrap
        self.last_tick = None
        self.gatt_exported = False
        # optional journal (a file path): what the bike did and when, one line each, stamped
        # with time.monotonic() (CLOCK_MONOTONIC, the same clock in every process), appended
        # to by every bluetoothd run; the fault soak's ground truth (tests/soak.py)
        self.journal = open(str(p["journal"]), "a", buffering=1) if p.get("journal") else None
        self._journal("resistance %.1f" % self.resistance)
        if not hasattr(root, "devices"):
            root.devices = {}                # dev_XX_XX_XX_XX_XX_XX -> SimulatedBike
        root.devices[self.device.split("/")[4]] = self
        self.publish(adapter=not p.get("extra", False))

    # ---- publishing (in this process: atomic for the clients) -----------------------

    def publish(self, adapter=True):
        """The adapter, and the device as a scan left it (disconnected, advertised UUIDs)."""
        if adapter:
            self.root.AddAdapter(ADAPTER, "warmupd-test")        # the bluez5 template's
            self.objects[ADAPTER_PATH].AddMethods(ADAPTER_IFACE, ADAPTER_METHODS)
        if not self.kind:
            return
        self.root.AddDevice(ADAPTER, self.address, self.name)    # the bluez5 template's
        device = self.objects[self.device]
        device.AddMethods(DEVICE_IFACE, [
            ("Connect", "", "", DEVICE_OF_PATH + ".connect()"),
            ("Disconnect", "", "", DEVICE_OF_PATH + ".disconnect()"),
        ])
        self._set_uuids(with_service=True)
        self._set(self.device, DEVICE_IFACE, {
            "Appearance": self.dbus.UInt16(0x0480 if self.kind == "ftms" else 0x0485),
            "AddressType": self.dbus.String("random")})

    def forget(self):
        """bluetoothd drops the device: it is disconnected (as a link loss) and its objects
        go, GATT ones first, each with InterfacesRemoved (what happens to a temporary device
        ~30 s after it disconnected, TemporaryTimeout)."""
        if self.connected:
            self.disconnect()
        self._remove_objects(with_device=True)
        del self.root.devices[self.device.split("/")[4]]

    def _unexport_gatt(self):
        """The GATT objects go (the device stays)."""
        self._remove_objects(with_device=False)

    def _remove_objects(self, with_device):
        """The device's GATT objects (and WITH_DEVICE the device) go, deepest first, each
        with InterfacesRemoved."""
        paths = sorted((path for path in self.objects if path.startswith(self.device + "/")
                        or (with_device and path == self.device)), key=len, reverse=True)
        for path in paths:
            ifaces = [i for i in self.objects[path].props if i.startswith("org.bluez")]
            self.root.RemoveObject(path)
            self.root.EmitSignal(OM_IFACE, "InterfacesRemoved", "oas",
                                 [self.dbus.ObjectPath(path), ifaces])
        self.gatt_exported = False

    def _service_changed(self, late_uuid=None, late_ms=-1):
        """The device sends Service Changed while connected: bluetoothd ends every
        notification session (acquired fds closed), drops the GATT objects and exports them
        again once discovered, under the same paths; Connected and ServicesResolved stay
        true, so a client sees only the objects go and come back. LATE_UUID: that
        characteristic comes back LATE_MS after the others (-1: never)."""
        for path in list(self.acquired):
            self._release_acquired(path)
        self.notifying.clear()
        self.in_control = False
        self._unexport_gatt()
        # bluetoothd's device.c updates UUIDs as each service goes and again as it is added,
        # before its objects are exported (a Device1 change while the objects are away)
        self._set_uuids(with_service=False)
        self.GLib.timeout_add(100, lambda: self._set_uuids(with_service=True)
                              or self._export_gatt(held_back=late_uuid) or False)
        if late_uuid is not None and late_ms >= 0:
            self.GLib.timeout_add(100 + late_ms,
                                  lambda: self._export_gatt(only=late_uuid) or False)

    def _set_uuids(self, with_service):
        service = FTMS_SERVICE if self.kind == "ftms" else CSC_SERVICE
        self._set(self.device, DEVICE_IFACE, {"UUIDs": self.dbus.Array(
            [uuid16(0x1800), uuid16(0x1801)] + ([service] if with_service else []),
            signature="s")})

    def _export_gatt(self, held_back=None, only=None):
        """Service discovery done: export the GATT database (kept while disconnected, as
        with BlueZ's Cache=always; gone only with bluetoothd). HELD_BACK: a characteristic
        left out (exported later, ONLY=it, or never)."""
        if self.gatt_exported and only is None:
            return
        self.gatt_exported = True
        dbus = self.dbus
        for (service_uuid, handle, characteristics), (spath, _) in zip(
                _gatt_layout(self.kind), gatt_paths(self.kind, self.address)[1]):
            if only is None:
                self.root.AddObject(spath, SERVICE_IFACE, {
                    "UUID": dbus.String(service_uuid), "Device": dbus.ObjectPath(self.device),
                    "Primary": dbus.Boolean(True), "Includes": dbus.Array([], signature="o"),
                    "Handle": dbus.UInt16(handle)}, [])
                self.root.object_manager_emit_added(spath)
            for chrc_uuid, chandle, flags in characteristics:
                if chrc_uuid == held_back or (only is not None and chrc_uuid != only):
                    continue
                cpath = self.chrc_paths[chrc_uuid]
                props = {"UUID": dbus.String(chrc_uuid), "Service": dbus.ObjectPath(spath),
                         "Value": dbus.Array([], signature="y"),
                         "Notifying": dbus.Boolean(False),
                         "Flags": dbus.Array(flags, signature="s"),
                         "Handle": dbus.UInt16(chandle + 1), "MTU": dbus.UInt16(self.mtu)}
                if "notify" in flags:   # BlueZ exports it only where AcquireNotify can work
                    props["NotifyAcquired"] = dbus.Boolean(False)
                self.root.AddObject(cpath, CHRC_IFACE, props, CHRC_METHODS)
                self.root.object_manager_emit_added(cpath)

    # ---- helpers -------------------------------------------------------------------

    def _error(self, name, message):
        return self.dbus.exceptions.DBusException(message, name="org.bluez.Error." + name)

    def _set(self, path, iface, props):
        """Update properties and emit one PropertiesChanged, like bluetoothd's gdbus."""
        self.objects[path].UpdateProperties(iface, props)

    def _bytes(self, data):
        return self.dbus.Array([self.dbus.Byte(b) for b in data], signature="y")

    def _journal(self, text):
        if self.journal is not None:
            self.journal.write("%.6f %s\n" % (time.monotonic(), text))

    def _require_connected(self):
        if not self.connected:
            raise self._error("Failed", "Not connected")

    # ---- Device1 -------------------------------------------------------------------

    def connect(self):
        if self.connected:
            raise self._error("AlreadyConnected", "Already Connected")
        if self.away:
            raise self._error("Failed", CONNECT_FAILED)
        self.connected = True
        self.connected_at = time.monotonic()
        if not self.connected_unsaid:
            self._set(self.device, DEVICE_IFACE, {"Connected": self.dbus.Boolean(True)})
        # service discovery takes a moment on a real link
        self.GLib.timeout_add(50, self._services_resolved)

    def _services_resolved(self):
        if self.connected:
            self._export_gatt()
            self._set(self.device, DEVICE_IFACE, {"ServicesResolved": self.dbus.Boolean(True)})
            self._journal("up")
            self._restart_stream()
        return False

    def disconnect(self):
        """Device1.Disconnect from a client, or the link lost (test side)."""
        if not self.connected:
            raise self._error("NotConnected", "Not Connected")
        self.connected = False
        self.in_control = False
        for path in list(self.acquired):
            self._release_acquired(path)
        for path in list(self.notifying):
            self._set(path, CHRC_IFACE, {"Notifying": self.dbus.Boolean(False)})
        self.notifying.clear()
        self._set(self.device, DEVICE_IFACE, {"ServicesResolved": self.dbus.Boolean(False),
                                              "Connected": self.dbus.Boolean(False)})
        self._journal("down")
        self._restart_stream()

    # ---- GattCharacteristic1 -------------------------------------------------------

    def read_value(self, path, options):
        self._require_connected()
        if self.uuid_of[path] == self.fail_read:
            # what bluetoothd answers when the device returns an ATT error to a read
            raise self._error("Failed", "Operation failed with ATT error: 0x0e")
        value = self._current_value(self.uuid_of[path])
        self._set(path, CHRC_IFACE, {"Value": self._bytes(value)})   # reads update the cache
        offset = int(options.get("offset", 0))
        if offset > len(value):
            raise self._error("InvalidOffset", "Invalid offset")
        return self._bytes(value[offset:])

    def _current_value(self, uuid):
        lo, hi, inc = self.range
        if uuid == FTMS_FEATURE:
            return struct.pack("<II", *self.features)
        if uuid == RESISTANCE_RANGE:
            return struct.pack("<hhH", round(lo * 10), round(hi * 10), round(inc * 10))
        if uuid == POWER_RANGE:
            return struct.pack("<hhH", *self.power_range)
        if uuid == TRAINING_STATUS:
            return bytes([0x00, 0x01])              # no string, idle
        if uuid == CSC_FEATURE:
            return struct.pack("<H", 0x0002)        # crank revolution data supported
        if uuid == SENSOR_LOCATION:
            return bytes([0x05])                    # left crank
        if uuid == MANUFACTURER_NAME:
            return b"warmupd test rig"
        raise self._error("NotPermitted", "Read not permitted")

    def write_value(self, path, value, options):
        # stamped as it happens (the call log has one entry per call, failed ones included)
        self.write_times.setdefault(path, []).append(time.monotonic())
        self._require_connected()
        uuid = self.uuid_of[path]
        if self.refuse_writes:                  # e.g. "NotPermitted: Not paired" (ATT 0x05)
            name, message = self.refuse_writes.split(": ", 1)
            raise self._error(name, message)
        if uuid != CONTROL_POINT:
            raise self._error("NotPermitted", "Write not permitted")
        if path not in self.notifying:
            raise self._error("Failed", "Operation failed with ATT error: 0xfd")
        data = bytes(int(b) for b in value)
        response = self._control_point(data)
        if response is not None and not self.silent:
            # the indication follows the write response, as on the air
            self.GLib.timeout_add(5, self._indicate, path, response)

    def _indicate(self, path, response):
        if path in self.notifying and self.connected:
            self._set(path, CHRC_IFACE, {"Value": self._bytes(response)})
        return False

    def start_notify(self, path):
        self._require_connected()
        flags = self._flags(path)
        if "notify" not in flags and "indicate" not in flags:
            raise self._error("NotSupported", "Operation is not supported")
        if path in self.acquired:
            raise self._error("NotPermitted", "Notify acquired")
        if self.uuid_of[path] == self.fail_notify:    # e.g. a bike that wants bonding first
            raise self._error("NotPermitted", "Insufficient authentication")
        if path not in self.notifying:
            self.notifying.add(path)
            self._set(path, CHRC_IFACE, {"Notifying": self.dbus.Boolean(True)})
            self._restart_stream()

    def stop_notify(self, path):
        if path not in self.notifying:
            raise self._error("Failed", "No notify session started")
        self.notifying.discard(path)
        self._set(path, CHRC_IFACE, {"Notifying": self.dbus.Boolean(False)})
        self._restart_stream()

    def acquire_notify(self, path, options):
        flags = self._flags(path)
        if "notify" not in flags or not self.acquire_supported:
            raise self._error("NotSupported", "Operation is not supported")
        self._require_connected()
        if path in self.acquired or path in self.notifying:
            raise self._error("NotPermitted", "Notify already acquired or notifying")
        ours, theirs = socket.socketpair(socket.AF_UNIX,
                                         socket.SOCK_SEQPACKET | socket.SOCK_NONBLOCK
                                         | socket.SOCK_CLOEXEC)
        watch = self.GLib.io_add_watch(ours.fileno(), self.GLib.PRIORITY_DEFAULT,
                                       self.GLib.IO_HUP | self.GLib.IO_ERR,
                                       self._on_client_closed, path)
        self.acquired[path] = (ours, watch)
        fd = self.dbus.types.UnixFd(theirs.fileno())   # dbus-python duplicates it
        theirs.close()
        self._set(path, CHRC_IFACE, {"NotifyAcquired": self.dbus.Boolean(True)})
        self._restart_stream()
        return (fd, self.dbus.UInt16(self.mtu))

    def _on_client_closed(self, fd, condition, path):
        """The client closed its notify fd: notifications off, acquisition released."""
        if path in self.acquired and self.acquired[path][0].fileno() == fd:
            self.acquired[path] = (self.acquired[path][0], 0)   # the watch ends now
            self._release_acquired(path)
        return False

    def _release_acquired(self, path):
        sock, watch = self.acquired.pop(path)
        if watch:
            self.GLib.source_remove(watch)
        sock.close()                         # the client's fd sees HUP
        self._set(path, CHRC_IFACE, {"NotifyAcquired": self.dbus.Boolean(False)})
        self._restart_stream()

    def _flags(self, path):
        return [str(f) for f in self.objects[path].props[CHRC_IFACE]["Flags"]]

    # ---- notifications -------------------------------------------------------------

    def notify(self, uuid, data):
        """Deliver one notification the way the client subscribed: the acquired socket
        (one datagram, dropped if the client does not read) or PropertiesChanged on Value.
        Returns True if someone received it."""
        path = self.chrc_paths.get(uuid)
        if path is None or not self.connected:
            return False
        if path in self.acquired:
            try:
                self.acquired[path][0].send(bytes(data))
            except OSError:                  # full (EAGAIN) or closed: dropped, like BlueZ
                return False
        elif path in self.notifying:
            self._set(path, CHRC_IFACE, {"Value": self._bytes(data)})
        else:
            return False
        if uuid == MACHINE_STATUS:
            self.statuses.append(bytes(data))
        return True

    def subscribed(self, uuid):
        path = self.chrc_paths.get(uuid)
        return path in self.acquired or path in self.notifying

    def _stream_uuid(self):
        return INDOOR_BIKE_DATA if self.kind == "ftms" else CSC_MEASUREMENT

    def _restart_stream(self):
        if self.stream_timer:
            self.GLib.source_remove(self.stream_timer)
            self.stream_timer = 0
        if self.connected and self.rate_hz > 0 and self.subscribed(self._stream_uuid()):
            self.stream_timer = self.GLib.timeout_add(max(1, round(1000 / self.rate_hz)),
                                                      self._stream_tick)

    def _stream_tick(self):
        now = time.monotonic()
        if self.kind == "ftms":
            delivered = self.notify(INDOOR_BIKE_DATA, self.indoor_bike_data())
            self._journal("data %.1f %d" % (self.cadence, delivered))
        else:
            self._advance_crank(now)
            self.notify(CSC_MEASUREMENT, self.csc_measurement())
        self.last_tick = now
        return True

    def indoor_bike_data(self):
        """Speed, cadence, resistance and power: flags 0x0064 (bit 0 clear: speed present)."""
        flags = (1 << 2) | (1 << 5) | (1 << 6)
        speed = self.cadence * 0.35                      # km/h, a plausible flywheel ratio
        return struct.pack("<HHHhh", flags, round(speed * 100), round(self.cadence * 2),
                           int(self.resistance), round(self.power))

    def _advance_crank(self, now):
        if self.last_tick is None:
            self.crank_event_s = self._sensor_clock(now)   # the revolution just seen
            return
        if self.cadence <= 0:
            return
        revs_per_s = self.cadence / 60.0
        before = self.crank_revs
        self.crank_revs += revs_per_s * (now - self.last_tick)
        if int(self.crank_revs) > int(before):
            # the time of the last whole revolution, on the sensor's clock
            since_event = (self.crank_revs - int(self.crank_revs)) / revs_per_s
            self.crank_event_s = self._sensor_clock(now) - since_event

    def _sensor_clock(self, now):
        return 63.5 + (now - self.started)

    def csc_measurement(self):
        """Crank revolution data only (flags 0x02): u16 revolutions, u16 time (1/1024 s)."""
        return struct.pack("<BHH", 0x02, int(self.crank_revs) & 0xFFFF,
                           round(self.crank_event_s * 1024) & 0xFFFF)

    # ---- the FTMS control point ----------------------------------------------------

    def _control_point(self, data):
        """Carry out one request; returns the indication to send (or None)."""
        if not data:
            return None
        op = data[0]
        result = self._control_result(op, data[1:])
        return bytes([OP_RESPONSE, op, result])

    def _control_result(self, op, param):
        if op == OP_REQUEST_CONTROL:
            if self.refuse_control > 0:
                self.refuse_control -= 1
                return RESULT_NOT_PERMITTED
            self.in_control = True
            return RESULT_SUCCESS
        if op not in (OP_RESET, OP_SET_TARGET_RESISTANCE, OP_SET_TARGET_POWER, OP_START_RESUME,
                      OP_STOP_PAUSE, OP_SET_SIMULATION):
            return RESULT_NOT_SUPPORTED
        if not self.in_control:
            return RESULT_NOT_PERMITTED
        if op == OP_RESET:
            self.in_control = False       # a reset hands control back
            self.target_power = -1        # and drops the target
            self.GLib.timeout_add(10, self._status_later, bytes([STATUS_RESET]))
            return RESULT_SUCCESS
        if op == OP_SET_TARGET_RESISTANCE:
            return self._set_target_resistance(param)
        if op == OP_SET_TARGET_POWER:
            if not self.features[1] & TARGET_POWER or len(param) != 2:
                return RESULT_NOT_SUPPORTED if len(param) == 2 else RESULT_INVALID_PARAMETER
            self.target_power = struct.unpack("<h", param)[0]
            return RESULT_SUCCESS
        if op == OP_SET_SIMULATION:
            if not self.features[1] & TARGET_SIMULATION:
                return RESULT_NOT_SUPPORTED
            return RESULT_SUCCESS if len(param) == 6 else RESULT_INVALID_PARAMETER
        if op == OP_STOP_PAUSE and (len(param) != 1 or param[0] not in (1, 2)):
            return RESULT_INVALID_PARAMETER
        return RESULT_SUCCESS

    def _set_target_resistance(self, param):
        if not self.features[1] & TARGET_RESISTANCE:
            return RESULT_NOT_SUPPORTED
        if len(param) == 1:                       # UINT8, 0.1 (the spec's form)
            if self.reject_uint8:
                return RESULT_INVALID_PARAMETER
            level = param[0] / 10.0
        elif len(param) == 2:                     # SINT16, 0.1 (what some bikes want)
            level = struct.unpack("<h", param)[0] / 10.0
        else:
            return RESULT_INVALID_PARAMETER
        lo, hi, _ = self.range
        if not lo <= level <= hi:
            return RESULT_INVALID_PARAMETER
        if self.fail_operations > 0:
            self.fail_operations -= 1
            return RESULT_FAILED
        self.resistance = level
        self._journal("resistance %.1f" % level)
        # a real bike confirms the new target on the status characteristic too
        self.GLib.timeout_add(10, self._status_later, self.target_resistance_status(level))
        return RESULT_SUCCESS

    def target_resistance_status(self, level):
        return bytes([STATUS_TARGET_RESISTANCE, max(0, min(255, round(level * 10)))])

    def _status_later(self, data):
        self.notify(MACHINE_STATUS, data)
        return False

    # ---- the test's remote control -------------------------------------------------

    def control(self, what, value):
        """One knob of the simulation: see BluezMock for their meaning."""
        if what == "pedal":
            self.cadence, self.power = float(value[0]), float(value[1])
        elif what == "rate":
            self.rate_hz = float(value)
            self._restart_stream()
        elif what == "refuse_control":
            self.refuse_control = int(value)
        elif what == "reject_uint8":
            self.reject_uint8 = bool(value)
        elif what == "fail_operations":
            self.fail_operations = int(value)
        elif what == "silent":
            self.silent = bool(value)
        elif what == "fail_read":
            self.fail_read = str(value)
        elif what == "fail_notify":
            self.fail_notify = str(value)
        elif what == "knob":              # the rider turns the knob (value: level, announce)
            self.resistance = float(value[0])
            self._journal("resistance %.1f" % self.resistance)
            if value[1]:
                self.notify(MACHINE_STATUS, self.target_resistance_status(self.resistance))
        elif what == "control_lost":      # another app took control
            self.in_control = False
            self.notify(MACHINE_STATUS, bytes([STATUS_CONTROL_LOST]))
        elif what == "lose_link":
            self.away = True
            if self.connected:
                self.disconnect()
        elif what == "come_back":
            self.away = False
        elif what == "service_changed":
            self._service_changed()
        elif what == "service_changed_late":   # value: (uuid, ms; -1: it never comes back)
            self._service_changed(str(value[0]), int(value[1]))
        elif what == "close_notify_fds":        # acquired fds closed, nothing else happens
            for path in list(self.acquired):
                self._release_acquired(path)
        elif what == "connected_unsaid":        # bluetoothd 5.66 on a first LE connection:
            self.connected_unsaid = bool(value)  # connected, Connected never said true
        elif what == "refuse_writes":           # value: "Name: message", "" to stop
            self.refuse_writes = str(value)
        else:
            raise self.dbus.exceptions.DBusException("unknown control %r" % what,
                                                     name="org.freedesktop.DBus.Error.InvalidArgs")

    def written_at(self, uuid):
        return self.dbus.Array(self.write_times.get(self.chrc_paths.get(str(uuid)), []),
                               signature="d")

    def state(self):
        return {"connected": self.dbus.Boolean(self.connected),
                "in_control": self.dbus.Boolean(self.in_control),
                "target_power": self.dbus.Int32(self.target_power),
                "connected_at": self.dbus.Double(self.connected_at),
                "resistance": self.dbus.Double(self.resistance),
                "acquired": self.dbus.Array(sorted(self.uuid_of[p] for p in self.acquired),
                                            signature="s"),
                "notifying": self.dbus.Array(sorted(self.uuid_of[p] for p in self.notifying),
                                             signature="s"),
                "statuses": self.dbus.Array([self._bytes(s) for s in self.statuses],
                                            signature="ay")}


# ======================================================================================
# The test side
# ======================================================================================

# Loads this file into the dbusmock process and makes the bike model ("/" keeps it).
LOAD_CODE = (
    "import importlib.util\n"
    "spec = importlib.util.spec_from_file_location('bluez_mock_in_mock', args[0])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "self.bike = module.SimulatedBike(self, objects, args[1])\n")

# Further devices, made and driven by address (the first device's class: one module).
EXTRA_DEVICE = "objects['/'].devices['dev_' + args[0].replace(':', '_').upper()]"
EXTRA_DEVICE_METHODS = [
    ("AddSimDevice", "a{sv}", "", "type(self.bike)(self, objects, args[0])"),
    ("ControlDevice", "ssv", "", EXTRA_DEVICE + ".control(args[1], args[2])"),
    ("DeviceState", "s", "a{sv}", "ret = " + EXTRA_DEVICE + ".state()"),
    ("ForgetDevice", "s", "", EXTRA_DEVICE + ".forget()"),
    # forgotten and found again at once: both signals reach a client before it looks
    ("ForgetAndAddDevice", "sa{sv}", "",
     EXTRA_DEVICE + ".forget(); type(self.bike)(self, objects, args[1])"),
]

SYSTEM_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:tmpdir=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""

PYTHON = "/usr/bin/python3"     # Debian's: the one with dbus, dbusmock and gi


def missing_tools():
    """Why the fixture cannot run here, or None."""
    if not os.access(PYTHON, os.X_OK):
        return PYTHON + " is missing"
    probe = subprocess.run([PYTHON, "-c", "import dbusmock, dbus, gi"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        return "python3-dbusmock / python3-dbus / python3-gi are not installed"
    return None


def _gio():
    import gi
    gi.require_version("Gio", "2.0")
    gi.require_version("GLib", "2.0")
    from gi.repository import Gio, GLib
    return Gio, GLib


def _wait(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


class SystemBus:
    """A dbus-daemon of type system, ours alone (allow-all policy)."""

    def __init__(self, tmpdir):
        Gio, _ = _gio()
        self.config = os.path.join(tmpdir, "system-bus.conf")
        with open(self.config, "w") as f:
            f.write(SYSTEM_BUS_CONFIG % tmpdir)
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--config-file=" + self.config, "--nofork", "--nopidfile",
             "--print-address=1"], stdout=subprocess.PIPE,
            stderr=open(os.path.join(tmpdir, "system-bus.log"), "w"), universal_newlines=True,
            start_new_session=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            self.proc.kill()
            raise RuntimeError("the system dbus-daemon did not print its address")
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def has_owner(self, name):
        _, GLib = _gio()
        reply = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "NameHasOwner",
                                    GLib.Variant("(s)", (name,)), None, 0, -1, None)
        return reply.unpack()[0]

    def close(self):
        try:
            self.conn.close_sync(None)
        except Exception:       # noqa: BLE001 - closing a dead bus is fine
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class BluezMock:
    """bluetoothd with one adapter (hci0) and, unless kind is None, one device:

    kind "ftms": a smart bike (Fitness Machine Service) named SimBike;
    kind "csc": a crank cadence sensor (Cycling Speed and Cadence) named SimCadence.

    notify "acquire" offers AcquireNotify (real BlueZ); "start" makes AcquireNotify fail
    NotSupported so the client must fall back to StartNotify + PropertiesChanged on Value.
    Other keyword arguments set the simulated machine (see SimulatedBike.__init__):
    rate (Hz), cadence (rpm), power (W), resistance (level), resistance_range
    (min, max, increment), power_range, machine_features, target_features, mtu; journal (a
    file the bike appends what it did to: "T data CADENCE DELIVERED", "T resistance LEVEL",
    "T up", "T down", T on time.monotonic(); used by tests/soak.py)."""

    def __init__(self, tmpdir, kind="ftms", address=None, name=None, notify="acquire",
                 timeout=30.0, **machine):
        self.tmpdir = tmpdir
        self.kind = kind
        self.address = address or ("C0:FF:EE:00:18:26" if kind != "csc" else "C0:FF:EE:00:18:16")
        self.name = name or ("SimBike" if kind != "csc" else "SimCadence")
        self.notify_mode = notify
        self.timeout = timeout
        self.machine = machine
        self.device = device_path(self.address)
        self.chrcs = gatt_paths(kind, self.address)[0] if kind else {}
        self.log_path = os.path.join(tmpdir, "bluez-mock.log")
        self.bus = SystemBus(tmpdir)
        self.proc = None
        self.runs = 0
        self._earlier_calls = {}       # (path, method) -> calls of earlier mock processes
        self._earlier_write_times = {}  # uuid -> written_at() of earlier mock processes
        self._controls = dict(machine)

    # ---- process -------------------------------------------------------------------

    def env(self, base=None):
        env = dict(os.environ if base is None else base)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus.address
        return env

    def start(self):
        """Start bluetoothd (again): the org.bluez name appears with the adapter, the device
        (disconnected) and its cached GATT database."""
        Gio, GLib = _gio()
        self.runs += 1
        log = open(self.log_path, "a")
        log.write("=== bluetoothd mock run %d\n" % self.runs)
        log.flush()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "dbusmock", "--system", "-t", "bluez5", "-l", self.log_path + ".calls"],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)     # a Ctrl-C meant for the test does not reach it
        log.close()
        _wait(lambda: self.proc.poll() is not None or self.bus.has_owner(BLUEZ), self.timeout,
              "the bluez mock to own org.bluez")
        if self.proc.poll() is not None:
            raise AssertionError("the bluez mock exited (%s):\n%s" % (self.proc.returncode,
                                                                      self.log()))
        self._build()
        return self

    def stop(self):
        """bluetoothd goes away: org.bluez vanishes, every fd it held closes (HUP)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:  # keep its call log, and the bike's resistance
            for key in list(self._remembered_keys()):
                self._earlier_calls[key] = self.calls(*key)
            if self.kind is not None:
                for uuid in self.chrcs:
                    self._earlier_write_times[uuid] = self.written_at(uuid)
                self.machine["resistance"] = float(self.state()["resistance"])
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        _wait(lambda: not self.bus.has_owner(BLUEZ), self.timeout, "org.bluez to vanish")

    def restart(self):
        self.stop()
        return self.start()

    def close(self):
        self.stop()
        self.bus.close()

    def log(self):
        text = ""
        for path in (self.log_path, self.log_path + ".calls"):
            try:
                with open(path, errors="replace") as f:
                    text += "--- %s\n%s" % (os.path.basename(path), f.read())
            except OSError:
                pass
        return text

    # ---- D-Bus plumbing ------------------------------------------------------------

    def _call(self, path, iface, method, signature=None, args=None, reply=None):
        Gio, GLib = _gio()
        params = GLib.Variant(signature, args) if signature else None
        result = self.bus.conn.call_sync(BLUEZ, path, iface, method, params,
                                         GLib.VariantType(reply) if reply else None,
                                         Gio.DBusCallFlags.NO_AUTO_START, 10000, None)
        return result.unpack() if result is not None else None

    def _mock(self, path, method, signature=None, args=None, reply=None):
        return self._call(path, MOCK_IFACE, method, signature, args, reply)

    def _add_methods(self, path, iface, methods):
        self._mock(path, "AddMethods", "(sa(ssss))", (iface, methods))

    # ---- building the objects ------------------------------------------------------

    def _build(self):
        """Load the bike model into the mock, then let it publish the adapter and the
        device in one call: nothing can reach a half-built object (warmupd reacts to
        InterfacesAdded within milliseconds)."""
        _, GLib = _gio()
        self._mock("/", "AddMethod", "(sssss)", (BIKE_IFACE, "Load", "sa{sv}", "", LOAD_CODE))
        self._add_methods("/", BIKE_IFACE, [
            ("Control", "sv", "", BIKE + ".control(args[0], args[1])"),
            ("Notify", "say", "", BIKE + ".notify(args[0], args[1])"),
            ("State", "", "a{sv}", "ret = " + BIKE + ".state()"),
            ("WrittenAt", "s", "ad", "ret = " + BIKE + ".written_at(args[0])"),
        ] + EXTRA_DEVICE_METHODS)
        params = {"kind": GLib.Variant("s", self.kind or ""),
                  "address": GLib.Variant("s", self.address),
                  "name": GLib.Variant("s", self.name),
                  "acquire_notify": GLib.Variant("b", self.notify_mode == "acquire")}
        for key, value in self.machine.items():
            params[key] = _variant(value)
        self._call("/", BIKE_IFACE, "Load", "(sa{sv})", (os.path.abspath(__file__), params))
        # carry the test's earlier knobs over a bluetoothd restart (they are the bike's)
        for what, value in list(self._controls.items()):
            if what in ("pedal", "rate", "refuse_control", "reject_uint8", "fail_operations",
                        "silent", "fail_read", "fail_notify"):
                self.control(what, value)

    def add_device(self, kind, address, name=None, notify="acquire", **machine):
        """A further device on hci0 next to the first (kind "ftms" or "csc"), published at
        once; returns its MockDevice. It does not survive a restart of this bluetoothd."""
        params = _device_params(kind, address, name, notify, machine)
        self._call("/", BIKE_IFACE, "AddSimDevice", "(a{sv})", (params,))
        return MockDevice(self, kind, address)

    # ---- driving the device --------------------------------------------------------

    def control(self, what, value):
        self._controls[what] = value
        self._call("/", BIKE_IFACE, "Control", "(sv)", (what, _variant(value)))

    def pedal(self, cadence, power=None):
        """Set the rider's cadence (rpm) and power (W); the next samples carry them."""
        if power is None:
            power = round(cadence * 1.4)
        self.control("pedal", (float(cadence), float(power)))

    def set_rate(self, hz):
        self.control("rate", float(hz))

    def refuse_control(self, times):
        """Answer the next TIMES Request Control with Control Not Permitted (0x05)."""
        self.control("refuse_control", int(times))

    def reject_uint8(self, reject=True):
        """Answer the 1-byte (UINT8) Set Target Resistance with Invalid Parameter (0x03)."""
        self.control("reject_uint8", bool(reject))

    def fail_read(self, uuid):
        """Make every ReadValue of the characteristic UUID fail (\"\" for none)."""
        self.control("fail_read", str(uuid))

    def fail_notify(self, uuid):
        """Make every StartNotify of the characteristic UUID fail NotPermitted (\"\" for none)."""
        self.control("fail_notify", str(uuid))

    def fail_operations(self, times):
        """Answer the next TIMES Set Target Resistance with Operation Failed (0x04)."""
        self.control("fail_operations", int(times))

    def turn_knob(self, level, announce=True):
        """The rider (or another app) sets the resistance; announce: status 0x07 with it."""
        self.control("knob", (float(level), bool(announce)))

    def lose_control(self):
        """Another client took over: status 0xFF Control Permission Lost."""
        self.control("control_lost", True)

    def lose_link(self):
        """The bike goes out of range: HUP on notify fds, Connected false; reconnecting
        fails (le-connection-abort-by-local) until come_back()."""
        self.control("lose_link", True)

    def come_back(self):
        self.control("come_back", True)

    def service_changed(self):
        """Service Changed while connected: the GATT objects go and come back (100 ms later),
        every notification session ended, control lost; the link stays up."""
        self.control("service_changed", True)

    def service_changed_late(self, uuid, ms):
        """service_changed(), but the characteristic UUID comes back MS after the others
        (-1: it never does)."""
        self.control("service_changed_late", (str(uuid), int(ms)))

    def close_notify_fds(self):
        """Every acquired notification fd closed (HUP), nothing else: no object goes, the
        link stays up."""
        self.control("close_notify_fds", True)

    def connected_unsaid(self):
        """From the next Connect on, Connected is never said true (the link works, the
        services resolve): bluetoothd 5.66 on a first LE connection ("Device ... is already
        connected"). A disconnect still says it false."""
        self.control("connected_unsaid", True)

    def refuse_writes(self, error):
        """Every WriteValue fails with ERROR, "Name: message" (e.g. "NotPermitted: Not
        paired", BlueZ's answer for a device that wants bonding); "" to stop."""
        self.control("refuse_writes", str(error))

    def advertise(self, *services):
        """The device's UUIDs become these 16-bit services (what a scan or a service
        discovery showed), in one PropertiesChanged."""
        _, GLib = _gio()
        self._mock(self.device, "UpdateProperties", "(sa{sv})", (DEVICE_IFACE, {
            "UUIDs": GLib.Variant("as", [uuid16(s) for s in services])}))

    def device_property(self, name):
        """The Device1 property NAME as bluetoothd (the mock) exports it."""
        return self._call(self.device, "org.freedesktop.DBus.Properties", "Get", "(ss)",
                          (DEVICE_IFACE, name), "(v)")[0]

    def send_notification(self, uuid, data):
        """Raw bytes on a notifying characteristic (e.g. garbage)."""
        self._call("/", BIKE_IFACE, "Notify", "(say)", (uuid, bytes(data)))

    def send_status(self, data):
        self.send_notification(MACHINE_STATUS, data)

    def state(self):
        """connected, connected_at (time.monotonic() of the last Connect), in_control,
        target_power (W; -1: none since the last reset), resistance, acquired / notifying
        (uuids), statuses (every Machine Status notification delivered to the client, the
        bike's own and send_status()'s, oldest first, as bytes; this bluetoothd run)."""
        return _state(self._call("/", BIKE_IFACE, "State", reply="(a{sv})")[0])

    # ---- the call log --------------------------------------------------------------

    def _remembered_keys(self):
        if self.kind is None:
            return [(ADAPTER_PATH, m) for m in ("SetDiscoveryFilter", "StartDiscovery")]
        keys = [(self.device, "Connect"), (self.device, "Disconnect"),
                (ADAPTER_PATH, "SetDiscoveryFilter"), (ADAPTER_PATH, "StartDiscovery")]
        for path in self.chrcs.values():
            keys += [(path, m) for m in ("WriteValue", "ReadValue", "StartNotify", "StopNotify",
                                         "AcquireNotify")]
        return keys

    def fail_get_managed_objects(self, count):
        """bluetoothd busy: its next COUNT GetManagedObjects calls fail (org.bluez.Error.
        Failed) while it keeps its name; then it answers as dbusmock does."""
        code = ("self.om_failures_left = getattr(self, 'om_failures_left', %d)\n"
                "if self.om_failures_left > 0:\n"
                "    self.om_failures_left -= 1\n"
                "    raise dbus.exceptions.DBusException('busy', name='org.bluez.Error.Failed')\n"
                "ret = {dbus.ObjectPath(k): objects[k].props for k in objects.keys()"
                " if k.startswith('/') and k != '/'}" % count)
        self._mock("/", "AddMethod", "(sssss)",
                   (OM_IFACE, "GetManagedObjects", "", "a{oa{sa{sv}}}", code))

    def calls(self, path, method):
        """Arguments of every call of METHOD on PATH, oldest first, over every bluetoothd
        run (dbusmock's call log)."""
        earlier = list(self._earlier_calls.get((path, method), []))
        if self.proc is None:
            return earlier
        _, GLib = _gio()
        try:
            rows = self._mock(path, "GetMethodCalls", "(s)", (method,), "(a(tav))")[0]
        except GLib.Error as e:
            if "UnknownObject" not in e.message:   # not exported (yet): never called
                raise
            rows = []
        return earlier + [list(args) for _, args in rows]

    def written_at(self, uuid=CONTROL_POINT):
        """When each write to a characteristic happened (time.monotonic() in the mock as it
        handled the WriteValue; one per entry of writes(), oldest first), over every
        bluetoothd run."""
        earlier = list(self._earlier_write_times.get(uuid, []))
        if self.proc is None:
            return earlier
        return earlier + list(self._call("/", BIKE_IFACE, "WrittenAt", "(s)", (uuid,),
                                         reply="(ad)")[0])

    def writes(self, uuid=CONTROL_POINT):
        """What was written to a characteristic (the control point by default), as bytes."""
        return [bytes(args[0]) for args in self.calls(self.chrcs[uuid], "WriteValue")]

    def opcodes(self):
        return [w[0] for w in self.writes() if w]


class MockDevice:
    """A further device of a BluezMock (BluezMock.add_device), driven by its address."""

    def __init__(self, mock, kind, address):
        self.mock = mock
        self.kind = kind
        self.address = address
        self.device = device_path(address)
        self.chrcs = gatt_paths(kind, address)[0]

    def control(self, what, value):
        """As BluezMock.control: "pedal", "rate", "lose_link", "come_back" ..."""
        self.mock._call("/", BIKE_IFACE, "ControlDevice", "(ssv)",
                        (self.address, what, _variant(value)))

    def pedal(self, cadence, power=None):
        self.control("pedal", (float(cadence), float(round(cadence * 1.4) if power is None
                                                     else power)))

    def lose_link(self):
        self.control("lose_link", True)

    def come_back(self):
        self.control("come_back", True)

    def forget(self):
        """bluetoothd drops the device (disconnected first if it was connected)."""
        self.mock._call("/", BIKE_IFACE, "ForgetDevice", "(s)", (self.address,))

    def forget_and_find_again(self, name=None, notify="acquire", **machine):
        """Forgotten, and found again by discovery in the same instant (a fresh device of
        the same kind and address: Connect works again); returns its MockDevice."""
        params = _device_params(self.kind, self.address, name, notify, machine)
        self.mock._call("/", BIKE_IFACE, "ForgetAndAddDevice", "(sa{sv})",
                        (self.address, params))
        return MockDevice(self.mock, self.kind, self.address)

    def advertise(self, *services):
        _, GLib = _gio()
        self.mock._mock(self.device, "UpdateProperties", "(sa{sv})", (DEVICE_IFACE, {
            "UUIDs": GLib.Variant("as", [uuid16(s) for s in services])}))

    def state(self):
        return _state(self.mock._call("/", BIKE_IFACE, "DeviceState", "(s)", (self.address,),
                                      "(a{sv})")[0])

    def calls(self, method, path=None):
        """Calls of METHOD on the device (or on PATH), in this bluetoothd run."""
        return self.mock.calls(path or self.device, method)


class BikeFixtureMixin:
    """For a wutest.WarmupdTestCase: a BluezMock per test, warmupd pointed at its system
    bus, the mock's logs among the diagnostics of a failed test, helpers to find warmupd's
    Sensor1 objects by Kind and to follow the control point writes with the time the bike got
    them.
    Use as `class T(BikeFixtureMixin, wutest.WarmupdTestCase)`."""

    SENSORS_PATH = "/io/github/warmupd"

    def setUp(self):
        super().setUp()
        self.bike = None
        self._seen_writes = []         # (monotonic time the bike got it, bytes)

    def tearDown(self):
        try:
            if self.bike is not None:
                self.diagnostics.append("--- simulated bluetoothd (%s) ---\n%s"
                                        % (self.bike.kind, self.bike.log()))
            super().tearDown()         # SIGTERMs warmupd while bluetoothd is still there
        finally:
            if self.bike is not None:
                self.bike.close()

    def start_bike(self, kind="ftms", **kw):
        self.bike = BluezMock(self.tmpdir, kind=kind, **kw).start()
        session_env = self.bus.env
        # warmupd owns its name on the test's session bus and talks to BlueZ on ours
        self.bus.env = lambda: self.bike.env(session_env())
        return self.bike

    # ---- warmupd's view ------------------------------------------------------------

    def sensors(self, kind=None):
        """{path: Sensor1 properties} of warmupd's sensors (of KIND)."""
        from wutest import OM_IFACE as OM, SENSOR_IFACE
        managed = self.call(self.SENSORS_PATH, OM, "GetManagedObjects", None,
                            "(a{oa{sa{sv}}})")[0]
        return {path: ifaces[SENSOR_IFACE] for path, ifaces in managed.items()
                if SENSOR_IFACE in ifaces
                and (kind is None or ifaces[SENSOR_IFACE].get("Kind") == kind)}

    def wait(self, condition, what, detail=None, timeout=None):
        """wutest.wait_for, whose failure also tells DETAIL() (the state at the deadline)."""
        from wutest import wait_for
        try:
            return wait_for(condition, timeout, what)
        except AssertionError as e:
            raise AssertionError("%s; %s" % (e, detail() if detail else "")) from None

    def wait_notifications(self, path, count, what, unless=None):
        """Wait until warmupd has handled COUNT more notifications of the device behind its
        Sensor1 PATH than it had at the call (Sensor1 Events): a window measured in what
        warmupd processed, not in wall time, for "nothing came of it" checks. A notification
        already handed to warmupd at the call (the mock's send returned) is read by then:
        each characteristic has its own fd, all at the same priority, so the main loop reads
        it in the pass that reads a later one, or the next; Events is published a pass late.
        COUNT of 5 or more leaves room for both. UNLESS: a condition that also ends the wait
        (the link dropped: no more would come), so that the test's own check can tell what
        went wrong. WHAT names the window in a timeout."""
        def events():
            return self.sensors().get(path, {}).get("Events", 0)
        target = events() + count
        self.wait(lambda: (unless is not None and unless()) or events() >= target,
                  "warmupd to handle %d more notifications (%s)" % (count, what),
                  lambda: "Sensor1 %s: %r" % (path, self.sensors().get(path)))

    def wait_sensor(self, kind, timeout=None, **expect):
        """Wait for a Sensor1 of KIND whose properties include EXPECT; returns (path, props)."""
        def found():
            for path, props in self.sensors(kind).items():
                if all(props.get(k) == v for k, v in expect.items()):
                    return path, props
            return None
        return self.wait(found, "a Sensor1 with Kind %r and %r" % (kind, expect),
                         lambda: "warmupd's sensors: %r" % self.sensors(), timeout)

    # ---- the control point, as the bike saw it -------------------------------------

    def poll_writes(self):
        """Every control point write so far as (time.monotonic() when the bike got it, bytes).
        The stamps are read after the call log, so there is one for every write read."""
        writes = self.bike.writes()
        stamps = self.bike.written_at()
        for i in range(len(self._seen_writes), len(writes)):
            self._seen_writes.append((stamps[i], writes[i]))
        return self._seen_writes

    def wait_write(self, wanted, after=0, timeout=None):
        """Wait for a control point write equal to WANTED (bytes) at index >= AFTER;
        returns its index."""
        def seen():
            for i, (_, w) in enumerate(self.poll_writes()):
                if i >= after and w == wanted:
                    return i + 1          # never 0: wait_for wants a true value
            return None
        index = self.wait(seen, "warmupd to write %s to the control point (write #%d or later)"
                          % (wanted.hex(), after),
                          lambda: "it wrote: %s" % self.write_log(), timeout)
        return index - 1

    def write_log(self):
        return [w.hex() for _, w in self.poll_writes()]


def _state(state):
    """A device's state() as the test side reads it: statuses as bytes."""
    state["statuses"] = [bytes(s) for s in state["statuses"]]
    return state


def _device_params(kind, address, name, notify, machine):
    """AddSimDevice's parameters for a further device."""
    _, GLib = _gio()
    params = {"kind": GLib.Variant("s", kind), "address": GLib.Variant("s", address),
              "name": GLib.Variant("s", name or "Sim" + kind.upper()),
              "acquire_notify": GLib.Variant("b", notify == "acquire"),
              "extra": GLib.Variant("b", True)}
    for key, value in machine.items():
        params[key] = _variant(value)
    return params


def _variant(value):
    _, GLib = _gio()
    if isinstance(value, GLib.Variant):
        return value
    if isinstance(value, bool):
        return GLib.Variant("b", value)
    if isinstance(value, int):
        return GLib.Variant("x", value)
    if isinstance(value, float):
        return GLib.Variant("d", value)
    if isinstance(value, str):
        return GLib.Variant("s", value)
    if isinstance(value, (bytes, bytearray)):
        return GLib.Variant("ay", bytes(value))
    if isinstance(value, (tuple, list)):
        return GLib.Variant("av", [_variant(v) for v in value])
    raise TypeError("cannot send %r" % (value,))


if __name__ == "__main__":   # pragma: no cover - a manual check: python3 bluez_mock.py
    import tempfile
    tmp = tempfile.mkdtemp(prefix="bluez-mock-")
    mock = BluezMock(tmp).start()
    print("DBUS_SYSTEM_BUS_ADDRESS=%s" % mock.bus.address)
    print("device %s; log %s; Ctrl-C ends" % (mock.device, mock.log_path))
    sys.stdout.flush()
    try:
        mock.pedal(75)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        mock.close()
