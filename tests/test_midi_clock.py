"""MIDI clock out: 24 pulses a beat at the show's tempo, on the show's beat (Ableton Link's when it
follows a session), sent on a real JACK virtual port to a test 'drum machine'."""

from __future__ import annotations

import time

import numpy as np
import pytest

from livevis.analysis.state import AnalysisState
from livevis.control.midi import ClockOut, MidiOutput, MidiOutputThread
from tests.conftest import wait_for
from tests.test_midi import API, jack, lights  # noqa: F401  (fixtures)


def _run(clock: ClockOut, tempo_of, phase_of, seconds: float, rate_hz: float = 200.0):
    """Step ``clock`` on a host-supplied clock; returns [(time, message type)]."""
    out = []
    for i in range(int(seconds * rate_hz)):
        t = i / rate_hz
        out += [(t, m.type) for m in clock.step(tempo_of(t), phase_of(t), t)]
    return out


def test_clock_pulses_24_a_beat_starting_on_the_beat():
    beat = lambda t: t * 2.0 + 0.3  # noqa: E731  120 BPM, a beat at t = 0.35 s, 0.85 s...
    events = _run(ClockOut(), lambda t: 120.0, lambda t: beat(t) % 1.0, 10.0)
    types = [e for _, e in events]
    assert types[0] == "start" and types.count("start") == 1
    start = events[0][0]
    assert start == pytest.approx(0.35, abs=0.006)  # on the first beat after the tempo was known
    clocks = np.array([t for t, e in events if e == "clock"])
    assert clocks[0] == start  # the first clock after start marks that beat
    assert len(clocks) == pytest.approx((10.0 - 0.35) * 2 * 24, abs=2)
    assert np.median(np.diff(clocks)) == pytest.approx(60 / 120 / 24, abs=0.006)
    downbeats = clocks[::24]  # every 24th pulse is on the beat
    phase_error = (beat(downbeats) + 0.5) % 1.0 - 0.5
    assert np.abs(phase_error).max() * 500 < 6.0  # ms, within one 200 Hz step


def test_clock_follows_a_tempo_change_and_stops_when_the_tempo_is_lost():
    tempo = lambda t: 120.0 if t < 5 else (140.0 if t < 10 else 0.0)  # noqa: E731
    beats = lambda t: t * 2 if t < 5 else 10 + (t - 5) * 140 / 60  # noqa: E731
    events = _run(ClockOut(), tempo, lambda t: beats(t) % 1.0, 12.0)
    clocks = np.array([t for t, e in events if e == "clock"])
    late = np.diff(clocks[(clocks > 6) & (clocks < 10)])
    assert np.median(late) == pytest.approx(60 / 140 / 24, abs=0.006)
    assert [e for t, e in events if e == "stop"] == ["stop"]
    assert not any(t > 10.01 for t, e in events if e == "clock")


def test_clock_skips_ahead_after_a_stall_instead_of_bursting():
    clock = ClockOut()
    clock.step(120.0, 0.0, 0.0)
    clock.step(120.0, 0.01, 0.005)
    burst = clock.step(120.0, 0.5, 3.0)  # the loop stalled for 3 s (6 beats)
    assert 0 < sum(m.type == "clock" for m in burst) <= 24


def test_clock_goes_out_on_a_real_port_locked_to_link(lights):  # noqa: F811
    """The show follows a Link session at 126 BPM (another peer sets it); the clock on the port
    runs at 126 BPM and its downbeats fall on Link's beats."""
    from livevis.control.link import LinkSession

    with LinkSession(100.0) as link, LinkSession(126.0) as peer:
        if not wait_for(lambda: link.peers >= 1, timeout=8.0):
            pytest.skip("Link discovery found no peer on this machine")
        peer._link.tempo = 126.0
        assert wait_for(lambda: abs(link.tempo - 126.0) < 1e-3, timeout=3.0)
        out = MidiOutput(lights.name, api=API)
        time.sleep(0.15)  # JACK connects on its next cycle
        thread = MidiOutputThread(out, lambda: link.apply(AnalysisState(tempo=93.0)), rate_hz=500,
                                  clock=ClockOut())
        got = []
        thread.start()
        try:
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:
                for msg in lights.iter_pending():
                    got.append((time.monotonic(), msg.type, link.beat))
                time.sleep(0.0005)
        finally:
            thread.stop()
            out.close()
    types = [g[1] for g in got]
    assert "start" in types
    clocks = np.array([(t, b) for t, kind, b in got if kind == "clock"])
    assert len(clocks) > 150
    spacing = np.median(np.diff(clocks[:, 0]))
    assert spacing == pytest.approx(60 / 126 / 24, abs=0.003)  # 126 BPM, not the analysed 93
    # Link's beat phase when each downbeat arrived here: JACK's dummy driver delivers MIDI once a
    # period (1024 frames at 48 kHz, 21.3 ms), so a downbeat on the beat arrives 0..21 ms after it
    late_ms = ((clocks[::24, 1] + 0.5) % 1.0 - 0.5) * 60000 / 126
    assert -5.0 < np.median(late_ms) < 32.0, late_ms
