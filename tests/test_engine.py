"""The audio engine process: real spawn processes, real PulseAudio (null sink) playback of real music,
the shared-memory state slot read while another process writes it, and a killed engine restarted with
NO INPUT meanwhile."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

from livevis.analysis.state import AnalysisState
from livevis.audio.engine import AudioEngine
from livevis.audio.engine_process import EngineConfig
from livevis.audio.state_slot import StateSlot, new_slot
from livevis.errors import InputFileError
from tests.conftest import wait_for
from tests.test_live_capture import _pulse_ready

needs_pulse = pytest.mark.skipif(not _pulse_ready(), reason="needs a PulseAudio server (tools/start-audio-server.sh)")


def _write_states(raw, n):
    """Writer process: state k has every scalar and every AU derived from k, so a torn read shows."""
    slot = StateSlot(raw)
    for k in range(1, n + 1):
        slot.publish(AnalysisState(time=k, rms=k, bass=k, valence=k, aus=np.full(17, k, np.float32),
                                   energy_envelope=np.full(k % 11, k, np.float32), underruns=k), arrival=k)


def test_slot_reads_are_never_torn_while_another_process_writes():
    ctx = multiprocessing.get_context("spawn")
    raw = new_slot(ctx)
    slot = StateSlot(raw)
    blank, arrival = slot.read()
    assert not blank.input_ok and arrival == 0.0  # nothing published yet
    writer = ctx.Process(target=_write_states, args=(raw, 200_000))
    writer.start()
    seen, last = 0, 0.0
    while writer.is_alive() or seen == 0:
        state, arrival = slot.read()
        if state.time:
            k = state.time
            assert state.rms == state.bass == state.valence == arrival == k == state.underruns
            assert np.all(state.aus == k) and state.energy_envelope.size == int(k) % 11
            assert np.all(state.energy_envelope == k)
            assert k >= last  # never older than what was seen before
            last, seen = k, seen + 1
    writer.join()
    assert slot.read()[0].time == 200_000 and slot.version == 200_000
    assert seen > 10


def test_a_missing_file_is_the_engines_one_line_error(tmp_path):
    engine = AudioEngine(EngineConfig(input_path=str(tmp_path / "gone.flac")), say=lambda line: None)
    with pytest.raises(InputFileError, match="gone.flac"):
        engine.start()
    assert engine.pid is None


@needs_pulse
def test_killed_engine_is_restarted_with_no_input_meanwhile(vibe_ace):
    said = []
    engine = AudioEngine(EngineConfig(input_path=str(vibe_ace)), say=said.append)
    try:
        info = engine.start()
        assert info["kind"] == "file" and info["pid"] != os.getpid()
        assert engine.wait_ready()["hop_s"] == pytest.approx(0.1)
        engine.play()
        assert wait_for(lambda: engine.slot.version >= 15 and engine.get().input_ok, timeout=20)
        playing = engine.get()
        assert playing.rms > 0.01 and playing.time >= 1.0  # real music, analysed in the other process
        first_pid = engine.pid
        os.kill(first_pid, signal.SIGKILL)
        assert wait_for(lambda: not engine.healthy(), timeout=2)  # SIGKILL takes effect
        killed_at, version_at_kill = engine.slot.read()[0].time, engine.slot.version

        observations = []  # (slot version, input_ok) until the new engine analyses again

        def resumed():
            engine.supervise()
            state = engine.get()
            observations.append((engine.slot.version, state.input_ok))
            return engine.pid not in (None, first_pid) and state.input_ok and state.time > killed_at + 0.5

        assert wait_for(resumed, timeout=90, interval=0.02)
        assert engine.restarts == 1 and "restarting the audio engine (1)" in said
        # NO INPUT from the kill until the new engine's first state (a few seconds: spawn, imports, model)
        stale = [ok for version, ok in observations if version <= version_at_kill + 1]
        assert len(stale) > 10 and not any(stale), stale[:20]
        # the file resumed where it was, so the analysis time goes on from there
        assert engine.get().time < killed_at + 10
        totals = engine.stats()
        assert totals["hops"] >= 15 and totals["restarts"] == 1
    finally:
        engine.stop()
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)
