"""Device loss for real: unload the PulseAudio null sink under a running pipeline, check the
"no input" state, load it again and check the same device is reopened and analysed."""

import subprocess
import time

import numpy as np
import pytest

from livevis import ROOT
from livevis.analysis.analyzer import Analyzer, AnalysisThread
from livevis.analysis.state import LatestState
from tests.conftest import wait_for
from tests.test_analysis import RecordingEmotion
from tests.test_live_capture import _pulse_ready

pytestmark = pytest.mark.skipif(not _pulse_ready(), reason="needs a PulseAudio server (tools/start-audio-server.sh)")


def _null_sink_module() -> str:
    out = subprocess.run(["pactl", "list", "short", "modules"], capture_output=True, text=True).stdout
    return next(line.split()[0] for line in out.splitlines() if "livevis_null" in line)


def test_input_recovers_after_the_device_disappears(vibe_ace):
    from livevis.audio.live import LiveInput

    source = LiveInput()
    analyzer = Analyzer(source.sample_rate, RecordingEmotion())
    analyzer.features.warm_up()
    latest = LatestState()
    worker = AnalysisThread(source, analyzer, latest)
    source.start()
    worker.start()
    player = None
    try:
        assert wait_for(lambda: latest.version > 5, 8), "no analysis before the loss"
        subprocess.run(["pactl", "unload-module", _null_sink_module()], check=True)
        assert wait_for(lambda: not latest.get().input_ok, 5), "no 'no input' state after the device vanished"
        time.sleep(1.0)  # a few failed retries while the device is gone
        subprocess.run(["bash", str(ROOT / "tools" / "start-audio-server.sh")], check=True, capture_output=True)
        player = subprocess.Popen(["paplay", str(vibe_ace)])
        assert wait_for(lambda: latest.get().input_ok and latest.get().rms > 0.01, 20), \
            "the input was not reopened, or the music played after it came back was not seen"
        assert source.reopens >= 1
        assert worker.stats.errors == 0
        assert np.isfinite(latest.get().energy)
    finally:
        if player is not None:
            player.kill()
            player.wait()
        worker.stop()
        worker.join(timeout=3)
        source.stop()
        subprocess.run(["bash", str(ROOT / "tools" / "start-audio-server.sh")], capture_output=True)
