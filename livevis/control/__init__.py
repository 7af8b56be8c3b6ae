"""External control: MIDI (:mod:`livevis.control.midi`) and OSC (:mod:`livevis.control.osc`).

The control layer is decoupled from the render loop. Control threads only

* write continuous values into a :class:`~livevis.params.ParamRegistry` (thread-safe), and
* push discrete actions (switch preset, tap, a MIDI-learn binding) into a bounded
  :class:`ControlEvents` queue,

and the render loop reads the registry and drains the queue once per frame without waiting.
"""

from __future__ import annotations

import collections
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

#: Event kinds put on the queue:
#: ``preset`` (value: preset name), ``preset_next`` / ``preset_prev`` (value: None),
#: ``preset_index`` (value: 0-based index into the preset list), ``tap`` (value: BPM or None),
#: ``learned`` (value: :class:`~livevis.presets.MidiMapping` or ``OscMapping``),
#: ``action`` (value: a shortcut action name, see :mod:`livevis.overlay`).
EVENT_KINDS: tuple[str, ...] = ("preset", "preset_next", "preset_prev", "preset_index", "tap", "learned", "action")


@dataclass(frozen=True)
class ControlEvent:
    """A discrete control action.

    Attributes:
        kind: one of :data:`EVENT_KINDS`.
        value: the kind's payload.
        source: ``midi``, ``osc`` or ``key``.
        time: ``time.monotonic()`` when it happened.
    """

    kind: str
    value: Any = None
    source: str = ""
    time: float = field(default_factory=time.monotonic)


class ControlEvents:
    """A bounded, thread-safe FIFO of :class:`ControlEvent`; the oldest is dropped when full.

    Args:
        maxlen: capacity (>= 1). Dropped events are counted in :attr:`dropped`.
    """

    def __init__(self, maxlen: int = 64) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be >= 1, got {maxlen}")
        self._q: collections.deque[ControlEvent] = collections.deque()
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self.dropped = 0

    def put(self, kind: str, value: Any = None, source: str = "") -> ControlEvent:
        """Queue an event (never blocks)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}; choose one of {', '.join(EVENT_KINDS)}")
        ev = ControlEvent(kind, value, source)
        with self._lock:
            if len(self._q) >= self._maxlen:
                self._q.popleft()
                self.dropped += 1
            self._q.append(ev)
        return ev

    def drain(self) -> list[ControlEvent]:
        """All queued events, oldest first, emptying the queue (never blocks)."""
        with self._lock:
            out = list(self._q)
            self._q.clear()
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._q)


class LearnState:
    """MIDI/OSC learn: arm a parameter; the next control moved (CC or OSC address) binds to it.

    Shared by :class:`~livevis.control.midi.MidiControl` and
    :class:`~livevis.control.osc.OscControl`; whichever sees a control first takes it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._param: str | None = None
        self._armed_at = 0.0

    def arm(self, param: str) -> None:
        """Wait for a control for ``param`` (replaces any armed one)."""
        with self._lock:
            self._param = param
            self._armed_at = time.monotonic()

    def cancel(self) -> None:
        with self._lock:
            self._param = None

    @property
    def armed(self) -> str | None:
        """The parameter waiting for a control, or None."""
        with self._lock:
            return self._param

    def take(self) -> str | None:
        """Atomically return and disarm the armed parameter (None if none)."""
        with self._lock:
            p, self._param = self._param, None
            return p


class TapTempo:
    """Tap tempo: BPM from the median interval of the recent taps.

    Args:
        max_taps: intervals averaged (>= 2 taps give a tempo).
        reset_s: a gap longer than this starts a new series.
        min_bpm, max_bpm: results outside are ignored.
    """

    def __init__(self, max_taps: int = 8, reset_s: float = 2.0, min_bpm: float = 30.0, max_bpm: float = 300.0) -> None:
        self.max_taps = max_taps
        self.reset_s = reset_s
        self.min_bpm = min_bpm
        self.max_bpm = max_bpm
        self._taps: collections.deque[float] = collections.deque(maxlen=max_taps + 1)
        self._lock = threading.Lock()

    def tap(self, now: float | None = None) -> float | None:
        """Register a tap at ``now`` (seconds, monotonic); returns the BPM or None (too few taps)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._taps and now - self._taps[-1] > self.reset_s:
                self._taps.clear()
            self._taps.append(now)
            if len(self._taps) < 2:
                return None
            intervals = [b - a for a, b in zip(self._taps, list(self._taps)[1:])]
        med = statistics.median(intervals)
        if med <= 0:
            return None
        bpm = 60.0 / med
        return bpm if self.min_bpm <= bpm <= self.max_bpm else None


class ClockTempo:
    """Tempo from MIDI clock (24 pulses per quarter note).

    ``tick(now)`` per clock message; ``bpm`` is the tempo over the last ``window`` pulses
    (None until a full beat has been seen or after ``start``/``stop``).
    """

    PPQN = 24

    def __init__(self, window: int = 48, timeout_s: float = 1.0) -> None:
        self._times: collections.deque[float] = collections.deque(maxlen=window + 1)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> float | None:
        """Register one clock pulse; returns the current BPM or None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._times and now - self._times[-1] > self.timeout_s:
                self._times.clear()
            self._times.append(now)
        return self.bpm

    def reset(self) -> None:
        with self._lock:
            self._times.clear()

    @property
    def bpm(self) -> float | None:
        with self._lock:
            if len(self._times) < self.PPQN + 1:
                return None
            span = self._times[-1] - self._times[0]
            n = len(self._times) - 1
        if span <= 0:
            return None
        return 60.0 / (span / n * self.PPQN)
