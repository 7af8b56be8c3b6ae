"""Silence, noise and level: the face eases to rest in silence without NaN or flicker; the
noise gate and the automatic gain control work within the limits a preset sets."""

import numpy as np
import pytest

from livevis.analysis.analyzer import REST, Analyzer
from livevis.audio.decode import load_audio
from livevis.audio.conditioning import ConditioningSettings, InputConditioner, to_db
from livevis.analysis.features import SAMPLE_RATE


@pytest.fixture(scope="module")
def music(request):
    from tests.conftest import shared_file

    audio, _ = load_audio(shared_file("audio/librosa-data/Karissa_Hobbs_-_Lets_Go_Fishin.ogg"), SAMPLE_RATE)
    return audio.mean(axis=1)[5 * SAMPLE_RATE:15 * SAMPLE_RATE]


def test_silence_after_music_eases_to_rest(music):
    from livevis.analysis.emotion import Smoother, load_emotion_model

    analyzer = Analyzer(SAMPLE_RATE, load_emotion_model(), smoother=Smoother(0.3, 1.0))
    rng = np.random.default_rng(0)
    room = 10 ** (-75 / 20) * rng.standard_normal(8 * SAMPLE_RATE).astype(np.float32)  # hiss below the gate
    states = analyzer.feed(np.concatenate([music, room, np.zeros(4 * SAMPLE_RATE, np.float32)]))
    values = np.array([[s.valence, s.arousal, *s.aus, s.rms, s.energy, s.onset] for s in states])
    assert np.all(np.isfinite(values))
    loud, quiet = states[:100], states[100:]
    assert analyzer.gated_hops >= 110
    end = quiet[-1]
    assert end.valence == pytest.approx(REST[0], abs=0.05) and end.arousal == pytest.approx(REST[1], abs=0.05)
    assert np.abs(end.aus - REST[2:]).max() < 0.05
    assert np.abs(np.mean([s.aus for s in loud[20:]], axis=0) - end.aus).max() > 0.02  # it did move
    # no flicker: the easing is smooth, hop to hop
    steps = np.abs(np.diff([[s.valence, s.arousal, *s.aus] for s in quiet], axis=0))
    assert steps.max() < 0.15


def test_noise_gate_and_agc_limits(music):
    quiet = (music * 10 ** (-30 / 20)).astype(np.float32)  # the same song 30 dB down (a far microphone)
    settings = ConditioningSettings(gate_db=-80.0, agc=True, target_db=-20.0, max_gain_db=24.0, agc_time_s=1.0)
    conditioner = InputConditioner(settings, hop_s=0.1)
    window, hop = 8000, 1600
    out_levels = []
    for end in range(window, len(quiet), hop):
        out, gated = conditioner.process(quiet[end - window:end], hop)
        out_levels.append(to_db(float(np.sqrt(np.mean(out[-hop:] ** 2)))))
    assert conditioner.gain_db == pytest.approx(24.0, abs=0.5)  # wanted ~+30 dB, limited to +24
    raw_level = to_db(float(np.sqrt(np.mean(quiet ** 2))))
    assert np.median(out_levels[-30:]) == pytest.approx(raw_level + 24.0, abs=4.0)
    # silence never raises the gain (it would amplify the noise floor)
    before = conditioner.gain_db = 3.0
    for _ in range(50):
        _, gated = conditioner.process(np.zeros(window, np.float32), hop)
        assert gated
    assert conditioner.gain_db == before


def test_preset_sets_the_conditioning():
    from livevis.audio.conditioning import settings_from_preset
    from livevis.control.presets import load_preset

    settings = settings_from_preset(load_preset("accessibility").audio)
    assert settings.agc and settings.max_gain_db == 30.0 and settings.gate_db == -58.0
