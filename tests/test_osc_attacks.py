"""Issue 13's attacks on OSC input, each sent for real over UDP on loopback with python-osc
clients (or raw sockets for malformed packets) at the live show or the OSC server."""

from __future__ import annotations

import logging
import os
import socket
import struct
import sys
import time

import numpy as np
import pytest

from tests.conftest import wait_for

from livevis.control import ControlEvents
from livevis.control.presets import PresetError, load_preset, parse_preset
from livevis.params import ParamRegistry, apply_preset
from livevis.analysis.state import AnalysisState

pytest.importorskip("pythonosc", reason="needs python-osc (pip install python-osc)")
from pythonosc import osc_bundle_builder, osc_message_builder, udp_client  # noqa: E402

from livevis.control.osc import OscControl  # noqa: E402

DAY_S = 24 * 3600.0


def _preset(color: str, extra: str = "") -> str:
    return (f'crossfade_s = 0.0\n[[layers]]\nkind = "solid"\ncolor = "{color}"\n'
            f'[osc]\nlisten = true\nlisten_host = "127.0.0.1"\nlisten_port = 0\n{extra}')


def _bundle(address: str, value, at: float):
    """A bundle time-tagged ``at`` (system time, s) holding one message."""
    builder = osc_bundle_builder.OscBundleBuilder(at)
    msg = osc_message_builder.OscMessageBuilder(address=address)
    msg.add_arg(value)
    builder.add_content(msg.build())
    return builder.build()


def _frame_rgb(show, t=0.0):
    show.frame(t)
    return show.read_rgb().reshape(-1, 3).mean(axis=0)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.fixture
def osc():
    registry = ParamRegistry()
    apply_preset(registry, load_preset("club"))
    control = OscControl(registry, ControlEvents())
    host, port = control.open("127.0.0.1", 0)
    yield control, udp_client.SimpleUDPClient(host, port), registry
    control.close()


@pytest.fixture
def show_in(ctx, tmp_path):
    """A live show (control on, so OSC listens on 127.0.0.1:free) of ``tmp_path/a.toml`` (red)
    beside ``b.toml`` (blue); yields (show, client)."""
    from livevis.show.show import Show

    folder = tmp_path / "show"
    folder.mkdir()
    (folder / "a.toml").write_text(_preset("#ff0000"))
    (folder / "b.toml").write_text(_preset("#0000ff"))
    show = Show(ctx, (64, 36), load_preset(folder / "a.toml"), lambda: AnalysisState(), say=lambda m: None)
    assert show.hub.osc is not None, show.hub.problems
    try:
        yield show, udp_client.SimpleUDPClient(*show.hub.osc.address)
    finally:
        show.close()


def test_listens_on_loopback_unless_told_otherwise():
    assert parse_preset("[osc]\nlisten = true\n").osc.listen_host == "127.0.0.1"
    for name in ("club", "ambient", "accessibility", "portrait", "keyframes"):
        assert load_preset(name).osc.listen_host == "127.0.0.1", name
    with pytest.raises(PresetError) as err:
        parse_preset('[osc]\nallow_from = ["192.168.1.0/24", "mixer.local"]\n')
    assert str(err.value) == ("<preset>: osc.allow_from[1]: expected an IP address or network such as "
                              "192.168.1.20 or 192.168.1.0/24, got 'mixer.local'")


def test_open_to_every_interface_without_allow_list_warns():
    from livevis.control import ControlHub

    logs = []
    hub = ControlHub(parse_preset(_preset("#ffffff")), AnalysisState, log=logs.append, osc_host="0.0.0.0").start()
    try:
        assert hub.osc.address[0] == "0.0.0.0"
        assert any("accepts any sender" in line and "osc.allow_from" in line for line in hub.problems), logs
    finally:
        hub.close()


