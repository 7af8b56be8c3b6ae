"""The hand-off from the audio engine process to the render process: one shared-memory slot.

The slot is a flat float64 array in shared memory (``multiprocessing`` ``RawArray``), no pickling per
hop. It has two regions, each with one writer:

- the *state* region, written by the engine's analysis thread once per hop, guarded by a sequence counter
  (a seqlock: the writer makes the counter odd, writes, makes it even; a reader copies the region and
  retries if the counter was odd or changed meanwhile), so the reader never sees half a state and never
  blocks the writer;
- the *stats* region (heartbeat, hop and error counters, playback position, flags), written by the
  engine's main thread, one aligned 8-byte value per field, each read on its own.

x86-64 and AArch64 store aligned 8-byte values atomically; on x86-64 (TSO) stores are seen in program
order, which the seqlock relies on.
"""

from __future__ import annotations

import time
from multiprocessing.sharedctypes import RawArray

import numpy as np

from livevis.analysis.state import AU_NAMES, AnalysisState

#: Largest energy envelope carried (frames of 10 ms per hop; a hop is at most 0.5 s).
MAX_ENVELOPE = 64

_SCALARS = ("time", "rms", "bass", "mid", "high", "onset", "energy", "tempo", "beat_phase", "valence",
            "arousal", "input_ok", "overflows", "skipped_hops", "underruns")
_SEQ = 0
_S0 = 1  # first scalar
_ARRIVAL = _S0 + len(_SCALARS)
_ENV_LEN = _ARRIVAL + 1
_ENV = _ENV_LEN + 1
_AUS = _ENV + MAX_ENVELOPE
_STATE_END = _AUS + len(AU_NAMES)

#: Fields of the stats region, in order.
STATS = ("heartbeat", "hops", "errors", "skipped_samples", "position_s", "finished", "sample_rate", "playing")
_STATS0 = _STATE_END
SIZE = _STATS0 + len(STATS)


def new_slot(ctx) -> RawArray:
    """A zeroed slot in shared memory, from a multiprocessing context (``get_context('spawn')``);
    pass it to the engine process as a ``Process`` argument."""
    return ctx.RawArray("d", SIZE)


class StateSlot:
    """Typed access to a slot made by :func:`new_slot` (in either process).

    Args:
        raw: the shared ``RawArray('d', SIZE)``.
    """

    def __init__(self, raw) -> None:
        self.raw = raw
        self._a = np.frombuffer(raw, dtype=np.float64)
        if self._a.shape != (SIZE,):
            raise ValueError(f"state slot must hold {SIZE} float64 values, got {self._a.shape}")
        self._cached_seq = -1.0
        self._cached: tuple[AnalysisState, float] = (AnalysisState(input_ok=False), 0.0)

    # ------------------------------------------------------------------ state (seqlock)

    def publish(self, state: AnalysisState, arrival: float = 0.0) -> None:
        """Write ``state`` (one writer only: the analysis thread).

        Args:
            state: the newest state; its energy envelope is cut to :data:`MAX_ENVELOPE` values.
            arrival: ``time.monotonic()`` at which its newest sample arrived (0 if unknown); the
                monotonic clock is system-wide on Linux, so the render process can subtract it.
        """
        a = self._a
        a[_SEQ] += 1.0  # odd: writing
        for i, name in enumerate(_SCALARS):
            a[_S0 + i] = float(getattr(state, name))
        a[_ARRIVAL] = arrival
        env = np.asarray(state.energy_envelope, dtype=np.float64)[:MAX_ENVELOPE]
        a[_ENV_LEN] = env.size
        a[_ENV:_ENV + env.size] = env
        a[_AUS:_STATE_END] = state.aus
        a[_SEQ] += 1.0  # even: done

    @property
    def version(self) -> int:
        """Number of states published so far."""
        return int(self._a[_SEQ]) // 2

    def read(self) -> tuple[AnalysisState, float]:
        """The newest state and its sample-arrival time (an ``input_ok=False`` blank before the first).

        Never blocks the writer; retries while a write is under way (a few microseconds), and returns
        the previous state if the counter stays odd (a writer that died mid-write).
        """
        a = self._a
        for _ in range(1000):
            seq = a[_SEQ]
            if seq == self._cached_seq:
                return self._cached
            if int(seq) % 2:
                time.sleep(0)
                continue
            copy = a[:_STATE_END].copy()
            if a[_SEQ] == seq:
                break
        else:
            return self._cached
        if seq == 0:
            return self._cached
        values = {name: float(copy[_S0 + i]) for i, name in enumerate(_SCALARS)}
        for name in ("overflows", "skipped_hops", "underruns"):
            values[name] = int(values[name])
        values["input_ok"] = bool(values["input_ok"])
        n = int(copy[_ENV_LEN])
        state = AnalysisState(**values, energy_envelope=copy[_ENV:_ENV + n].astype(np.float32),
                              aus=copy[_AUS:_STATE_END].astype(np.float32))
        self._cached_seq, self._cached = seq, (state, float(copy[_ARRIVAL]))
        return self._cached

    # ------------------------------------------------------------------ stats (one value each)

    def set_stat(self, name: str, value: float) -> None:
        """Write one stats field (one writer only: the engine's main thread)."""
        self._a[_STATS0 + STATS.index(name)] = float(value)

    def stat(self, name: str) -> float:
        """Read one stats field."""
        return float(self._a[_STATS0 + STATS.index(name)])

    def clear_stats(self) -> None:
        """Zero the stats region (before a new engine process starts); the last state stays readable."""
        self._a[_STATS0:] = 0.0

    def claim(self) -> None:
        """Make the new writer's counter even again if a previous writer died in the middle of a write."""
        if int(self._a[_SEQ]) % 2:
            self._a[_SEQ] += 1.0
