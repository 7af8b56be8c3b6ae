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
from numpy.lib.stride_tricks import sliding_window_view

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
#: The eGeMAPS functionals are computed on every this-many-th hop (0.5 s: one per window length, the
#: paper's non-overlapping 0.5 s windows) and held in the model input between (issue 15: openSMILE
#: costs about 7 ms per call; the other features, every hop, about 1 ms).
FUNCTIONALS_EVERY = 5
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


def hpss_newest(mag: np.ndarray, n_new: int, kernel: int = HPSS_KERNEL) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic/percussive separation of the newest ``n_new`` frames of a magnitude spectrogram.

    The same values, bit for bit, as those frames of ``librosa.decompose.hpss(mag, kernel_size=(kernel,
    kernel))`` (median filters with ``'reflect'`` edges, soft masks of power 2, margin 1; Fitzgerald,
    "Harmonic/percussive separation using median filtering", DAFx 2010), but only the newest frames are
    filtered: the rest of the window is context for the harmonic (time) median.

    Args:
        mag: float32 magnitudes, shape (n_bins, n_frames), >= 0, with n_frames >= n_new + kernel // 2.
        n_new: number of newest frames to separate, >= 1.
        kernel: odd median-filter length (frames for the harmonic part, bins for the percussive part).

    Returns:
        ``(harmonic, percussive)``: float32 arrays of shape (n_bins, n_new).
    """
    half = kernel // 2
    recent = mag[:, -(n_new + half):]
    new = recent[:, half:]
    # 'reflect' in scipy.ndimage = numpy's 'symmetric' padding (the edge sample repeated)
    along_time = np.pad(recent, ((0, 0), (0, half)), mode="symmetric")
    harm = _median(sliding_window_view(along_time, kernel, axis=1)[:, :n_new])
    along_freq = np.pad(new, ((half, half), (0, 0)), mode="symmetric")
    perc = _median(sliding_window_view(along_freq, kernel, axis=0))
    return new * _softmask(harm, perc), new * _softmask(perc, harm)


def _median(windows: np.ndarray) -> np.ndarray:
    """Median over the last axis (odd length): its middle order statistic, as scipy's median filter takes."""
    mid = windows.shape[-1] // 2
    return np.partition(windows, mid, axis=-1)[..., mid]


def _softmask(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``librosa.util.softmask(x, ref, power=2, split_zeros=True)``, the same operations in the same order."""
    z = np.maximum(x, ref)
    bad = z < np.finfo(z.dtype).tiny
    z[bad] = 1
    mask, ref_mask = (x / z) ** 2, (ref / z) ** 2
    good = ~bad
    mask[good] /= mask[good] + ref_mask[good]
    mask[bad] = 0.5
    return mask


class FeatureExtractor:
    """Computes :class:`HopFeatures` from the last :data:`WINDOW_S` seconds of audio.

    Args:
        hop_s: hop in seconds; the newest ``hop_s`` of each window feed the meters.
        functionals_every: compute the eGeMAPS functionals on every this-many-th call of :meth:`process`
            (the first included) and repeat the last ones between; 1 computes them every hop.

    The first call compiles librosa's numba kernels (seconds); call :meth:`warm_up` before
    timing or before a show starts.
    """

    def __init__(self, hop_s: float = HOP_S, functionals_every: int = FUNCTIONALS_EVERY) -> None:
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
        if functionals_every < 1:
            raise ValueError(f"functionals_every must be >= 1, got {functionals_every}")
        self.functionals_every = functionals_every
        self._calls = 0
        self._functionals = np.zeros(len(self._egemaps.names), dtype=np.float32)

    def warm_up(self) -> None:
        """Run once on noise so numba compilation happens now, not during the show (the call is not
        counted in the functionals' cadence)."""
        rng = np.random.default_rng(0)
        calls, functionals = self._calls, self._functionals
        self._calls = 0
        self.process(0.01 * rng.standard_normal(self.window_samples).astype(np.float32))
        self._calls, self._functionals = calls, functionals

    def idle(self) -> None:
        """Work that would otherwise wait for the next window (openSMILE's reset); for idle time."""
        self._egemaps.prepare()

    def process(self, window: np.ndarray) -> HopFeatures:
        """Analyse one window.

        Args:
            window: float32 mono samples at 16 kHz, shape (window_samples,) = (8000,), in [-1, 1].

        Returns:
            The hop's :class:`HopFeatures`. Its eGeMAPS part is this window's on every
            :attr:`functionals_every`-th call (the first included), else the last computed.

        Raises:
            ValueError: if ``window`` has the wrong shape.
        """
        if window.shape != (self.window_samples,):
            raise ValueError(f"window must have shape ({self.window_samples},), got {window.shape}")
        x = np.nan_to_num(window.astype(np.float32, copy=False))
        if self._calls % self.functionals_every == 0:
            self._functionals = np.nan_to_num(self._egemaps(x))
        self._calls += 1
        egemaps = self._functionals

        stft = librosa.stft(x, n_fft=N_FFT, hop_length=STFT_HOP, window=self._window, center=False)
        mag = np.abs(stft) * self._scale
        harmonic, percussive = hpss_newest(mag, self._hop_frames)
        mel = self._mel_fb @ (mag**2)
        logmel = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
        onset_env = librosa.onset.onset_strength(S=logmel, sr=SAMPLE_RATE, lag=1, max_size=1, center=False)
        new = slice(-self._hop_frames, None)

        vector = np.concatenate([egemaps, logmel.mean(axis=1)]).astype(np.float32)
        newest = x[-self.hop_samples:]
        mel_new = mel[:, new].mean(axis=1)
        energy_env = (
            PERCUSSIVE_WEIGHT * (self._mel_fb @ percussive**2).mean(axis=0)
            + HARMONIC_WEIGHT * (self._mel_fb @ harmonic**2).mean(axis=0)
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
