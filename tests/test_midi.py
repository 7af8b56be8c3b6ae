"""MIDI control and output through real virtual ports on JACK's dummy driver.

There is no ALSA sequencer on the CI machines, so these tests use JACK MIDI: a session
fixture starts ``jackd --no-realtime -d dummy`` when no JACK server is running (and stops it
afterwards), and skips with the reason when jackd or the Python MIDI packages are missing
(Debian: jackd2; pip: mido python-rtmidi).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.conftest import wait_for

# a wedged JACK client must fail fast, not hold the whole run
pytestmark = pytest.mark.timeout(120)

from livevis.control import ControlEvents
from livevis.params import ParamRegistry, apply_preset
from livevis.control.presets import load_preset, parse_preset, save_learned_mapping
from livevis.analysis.state import AnalysisState, LatestState

mido = pytest.importorskip("mido", reason="needs mido (pip install mido python-rtmidi)")
rtmidi = pytest.importorskip("rtmidi", reason="needs python-rtmidi (pip install python-rtmidi)")

from livevis.control.midi import (AnalysisToMidi, GenerativePlayer, MidiControl, MidiError, close_input_port,  # noqa: E402
                                  MidiOutput, MidiOutputThread, find_port, list_ports, plan_music)

API = "jack"


def _jack_running() -> bool:
    try:
        rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK).delete()
        return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def jack():
    """A JACK server (the running one, or a dummy-driver one started here for this module only).

    PortAudio is initialised first, without the server: a PortAudio that connected to a JACK
    server which then stops asserts and aborts the process when it terminates at exit (PortAudio
    pa_jack.c Terminate), which would turn a green run red after its last test.
    """
    os.environ["JACK_NO_START_SERVER"] = "1"  # never let a client spawn a server with a real driver
    try:
        import sounddevice  # noqa: F401  (initialises PortAudio now, while no server we start runs)
    except (ImportError, OSError):
        pass
    if _jack_running():
        yield
        return
    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.skip("needs a JACK server for virtual MIDI ports: jackd not installed (Debian: apt-get install jackd2)")
    proc = subprocess.Popen([jackd, "--no-realtime", "-d", "dummy", "-r", "48000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not _jack_running():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
            pytest.skip(f"could not start jackd -d dummy: {err}")
        time.sleep(0.05)
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def backend():
    return mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)


def cc(control: int, value: int, channel: int = 0):
    return mido.Message("control_change", control=control, value=value, channel=channel)


@pytest.fixture
def rig(jack, request):
    """A test controller (virtual output port) wired into a MidiControl, and its queue/registry."""
    name = f"lvctl_{request.node.name[:20]}_{os.getpid()}"
    ctl_port = backend().open_output(name, virtual=True, client_name="lvtest")
    registry = ParamRegistry()
    apply_preset(registry, load_preset("club"))
    events = ControlEvents()
    midi = MidiControl(registry, events, api=API)
    yield ctl_port, midi, registry, events
    midi.close()
    ctl_port.close()


def configure(midi: MidiControl, port_name: str, toml: str = "") -> None:
    preset = parse_preset(toml)
    midi.configure(preset.midi)
    midi.api = API
    midi.open(input=port_name)
    time.sleep(0.15)  # JACK makes the connection on its next process cycle


# ------------------------------------------------------------------ input


def test_cc_moves_parameters_through_range_and_curve(rig):
    ctl, midi, reg, _ = rig
    configure(midi, ctl.name, """