def test_future_bundle_never_blocks_and_quit_is_prompt(show_in, caplog):
    """/livevis/preset/next then a bundle tagged a day ahead: later messages still apply, the
    bundle is dropped and logged, and closing the show takes well under 2 s."""
    show, client = show_in
    caplog.set_level(logging.WARNING, logger="livevis.osc")
    receiver = show.hub.osc.receiver
    client.send_message("/livevis/preset/next", [])
    client.send(_bundle("/master/blackout", 1.0, time.time() + DAY_S))
    client.send_message("/master/brightness", 0.5)  # must not wait behind the bundle
    assert wait_for(lambda: show.registry.get("master.brightness") == pytest.approx(0.5), timeout=2.0)
    assert receiver.counts["too_far_ahead"] == 1 and receiver.pending == 0
    assert show.registry.get("master.blackout") == 0.0
    assert wait_for(lambda: any("more than 10 s ahead dropped" in r.getMessage() for r in caplog.records))
    # a bundle due soon waits for its time, without holding the thread
    client.send(_bundle("/master/blackout", 1.0, time.time() + 0.4))
    client.send_message("/master/brightness", 0.25)
    assert wait_for(lambda: show.registry.get("master.brightness") == pytest.approx(0.25), timeout=0.3)
    assert show.registry.get("master.blackout") == 0.0 and receiver.pending == 1
    assert wait_for(lambda: show.registry.get("master.blackout") == 1.0, timeout=2.0)
    # a bundle an hour late is applied now, and logged
    client.send(_bundle("/master/brightness", 0.75, time.time() - 3600))
    assert wait_for(lambda: show.registry.get("master.brightness") == pytest.approx(0.75))
    assert wait_for(lambda: receiver.counts["late"] == 1)
    _frame_rgb(show)
    # one more far-future bundle right before quitting
    client.send(_bundle("/master/blackout", 0.0, time.time() + DAY_S))
    t0 = time.monotonic()
    show.close()
    took = time.monotonic() - t0
    print(f"show.close() after a day-ahead bundle: {took * 1000:.0f} ms")
    assert took < 2.0
    assert show.hub.osc is None


def test_flood_of_preset_changes_costs_at_most_one_switch_a_frame(show_in):
    """300 /livevis/preset messages in about a second while the show renders: at most one scene
    build a frame, the last one sent wins, memory and frame time stay bounded."""
    show, client = show_in
    for _ in range(5):
        _frame_rgb(show)
    rss0 = _rss_mib()
    frames, worst = 0, 0.0
    sent = 0
    start = time.monotonic()
    while sent < 300 or time.monotonic() - start < 1.5:
        for _ in range(10):
            if sent < 300:
                client.send_message("/livevis/preset", "b" if sent % 2 else "a")
                sent += 1
        t = time.monotonic()
        show.frame(t - start)
        worst = max(worst, time.monotonic() - t)
        frames += 1
        time.sleep(0.003)
    rgb = _frame_rgb(show)
    grew = _rss_mib() - rss0
    print(f"flood: 300 preset changes, {frames} frames, {show.switches} scene switches, "
          f"worst frame {worst * 1000:.1f} ms, RSS +{grew:.1f} MiB, {show.hub.events.dropped} events dropped")
    assert show.hub.osc.receiver.messages == 300
    assert 1 <= show.switches <= frames
    assert show.preset.name == "b" and np.allclose(rgb, [0, 0, 255], atol=2)  # the latest wins
    assert worst < 1.0
    assert grew < 150


@pytest.fixture
def opened_paths():
    """Paths this process opens while the test runs (Python's 'open' audit event)."""
    seen: list[str] = []
    _AUDIT.append(seen)
    yield seen
    _AUDIT.remove(seen)


_AUDIT: list[list[str]] = []


def _audit(event, args):
    if event == "open" and _AUDIT and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _AUDIT[-1].append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def test_preset_by_path_is_refused_and_never_opened(show_in, tmp_path, opened_paths, caplog):
    show, client = show_in
    caplog.set_level(logging.ERROR, logger="livevis.show")
    outside = tmp_path / "outside"
    outside.mkdir()
    evil = outside / "evil.toml"
    evil.write_text(_preset("#00ff00"))
    opened_paths.clear()  # from here on nothing may open it
    attempts = [str(evil), "../outside/evil", "../outside/evil.toml", "/etc/shadow", "..", "a/../../outside/evil"]
    for name in attempts:
        client.send_message("/livevis/preset", name)
        assert wait_for(lambda: len(show.hub.events) == 1, timeout=2.0)
        rgb = _frame_rgb(show)
        assert show.error is not None and "refused" in show.error and "never by path" in show.error, name
        assert show.preset.name == "a" and np.allclose(rgb, [255, 0, 0], atol=2)
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == len(attempts)
    assert not [p for p in opened_paths if "evil" in p or "shadow" in p], opened_paths
    # a name is still fine: from the running preset's own folder
    client.send_message("/livevis/preset", "b")
    assert wait_for(lambda: len(show.hub.events) == 1, timeout=2.0)
    assert np.allclose(_frame_rgb(show), [0, 0, 255], atol=2) and show.error is None


def _malformed_packets() -> list[bytes]:
    rng = np.random.default_rng(13)
    good = osc_message_builder.OscMessageBuilder(address="/master/brightness")
    good.add_arg(0.5)
    good = good.build().dgram
    nested = b"#bundle\x00" + b"\x00" * 8
    for _ in range(20):  # bundles nested 20 deep
        nested = b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", len(nested)) + nested
    packets = [
        b"/x\x00\x00,f\x00\x00\x01\x02",  # a float cut short
        b"/x\x00\x00,s\x00\x00abc",  # an unterminated string
        b"/x\x00\x00,i",  # no padding
        b"/\xff\xfe\x00,\x00\x00\x00",  # not UTF-8
        b"#bundle\x00\x00\x00",  # a bundle cut in its time tag
        b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 1000) + good,  # element longer than the packet
        b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", -4) + good,  # python-osc 1.10 loops forever on it
        nested,
        good[:-2],
        b"hello",
    ]
    packets += [b"/" + rng.bytes(int(n)) for n in rng.integers(1, 60, 90)]
    return packets


