#!/usr/bin/python3
"""A Bluetooth LE smart bike (FTMS, 0x1826) or cadence sensor (CSC, 0x1816) for the real
BlueZ system test (tests/vm/test-real-bluez.sh): a GATT server registered with the real
bluetoothd through org.bluez.GattManager1, advertised through LEAdvertisingManager1, on one
adapter (the second btvirt controller), so a central on the other adapter sees it over a
real (virtual) LE link.

    ftms-peripheral.py [--kind ftms|csc] [--adapter hci1] [--name NAME] [--log FILE]
                       [--cadence RPM] [--power W] [--rate HZ] [--ready FILE]

FTMS: Fitness Machine Feature (read), Indoor Bike Data (notify; speed, cadence, resistance,
power), Training Status (read, notify), Supported Resistance Level Range and Supported Power
Range (read), Fitness Machine Control Point (write, indicate; every request answered with a
0x80 indication: Request Control, Reset, Set Target Resistance as UINT8 or SINT16 in 0.1,
Set Target Power, Start/Resume, Stop/Pause, Indoor Bike Simulation) and Fitness Machine
Status (notify: 0x07 on a new resistance target, 0x01 on reset). A write to the control
point while its indications are off is refused (FTMS 4.16.2) and logged.
CSC: CSC Measurement (notify; crank revolutions and last event time), CSC Feature and
Sensor Location (read).

Signals: SIGUSR1 drops the link and goes out of range (advertising stops and every
connected central is disconnected); SIGUSR2 comes back (advertising again). SIGTERM ends.
bluetoothd going away and coming back is followed: the application and the advertisement
are registered again.

The log (--log, line-buffered) is the test's ground truth, one event a line:
  registered / advertising / away / back / bluetoothd-gone
  read <uuid16> / notify-on <uuid16> / notify-off <uuid16>
  write <hex> from <address> mtu <n>
  control <op-hex> result <result-hex> [detail]
  resistance <level> / refused-write <hex> (indications off)
  connected <address> / disconnected <address>
"""

import argparse
import signal
import struct
import sys
import time

import dbus
import dbus.exceptions
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

BLUEZ = "org.bluez"
OM = "org.freedesktop.DBus.ObjectManager"
PROPS = "org.freedesktop.DBus.Properties"
GATT_MANAGER = "org.bluez.GattManager1"
ADV_MANAGER = "org.bluez.LEAdvertisingManager1"
SERVICE_IFACE = "org.bluez.GattService1"
CHRC_IFACE = "org.bluez.GattCharacteristic1"
ADV_IFACE = "org.bluez.LEAdvertisement1"
ADAPTER_IFACE = "org.bluez.Adapter1"
DEVICE_IFACE = "org.bluez.Device1"
APP_PATH = "/io/github/warmupd/test/peripheral"
ADV_PATH = APP_PATH + "/advertisement"


def uuid16(short):
    return "%08x-0000-1000-8000-00805f9b34fb" % short


def short(uuid):
    return uuid[4:8]


# FTMS 1.0
FTMS = uuid16(0x1826)
FEATURE = uuid16(0x2ACC)
INDOOR_BIKE_DATA = uuid16(0x2AD2)
TRAINING_STATUS = uuid16(0x2AD3)
RESISTANCE_RANGE = uuid16(0x2AD6)
POWER_RANGE = uuid16(0x2AD8)
CONTROL_POINT = uuid16(0x2AD9)
MACHINE_STATUS = uuid16(0x2ADA)
# CSCP 1.0
CSC = uuid16(0x1816)
CSC_MEASUREMENT = uuid16(0x2A5B)
CSC_FEATURE = uuid16(0x2A5C)
SENSOR_LOCATION = uuid16(0x2A5D)

# machine features: cadence, resistance level, power measurement; targets: resistance, power
MACHINE_FEATURES = (1 << 1) | (1 << 7) | (1 << 14)
TARGET_FEATURES = (1 << 2) | (1 << 3)
RANGE = (1.0, 32.0, 1.0)          # resistance levels: min, max, increment
POWER_RANGE_W = (0, 1000, 1)

