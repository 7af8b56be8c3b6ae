"""Hits: the onsets that the renderers move on (issue 14, motion on the beat).

Every layer that moves on the music's onsets reads them here, the same way, so that the
background, the image stream and the face jump together right after a hit and rest between.

A hop's hit is its onset strength above the recent average, ``(onset − avg) / (1 − avg)`` ∈
[0, 1] (``avg``: exponential, time constant :data:`HIT_TAU_S`), so a steady stream of onsets
(a hi-hat on every hop) is not a hit and an accent above it is. The hop's state arrives 0–100 ms
after its onsets (one hop), so whatever a layer does at once on a new hop lands inside the 0.1 s
after the onset that ``tools/synchrony.py`` measures.
"""

from __future__ import annotations

import math

import numpy as np

from livevis.analysis.state import AnalysisState

#: Time constant of the onset average a hit must rise above, seconds.
HIT_TAU_S = 0.5
#: Hits below this are not hits (a layer that moves on hits rests on them).
HIT_FLOOR = 0.15


class HitDetector:
    """Finds each new hop's hit in the newest analysis state.

    Feed it every frame's state (:meth:`update`); it looks at each hop once, when its
    ``state.time`` first appears. The first hop is never a hit: it sets the average, so the show
    starts without a jolt. Deterministic: the same states give the same hits.

    Attributes:
        hit: the newest hop's hit, [0, 1] (0 below :data:`HIT_FLOOR`).
        hit_at: the host clock time (s) the newest hop was first seen.
        new_hop: the last :meth:`update` saw a new hop.
        started: a hop has been seen (before it, the state is the analysis's default).
    """

    def __init__(self) -> None:
        self.hit, self.hit_at, self.new_hop = 0.0, 0.0, False
        self._hop_time: float | None = None
        self._avg = 0.0

    @property
    def started(self) -> bool:
        return self._hop_time is not None

    @property
    def hop_time(self) -> float | None:
        """Stream time (s) of the newest hop seen, None before the first."""
        return self._hop_time

    def update(self, state: AnalysisState, t: float) -> float:
        """Look at ``state`` at host time ``t`` (s); returns the newest hop's hit, [0, 1].

        A state at time 0 (nothing analysed yet) is not a hop."""
        self.new_hop = state.time != self._hop_time and state.time > 0.0
        if self.new_hop:
            onset = min(max(float(state.onset), 0.0), 1.0)
            if self._hop_time is None:  # the first hop sets the average: the show starts without a jolt
                self._avg = onset
            hop_s = state.time - self._hop_time if self._hop_time is not None else 0.1
            self._hop_time, self.hit_at = state.time, t
            hit = max(0.0, onset - self._avg) / max(1e-3, 1.0 - self._avg)
            self.hit = hit if hit >= HIT_FLOOR else 0.0
            a = math.exp(-min(max(hop_s, 0.0), 1.0) / HIT_TAU_S)
            self._avg = a * self._avg + (1.0 - a) * onset
        return self.hit

    def pulse(self, t: float, fade_s: float) -> float:
        """The newest hit fading with time constant ``fade_s`` (s) since it was seen, [0, 1]."""
        return self.hit * math.exp(-max(0.0, t - self.hit_at) / fade_s)

    def since(self, t: float) -> float:
        """Seconds from the newest hop's arrival to ``t``."""
        return max(0.0, t - self.hit_at)


class HeldLevels:
    """Levels shown between hits: each new hop moves them ``drift`` of the way to the hop's
    values, and a hit ``gain · hit`` more (capped at all the way), so what they drive changes on
    the onsets instead of a little on every hop.

    Read them after the frame's :meth:`HitDetector.update`. Before the first hop the values pass
    through (the analysis's defaults); the first hop's are taken as they are.

    Args:
        hits: the layer's detector.
        drift, gain: fractions per hop, >= 0.
    """

    def __init__(self, hits: HitDetector, drift: float, gain: float) -> None:
        if drift < 0 or gain < 0:
            raise ValueError(f"drift and gain must be >= 0, got {drift}, {gain}")
        self.hits, self.drift, self.gain = hits, float(drift), float(gain)
        self._held: dict[str, float | np.ndarray] = {}
        self._moved_at: dict[str, float | None] = {}  # the hop each level last moved on

    def get(self, name: str, default=None):
        """The level ``name`` as last shown, or ``default`` if never held."""
        return self._held.get(name, default)

    def hold(self, name: str, value):
        """Level ``name`` (a float, or a float array of a fixed shape) as shown this frame; it
        moves once per hop however often it is read."""
        if not self.hits.started:
            return value
        if name not in self._held:
            self._held[name] = np.array(value, np.float32) if isinstance(value, np.ndarray) else float(value)
            self._moved_at[name] = self.hits.hop_time
            return self._held[name]
        held = self._held[name]
        if self._moved_at[name] != self.hits.hop_time:
            self._moved_at[name] = self.hits.hop_time
            held = held + min(1.0, self.drift + self.gain * self.hits.hit) * (value - held)
            self._held[name] = held.astype(np.float32) if isinstance(held, np.ndarray) else float(held)
        return self._held[name]
