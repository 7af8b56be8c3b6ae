"""Causal tempo and beat-phase estimate from the onset-strength envelope.

Autocorrelation of the last few seconds of the 100 Hz onset envelope picks the beat period
(60–180 BPM, weighted towards 120 BPM as in librosa's tempo prior); a comb over the same
history picks the beat phase. Only past samples are used.
"""

from __future__ import annotations

import numpy as np

FRAME_RATE = 100.0  # onset envelope frames per second (10 ms STFT hop at 16 kHz)


class TempoTracker:
    """Estimates tempo (BPM) and beat phase from successive onset-envelope frames.

    Args:
        history_s: seconds of onset envelope kept (the autocorrelation span).
        min_bpm, max_bpm: tempo search range in beats per minute.
    """

    def __init__(self, history_s: float = 6.0, min_bpm: float = 60.0, max_bpm: float = 180.0) -> None:
        self._env = np.zeros(int(history_s * FRAME_RATE), dtype=np.float32)
        self._filled = 0
        self._lags = np.arange(int(FRAME_RATE * 60 / max_bpm), int(FRAME_RATE * 60 / min_bpm) + 1)
        bpm = 60.0 * FRAME_RATE / self._lags
        self._prior = np.exp(-0.5 * (np.log2(bpm / 120.0) / 1.0) ** 2)
        self.tempo = 0.0
        self.beat_phase = 0.0

    def update(self, frames: np.ndarray) -> tuple[float, float]:
        """Append onset-envelope frames (float32, 100 Hz) and re-estimate.

        Returns:
            ``(tempo_bpm, beat_phase)``: tempo 0 until 2 s of history exist; phase in [0, 1),
            0 on a beat, at the time of the newest frame.
        """
        n = len(frames)
        if n:
            self._env = np.roll(self._env, -n)
            self._env[-n:] = frames
            self._filled = min(self._filled + n, len(self._env))
        if self._filled < 2 * FRAME_RATE:
            return self.tempo, self.beat_phase
        env = self._env[-self._filled:]
        env = env - env.mean()
        energy = float(np.dot(env, env))
        if energy <= 1e-9:
            return self.tempo, self.beat_phase
        ac = np.array([np.dot(env[:-lag], env[lag:]) for lag in self._lags]) / energy
        period = int(self._lags[int(np.argmax(ac * self._prior))])
        self.tempo = 60.0 * FRAME_RATE / period
        beats = np.arange(0, len(env) - period, period)
        comb = [env[::-1][beats + offset].sum() for offset in range(period)]
        frames_since_beat = int(np.argmax(comb))
        self.beat_phase = (frames_since_beat / period) % 1.0
        return self.tempo, self.beat_phase
