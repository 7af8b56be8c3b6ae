"""Playback and capture problems (underruns, overflows) are counted, shown in the overlay and
logged once a second while they last (issue 13)."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import wait_for
from tests.test_live_capture import _pulse_ready

from livevis.audio.xruns import XrunCounter
from livevis.overlay import overlay_lines
from livevis.analysis.state import LatestState


@pytest.mark.skipif(not _pulse_ready(), reason="needs a PulseAudio server (tools/start-audio-server.sh)")
def test_real_playback_underruns_are_counted_shown_and_logged(tmp_path, caplog):
    """A real underrun: the player's callback sleeps 150 ms (longer than its 512-frame block,
    ~11 ms) every 40th call while it plays to the PulseAudio null sink; PortAudio reports the
    underrun in the next callback's status."""
    from livevis.analysis.analyzer import AnalysisThread, Analyzer
    from livevis.audio.playback import FilePlayer
    from livevis.analysis.emotion import load_emotion_model

    caplog.set_level(logging.WARNING, logger="livevis.audio")
    sr = 44100
    t = np.arange(int(6 * sr)) / sr
    path = tmp_path / "tone.wav"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)

    class StarvedPlayer(FilePlayer):
        calls = 0

        def _callback(self, outdata, frames, time_info, status):
            super()._callback(outdata, frames, time_info, status)
            self.calls += 1
            if self.calls % 40 == 0:
                time.sleep(0.15)

    player = StarvedPlayer(path)
    latest = LatestState()
    worker = AnalysisThread(player, Analyzer(player.sample_rate, load_emotion_model(None)), latest)
    player.start()
    worker.start()
    try:
        assert wait_for(lambda: latest.get().underruns >= 1, timeout=8.0), player.xruns.counts
    finally:
        worker.stop()
        worker.join(2)
        player.stop()
    count = player.xruns.counts["output_underflow"]
    assert count >= 1 and player.xruns.underruns == count
    text = "\n".join(overlay_lines(latest.get(), fps=60.0, preset="test"))
    assert f"underruns {latest.get().underruns}" in text
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("audio playback: ")]
    assert logged and "output underruns" in logged[0], logged
    print(f"{player.calls} callbacks, {count} output underruns, log: {logged}")


def test_problems_are_logged_once_a_second_while_they_last(caplog):
    """Input overflows cannot be caused for real here (PulseAudio buffers a stalled reader),
    so the status is built as PortAudio passes it: real ``sounddevice.CallbackFlags`` values."""
    import sounddevice as sd

    caplog.set_level(logging.WARNING, logger="livevis.audio")
    xruns = XrunCounter("capture")
    overflow, underflow, fine = sd.CallbackFlags(2), sd.CallbackFlags(1), sd.CallbackFlags(0)
    lines = []
    for step in range(300):  # 3 s of 10 ms callbacks: problems for 2 s, then none
        now = 100.0 + step * 0.01
        xruns.note(overflow if step < 200 and step % 3 == 0 else fine)
        if step == 50:
            xruns.note(underflow)
        line = xruns.report(now)
        if line:
            lines.append((round(now - 100.0, 2), line))
    # one line a second while they last (the last covers 1.0..2.0 s), none once they stopped
    assert [t for t, _ in lines] == [0.0, 1.0, 2.0], lines
    assert lines[0][1] == "audio capture: 1 input overflows (1 in all)"
    assert lines[1][1] == "audio capture: 1 input underruns (1 in all), 33 input overflows (34 in all)"
    assert lines[2][1] == "audio capture: 33 input overflows (67 in all)"
    assert xruns.counts["input_overflow"] == 67 and xruns.overflows == 67 and xruns.underruns == 1
    assert xruns.report(1000.0) is None
    assert [r.getMessage() for r in caplog.records] == [line for _, line in lines]