[[midi.mappings]]
param = "layer.1.opacity"
cc = 7
[[midi.mappings]]
param = "master.brightness"
cc = 8
curve = "exp"
[[midi.mappings]]
param = "background.speed"
cc = 9
channel = 2
min = 4.0
max = 0.5
""")
    assert midi.port_name and "lvctl" in midi.port_name
    ctl.send(cc(7, 0))
    assert wait_for(lambda: reg.get("layer.1.opacity") == 0.0)
    ctl.send(cc(7, 127))
    assert wait_for(lambda: reg.get("layer.1.opacity") == 1.0)
    ctl.send(cc(8, 64))  # exp: the middle of the knob is well below the middle of the range
    assert wait_for(lambda: reg.get("master.brightness") != 1.0)
    assert 0.1 < reg.get("master.brightness") < 0.4
    before = reg.get("background.speed")
    ctl.send(cc(9, 127, channel=0))  # wrong channel: ignored
    ctl.send(cc(9, 127, channel=1))  # channel 2, inverted range → min end
    assert wait_for(lambda: reg.get("background.speed") == pytest.approx(0.5))
    assert before != 0.5
    assert reg.last_activity("midi") > 0 and midi.errors == []


def test_toggle_curve_flips_on_each_press(rig):
    ctl, midi, reg, _ = rig
    configure(midi, ctl.name, '[[midi.mappings]]\nparam = "master.blackout"\ncc = 20\ncurve = "toggle"\n')
    for expected in (1.0, 0.0, 1.0):
        ctl.send(cc(20, 127))
        ctl.send(cc(20, 0))
        assert wait_for(lambda: reg.get("master.blackout") == expected and midi.messages % 2 == 0)
        time.sleep(0.02)
        assert reg.get("master.blackout") == expected


def test_midi_learn_binds_the_next_knob_and_saves_it_into_the_preset(rig, tmp_path):
    ctl, midi, reg, events = rig
    configure(midi, ctl.name)
    midi.learn.arm("layer.2.opacity")
    ctl.send(cc(33, 100, channel=2))  # the knob the operator moves
    assert wait_for(lambda: len(events) == 1)
    (ev,) = events.drain()
    assert ev.kind == "learned" and ev.source == "midi"
    mapping = ev.value
    assert (mapping.param, mapping.cc, mapping.channel) == ("layer.2.opacity", 33, 3)
    assert midi.learn.armed is None
    ctl.send(cc(33, 0, channel=2))  # the knob now drives the parameter
    assert wait_for(lambda: reg.get("layer.2.opacity") == 0.0)
    # the render loop saves the binding into the preset file
    path = tmp_path / "show.toml"
    path.write_text('name = "show"\n')
    saved = save_learned_mapping(path, mapping)
    assert [(m.param, m.cc, m.channel) for m in saved.midi.mappings] == [("layer.2.opacity", 33, 3)]


def test_note_and_program_change_switch_presets_and_tap_sets_tempo(rig):
    ctl, midi, reg, events = rig
    configure(midi, ctl.name, """
