"""Streaming audio features, one frame of features per hop.

Every hop (default 0.1 s) the analyser hands :meth:`FeatureExtractor.process` the last
0.5 s of mono audio at 16 kHz (the 0.5 s window of the music→AU paper,
``../shared/papers/music-to-facial-expressions-GANimation.txt``) and gets back a
:class:`HopFeatures`: the emotion model's input vector (openSMILE eGeMAPSv02 functionals
plus log-mel band means), level and band meters, onset strength and the audio energy vector.

Everything is causal: a hop's features use only samples up to the end of its window.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import opensmile

from livevis.analysis.egemaps import EgemapsFunctionals

#: Analysis sample rate in Hz. Every source is resampled to this rate before analysis.
SAMPLE_RATE = 16000
#: Analysis window in seconds (music→AU paper: 0.5 s openSMILE windows).
WINDOW_S = 0.5
#: Default hop in seconds between two feature frames.
HOP_S = 0.1
#: STFT size and hop in samples (32 ms / 10 ms at 16 kHz).
N_FFT = 512
STFT_HOP = 160
#: Number of log-mel bands.
N_MELS = 40
#: HPSS median-filter length (frames along time for the harmonic part, bins for the percussive part).
HPSS_KERNEL = 17
#: Weights of the percussive and harmonic mel energy in the audio energy vector
#: (diffusion music visualiser paper, section 3.3: 0.9 percussive, 0.1 harmonic).
PERCUSSIVE_WEIGHT = 0.9
HARMONIC_WEIGHT = 0.1

_EGEMAPS = opensmile.FeatureSet.eGeMAPSv02
_FUNCTIONALS = opensmile.FeatureLevel.Functionals


def egemaps_names() -> list[str]:
    """Names of the 88 eGeMAPSv02 functionals, in the order of the model input."""
    return list(opensmile.Smile(_EGEMAPS, _FUNCTIONALS).feature_names)


#: Names of the emotion model's input features, in order: 88 eGeMAPSv02 functionals,
#: then ``logmel_00`` … ``logmel_39`` (mean log-mel power of the window, dB).
FEATURE_NAMES: tuple[str, ...] = tuple(egemaps_names() + [f"logmel_{i:02d}" for i in range(N_MELS)])
N_FEATURES = len(FEATURE_NAMES)


@dataclass(frozen=True)
class HopFeatures:
    """Features of one hop.

    Attributes:
        vector: float32 array of shape (:data:`N_FEATURES`,), the emotion model input
            (raw, unnormalised: the model normalises it in its own graph).
        rms: RMS amplitude of the newest hop, linear, [0, 1] for full-scale input.
        bass, mid, high: newest-hop band levels (< 250 Hz, 250–2000 Hz, > 2000 Hz), dB mapped
            from [-80, 0] dBFS to [0, 1].
        onset: mean spectral-flux onset strength of the newest hop (librosa), >= 0, unnormalised.
        energy: audio energy vector value of the newest hop: 0.9 · percussive + 0.1 · harmonic
            mean mel power after HPSS of the window (diffusion music visualiser, section 3.3), >= 0.
        onset_envelope: float32 array, onset strength of each 10 ms STFT frame of the newest hop.
        energy_envelope: float32 array (hop_s / 10 ms,), the energy vector of each 10 ms STFT
            frame of the newest hop (``energy`` is its mean), >= 0. Causal: each value's 32 ms
            STFT window is centred about 20 ms before its nominal 10 ms slot.
    """

    vector: np.ndarray
    rms: float
    bass: float
    mid: float
    high: float
    onset: float
    energy: float
    onset_envelope: np.ndarray
    energy_envelope: np.ndarray


def _db01(power: float) -> float:
    """Map a power to dB, then [-80, 0] dB to [0, 1]."""
    db = 10.0 * np.log10(max(power, 1e-12))
    return float(np.clip((db + 80.0) / 80.0, 0.0, 1.0))


class FeatureExtractor:
    """Computes :class:`HopFeatures` from the last :data:`WINDOW_S` seconds of audio.

    Args:
        hop_s: hop in seconds; the newest ``hop_s`` of each window feed the meters.

    The first call compiles librosa's numba kernels (seconds); call :meth:`warm_up` before
    timing or before a show starts.
    """

    def __init__(self, hop_s: float = HOP_S) -> None:
        self.sample_rate = SAMPLE_RATE
        self.window_samples = int(round(WINDOW_S * SAMPLE_RATE))
        self.hop_samples = int(round(hop_s * SAMPLE_RATE))
        if not 0 < self.hop_samples <= self.window_samples:
            raise ValueError(f"hop must be in (0, {WINDOW_S}] s, got {hop_s} s")
        self._egemaps = EgemapsFunctionals(SAMPLE_RATE)
        self._mel_fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, norm=None).astype(np.float32)
        centers = librosa.mel_frequencies(n_mels=N_MELS + 2, fmax=SAMPLE_RATE / 2)[1:-1]
        self._bands = (centers < 250.0, (centers >= 250.0) & (centers < 2000.0), centers >= 2000.0)
        self._window = np.hanning(N_FFT).astype(np.float32)
        self._scale = 2.0 / float(self._window.sum())  # a full-scale sine gives magnitude 1
        self._hop_frames = max(1, self.hop_samples // STFT_HOP)

    def warm_up(self) -> None:
        """Run once on noise so numba compilation happens now, not during the show."""
        rng = np.random.default_rng(0)
        self.process(0.01 * rng.standard_normal(self.window_samples).astype(np.float32))

    def process(self, window: np.ndarray) -> HopFeatures:
        """Analyse one window.

        Args:
            window: float32 mono samples at 16 kHz, shape (window_samples,) = (8000,), in [-1, 1].

        Returns:
            The hop's :class:`HopFeatures`.

        Raises:
            ValueError: if ``window`` has the wrong shape.
        """
        if window.shape != (self.window_samples,):
            raise ValueError(f"window must have shape ({self.window_samples},), got {window.shape}")
        x = np.nan_to_num(window.astype(np.float32, copy=False))
        egemaps = np.nan_to_num(self._egemaps(x))

        stft = librosa.stft(x, n_fft=N_FFT, hop_length=STFT_HOP, window=self._window, center=False)
        mag = np.abs(stft) * self._scale
        # HPSS of the newest frames only, with the HPSS_KERNEL // 2 frames before them as the harmonic
        # median filter's context: the same values as HPSS of the whole window in those frames
        # (the filter is 'reflect'-padded at the right edge either way; the percussive one is per frame).
        recent = mag[:, -(self._hop_frames + HPSS_KERNEL // 2):]
        harmonic, percussive = librosa.decompose.hpss(recent, kernel_size=(HPSS_KERNEL, HPSS_KERNEL))
        mel = self._mel_fb @ (mag**2)
        logmel = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
        onset_env = librosa.onset.onset_strength(S=logmel, sr=SAMPLE_RATE, lag=1, max_size=1, center=False)
        new = slice(-self._hop_frames, None)

        vector = np.concatenate([egemaps, logmel.mean(axis=1)]).astype(np.float32)
        newest = x[-self.hop_samples:]
        mel_new = mel[:, new].mean(axis=1)
        energy_env = (
            PERCUSSIVE_WEIGHT * (self._mel_fb @ percussive[:, new] ** 2).mean(axis=0)
            + HARMONIC_WEIGHT * (self._mel_fb @ harmonic[:, new] ** 2).mean(axis=0)
        ).astype(np.float32)
        energy = float(energy_env.mean())
        env_new = onset_env[new].astype(np.float32)
        return HopFeatures(
            vector=vector,
            rms=float(np.sqrt(np.mean(newest.astype(np.float64) ** 2))),
            bass=_db01(float(mel_new[self._bands[0]].sum())),
            mid=_db01(float(mel_new[self._bands[1]].sum())),
            high=_db01(float(mel_new[self._bands[2]].sum())),
            onset=float(env_new.mean()) if env_new.size else 0.0,
            energy=energy,
            onset_envelope=env_new,
            energy_envelope=energy_env,
        )
