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
#: ``learned`` (value: :class:`~livevis.control.presets.MidiMapping` or ``OscMapping``),
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


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


class ControlHub:
    """Everything external control needs for one show, wired from a preset.

    Owns the :class:`~livevis.params.ParamRegistry`, the :class:`ControlEvents` queue, the
    shared :class:`LearnState` and :class:`TapTempo`, and (as the preset asks) a MIDI input,
    a MIDI output thread (analysis CC/notes + the optional generative layer), an OSC server and
    an OSC analysis sender. A control that cannot start (no JACK/ALSA, port missing, port in
    use) is logged and left out: the show goes on without it.

    Args:
        preset: the starting :class:`~livevis.control.presets.Preset`.
        get_state: returns the newest analysis state (``LatestState.get``); never blocks.
        log: one-line logger.
        osc_host: the address OSC input listens on whatever the presets say (``--osc-host``);
            None: each preset's ``osc.listen_host`` (default 127.0.0.1).
        get_camera: returns the camera's newest :class:`~livevis.camera.CameraState` for the OSC
            out (``/livevis/camera/*``); None: no camera.

    Use: ``hub.start()`` once; each frame ``hub.registry.snapshot()`` and ``hub.events.drain()``;
    on a preset switch or hot reload ``hub.apply(new_preset)``; at exit ``hub.close()``.
    """

    def __init__(self, preset: Any, get_state: Any, log: Any = print, osc_host: str | None = None,
                 get_camera: Any = None) -> None:
        from livevis.params import ParamRegistry, apply_preset

        self.registry = ParamRegistry()
        apply_preset(self.registry, preset, keep_persistent=False)
        self.events = ControlEvents()
        self.learn = LearnState()
        self.tapper = TapTempo()
        self.preset = preset
        self.get_state = get_state
        self.get_camera = get_camera
        self.log = log
        self.osc_host = osc_host
        self.midi = None
        self.osc = None
        self._midi_out = None
        self._midi_thread = None
        self._osc_thread = None
        self.problems: list[str] = []

    def _warn(self, text: str) -> None:
        self.problems.append(text)
        self.log(text)

    def start(self) -> "ControlHub":
        """Open what the preset's ``midi``/``osc`` sections ask for."""
        self._start_midi_in()
        self._start_outputs()
        self._start_osc_in()
        return self

    def _start_midi_in(self) -> None:
        spec = self.preset.midi
        if spec.input is None and not spec.virtual_input:
            return
        try:
            from livevis.control.midi import MidiControl

            self.midi = MidiControl(self.registry, self.events, self.learn, api=spec.api)
            self.midi.tapper = self.tapper
            self.midi.configure(spec)
            name = self.midi.open()
            self.log(f"MIDI input: {name}")
        except Exception as err:
            self.midi = None
            self._warn(f"MIDI input off: {err}")

    def _start_outputs(self) -> None:
        spec = self.preset.midi
        if spec.output is not None or spec.virtual_output:
            try:
                from livevis.control.midi import (AnalysisToMidi, ClockOut, GenerativePlayer, MidiOutput,
                                                  MidiOutputThread)

                self._midi_out = MidiOutput(spec.output, virtual=spec.virtual_output, api=spec.api)
                gen = GenerativePlayer.from_spec(spec.generative) if spec.generative.enabled else None
                self._midi_thread = MidiOutputThread(self._midi_out, self.get_state, AnalysisToMidi.from_spec(spec),
                                                     gen, get_tempo=lambda: self.registry.get("tempo.bpm"),
                                                     clock=ClockOut() if spec.clock_out else None)
                self._midi_thread.start()
                self.log(f"MIDI output: {self._midi_out.name}" + (" (+ generative)" if gen else "")
                         + (" (+ clock)" if spec.clock_out else ""))
            except Exception as err:
                self._midi_out = self._midi_thread = None
                self._warn(f"MIDI output off: {err}")
        o = self.preset.osc
        if o.send:
            try:
                from livevis.control.hops import HopSender
                from livevis.control.osc import OscOutputThread, OscSender

                self._osc_thread = OscOutputThread(OscSender(o.send_host, o.send_port), self.get_state, o.send_rate_hz,
                                                   get_camera=self.get_camera,
                                                   hops=HopSender([(o.send_host, o.send_port)]))
                self._osc_thread.start()
                self.log(f"OSC analysis (and the hop stream for render nodes) → {o.send_host}:{o.send_port}")
            except Exception as err:
                self._osc_thread = None
                self._warn(f"OSC output off: {err}")

    def _start_osc_in(self) -> None:
        o = self.preset.osc
        if not o.listen:
            return
        try:
            from livevis.control.osc import OscControl

            self.osc = OscControl(self.registry, self.events, self.learn)
            self.osc.tapper = self.tapper
            self.osc.configure(o)
            host, port = self.osc.open(self._listen_host(o), o.listen_port)
            self.log(f"OSC input on {host}:{port}" + (f", from {', '.join(o.allow_from)} only" if o.allow_from else ""))
            if not o.allow_from and not _loopback(host):
                self._warn(f"OSC input on {host}:{port} accepts any sender that can reach it; "
                           f"set osc.allow_from to the control surfaces' addresses")
        except Exception as err:
            self.osc = None
            self._warn(f"OSC input off: {err}")

    def _listen_host(self, spec: Any) -> str:
        return self.osc_host if self.osc_host is not None else spec.listen_host

    def _stop_outputs(self) -> None:
        if self._midi_thread is not None:
            self._midi_thread.stop()
            self._midi_thread = None
        if self._midi_out is not None:
            self._midi_out.close()
            self._midi_out = None
        if self._osc_thread is not None:
            self._osc_thread.stop()
            self._osc_thread = None

    def apply(self, preset: Any) -> None:
        """Switch to ``preset``: parameters (operator ``master.*``/``tempo.*`` kept), mappings,
        and any port/output changes (outputs restart only when their settings changed)."""
        from livevis.params import apply_preset

        old, self.preset = self.preset, preset
        apply_preset(self.registry, preset)
        if self.midi is not None:
            try:
                self.midi.configure(preset.midi)
            except Exception as err:
                self._warn(f"MIDI input: {err}")
        elif preset.midi.input is not None or preset.midi.virtual_input:
            self._start_midi_in()
        out_keys = ("api", "output", "virtual_output", "clock_out", "out_channel", "valence_cc", "arousal_cc",
                    "energy_cc", "beat_note", "onset_note", "quadrant_base", "generative")
        midi_out_changed = any(getattr(old.midi, k) != getattr(preset.midi, k) for k in out_keys)
        osc_out_changed = (old.osc.send, old.osc.send_host, old.osc.send_port, old.osc.send_rate_hz) != \
            (preset.osc.send, preset.osc.send_host, preset.osc.send_port, preset.osc.send_rate_hz)
        if midi_out_changed or osc_out_changed:
            self._stop_outputs()
            self._start_outputs()
        osc_in_changed = (old.osc.listen, self._listen_host(old.osc), old.osc.listen_port) != \
            (preset.osc.listen, self._listen_host(preset.osc), preset.osc.listen_port)
        if osc_in_changed:
            if self.osc is not None:
                self.osc.close()
                self.osc = None
            self._start_osc_in()
        elif self.osc is not None:
            self.osc.configure(preset.osc)

    def activity(self) -> dict[str, float]:
        """``{"midi": t, "osc": t}``: last activity times for the overlay."""
        return {src: self.registry.last_activity(src) for src in ("midi", "osc")}

    def close(self) -> None:
        """Stop every port and thread (idempotent); held MIDI notes are released."""
        self._stop_outputs()
        if self.midi is not None:
            self.midi.close()
            self.midi = None
        if self.osc is not None:
            self.osc.close()
            self.osc = None