[midi]
note_presets = { "36" = "ambient" }
program_presets = ["club", "portrait"]
tap_note = 40
""")
    ctl.send(mido.Message("note_on", note=36, velocity=100))
    ctl.send(mido.Message("note_on", note=37, velocity=100))  # unmapped
    ctl.send(mido.Message("program_change", program=1))
    ctl.send(mido.Message("program_change", program=9))  # past the list: ignored
    assert wait_for(lambda: midi.messages >= 4)
    got = [(e.kind, e.value) for e in events.drain()]
    assert got == [("preset", "ambient"), ("preset", "portrait")]
    for _ in range(4):  # tap at 200 BPM
        ctl.send(mido.Message("note_on", note=40, velocity=90))
        time.sleep(0.3)
    assert wait_for(lambda: reg.get("tempo.bpm") > 0)
    assert reg.get("tempo.bpm") == pytest.approx(200, abs=15)
    assert [e.kind for e in events.drain()].count("tap") == 4


def test_midi_clock_sets_the_tempo(rig):
    ctl, midi, reg, _ = rig
    configure(midi, ctl.name)
    ctl.send(mido.Message("start"))
    interval = 60.0 / (125.0 * 24)  # 125 BPM
    t0 = time.perf_counter()
    for i in range(24 * 2 + 1):
        due = t0 + i * interval
        if due - time.perf_counter() > 0.003:
            time.sleep(due - time.perf_counter() - 0.002)
        while time.perf_counter() < due:
            pass
        ctl.send(mido.Message("clock"))
    assert wait_for(lambda: reg.get("tempo.bpm") > 0)
    assert reg.get("tempo.bpm") == pytest.approx(125, abs=5)


def test_virtual_input_port_accepts_connections(jack):
    reg, events = ParamRegistry(), ControlEvents()
    apply_preset(reg, load_preset("club"))
    name = f"lvvirt_{os.getpid()}"
    midi = MidiControl(reg, events, api=API, client_name="livevis_test")
    midi.bind("layer.1.opacity", 1)
    try:
        midi.open(input=name, virtual=True)
        ins, _ = list_ports(API)
        assert any(name in n for n in backend().get_output_names() + ins)
        out = backend().open_output(find_port(backend().get_output_names(), name, "output"))
        time.sleep(0.15)
        out.send(cc(1, 0))
        assert wait_for(lambda: reg.get("layer.1.opacity") == 0.0)
        out.close()
    finally:
        midi.close()


def test_unknown_port_lists_the_ports(jack):
    midi = MidiControl(ParamRegistry(), ControlEvents(), api=API)
    with pytest.raises(MidiError, match="no MIDI input port matches 'no-such-controller'; input ports:"):
        midi.open(input="no-such-controller")
    with pytest.raises(MidiError, match="no MIDI output port matches"):
        MidiOutput("no-such-lights", api=API)


# ------------------------------------------------------------------ output


@pytest.fixture
def lights(jack, request):
    """A test 'lighting desk': a virtual input port collecting what livevis sends."""
    name = f"lvlights_{request.node.name[:16]}_{os.getpid()}"
    port = backend().open_input(name, virtual=True, client_name="lvtest")
    yield port
    close_quietly(port)


def close_quietly(port, quiet_s: float = 0.3, timeout: float = 3.0) -> None:
    """Close a JACK virtual input port once nothing has arrived for ``quiet_s``.

    python-rtmidi's close_port holds the GIL while JACK waits for its process thread, and that
    thread needs the GIL to deliver a message in flight to the Python callback: closing
    while messages arrive deadlocks. Drain first, then close without a callback
    (:func:`livevis.control.midi.close_input_port`).
    """
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last < quiet_s:
        if port.poll() is not None:
            last = time.monotonic()
        else:
            time.sleep(0.01)
    close_input_port(port)


def collect(port, until, timeout=3.0) -> list:
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got += list(port.iter_pending())
        if until(got):
            break
        time.sleep(0.005)
    return got


def test_analysis_goes_out_as_cc_and_notes(lights):
    latest = LatestState(AnalysisState(valence=1.0, arousal=-1.0, energy=2.0, tempo=120.0, beat_phase=0.9))
    out = MidiOutput(lights.name, api=API)
    time.sleep(0.15)  # JACK makes the connection on its next process cycle
    thread = MidiOutputThread(out, latest.get, AnalysisToMidi(channel=16), rate_hz=200)
    thread.start()
    try:
        got = collect(lights, lambda g: {m.control for m in g if m.type == "control_change"} >= {20, 21, 22})
        ccs = {m.control: m.value for m in got if m.type == "control_change"}
        assert ccs[20] == 127 and ccs[21] == 0 and ccs[22] == 127
        assert all(m.channel == 15 for m in got)
        quad = [m.note for m in got if m.type == "note_on"]
        assert 48 + 3 in quad  # calm quadrant (v >= 0, a < 0)
        latest.publish(AnalysisState(valence=-1.0, arousal=1.0, energy=1.0, tempo=120.0, beat_phase=0.05, onset=0.9))
        got = collect(lights, lambda g: any(m.type == "note_on" and m.note == 36 for m in g))
        ons = {m.note: m.velocity for m in got if m.type == "note_on"}
        offs = [m.note for m in got if m.type == "note_off"]
        assert 36 in ons and 38 in ons  # the beat (phase wrapped) and the onset
        assert 48 + 1 in ons and 48 + 3 in offs  # quadrant changed to angry
        assert {m.control: m.value for m in got if m.type == "control_change"}[20] == 0
        got = collect(lights, lambda g: any(m.type == "note_off" and m.note == 36 for m in g), timeout=1.0)
        assert any(m.type == "note_off" and m.note == 36 for m in got)  # beat note released
    finally:
        thread.stop()
        out.close()
    assert thread.error is None


def test_energy_is_normalised_by_its_running_peak():
    conv = AnalysisToMidi(channel=1, keepalive_s=100)
    vals = []
    for i, e in enumerate([4.0, 2.0, 1.0]):
        msgs = conv.update(AnalysisState(energy=e), now=i * 0.01)
        vals += [m.value for m in msgs if m.type == "control_change" and m.control == 22]
    assert vals == [127, 64, 32]
    assert conv.update(AnalysisState(energy=1.0), now=0.05) == []  # nothing changed: nothing sent


# ------------------------------------------------------------------ generative (Emotion2Music)


def test_plan_follows_the_paper():
    happy_excited = plan_music(0.8, 0.8)
    sad_calm = plan_music(-0.8, -0.8)
    angry = plan_music(-0.7, 0.8)
    assert happy_excited.mode == "major" and happy_excited.progression == ("I", "IV", "V", "I")
    assert sad_calm.mode == "minor" and sad_calm.progression == ("i", "VI", "III", "VII")
    assert happy_excited.tempo_range[0] > sad_calm.tempo_range[1]
    assert happy_excited.notes_per_bar > sad_calm.notes_per_bar
    assert happy_excited.velocity > sad_calm.velocity
    assert happy_excited.pitch_range[0] > sad_calm.pitch_range[0]
    assert angry.irregular and not happy_excited.irregular and not sad_calm.irregular
    # triad qualities: major I has a major third, minor i a minor third, minor VI a major third
    i_major, i_minor, vi_minor = happy_excited.chords[0], sad_calm.chords[0], sad_calm.chords[1]
    assert (i_major[1] - i_major[0], i_major[2] - i_major[0]) == (4, 7)
    assert (i_minor[1] - i_minor[0], i_minor[2] - i_minor[0]) == (3, 7)
    assert (vi_minor[1] - vi_minor[0], vi_minor[2] - vi_minor[0]) == (4, 7)
    assert plan_music(1, 1, tempo_max=100).tempo_range[1] <= 100


def _notes_over(valence, arousal, seconds=16.0, seed=1):
    player = GenerativePlayer(channel=1, seed=seed)
    msgs = []
    for i in range(int(seconds * 100)):
        msgs += player.step(i / 100, valence, arousal)
    msgs += player.stop()
    return player, msgs


def test_generated_music_is_denser_and_faster_with_arousal_and_balanced():
    hot, hot_msgs = _notes_over(0.5, 0.9)
    cold, cold_msgs = _notes_over(0.5, -0.9)
    melody = lambda ms: [m for m in ms if m.type == "note_on" and m.channel == 1]  # noqa: E731
    assert len(melody(hot_msgs)) > 2 * len(melody(cold_msgs))
    assert hot.tempo > cold.tempo
    for msgs in (hot_msgs, cold_msgs):  # every note is released
        ons = sorted((m.channel, m.note) for m in msgs if m.type == "note_on")
        offs = sorted((m.channel, m.note) for m in msgs if m.type == "note_off")
        assert ons == offs
    scale = {0, 2, 4, 5, 7, 9, 11}
    assert all((m.note - 60) % 12 in scale for m in melody(hot_msgs))
    _, sad_msgs = _notes_over(-0.8, -0.3)
    minor = {0, 2, 3, 5, 7, 8, 10}
    assert all((m.note - 60) % 12 in minor for m in sad_msgs if m.type == "note_on")
    assert any((m.note - 60) % 12 == 3 for m in sad_msgs if m.type == "note_on")  # the minor third


def test_generative_layer_plays_on_a_midi_output(lights):
    latest = LatestState(AnalysisState(valence=0.7, arousal=0.9))
    out = MidiOutput(lights.name, api=API)
    time.sleep(0.15)  # JACK makes the connection on its next process cycle
    thread = MidiOutputThread(out, latest.get, generative=GenerativePlayer(channel=3, seed=2), rate_hz=200)
    thread.start()
    try:
        got = collect(lights, lambda g: sum(m.type == "note_on" and m.channel == 3 for m in g) >= 3)
    finally:
        thread.stop()
    time.sleep(0.05)
    got += list(lights.iter_pending())
    out.close()
    chord = [m.note for m in got if m.type == "note_on" and m.channel == 2]
    assert len(chord) >= 3 and sorted(chord[:3])[1] - sorted(chord[:3])[0] == 4  # a major triad
    assert sum(m.type == "note_on" and m.channel == 3 for m in got) >= 3
    held = {}
    for m in got:
        if m.type in ("note_on", "note_off"):
            held[(m.channel, m.note)] = held.get((m.channel, m.note), 0) + (1 if m.type == "note_on" else -1)
    assert all(v <= 0 for v in held.values()), "stop() must release every note"


def test_control_hub_wires_midi_in_and_out_from_a_preset(lights):
    from livevis.control import ControlHub

    vin = f"lvhub_{os.getpid()}"
    preset = parse_preset(f"""
[midi]
api = "jack"
input = "{vin}"
virtual_input = true
output = "{lights.name}"
[[midi.mappings]]
param = "layer.1.opacity"
cc = 5
""")
    logs = []
    hub = ControlHub(preset, LatestState(AnalysisState(valence=-1.0)).get, log=logs.append).start()
    try:
        assert hub.problems == [] and hub.midi is not None, logs
        time.sleep(0.15)
        out = backend().open_output(find_port(backend().get_output_names(), vin, "output"))
        time.sleep(0.15)
        out.send(cc(5, 0))
        assert wait_for(lambda: hub.registry.get("layer.1.opacity") == 0.0)
        out.close()
        got = collect(lights, lambda g: any(m.type == "control_change" and m.control == 20 for m in g))
        assert [m.value for m in got if m.type == "control_change" and m.control == 20][0] == 0
    finally:
        hub.close()
