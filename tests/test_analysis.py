"""The analysis pipeline on real music: features, energy vector, causality, tempo."""

import numpy as np
import pytest

from livevis.analysis.analyzer import Analyzer
from livevis.audio.decode import load_audio
from livevis.analysis.features import N_FEATURES, SAMPLE_RATE, FeatureExtractor
from livevis.analysis.tempo import TempoTracker


class RecordingEmotion:
    """Records the feature vectors it is given (the analysis is under test, not the model)."""

    def __init__(self):
        self.vectors = []

    def step(self, features):
        self.vectors.append(features.copy())
        return 0.0, 0.0, np.zeros(17, np.float32)


@pytest.fixture(scope="module")
def extractor():
    fe = FeatureExtractor()
    fe.warm_up()
    return fe


def _mono16k(path, seconds=None):
    audio, _ = load_audio(path, SAMPLE_RATE)
    mono = audio.mean(axis=1)
    return mono if seconds is None else mono[: int(seconds * SAMPLE_RATE)]


def test_features_of_music_and_silence(extractor, vibe_ace):
    music = _mono16k(vibe_ace, 5.0)
    f_music = extractor.process(music[-8000:])
    f_silence = extractor.process(np.zeros(8000, np.float32))
    assert f_music.vector.shape == (N_FEATURES,) and f_music.vector.dtype == np.float32
    assert np.all(np.isfinite(f_music.vector)) and np.all(np.isfinite(f_silence.vector))
    assert f_music.rms > 0.01 and f_silence.rms == 0.0
    assert f_music.bass > 0.3 and f_silence.bass == 0.0
    assert f_music.energy > 100 * max(f_silence.energy, 1e-12)
    assert f_music.onset_envelope.shape == (10,)


def _full_window_reference(extractor, window):
    """The pre-issue-15 computation: a fresh openSMILE per window (``process_signal``) and HPSS of
    the whole 0.5 s window; returns (eGeMAPS functionals (88,), energy envelope (10,))."""
    import librosa
    import opensmile

    smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
    egemaps = np.nan_to_num(smile.process_signal(window, SAMPLE_RATE).to_numpy(dtype=np.float32).reshape(-1))
    stft = librosa.stft(window, n_fft=512, hop_length=160, window=extractor._window, center=False)
    mag = np.abs(stft) * extractor._scale
    harmonic, percussive = librosa.decompose.hpss(mag, kernel_size=(17, 17))
    fb, new = extractor._mel_fb, slice(-10, None)
    energy = (0.9 * (fb @ percussive[:, new] ** 2).mean(axis=0)
              + 0.1 * (fb @ harmonic[:, new] ** 2).mean(axis=0)).astype(np.float32)
    return egemaps, energy


def test_features_equal_the_full_window_computation(vibe_ace):
    """The reused openSMILE instance and the HPSS of the newest frames give bit-identical model
    inputs and energy envelopes to a fresh openSMILE and a whole-window HPSS, hop after hop of real
    music (and on silence, between music windows, so no state leaks from one window to the next)."""
    extractor = FeatureExtractor(functionals_every=1)
    music = _mono16k(vibe_ace, 8.0)
    windows = [music[k * 1600: k * 1600 + 8000] for k in range(0, 46, 3)]
    windows.insert(5, np.zeros(8000, np.float32))
    for window in windows:
        f = extractor.process(window)
        egemaps, energy = _full_window_reference(extractor, window)
        assert np.array_equal(f.vector[:88], egemaps)
        assert np.array_equal(f.energy_envelope, energy)


def test_functionals_are_computed_every_fifth_hop_and_held_between(vibe_ace):
    """By default the eGeMAPS functionals (openSMILE, the costly part) are those of every fifth hop's
    window, the first included, and held for the four hops after it; the log-mel part and the meters
    are new every hop. Warming up does not shift the cadence."""
    extractor = FeatureExtractor()
    extractor.warm_up()
    fresh = FeatureExtractor(functionals_every=1)
    music = _mono16k(vibe_ace, 4.0)
    hops = [extractor.process(music[k * 1600: k * 1600 + 8000]) for k in range(12)]
    for k, f in enumerate(hops):
        owner = k - k % 5
        expected = fresh.process(music[owner * 1600: owner * 1600 + 8000]).vector[:88]
        assert np.array_equal(f.vector[:88], expected), k
    assert not np.array_equal(hops[4].vector[:88], hops[5].vector[:88])
    assert all(not np.array_equal(a.vector[88:], b.vector[88:]) for a, b in zip(hops, hops[1:]))
    # openSMILE's reset done in idle time between hops (as the live analysis thread does): the same
    idling = FeatureExtractor()
    idling.warm_up()
    for k, f in enumerate(hops):
        idling.idle()
        assert np.array_equal(idling.process(music[k * 1600: k * 1600 + 8000]).vector, f.vector), k
        idling.idle()
    with pytest.raises(ValueError, match="functionals_every"):
        FeatureExtractor(functionals_every=0)


