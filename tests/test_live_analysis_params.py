"""The live parameters that act on the analyser (face.smoothing.attack/release, audio.gain_db,
audio.noise_gate_db) reach it while the show runs, as a MIDI knob or an OSC message sets them,
and a smoothing change does not make the face jump."""

import numpy as np
import pytest

from livevis.analysis.analyzer import Analyzer
from livevis.analysis.emotion import load_emotion_model
from livevis.audio.decode import load_audio
from livevis.analysis.features import SAMPLE_RATE
from livevis.analysis.state import AnalysisState
from livevis.control.presets import default_preset


@pytest.fixture
def music(demo_track):
    audio, _ = load_audio(demo_track, SAMPLE_RATE)
    return audio.mean(axis=1)[10 * SAMPLE_RATE:40 * SAMPLE_RATE]


@pytest.mark.gl
def test_analysis_params_reach_the_analyser_live(ctx, music):
    from livevis.show.show import Show

    analyzer = Analyzer(SAMPLE_RATE, load_emotion_model())
    show = Show(ctx, (64, 36), default_preset(), lambda: AnalysisState(), analyzer=analyzer, control=False,
                say=lambda *_: None)
    second = SAMPLE_RATE
    try:
        show.frame(0.0)
        analyzer.feed(music[:3 * second])
        assert analyzer.gated_hops == 0  # music, well above the default gate

        show.registry.set("audio.noise_gate_db", -3.0)  # nearly everything is "silence" now
        show.frame(0.1)
        analyzer.feed(music[3 * second:6 * second])
        assert analyzer.gated_hops >= 25
        show.registry.set("audio.noise_gate_db", -60.0)
        show.frame(0.2)
        gated = analyzer.gated_hops
        plain = analyzer.feed(music[6 * second:9 * second])
        assert analyzer.gated_hops == gated

        show.registry.set("audio.gain_db", -12.0)
        show.frame(0.3)
        quieter = analyzer.feed(music[6 * second:9 * second])
        ratio = np.median([q.rms for q in quieter[10:]]) / np.median([p.rms for p in plain[10:]])
        assert ratio == pytest.approx(10 ** (-12 / 20), rel=0.1)

        # smoothing: slow (30 s) time constants hold the face still; a change keeps its value
        show.registry.set("face.smoothing.attack", 30.0)
        show.registry.set("face.smoothing.release", 30.0)
        show.frame(0.4)
        assert (analyzer.smoother.attack_s, analyzer.smoother.release_s) == (30.0, 30.0)
        last = quieter[-1]
        slow = analyzer.feed(music[9 * second:20 * second])
        assert abs(slow[0].arousal - last.arousal) < 0.02  # no jump at the change
        show.registry.set("face.smoothing.attack", 0.0)
        show.registry.set("face.smoothing.release", 0.0)
        show.frame(0.5)
        fast = analyzer.feed(music[20 * second:30 * second])
        step = lambda states: np.abs(np.diff([s.arousal for s in states])).max()  # noqa: E731
        assert step(slow) < 0.01  # a 30 s time constant moves at most 0.33 % of the gap a hop
        assert step(fast) > 3 * step(slow)
    finally:
        show.close()