SUCCESS, NOT_SUPPORTED, INVALID_PARAMETER, FAILED, NOT_PERMITTED = 1, 2, 3, 4, 5


class Failed(dbus.exceptions.DBusException):
    _dbus_error_name = "org.bluez.Error.Failed"


class NotPermitted(dbus.exceptions.DBusException):
    _dbus_error_name = "org.bluez.Error.NotPermitted"


class Log:
    def __init__(self, path):
        self.file = open(path, "a", buffering=1) if path else sys.stdout

    def __call__(self, text):
        self.file.write("%.3f %s\n" % (time.monotonic(), text))
        self.file.flush()


class Characteristic(dbus.service.Object):
    """One GATT characteristic; the Bike decides what it reads and what writes do."""

    def __init__(self, bus, index, service, uuid, flags, bike):
        self.path = "%s/char%d" % (service.path, index)
        self.uuid, self.flags, self.service, self.bike = uuid, flags, service, bike
        self.notifying = False
        dbus.service.Object.__init__(self, bus, self.path)

    def properties(self):
        return {CHRC_IFACE: {"Service": dbus.ObjectPath(self.service.path),
                             "UUID": self.uuid,
                             "Flags": dbus.Array(self.flags, signature="s")}}

    @dbus.service.method(PROPS, in_signature="ss", out_signature="v")
    def Get(self, iface, name):
        return self.properties()[iface][name]

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        return self.properties().get(iface, {})

    @dbus.service.signal(PROPS, signature="sa{sv}as")
    def PropertiesChanged(self, iface, changed, invalidated):
        pass

    @dbus.service.method(CHRC_IFACE, in_signature="a{sv}", out_signature="ay")
    def ReadValue(self, options):
        value = self.bike.read(self.uuid)
        offset = int(options.get("offset", 0))
        self.bike.log("read %s offset %d" % (short(self.uuid), offset))
        return dbus.Array(value[offset:], signature="y")

    @dbus.service.method(CHRC_IFACE, in_signature="aya{sv}")
    def WriteValue(self, value, options):
        self.bike.write(self, bytes(value), options)

    @dbus.service.method(CHRC_IFACE)
    def StartNotify(self):
        if not self.notifying:
            self.notifying = True
            self.bike.log("notify-on %s" % short(self.uuid))
            self.bike.subscriptions_changed()

    @dbus.service.method(CHRC_IFACE)
    def StopNotify(self):
        if self.notifying:
            self.notifying = False
            self.bike.log("notify-off %s" % short(self.uuid))
            self.bike.subscriptions_changed()

    @dbus.service.method(CHRC_IFACE)
    def Confirm(self):
        self.bike.log("confirmed %s" % short(self.uuid))

    def send(self, data):
        """A notification (or indication, by the flags) to every subscribed central."""
        if not self.notifying:
            return False
        self.PropertiesChanged(CHRC_IFACE, {"Value": dbus.Array(data, signature="y")}, [])
        return True


class Service(dbus.service.Object):
    def __init__(self, bus, index, uuid):
        self.path = "%s/service%d" % (APP_PATH, index)
        self.uuid = uuid
        self.characteristics = []
        dbus.service.Object.__init__(self, bus, self.path)

    def properties(self):
        return {SERVICE_IFACE: {"UUID": self.uuid, "Primary": True,
                                "Characteristics": dbus.Array(
                                    [dbus.ObjectPath(c.path) for c in self.characteristics],
                                    signature="o")}}

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        return self.properties().get(iface, {})


class Application(dbus.service.Object):
    def __init__(self, bus, services):
        self.services = services
        dbus.service.Object.__init__(self, bus, APP_PATH)

    @dbus.service.method(OM, out_signature="a{oa{sa{sv}}}")
    def GetManagedObjects(self):
        objects = {}
        for service in self.services:
            objects[dbus.ObjectPath(service.path)] = service.properties()
            for chrc in service.characteristics:
                objects[dbus.ObjectPath(chrc.path)] = chrc.properties()
        return objects


