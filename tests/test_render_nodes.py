"""Render nodes that follow one analysis: the hop stream over real UDP sockets on loopback, a real
``livevis analyze`` process playing real music through PulseAudio, and a real ``livevis run
--follow`` window under Xvfb."""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from livevis import ROOT
from livevis.analysis.state import AnalysisState
from livevis.control.hops import (HopFollower, HopSender, HopStreamError, decode_hop, encode_hop,
                                  parse_address)
from tests.conftest import run_cli, wait_for
from tests.test_live_capture import _pulse_ready

needs_pulse = pytest.mark.skipif(not _pulse_ready(), reason="needs a PulseAudio server (tools/start-audio-server.sh)")
needs_display = pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (tools/test.sh runs Xvfb)")


@pytest.fixture(scope="module")
def music_states(demo_track_module):
    """Analysis states of 6 s of the demo track (real music through the real analysis stage)."""
    from livevis.analysis.analyzer import Analyzer
    from livevis.analysis.emotion import EmotionModel
    from livevis.audio.decode import load_audio

    audio, rate = load_audio(demo_track_module)
    analyzer = Analyzer(rate, EmotionModel())
    return analyzer.feed(audio.mean(axis=1)[: 6 * rate].astype(np.float32), last=True)


@pytest.fixture(scope="module")
def demo_track_module():
    from livevis.show.demo import demo_track

    return demo_track()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_hop_of_real_music_survives_the_wire(music_states):
    moving = [s for s in music_states if s.energy > 0 and np.any(s.aus > 0.05)]
    assert len(moving) > 20
    for state in moving[::7]:
        session, seq, sent_at, back = decode_hop(encode_hop(state, 42, 9))
        assert (session, seq) == (42, 9) and abs(sent_at - time.time()) < 5
        assert back.time == state.time  # float64 on the wire: the stream time is exact
        for name in ("valence", "arousal", "energy", "rms", "onset", "bass", "mid", "high", "tempo", "beat_phase"):
            assert getattr(back, name) == pytest.approx(getattr(state, name), abs=1e-6), name
        np.testing.assert_allclose(back.aus, state.aus, atol=1e-7)
        np.testing.assert_allclose(back.energy_envelope, state.energy_envelope, rtol=1e-6)
        assert len(state.energy_envelope) == 10


def test_malformed_or_hostile_datagrams_decode_to_nothing(music_states):
    good = encode_hop(music_states[30], 1, 1)
    assert decode_hop(good) is not None
    bad = [b"", b"garbage", b"#bundle\x00", good[:-4], good + b"\x00" * 4, good.replace(b"emotion", b"emotioX"),
           good.replace(b",ff\x00", b",fi\x00", 1)]
    nan = AnalysisState(valence=float("nan"))
    bad.append(encode_hop(nan, 1, 1))
    long = AnalysisState(energy_envelope=np.ones(65, np.float32))  # longer than any hop: the sender cuts it
    assert len(decode_hop(encode_hop(long, 1, 1))[3].energy_envelope) == 64
    for dgram in bad:
        assert decode_hop(dgram) is None, dgram[:40]
    rng = random.Random(7)
    decoded = 0
    for _ in range(3000):  # bit flips anywhere: never an exception, and what decodes is in range
        b = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        hop = decode_hop(bytes(b))
        if hop is not None:
            decoded += 1
            s = hop[3]
            assert -1 <= s.valence <= 1 and -1 <= s.arousal <= 1 and 0 <= s.beat_phase < 1
            assert np.all((s.aus >= 0) & (s.aus <= 1)) and 0 <= s.time <= 1e7 and 0 <= s.tempo <= 400
    assert decoded < 3000


def test_parse_address():
    assert parse_address("127.0.0.1:7002") == ("127.0.0.1", 7002)
    assert parse_address("[::1]:9000") == ("::1", 9000)
    for text in ("7002", "host:", "host:0", "host:70000", ":7002"):
        with pytest.raises(HopStreamError, match="HOST:PORT"):
            parse_address(text)


