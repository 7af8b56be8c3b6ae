"""The analysis state handed from the analysis thread to the render loop.

Data flows one way: :class:`~livevis.analysis.analyzer.Analyzer` produces one :class:`AnalysisState`
per hop and publishes it into a :class:`LatestState` slot; the render loop reads whatever is
newest and never waits. There is no queue, so nothing can grow.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import numpy as np

#: The 17 OpenFace action units predicted by the emotion model, in output order.
AU_NAMES: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
    "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45",
)
AU_INDEX: dict[str, int] = {name: i for i, name in enumerate(AU_NAMES)}


def _zeros_aus() -> np.ndarray:
    return np.zeros(len(AU_NAMES), dtype=np.float32)


@dataclass(frozen=True)
class AnalysisState:
    """Everything the renderers need about the music at one instant.

    Attributes:
        time: audio time of the end of the analysed window, seconds since the stream began.
        rms: root-mean-square level of the newest hop, linear amplitude in [0, 1].
        bass, mid, high: band levels of the newest hop (< 250 Hz, 250–2000 Hz, > 2000 Hz),
            dB mapped from [-80, 0] to [0, 1].
        onset: onset strength of the newest hop, normalised by its running maximum, [0, 1].
        energy: audio energy vector value of the newest hop (0.9 percussive + 0.1 harmonic
            mel energy; diffusion music visualiser paper, section 3.3), >= 0, unnormalised.
        energy_envelope: float32 array, shape (hop / 10 ms,) = (10,) at the default hop: the
            same energy for each 10 ms STFT frame of the newest hop (``energy`` is its mean);
            empty when unknown. Paces sub-hop motion in offline renders.
        tempo: estimated tempo in beats per minute (0 while unknown).
        beat_phase: position inside the current beat, [0, 1); 0 on the beat.
        valence, arousal: the music's emotion, [-1, 1].
        aus: float32 array of shape (17,), AU intensities in [0, 1] in :data:`AU_NAMES` order.
        input_ok: False while the audio input is stalled or failing ("no input" state).
        overflows: count of audio blocks dropped because the ring buffer was full.
        skipped_hops: hops of audio the analysis skipped because it fell behind (overload).
        underruns: audio device underruns (playback or capture) reported so far.
    """

    time: float = 0.0
    rms: float = 0.0
    bass: float = 0.0
    mid: float = 0.0
    high: float = 0.0
    onset: float = 0.0
    energy: float = 0.0
    energy_envelope: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    tempo: float = 0.0
    beat_phase: float = 0.0
    valence: float = 0.0
    arousal: float = 0.0
    aus: np.ndarray = field(default_factory=_zeros_aus)
    input_ok: bool = True
    overflows: int = 0
    skipped_hops: int = 0
    underruns: int = 0

    def with_input(self, ok: bool, overflows: int | None = None, skipped_hops: int | None = None,
                   underruns: int | None = None) -> "AnalysisState":
        """Return a copy with ``input_ok`` (and optionally the overload counters) replaced."""
        return replace(self, input_ok=ok, overflows=self.overflows if overflows is None else overflows,
                       skipped_hops=self.skipped_hops if skipped_hops is None else skipped_hops,
                       underruns=self.underruns if underruns is None else underruns)


class LatestState:
    """A single slot holding the newest :class:`AnalysisState`.

    ``publish`` replaces the slot; ``get`` returns the current one. Both are O(1) and never
    block for longer than a reference swap, so the render loop never waits on analysis.
    """

    def __init__(self, initial: AnalysisState | None = None) -> None:
        self._lock = threading.Lock()
        self._state = initial if initial is not None else AnalysisState()
        self._version = 0

    def publish(self, state: AnalysisState) -> None:
        with self._lock:
            self._state = state
            self._version += 1

    def get(self) -> AnalysisState:
        with self._lock:
            return self._state

    @property
    def version(self) -> int:
        """Number of states published so far."""
        with self._lock:
            return self._version