def test_a_hop_is_analysed_as_soon_as_its_last_sample_arrives(demo_track):
    """The resampler to 16 kHz holds nothing back: fed a 48 kHz track (the demo) one hop of samples at a
    time, the analyser gives each hop's state on the call that brings its last sample (soxr's HQ
    filter held 23 ms back, so each hop came one call late), and the hop's model input stays close
    to the one computed from the same audio resampled offline with soxr HQ."""
    import soxr

    audio, rate = load_audio(demo_track)
    mono = audio.mean(axis=1)[: rate * 6].astype(np.float32)
    analyzer = Analyzer(rate, RecordingEmotion())
    hop = rate // 10
    counts = [len(analyzer.feed(mono[i:i + hop])) for i in range(0, 50 * hop, hop)]
    assert counts == [1] * 50
    assert analyzer._pending == 0
    offline = soxr.resample(mono[: 50 * hop], rate, SAMPLE_RATE, quality="HQ")
    extractor = FeatureExtractor(functionals_every=1)
    live = analyzer.emotion.vectors
    for k in (20, 35, 49):  # hop k's window ends at (k + 1) / 10 s
        end = (k + 1) * 1600
        reference = extractor.process(offline[end - 8000:end]).vector
        relative = np.abs(live[k][:88] - reference[:88]) / (np.abs(reference[:88]) + 1e-3)
        if k % 5 == 0:  # a hop whose functionals are computed (every fifth)
            assert np.median(relative) < 0.02
        assert np.abs(live[k][88:127] - reference[88:127]).max() < 3.0  # log-mel means, dB (top band aside)


def test_energy_vector_follows_percussion(vibe_ace):
    """The causal energy vector (0.9 percussive + 0.1 harmonic) tracks the percussive energy
    of an offline (non-causal) HPSS of the whole track, and follows onsets better than RMS."""
    import librosa

    music = _mono16k(vibe_ace, 20.0)
    states = Analyzer(SAMPLE_RATE, RecordingEmotion()).feed(music)
    energy = np.array([s.energy for s in states])
    power = np.array([s.rms for s in states]) ** 2
    _, percussive = librosa.effects.hpss(music)
    hops = [slice(i * 1600, (i + 1) * 1600) for i in range(len(states))]
    percussive_power = np.array([np.mean(percussive[h] ** 2) for h in hops])
    env = librosa.onset.onset_strength(y=music, sr=SAMPLE_RATE, hop_length=160)
    onset = np.array([env[i * 10:(i + 1) * 10].mean() for i in range(len(states))])
    assert np.corrcoef(energy, percussive_power)[0, 1] > 0.6
    assert np.corrcoef(energy, onset)[0, 1] > np.corrcoef(power, onset)[0, 1]


def test_energy_envelope_resolves_hits_inside_a_hop(vibe_ace):
    """Each hop's 10 ms energy envelope averages to the hop's energy and peaks on the hits
    inside the hop: at librosa's (offline) onsets it is well above its hop's mean."""
    import librosa

    music = _mono16k(vibe_ace, 20.0)
    states = Analyzer(SAMPLE_RATE, RecordingEmotion()).feed(music)
    for s in states:
        assert s.energy_envelope.shape == (10,) and s.energy_envelope.dtype == np.float32
        assert (s.energy_envelope >= 0).all()
        assert float(s.energy_envelope.mean()) == pytest.approx(s.energy, rel=1e-4, abs=1e-12)
    fine = np.concatenate([s.energy_envelope for s in states])
    hop_mean = np.repeat([s.energy for s in states], 10)
    onsets = librosa.onset.onset_detect(y=music, sr=SAMPLE_RATE, hop_length=160, units="frames")
    onsets = onsets[onsets < len(fine)]
    assert len(onsets) > 20
    ratio = fine[onsets] / np.maximum(hop_mean[onsets], 1e-12)
    assert ratio.mean() > 1.3, ratio.mean()
    # and off the onsets (≥ 50 ms away from any) it sits below its hop's mean
    far = np.ones(len(fine), bool)
    for o in onsets:
        far[max(0, o - 5):o + 6] = False
    assert (fine[far] / np.maximum(hop_mean[far], 1e-12)).mean() < 1.0


