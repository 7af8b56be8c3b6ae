"""OSC control and analysis output over real UDP on 127.0.0.1 (ephemeral ports)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.conftest import wait_for

from livevis.control import ControlEvents
from livevis.params import ParamRegistry, apply_preset
from livevis.control.presets import load_preset, parse_preset
from livevis.analysis.state import AU_NAMES, AnalysisState, LatestState

pytest.importorskip("pythonosc", reason="needs python-osc (pip install python-osc)")
from pythonosc import dispatcher, osc_server, udp_client  # noqa: E402

from livevis.control.osc import OscControl, OscError, OscOutputThread, OscSender  # noqa: E402


@pytest.fixture
def osc():
    registry = ParamRegistry()
    apply_preset(registry, load_preset("club"))
    events = ControlEvents()
    control = OscControl(registry, events)
    host, port = control.open("127.0.0.1", 0)
    client = udp_client.SimpleUDPClient(host, port)
    yield control, client, registry, events
    control.close()


def test_every_parameter_has_an_address(osc):
    control, client, reg, _ = osc
    client.send_message("/layer/1/opacity", 0.25)
    client.send_message("/master/brightness", 7.0)  # clamped to the range 0..2
    client.send_message("/face/smoothing/attack", 1.5)
    client.send_message("/background/speed/normalized", 0.5)  # 0..1 over 0..10
    assert wait_for(lambda: control.messages >= 4)
    assert reg.get("layer.1.opacity") == pytest.approx(0.25)
    assert reg.get("master.brightness") == 2.0
    assert reg.get("face.smoothing.attack") == pytest.approx(1.5)
    assert reg.get("background.speed") == pytest.approx(5.0)
    client.send_message("/master/blackout", [])  # a bool with no argument toggles
    assert wait_for(lambda: reg.get("master.blackout") == 1.0)
    assert reg.last_activity("osc") > 0


def test_mapped_addresses_use_range_and_curve(osc):
    control, client, reg, _ = osc
    control.configure(parse_preset("""
[[osc.mappings]]
address = "/1/fader1"
param = "layer.2.opacity"
min = 0.2
max = 0.6
[[osc.mappings]]
address = "/1/fader2"
param = "master.brightness"
curve = "log"
""").osc)
    client.send_message("/1/fader1", 0.5)
    client.send_message("/1/fader2", 0.5)
    assert wait_for(lambda: control.messages >= 2)
    assert reg.get("layer.2.opacity") == pytest.approx(0.4)
    assert reg.get("master.brightness") > 1.6  # log: the middle of the fader is high in the range


def test_actions_and_unknown_addresses(osc):
    control, client, reg, events = osc
    client.send_message("/livevis/preset", "ambient")
    client.send_message("/livevis/preset", 2)
    client.send_message("/livevis/preset/next", [])
    client.send_message("/livevis/action", "blackout")
    client.send_message("/no/such/thing", 1.0)
    assert wait_for(lambda: control.messages >= 5)
    assert [(e.kind, e.value) for e in events.drain()] == [
        ("preset", "ambient"), ("preset_index", 2), ("preset_next", None), ("action", "blackout")]
    assert "/no/such/thing" in control.unknown


def test_osc_learn_binds_the_next_unknown_address(osc):
    control, client, reg, events = osc
    client.send_message("/livevis/learn", "layer.3.opacity")
    assert wait_for(lambda: control.learn.armed == "layer.3.opacity")
    client.send_message("/touchosc/rotary7", 0.3)
    assert wait_for(lambda: len(events) == 1)
    (ev,) = events.drain()
    assert ev.kind == "learned" and (ev.value.address, ev.value.param) == ("/touchosc/rotary7", "layer.3.opacity")
    client.send_message("/touchosc/rotary7", 0.8)
    assert wait_for(lambda: reg.get("layer.3.opacity") == pytest.approx(0.8))


def test_port_in_use_is_a_clear_error(osc):
    control, _, reg, events = osc
    other = OscControl(reg, events)
    with pytest.raises(OscError, match=f"cannot listen for OSC on 127.0.0.1:{control.address[1]}"):
        other.open("127.0.0.1", control.address[1])


def test_analysis_goes_out_as_osc():
    received: dict[str, list] = {}
    lock = threading.Lock()

    def record(address, *args):
        with lock:
            received.setdefault(address, []).append(args)

    disp = dispatcher.Dispatcher()
    disp.set_default_handler(record)
    server = osc_server.BlockingOSCUDPServer(("127.0.0.1", 0), disp)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    aus = np.linspace(0, 1, len(AU_NAMES), dtype=np.float32)
    latest = LatestState(AnalysisState(valence=0.5, arousal=-0.25, energy=3.0, onset=0.75, tempo=128.0,
                                       beat_phase=0.95, rms=0.1, aus=aus))
    sender = OscSender("127.0.0.1", server.server_address[1])
    thread = OscOutputThread(sender, latest.get, rate_hz=100)
    thread.start()
    try:
        assert wait_for(lambda: "/livevis/aus" in received and "/livevis/tempo" in received)
        latest.publish(AnalysisState(tempo=128.0, beat_phase=0.02))  # the beat
        assert wait_for(lambda: "/livevis/beat" in received)
    finally:
        thread.stop()
        server.shutdown()
        server.server_close()
    assert thread.error is None
    assert received["/livevis/valence"][0] == pytest.approx((0.5,))
    assert received["/livevis/arousal"][0] == pytest.approx((-0.25,))
    assert received["/livevis/energy"][0] == pytest.approx((3.0,))
    assert received["/livevis/onset"][0] == pytest.approx((0.75,))
    assert received["/livevis/tempo"][0] == pytest.approx((128.0,))
    assert len(received["/livevis/aus"][0]) == 17
    assert received["/livevis/aus"][0] == pytest.approx(tuple(aus.tolist()), abs=1e-6)
    assert len(received["/livevis/beat"]) == 1


def test_control_hub_wires_osc_in_and_out_from_a_preset():
    from livevis.control import ControlHub
    from livevis.control.presets import load_preset

    received = []
    disp = dispatcher.Dispatcher()
    disp.set_default_handler(lambda address, *args: received.append(address))
    sink = osc_server.BlockingOSCUDPServer(("127.0.0.1", 0), disp)
    threading.Thread(target=sink.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    preset = parse_preset(f"""
[osc]
listen = true
listen_host = "127.0.0.1"
listen_port = 0
send = true
send_port = {sink.server_address[1]}
send_rate_hz = 50
[[osc.mappings]]
address = "/fader"
param = "master.brightness"
""")
    logs = []
    hub = ControlHub(preset, LatestState(AnalysisState(valence=0.3)).get, log=logs.append).start()
    try:
        assert hub.osc is not None and hub.problems == []
        client = udp_client.SimpleUDPClient(*hub.osc.address)
        client.send_message("/fader", 0.25)
        client.send_message("/livevis/preset/next", [])
        assert wait_for(lambda: hub.registry.get("master.brightness") == pytest.approx(0.5))
        assert wait_for(lambda: len(hub.events) == 1) and hub.events.drain()[0].kind == "preset_next"
        assert wait_for(lambda: "/livevis/valence" in received)
        assert hub.activity()["osc"] > 0
        hub.registry.set("master.blackout", 1)
        hub.apply(load_preset("portrait"))  # no OSC in this preset: server and sender stop
        assert hub.osc is None and hub._osc_thread is None
        assert hub.registry.get("master.blackout") == 1.0 and "layer.3.opacity" not in hub.registry
    finally:
        hub.close()
        sink.shutdown()
        sink.server_close()