def test_malformed_packets_are_counted_and_logged_once_a_second(osc, capfd, caplog):
    control, client, registry = osc
    caplog.set_level(logging.WARNING, logger="livevis.osc")
    receiver = control.receiver
    packets = _malformed_packets()
    bad = 0
    for p in packets:  # which of the random ones python-osc can parse is its business: count them
        try:
            from livevis.control.osc_receiver import timed_messages

            timed_messages(p)
        except ValueError:
            bad += 1
    assert bad >= 60
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.monotonic()
    rounds = 20
    for _ in range(rounds):  # 2,000 packets
        for p in packets:
            sock.sendto(p, control.address)
        time.sleep(0.05)
    assert wait_for(lambda: receiver.received == rounds * len(packets), timeout=5.0), receiver.received
    elapsed = time.monotonic() - t0
    assert receiver.counts["malformed"] == rounds * bad
    client.send_message("/master/brightness", 0.5)  # still serving
    assert wait_for(lambda: registry.get("master.brightness") == pytest.approx(0.5))
    time.sleep(1.1)  # the last second's count is logged too
    lines = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert 1 <= len(lines) <= elapsed + 2
    assert f"({rounds * bad} in all)" in lines[-1]
    assert all(r.exc_info is None for r in caplog.records)
    out, err = capfd.readouterr()
    assert "Traceback" not in err and err == "", err[:500]
    print(f"{rounds * len(packets)} packets, {receiver.counts['malformed']} malformed in {elapsed:.2f} s: "
          f"{len(lines)} log lines, nothing on stderr")
    sock.close()


def test_sender_outside_the_allow_list_is_ignored(osc, caplog):
    control, _, registry = osc
    caplog.set_level(logging.WARNING, logger="livevis.osc")
    control.configure(parse_preset('[osc]\nallow_from = ["127.0.0.2"]\n').osc)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    friend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    friend.bind(("127.0.0.2", 0))  # another loopback address of this machine
    msg = osc_message_builder.OscMessageBuilder(address="/master/blackout")
    msg.add_arg(1.0)
    for _ in range(5):
        stranger.sendto(msg.build().dgram, control.address)
    assert wait_for(lambda: control.receiver.counts["refused"] == 5)
    assert registry.get("master.blackout") == 0.0 and control.messages == 0
    assert wait_for(lambda: any("outside osc.allow_from" in r.getMessage() and "127.0.0.1:" in r.getMessage()
                                for r in caplog.records))
    friend.sendto(msg.build().dgram, control.address)
    assert wait_for(lambda: registry.get("master.blackout") == 1.0)
    stranger.close()
    friend.close()


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (tools/test.sh runs Xvfb)")
def test_livevis_run_quits_on_time_after_a_day_ahead_bundle(tmp_path):
    """The whole program: `livevis run --duration 4` with OSC on; /livevis/preset/next and a
    bundle tagged a day ahead arrive; it still stops on time (it hung 41 s before; the 2 s bound
    on closing is checked on the show itself above)."""
    import subprocess

    from tests.conftest import ROOT
    from tests.test_live_capture import _pulse_ready

    if not _pulse_ready():
        pytest.skip("needs a PulseAudio server (tools/start-audio-server.sh)")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    preset = tmp_path / "p.toml"
    preset.write_text(_preset("#ff0000").replace("listen_port = 0", f"listen_port = {port}"))
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    duration = 4.0
    proc = subprocess.Popen([sys.executable, "-m", "livevis", "run", "--preset", str(preset), "--duration",
                             str(duration), "--size", "160x90"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("OSC input on"):
                break
        assert lines and lines[-1].startswith("OSC input on 127.0.0.1:"), "".join(lines)
        ready = time.monotonic()
        client = udp_client.SimpleUDPClient("127.0.0.1", port)
        client.send(_bundle("/master/blackout", 1.0, time.time() + DAY_S))
        client.send_message("/livevis/preset/next", [])
        client.send(_bundle("/master/blackout", 1.0, time.time() + DAY_S))
        out, err = proc.communicate(timeout=duration + 30)
        took = time.monotonic() - ready
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"livevis run --duration {duration:g}: exited {took:.1f} s after OSC was ready")
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    # start-up after OSC opens (first audio callback) and teardown take 1-3 s on a loaded
    # 2-core machine; a handler holding shutdown would take a day
    assert took < duration + 8.0, (took, out[-1000:], err[-1000:])
