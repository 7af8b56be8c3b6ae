"""Live capture through the PulseAudio null sink: play a real track into the sink and check
that the analysis and emotion values see it (real sound server, real PortAudio stream)."""

import shutil
import subprocess
import time

import numpy as np
import pytest

from livevis.analysis.analyzer import Analyzer, AnalysisThread
from livevis.analysis.state import LatestState


def _pulse_ready() -> bool:
    if shutil.which("paplay") is None or shutil.which("pactl") is None:
        return False
    return subprocess.run(["pactl", "info"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _pulse_ready(), reason="needs a PulseAudio server (tools/start-audio-server.sh)")


def _watch(latest, seconds):
    states = []
    deadline = time.monotonic() + seconds
    last = -1
    while time.monotonic() < deadline:
        if latest.version != last:
            last = latest.version
            states.append(latest.get())
        time.sleep(0.02)
    return states


def test_capture_sees_music_played_into_the_sink(vibe_ace):
    from livevis.audio.capture import AudioCapture
    from livevis.analysis.emotion import load_emotion_model

    capture = AudioCapture()  # the default source: the null sink's monitor
    analyzer = Analyzer(capture.sample_rate, load_emotion_model())
    analyzer.features.warm_up()
    latest = LatestState()
    worker = AnalysisThread(capture, analyzer, latest)
    capture.start()
    try:
        assert capture.wait_first_callback(timeout=5.0), "no audio callback within 5 s"
        worker.start()
        quiet = _watch(latest, 1.0)
        player = subprocess.Popen(["paplay", str(vibe_ace)])
        try:
            loud = _watch(latest, 6.0)[10:]  # skip the sound server's start-up
        finally:
            player.kill()
            player.wait()
    finally:
        worker.stop()
        worker.join(timeout=2)
        capture.stop()
    assert worker.stats.errors == 0
    assert quiet and loud
    assert max(s.rms for s in quiet) < 1e-3
    assert np.median([s.rms for s in loud]) > 0.01
    assert np.median([s.bass for s in loud]) > 0.3
    arousal = np.array([s.arousal for s in loud])
    aus = np.stack([s.aus for s in loud])
    assert np.all(np.isfinite(arousal)) and np.all((aus >= 0) & (aus <= 1))
    assert arousal.std() > 1e-3  # the emotion follows the music, it is not a constant
    assert aus.std(axis=0).max() > 1e-3
    assert all(s.input_ok for s in loud)
