"""Input conditioning before analysis: a noise gate and automatic gain control (AGC).

For a microphone in a room the level is arbitrary: the AGC brings the music towards a target
level within limits, slowly, so that dynamics within a song survive. The noise gate decides
when the room is silent; then the emotion eases to a calm resting state instead of reading
meaning into hiss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def to_db(rms: float) -> float:
    """Amplitude → dBFS (-120 dB floor)."""
    return 20.0 * float(np.log10(max(rms, 1e-6)))


@dataclass
class ConditioningSettings:
    """Settings a preset can set.

    Attributes:
        gate_db: hops whose RMS (after ``gain_db``) is below this level (dBFS) count as silence.
        gain_db: fixed input gain, dB, applied before everything else.
        agc: enable automatic gain control.
        target_db: AGC target RMS level, dBFS.
        min_gain_db, max_gain_db: AGC gain limits, dB.
        agc_time_s: AGC time constant, seconds (how fast the gain follows the level).
    """

    gate_db: float = -55.0
    gain_db: float = 0.0
    agc: bool = False
    target_db: float = -20.0
    min_gain_db: float = -12.0
    max_gain_db: float = 24.0
    agc_time_s: float = 5.0


class InputConditioner:
    """Applies the noise gate and AGC to successive analysis windows.

    Args:
        settings: see :class:`ConditioningSettings`.
        hop_s: seconds between two calls of :meth:`process`.
    """

    def __init__(self, settings: ConditioningSettings | None = None, hop_s: float = 0.1) -> None:
        self.settings = settings or ConditioningSettings()
        self.hop_s = hop_s
        self.gain_db = 0.0

    def process(self, window: np.ndarray, hop_samples: int) -> tuple[np.ndarray, bool]:
        """Condition one window.

        Args:
            window: float32 mono samples, shape (n,).
            hop_samples: length of the newest hop at the end of ``window``.

        Returns:
            ``(window, gated)``: the window scaled by the AGC gain (the input itself when the
            gain is 0 dB) and whether the newest hop is below the gate.
        """
        s = self.settings
        level_db = to_db(float(np.sqrt(np.mean(np.square(window[-hop_samples:], dtype=np.float64))))) + s.gain_db
        gated = level_db < s.gate_db
        if not s.agc:
            if s.gain_db == 0.0:
                return window, gated
            return np.clip(window * np.float32(10.0 ** (s.gain_db / 20.0)), -1.0, 1.0), gated
        if not gated:  # never raise the gain on silence: that would amplify the noise floor
            wanted = float(np.clip(s.target_db - level_db, s.min_gain_db, s.max_gain_db))
            alpha = 1.0 - np.exp(-self.hop_s / max(s.agc_time_s, 1e-3))
            self.gain_db += alpha * (wanted - self.gain_db)
        total_db = self.gain_db + s.gain_db
        if abs(total_db) < 1e-3:
            return window, gated
        gain = np.float32(10.0 ** (total_db / 20.0))
        return np.clip(window * gain, -1.0, 1.0), gated


def settings_from_preset(audio) -> ConditioningSettings:
    """:class:`ConditioningSettings` from a preset's ``audio`` section."""
    return ConditioningSettings(
        gate_db=audio.noise_gate_db, gain_db=audio.gain_db, agc=audio.agc, target_db=audio.agc_target_db,
        min_gain_db=audio.agc_min_gain_db, max_gain_db=audio.agc_max_gain_db, agc_time_s=audio.agc_time_s,
    )