def test_follower_shows_the_newest_hop_and_no_input_when_the_stream_stalls(music_states):
    with HopFollower("127.0.0.1", 0, stale_s=0.5) as follower:
        assert not follower.get().input_ok  # nothing received yet: NO INPUT
        assert follower.status() == f"render node on 127.0.0.1:{follower.port}: no hop yet"
        sender = HopSender([("127.0.0.1", follower.port)])
        for state in music_states[:20]:
            sender.send(state)
            time.sleep(0.002)
        assert wait_for(lambda: follower.version == 20)
        assert follower.get().time == music_states[19].time and follower.get().input_ok
        assert not sender.send(music_states[19])  # the same hop is not sent twice
        # a late packet (an older sequence number) never replaces the newest hop
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.sendto(encode_hop(music_states[3], sender.session, 4), ("127.0.0.1", follower.port))
        raw.sendto(b"not osc at all", ("127.0.0.1", follower.port))
        assert wait_for(lambda: follower.stats()["dropped_old"] == 1 and follower.stats()["dropped_malformed"] == 1)
        assert follower.get().time == music_states[19].time
        # a second sender while ours is alive is ignored
        other = HopSender([("127.0.0.1", follower.port)])
        other.send(music_states[40])
        assert wait_for(lambda: follower.stats()["dropped_foreign"] == 1)
        assert follower.get().time == music_states[19].time
        # the stream stalls: NO INPUT, then a restarted sender (new session) is followed
        assert wait_for(lambda: not follower.get().input_ok, timeout=2.0)
        assert follower.get().time == music_states[19].time  # the last picture stays
        restarted = HopSender([("127.0.0.1", follower.port)])
        restarted.send(music_states[2])  # its stream time starts again from the beginning
        assert wait_for(lambda: follower.get().time == music_states[2].time)
        assert follower.get().input_ok and follower.restarts == 1
        assert re.fullmatch(rf"render node on 127\.0\.0\.1:{follower.port}: last hop \d+ ms ago, "
                            r"sent → here \d+ ms, 1 sender restarts", follower.status()), follower.status()
        for s in (sender, other, restarted):
            s.close()
        raw.close()


def test_follower_refuses_senders_outside_allow_from(music_states):
    import ipaddress

    with HopFollower("127.0.0.1", 0, allow_from=[ipaddress.ip_network("10.0.0.0/8")]) as follower:
        sender = HopSender([("127.0.0.1", follower.port)])
        sender.send(music_states[5])
        assert wait_for(lambda: follower.stats()["dropped_refused"] == 1)
        assert follower.version == 0 and not follower.get().input_ok
        sender.close()


def test_follower_port_in_use_is_one_line():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        follower = HopFollower("127.0.0.1", taken.getsockname()[1])
        with pytest.raises(HopStreamError, match=r"cannot follow the hop stream on 127\.0\.0\.1:\d+: .*in use"):
            follower.start()