class Advertisement(dbus.service.Object):
    def __init__(self, bus, service_uuid, name):
        self.service_uuid, self.name = service_uuid, name
        dbus.service.Object.__init__(self, bus, ADV_PATH)

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        if iface != ADV_IFACE:
            return {}
        return {"Type": "peripheral",
                "ServiceUUIDs": dbus.Array([self.service_uuid], signature="s"),
                "LocalName": self.name,
                "Discoverable": True}

    @dbus.service.method(ADV_IFACE)
    def Release(self):
        pass


class Bike:
    def __init__(self, args, bus):
        self.args, self.bus = args, bus
        self.log = Log(args.log)
        self.kind = args.kind
        self.adapter_path = "/org/bluez/" + args.adapter
        self.cadence, self.power = args.cadence, args.power
        self.resistance = 15.0
        self.in_control = False
        self.away = False
        self.registered = False
        self.registering = False
        self.stream_timer = 0
        self.crank_revs = 65530.0           # near the u16 wrap, as a real sensor gets to
        self.started = self.last_tick = time.monotonic()
        self.chrcs = {}
        if self.kind == "ftms":
            service = Service(bus, 0, FTMS)
            layout = [(FEATURE, ["read"]), (INDOOR_BIKE_DATA, ["notify"]),
                      (TRAINING_STATUS, ["read", "notify"]), (RESISTANCE_RANGE, ["read"]),
                      (POWER_RANGE, ["read"]), (CONTROL_POINT, ["write", "indicate"]),
                      (MACHINE_STATUS, ["notify"])]
        else:
            service = Service(bus, 0, CSC)
            layout = [(CSC_MEASUREMENT, ["notify"]), (CSC_FEATURE, ["read"]),
                      (SENSOR_LOCATION, ["read"])]
        for i, (uuid, flags) in enumerate(layout):
            chrc = Characteristic(bus, i, service, uuid, flags, self)
            service.characteristics.append(chrc)
            self.chrcs[uuid] = chrc
        self.app = Application(bus, [service])
        self.adv = Advertisement(bus, service.uuid, args.name)
        bus.add_signal_receiver(self.on_props_changed, dbus_interface=PROPS,
                                signal_name="PropertiesChanged", bus_name=BLUEZ,
                                path_keyword="path")
        bus.watch_name_owner(BLUEZ, self.on_bluez_owner)

    # ---- registration with bluetoothd -----------------------------------------------

    def on_bluez_owner(self, owner):
        if not owner:
            if self.registered:
                self.log("bluetoothd-gone")
            self.registered = self.registering = False
            return
        GLib.timeout_add(200, self.try_register)

    def try_register(self):
        """Power the adapter and register; bluetoothd may not have the adapter yet. The
        registration is asynchronous: bluetoothd calls back GetManagedObjects before it
        answers, so a blocking call would deadlock."""
        if self.registered or self.registering:
            return False
        try:
            adapter = self.bus.get_object(BLUEZ, self.adapter_path)
            dbus.Interface(adapter, PROPS).Set(ADAPTER_IFACE, "Powered", dbus.Boolean(True))
        except dbus.exceptions.DBusException as e:
            self.log("register-retry %s" % e.get_dbus_name())
            return True                     # again in 200 ms
        self.registering = True
        dbus.Interface(adapter, GATT_MANAGER).RegisterApplication(
            APP_PATH, {}, reply_handler=self.on_registered, error_handler=self.on_register_error)
        return False

    def on_registered(self):
        self.registering = False
        self.registered = True
        self.log("registered on %s" % self.args.adapter)
        if not self.away:
            self.advertise()

    def on_register_error(self, error):
        self.registering = False
        self.log("register-retry %s" % error.get_dbus_name())
        GLib.timeout_add(500, self.try_register)

    def advertise(self):
        adapter = self.bus.get_object(BLUEZ, self.adapter_path)
        dbus.Interface(adapter, ADV_MANAGER).RegisterAdvertisement(
            ADV_PATH, {}, reply_handler=lambda: self.log("advertising"),
            error_handler=lambda e: self.log("advertising-failed %s" % e))

    # ---- the link, seen from the peripheral's side ----------------------------------

    def on_props_changed(self, iface, changed, invalidated, path=None):
        if iface != DEVICE_IFACE or not path.startswith(self.adapter_path + "/"):
            return
        if "Connected" in changed:
            address = path.rsplit("/dev_", 1)[-1].replace("_", ":")
            self.log("%s %s" % ("connected" if changed["Connected"] else "disconnected",
                                address))
            if not changed["Connected"]:
                for chrc in self.chrcs.values():    # bluetoothd forgets the CCCs with the link
                    chrc.notifying = False
                self.in_control = False
                self.subscriptions_changed()

    def go_away(self):
        """Out of range: no more advertising, every central disconnected."""
        self.away = True
        self.log("away")
        if not self.registered:
            return
        adapter = self.bus.get_object(BLUEZ, self.adapter_path)
        try:
            dbus.Interface(adapter, ADV_MANAGER).UnregisterAdvertisement(ADV_PATH)
        except dbus.exceptions.DBusException as e:
            self.log("unadvertise-failed %s" % e.get_dbus_name())
        objects = dbus.Interface(self.bus.get_object(BLUEZ, "/"), OM).GetManagedObjects()
        for path, ifaces in objects.items():
            if (DEVICE_IFACE in ifaces and path.startswith(self.adapter_path + "/")
                    and ifaces[DEVICE_IFACE].get("Connected")):
                try:
                    dbus.Interface(self.bus.get_object(BLUEZ, path), DEVICE_IFACE).Disconnect()
                except dbus.exceptions.DBusException as e:
                    self.log("disconnect-failed %s" % e.get_dbus_name())

    def come_back(self):
        self.away = False
        self.log("back")
        if self.registered:
            self.advertise()

    # ---- GATT behaviour --------------------------------------------------------------

    def read(self, uuid):
        lo, hi, inc = RANGE
        if uuid == FEATURE:
            return struct.pack("<II", MACHINE_FEATURES, TARGET_FEATURES)
        if uuid == RESISTANCE_RANGE:
            return struct.pack("<hhH", round(lo * 10), round(hi * 10), round(inc * 10))
        if uuid == POWER_RANGE:
            return struct.pack("<hhH", *POWER_RANGE_W)
        if uuid == TRAINING_STATUS:
            return bytes([0x00, 0x01])                  # no string; idle
        if uuid == CSC_FEATURE:
            return struct.pack("<H", 0x0002)            # crank revolution data
        if uuid == SENSOR_LOCATION:
            return bytes([0x05])                        # left crank
        raise NotPermitted("Read not permitted")

    def write(self, chrc, data, options):
        device = str(options.get("device", ""))
        address = device.rsplit("/dev_", 1)[-1].replace("_", ":") if device else "?"
        self.log("write %s from %s mtu %d" % (data.hex(), address, int(options.get("mtu", 0))))
        if chrc.uuid != CONTROL_POINT:
            raise NotPermitted("Write not permitted")
        if not chrc.notifying:
            # FTMS 4.16.2: 0xFD (CCC improperly configured); BlueZ 5.66 cannot send that
            # code from an application, so the write is refused and the mistake logged
            self.log("refused-write %s (indications off)" % data.hex())
            raise NotPermitted("Client Characteristic Configuration improperly configured")
        if not data:
            return
        op = data[0]
        result, detail = self.control(op, data[1:])
        self.log("control %02x result %02x%s" % (op, result, detail))
        # the indication follows the write response, as on the air
        GLib.timeout_add(5, lambda: chrc.send(bytes([0x80, op, result])) and False)

    def control(self, op, param):
        if op == 0x00:                                  # Request Control
            self.in_control = True
            return SUCCESS, ""
        if op not in (0x01, 0x04, 0x05, 0x07, 0x08, 0x11):
            return NOT_SUPPORTED, ""
        if not self.in_control:
            return NOT_PERMITTED, ""
        if op == 0x01:                                  # Reset: control handed back
            self.in_control = False
            self.status(bytes([0x01]))
            return SUCCESS, ""
        if op == 0x04:                                  # Set Target Resistance Level
            if len(param) == 1:
                level = param[0] / 10.0
            elif len(param) == 2:
                level = struct.unpack("<h", param)[0] / 10.0
            else:
                return INVALID_PARAMETER, ""
            if not RANGE[0] <= level <= RANGE[1]:
                return INVALID_PARAMETER, " level %.1f" % level
            self.resistance = level
            self.log("resistance %.1f" % level)
            self.status(bytes([0x07, max(0, min(255, round(level * 10)))]))
            return SUCCESS, " level %.1f" % level
        if op == 0x05:                                  # Set Target Power
            if len(param) != 2:
                return INVALID_PARAMETER, ""
            return SUCCESS, " power %d" % struct.unpack("<h", param)[0]
        if op == 0x08 and (len(param) != 1 or param[0] not in (1, 2)):
            return INVALID_PARAMETER, ""
        if op == 0x11:
            return NOT_SUPPORTED, ""                    # no simulation on this bike
        return SUCCESS, ""

    def status(self, data):
        GLib.timeout_add(10, lambda: self.chrcs[MACHINE_STATUS].send(data) and False)

    # ---- the data stream -------------------------------------------------------------

    def subscriptions_changed(self):
        stream = self.chrcs[INDOOR_BIKE_DATA if self.kind == "ftms" else CSC_MEASUREMENT]
        if stream.notifying and not self.stream_timer:
            self.stream_timer = GLib.timeout_add(round(1000 / self.args.rate), self.tick)
        elif not stream.notifying and self.stream_timer:
            GLib.source_remove(self.stream_timer)
            self.stream_timer = 0

    def tick(self):
        now = time.monotonic()
        if self.kind == "ftms":
            flags = (1 << 2) | (1 << 5) | (1 << 6)      # cadence, resistance, power; speed
            speed = self.cadence * 0.35
            data = struct.pack("<HHHhh", flags, round(speed * 100), round(self.cadence * 2),
                               round(self.resistance), round(self.power))
            self.chrcs[INDOOR_BIKE_DATA].send(data)
        else:
            revs_per_s = self.cadence / 60.0
            before = self.crank_revs
            self.crank_revs += revs_per_s * (now - self.last_tick)
            if int(self.crank_revs) > int(before) or not hasattr(self, "event_s"):
                since = (self.crank_revs - int(self.crank_revs)) / revs_per_s if revs_per_s else 0
                self.event_s = 63.5 + (now - self.started) - since
            data = struct.pack("<BHH", 0x02, int(self.crank_revs) & 0xFFFF,
                               round(self.event_s * 1024) & 0xFFFF)
            self.chrcs[CSC_MEASUREMENT].send(data)
        self.last_tick = now
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("ftms", "csc"), default="ftms")
    parser.add_argument("--adapter", default="hci1")
    parser.add_argument("--name", default=None)
    parser.add_argument("--log", default=None)
    parser.add_argument("--cadence", type=float, default=70.0)
    parser.add_argument("--power", type=float, default=110.0)
    parser.add_argument("--rate", type=float, default=4.0)
    args = parser.parse_args()
    if args.name is None:
        args.name = "WU Bike" if args.kind == "ftms" else "WU Cadence"
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    bike = Bike(args, bus)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1,
                         lambda: bike.go_away() or True)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR2,
                         lambda: bike.come_back() or True)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    bike.log("started %s on %s" % (args.kind, args.adapter))
    loop.run()
    bike.log("stopped")


if __name__ == "__main__":
    main()