def test_analysis_is_causal_and_deterministic(vibe_ace):
    """A hop's state depends only on samples up to its end: a prefix gives the same states."""
    audio, rate = load_audio(vibe_ace)
    mono = audio.mean(axis=1)
    full = Analyzer(rate, RecordingEmotion()).feed(mono[: 6 * rate])
    prefix_emotion = RecordingEmotion()
    prefix = Analyzer(rate, prefix_emotion).feed(mono[: 3 * rate])
    # chunked feeding (as from a live ring buffer) must not change anything either
    chunked_emotion = RecordingEmotion()
    chunked = []
    a = Analyzer(rate, chunked_emotion)
    for start in range(0, 3 * rate, 1000):
        chunked += a.feed(mono[start:min(start + 1000, 3 * rate)])
    assert len(prefix) == len(chunked) >= 25
    # the resampler's filter delay may hold back the last hop of a prefix; compare all but it
    for p, f, c in zip(prefix[:-1], full, chunked):
        assert p.time == f.time == c.time
        assert p.rms == pytest.approx(f.rms, rel=1e-4, abs=1e-6)
        assert p.energy == pytest.approx(f.energy, rel=1e-3, abs=1e-9)
    assert np.allclose(prefix_emotion.vectors[-2], chunked_emotion.vectors[-2], rtol=1e-3, atol=1e-3)


def test_tempo_of_a_click_track():
    """A 120 BPM pulse (0.5 s period) in the onset envelope gives ~120 BPM and beat phase."""
    env = np.zeros(800, np.float32)
    env[::50] = 1.0  # 100 Hz frames, a beat every 50 frames
    tracker = TempoTracker()
    for i in range(0, 800, 10):
        tempo, phase = tracker.update(env[i:i + 10])
    assert tempo == pytest.approx(120.0, abs=3.0)
    # the last beat was at frame 750; the newest frame is 799: 49 frames ago → phase 0.98
    assert phase == pytest.approx(49 / 50, abs=0.05)


def test_tempo_of_real_music(vibe_ace):
    """Vibe Ace is played at about 130 BPM (librosa's beat tracker agrees)."""
    import librosa

    music = _mono16k(vibe_ace, 20.0)
    analyzer = Analyzer(SAMPLE_RATE, RecordingEmotion())
    states = analyzer.feed(music)
    reference, _ = librosa.beat.beat_track(y=music, sr=SAMPLE_RATE)
    reference = float(np.atleast_1d(reference)[0])
    tempos = np.array([s.tempo for s in states[-50:]])
    ratio = np.median(tempos) / reference
    assert min(abs(ratio - r) for r in (0.5, 1.0, 2.0)) < 0.06


def test_overload_skips_audio_and_counts_it(vibe_ace):
    """More audio waiting than max_backlog_s (an overloaded machine): the thread skips the
    oldest audio, counts the skipped hops into the state, and keeps up with the newest."""
    import time

    from livevis.analysis.analyzer import AnalysisThread
    from livevis.audio.capture import StreamClock
    from livevis.audio.ringbuffer import RingBuffer
    from livevis.analysis.state import LatestState

    class Burst:
        sample_rate = SAMPLE_RATE
        ring = RingBuffer(10 * SAMPLE_RATE)
        clock = StreamClock()

    music = _mono16k(vibe_ace, 8.0)
    assert Burst.ring.write(music)  # 8 s arrive at once
    Burst.clock.stamp(Burst.ring.total_written)
    latest = LatestState()
    worker = AnalysisThread(Burst, Analyzer(SAMPLE_RATE, RecordingEmotion()), latest, max_backlog_s=1.0)
    worker.start()
    deadline = time.monotonic() + 20
    while Burst.ring.available() > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    worker.stop()
    worker.join(timeout=2)
    state = latest.get()
    assert worker.stats.skipped_samples >= 6 * SAMPLE_RATE
    assert state.skipped_hops == worker.stats.skipped_samples // 1600
    assert worker.stats.hops <= 20  # only the newest ~1 s was analysed
    assert state.time == pytest.approx(8.0, abs=0.11)  # the stream's time, skips included