def _analyze(track, ports, seconds):
    return subprocess.Popen([sys.executable, "-m", "livevis", "analyze", "--input", str(track), "--duration",
                             str(seconds), *sum((["--send", f"127.0.0.1:{p}"] for p in ports), [])],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@needs_pulse
def test_two_nodes_follow_one_analysis_process_through_a_restart(demo_track_module):
    """A real ``livevis analyze`` plays real music through PulseAudio and sends to two followers;
    both take the same hops at the same moment; it is killed and started again, and they follow."""
    with HopFollower("127.0.0.1", 0) as a, HopFollower("127.0.0.1", 0) as b:
        proc = _analyze(demo_track_module, [a.port, b.port], 60)
        try:
            started = wait_for(lambda: a.version > 0 and b.version > 0, timeout=90)
            assert started, proc.stderr.read() if proc.poll() is not None else "no hop arrived"
            seen_a, seen_b = {}, {}
            t_end = time.monotonic() + 6
            while time.monotonic() < t_end:  # watch both at once
                for f, seen in ((a, seen_a), (b, seen_b)):
                    state, arrived = f.newest()
                    seen.setdefault(state.time, (arrived, state.energy))
                time.sleep(0.001)
            common = sorted(set(seen_a) & set(seen_b))
            assert len(common) >= 40  # ~10 hops/s for 6 s, nearly all seen by both
            spread = np.array([abs(seen_a[t][0] - seen_b[t][0]) for t in common])
            assert np.median(spread) < 0.01 and spread.max() < 0.1  # within one hop (0.1 s)
            assert len({seen_a[t][1] for t in common}) > 30  # the music moves: these are real hops
            assert [seen_a[t][1] for t in common] == [seen_b[t][1] for t in common]
            proc.kill()
            proc.wait(10)
            assert wait_for(lambda: not a.get().input_ok and not b.get().input_ok, timeout=3)
            before = a.version
            proc = _analyze(demo_track_module, [a.port, b.port], 20)
            assert wait_for(lambda: a.get().input_ok and b.get().input_ok and a.version > before + 5, timeout=90)
            assert a.restarts == 1 and b.restarts == 1
            assert a.stats()["dropped_malformed"] == 0
            delays = a.delays()
            assert np.median(delays) < 0.02  # sender → follower on loopback
        finally:
            proc.kill()
            proc.wait(10)


@needs_pulse
@needs_display
def test_livevis_run_follow_renders_the_stream_of_livevis_analyze(demo_track_module):
    port = _free_port()
    sender = _analyze(demo_track_module, [port], 40)
    try:
        proc = run_cli("run", "--follow", f"127.0.0.1:{port}", "--duration", "8", "--size", "320x180",
                       timeout=120)
    finally:
        sender.kill()
        sender.wait(10)
    assert proc.returncode == 0, proc.stderr
    assert f"render node: following the hop stream on 127.0.0.1:{port}" in proc.stdout
    m = re.search(r"drew (\d+) frames \(([\d.]+) fps\), (\d+) analysis hops", proc.stdout)
    assert m, proc.stdout
    assert int(m.group(1)) >= 40 and int(m.group(3)) >= 10, proc.stdout  # it drew, and hops arrived


def test_run_follow_bad_address_is_one_line():
    proc = run_cli("run", "--follow", "nowhere")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "expected HOST:PORT such as 127.0.0.1:7002" in proc.stderr


@needs_display
def test_a_preset_that_follows_refuses_input_of_its_own(tmp_path, trumpet):
    """A render-node preset with ``--input`` would silently ignore the file: it is one line instead."""
    preset = tmp_path / "node.toml"
    preset.write_text(f'[osc]\nfollow = "127.0.0.1:{_free_port()}"\n')
    for own in (["--input", str(trumpet)], ["--device", "default"]):
        proc = run_cli("run", *own, "--preset", str(preset), "--duration", "1", timeout=60)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert "makes this a render node, which plays no audio of its own; drop " + " ".join(own) in proc.stderr


@needs_pulse
@needs_display
def test_livevis_run_with_osc_out_sends_the_hop_stream_too(tmp_path, trumpet):
    """A show that sends OSC (the VJ's machine) is itself an analysis node: a render node follows it."""
    with HopFollower("127.0.0.1", 0) as follower:
        preset = tmp_path / "sender.toml"
        preset.write_text(f"[osc]\nsend = true\nsend_port = {follower.port}\n")
        proc = run_cli("run", "--input", str(trumpet), "--preset", str(preset), "--duration", "5",
                       "--size", "320x180", timeout=120)
        assert proc.returncode == 0, proc.stderr
        stats = follower.stats()
    assert stats["hops"] >= 10 and stats["dropped_malformed"] == 0
    assert stats["dropped_other"] > 0  # the plain /livevis/* messages for other software arrived beside them


def test_run_follow_without_a_sender_shows_no_input_and_ends(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display (tools/test.sh runs Xvfb)")
    proc = run_cli("run", "--follow", f"127.0.0.1:{_free_port()}", "--duration", "2", "--size", "160x90",
                   timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"drew \d+ frames .*, 0 analysis hops", proc.stdout), proc.stdout


@needs_pulse
@needs_display
def test_two_render_node_processes_survive_the_analysis_node_restarting(demo_track_module):
    """Three processes: two ``livevis run --follow`` windows and one ``livevis analyze``, which is
    killed and started again; both nodes keep drawing throughout and follow the new sender."""
    ports = [_free_port(), _free_port()]
    nodes = [subprocess.Popen([sys.executable, "-m", "livevis", "run", "--follow", f"127.0.0.1:{p}", "--duration", "30",
                               "--size", "160x90"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for p in ports]
    sender = _analyze(demo_track_module, ports, 60)
    try:
        time.sleep(12)
        sender.kill()  # the analysis machine loses power
        sender.wait(10)
        time.sleep(3)
        sender = _analyze(demo_track_module, ports, 60)
        outs = [n.communicate(timeout=120) for n in nodes]
    finally:
        sender.kill()
        sender.wait(10)
        for n in nodes:
            n.kill()
    for (out, err), node in zip(outs, nodes):
        assert node.returncode == 0, err
        m = re.search(r"drew (\d+) frames \(([\d.]+) fps\), (\d+) analysis hops", out)
        assert m, out
        frames, fps, hops = int(m.group(1)), float(m.group(2)), int(m.group(3))
        assert fps >= 5 and frames >= 150, out  # the render loop never waited for the network
        assert hops >= 50, out
        assert re.search(r"hop stream: \d+ hops, .*; 1 sender restarts", out), out


def test_a_render_node_shows_what_it_follows_and_takes_osc_control(ctx, music_states, tmp_path):
    """The overlay names the stream followed; the node's own OSC control works as on any show."""
    from pythonosc import udp_client

    from livevis.control.presets import load_preset
    from livevis.show.show import Show

    path = tmp_path / "node.toml"
    path.write_text('[osc]\nlisten = true\nlisten_host = "127.0.0.1"\nlisten_port = 0\n')
    with HopFollower("127.0.0.1", 0) as follower:
        show = Show(ctx, (160, 90), load_preset(str(path)), follower.get, analyzer=follower,
                    say=lambda *_: None, synchronous=True, av_offset=False)
        try:
            sender = HopSender([("127.0.0.1", follower.port)])
            sender.send(music_states[5])
            assert wait_for(lambda: follower.version == 1)
            show.frame(0.0)
            assert show.read_rgb().any()
            first = show.overlay_lines(30.0)[0]
            udp_client.SimpleUDPClient(*show.hub.osc.address).send_message("/master/blackout", 1.0)
            assert wait_for(lambda: show.registry.get("master.blackout") == 1.0)
            show.frame(0.1)
            assert not show.read_rgb().any()  # the blackout reached the picture
            sender.close()
        finally:
            show.close()
    assert f"render node on 127.0.0.1:{follower.port}: last hop" in first, first
