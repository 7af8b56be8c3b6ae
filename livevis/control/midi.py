"""MIDI control and output (mido over python-rtmidi; ALSA or JACK).

Input (:class:`MidiControl`): control change → parameter through a range and curve, MIDI learn
(arm a parameter, the next CC moved is bound), note-on / program change → preset, MIDI clock →
tempo, a tap-tempo note or CC. Everything runs on rtmidi's callback thread and only writes the
:class:`~livevis.params.ParamRegistry` and the :class:`~livevis.control.ControlEvents` queue.

Output (:class:`MidiOutput` + :class:`AnalysisToMidi` + :class:`GenerativePlayer`, driven by a
:class:`MidiOutputThread`): valence, arousal and energy as CCs, beats / onsets / the emotion
quadrant as notes, and optionally generated music (Emotion2Music: tempo range, mode, chord
progression and note density chosen from valence/arousal).

Port names are matched case-insensitively as substrings of the names the backend lists.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from livevis.control import ClockTempo, ControlEvents, LearnState, TapTempo
from livevis.errors import LivevisError
from livevis.params import Mapping, ParamRegistry, UnknownParamError

API_NAMES = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK"}


class MidiError(LivevisError):
    """MIDI is unavailable (no mido/python-rtmidi, no ALSA sequencer or JACK server) or a port
    name matches nothing; the message lists the ports there are."""


def _mido():
    try:
        import mido
    except ImportError:
        raise MidiError("MIDI needs the 'mido' and 'python-rtmidi' packages: pip install mido python-rtmidi") from None
    return mido


def resolve_api(api: str = "auto") -> str:
    """``auto`` → ``alsa`` when the ALSA sequencer (/dev/snd/seq) exists, else ``jack``.
    The environment variable ``LIVEVIS_MIDI_API`` (alsa|jack) overrides ``auto``."""
    if api == "auto":
        api = os.environ.get("LIVEVIS_MIDI_API", "") or ("alsa" if os.path.exists("/dev/snd/seq") else "jack")
    if api not in API_NAMES:
        raise MidiError(f"unknown MIDI API {api!r}; choose auto, alsa or jack")
    return api


def midi_backend(api: str = "auto"):
    """A mido backend object for ``api`` (does not change mido's global backend)."""
    mido = _mido()
    return mido.Backend(f"mido.backends.rtmidi/{API_NAMES[resolve_api(api)]}", load=True)


@contextlib.contextmanager
def _silent_stderr_fd():
    """Within the block, file descriptor 2 goes to /dev/null: the JACK client library prints
    its connection failures ("Cannot connect to server socket", "JackShmReadWritePtr…") there
    from C, where Python's sys.stderr cannot catch them."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def list_ports(api: str = "auto") -> tuple[list[str], list[str]]:
    """(input port names, output port names) of ``api``. The backend's C-level noise on stderr
    is silenced while probing.

    Raises:
        MidiError: the backend cannot be used; ``"no JACK server"`` when the JACK API is used
            and no JACK server runs.
    """
    backend = midi_backend(api)
    try:
        with _silent_stderr_fd():
            return list(backend.get_input_names()), list(backend.get_output_names())
    except Exception as err:  # rtmidi raises SystemError/RtMidiError without a server
        if resolve_api(api) == "jack" and "JACK server not running" in str(err):
            raise MidiError("no JACK server") from None
        raise MidiError(f"MIDI ({resolve_api(api)}) unavailable: {err}") from None


def find_port(names: Sequence[str], wanted: str, kind: str = "input") -> str:
    """The port name containing ``wanted`` (case-insensitive; an exact match wins).

    Raises:
        MidiError: none or several match; the message lists the ports.
    """
    if wanted in names:
        return wanted
    hits = [n for n in names if wanted.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    listing = "; ".join(names) if names else "none"
    if not hits:
        raise MidiError(f"no MIDI {kind} port matches {wanted!r}; {kind} ports: {listing}")
    raise MidiError(f"MIDI {kind} port {wanted!r} is ambiguous: {'; '.join(hits)}")


def close_input_port(port) -> None:
    """Close a mido rtmidi input port without the JACK close deadlock.

    python-rtmidi's ``close_port`` holds the GIL while JACK waits for its process thread; if
    that thread is delivering a message to a Python callback it needs the GIL: deadlock.
    mido's own ``close`` re-installs its callback just before closing, so the rtmidi object is
    closed here directly, with no callback installed.
    """
    rt = getattr(port, "_rt", None)
    if rt is None:
        port.close()
        return
    try:
        rt.cancel_callback()
    except Exception:
        pass
    try:
        rt.close_port()
        rt.delete()
    finally:
        port.closed = True


def cc_to_unit(value: int) -> float:
    """CC value 0..127 → [0, 1]."""
    return min(max(value, 0), 127) / 127.0


def unit_to_cc(x: float) -> int:
    """[0, 1] (clamped) → CC value 0..127."""
    return int(round(min(max(float(x), 0.0), 1.0) * 127))


# --------------------------------------------------------------------------- input


@dataclass
class _Binding:
    cc: int
    channel: int | None  # 0..15, None = any
    mapping: Mapping


class MidiControl:
    """MIDI input: CC mappings, learn, note/program → preset, clock and tap tempo.

    Args:
        registry: parameters to write.
        events: queue for discrete actions (``preset``, ``preset_index``, ``tap``, ``learned``).
        learn: shared learn state (a new one if None).
        api: ``auto``, ``alsa`` or ``jack``.
        client_name: MIDI client name shown to other software.

    Call :meth:`configure` with a preset's ``midi`` section (:class:`~livevis.control.presets.MidiSpec`)
    to set mappings and ports, :meth:`open` to start, :meth:`close` to stop. :meth:`handle` is
    the per-message logic (also usable without ports).
    """

    def __init__(self, registry: ParamRegistry, events: ControlEvents, learn: LearnState | None = None,
                 api: str = "auto", client_name: str = "livevis") -> None:
        self.registry = registry
        self.events = events
        self.learn = learn if learn is not None else LearnState()
        self.api = api
        self.client_name = client_name
        self._lock = threading.Lock()
        self._bindings: list[_Binding] = []
        self.note_presets: dict[int, str] = {}
        self.program_presets: list[str] = []
        self.clock_tempo = True
        self.tap_note: int | None = None
        self.tap_cc: int | None = None
        self.tapper = TapTempo()
        self.clock = ClockTempo()
        self._port = None
        self._port_spec: tuple[str | None, bool] = (None, False)
        self.port_name: str | None = None
        self.messages = 0  # messages received
        self.errors: list[str] = []  # problems met on the callback thread (newest last, at most 20)

    # -- configuration -------------------------------------------------------------------

    def configure(self, spec: Any) -> None:
        """Take mappings, note/program presets, clock and tap settings from a ``MidiSpec``.

        Thread-safe; takes effect for the next message. Reopens the input port when
        ``spec.input``/``spec.virtual_input`` changed and a port is open.
        """
        bindings = [_Binding(m.cc, None if m.channel is None else m.channel - 1,
                             Mapping(m.param, m.min, m.max, m.curve)) for m in spec.mappings]
        with self._lock:
            self._bindings = bindings
            self.note_presets = {int(k): v for k, v in spec.note_presets.items()}
            self.program_presets = list(spec.program_presets)
            self.clock_tempo = spec.clock_tempo
            self.tap_note = spec.tap_note
            self.tap_cc = spec.tap_cc
        self.api = getattr(spec, "api", self.api)
        wanted = (spec.input, bool(spec.virtual_input))
        if wanted != self._port_spec:
            self._port_spec = wanted
            if self._port is not None:
                self.close()
                self.open()

    def bind(self, param: str, cc: int, channel: int | None = None, lo: float | None = None,
             hi: float | None = None, curve: str = "linear") -> None:
        """Add a CC binding (channel 1..16 or None for any)."""
        self.registry.spec(param)  # fail early on unknown names
        with self._lock:
            self._bindings.append(_Binding(cc, None if channel is None else channel - 1, Mapping(param, lo, hi, curve)))

    @property
    def bindings(self) -> list[tuple[int, int | None, str]]:
        """(cc, channel 1..16 or None, param) of every binding."""
        with self._lock:
            return [(b.cc, None if b.channel is None else b.channel + 1, b.mapping.param) for b in self._bindings]

    # -- ports ---------------------------------------------------------------------------

    def open(self, input: str | None = None, virtual: bool | None = None) -> str | None:
        """Open the input port (``input`` substring, or a virtual port "livevis in").

        Arguments override the configured ones. Returns the port name (None if no input is
        configured).

        Raises:
            MidiError: no backend/server, or no port matches (message lists the ports).
        """
        name, virt = self._port_spec
        name = input if input is not None else name
        virt = virtual if virtual is not None else virt
        self._port_spec = (name, virt)
        if name is None and not virt:
            return None
        backend = midi_backend(self.api)
        try:
            if virt:
                self._port = backend.open_input(name or "livevis in", virtual=True, client_name=self.client_name,
                                                callback=self._callback)
            else:
                port = find_port(list_ports(self.api)[0], name, "input")
                # (mido: a client_name would make it a virtual port, not a connection)
                self._port = backend.open_input(port, callback=self._callback)
        except MidiError:
            raise
        except Exception as err:
            raise MidiError(f"cannot open MIDI input {name!r} ({resolve_api(self.api)}): {err}") from None
        self.port_name = self._port.name
        return self.port_name

    def close(self) -> None:
        """Close the input port (idempotent).

        The rtmidi callback is removed first: python-rtmidi's close_port holds the GIL while
        JACK waits for its process thread, which needs the GIL to deliver a message in
        flight to a Python callback — closing under incoming MIDI would deadlock.
        """
        port, self._port = self._port, None
        if port is not None:
            try:
                close_input_port(port)
            except Exception:
                pass

    def __enter__(self) -> "MidiControl":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _callback(self, msg) -> None:
        try:
            self.handle(msg)
        except Exception as err:  # never let an exception kill rtmidi's thread
            self.errors = (self.errors + [f"{msg}: {err}"])[-20:]

    # -- message logic -------------------------------------------------------------------

    def handle(self, msg, now: float | None = None) -> None:
        """Act on one mido message (called on the MIDI thread; never blocks)."""
        now = time.monotonic() if now is None else now
        self.messages += 1
        t = msg.type
        if t == "clock":
            if self.clock_tempo:
                bpm = self.clock.tick(now)
                if bpm is not None:
                    self.registry.set("tempo.bpm", bpm, "midi")
            return
        if t in ("start", "stop", "continue"):
            self.clock.reset()
            self.registry.touch("midi")
            return
        if t == "control_change":
            self._control(msg, now)
        elif t == "note_on" and msg.velocity > 0:
            with self._lock:
                preset = self.note_presets.get(msg.note)
                tap = self.tap_note == msg.note
            if tap:
                self._tap(now)
            if preset is not None:
                self.events.put("preset", preset, "midi")
        elif t == "program_change":
            with self._lock:
                names = self.program_presets
            if names:
                if msg.program < len(names):
                    self.events.put("preset", names[msg.program], "midi")
            else:
                self.events.put("preset_index", msg.program, "midi")
        self.registry.touch("midi")

    def _tap(self, now: float) -> None:
        bpm = self.tapper.tap(now)
        if bpm is not None:
            self.registry.set("tempo.bpm", bpm, "midi")
        self.events.put("tap", bpm, "midi")

    def _control(self, msg, now: float) -> None:
        param = self.learn.take()
        if param is not None:
            from livevis.control.presets import MidiMapping

            try:
                spec = self.registry.spec(param)
            except UnknownParamError:
                return
            curve = "toggle" if spec.kind == "bool" else "linear"
            learned = MidiMapping(param=param, cc=msg.control, channel=msg.channel + 1, curve=curve)
            with self._lock:
                self._bindings = [b for b in self._bindings
                                  if b.mapping.param != param and not (b.cc == msg.control and b.channel == msg.channel)]
                self._bindings.append(_Binding(msg.control, msg.channel, Mapping(param, None, None, curve)))
            self.events.put("learned", learned, "midi")
            return
        with self._lock:
            tap = self.tap_cc == msg.control
            hits = [b.mapping for b in self._bindings
                    if b.cc == msg.control and (b.channel is None or b.channel == msg.channel)]
        if tap and msg.value >= 64:
            self._tap(now)
        x = cc_to_unit(msg.value)
        for m in hits:
            try:
                m.apply(self.registry, x, "midi")
            except UnknownParamError:
                pass  # a parameter of a previous preset


# --------------------------------------------------------------------------- output


class MidiOutput:
    """A MIDI output port: an existing port by name substring, or a virtual one.

    Args:
        name: port name substring (virtual: the port's name, default "livevis out").
        virtual: create a virtual port other software connects to.
        api, client_name: as :class:`MidiControl`.

    Raises:
        MidiError: no backend/server, or no port matches.
    """

    def __init__(self, name: str | None = None, virtual: bool = False, api: str = "auto",
                 client_name: str = "livevis") -> None:
        backend = midi_backend(api)
        try:
            if virtual:
                self._port = backend.open_output(name or "livevis out", virtual=True, client_name=client_name)
            else:
                if name is None:
                    raise MidiError("no MIDI output port named (set midi.output or midi.virtual_output)")
                port = find_port(list_ports(api)[1], name, "output")
                self._port = backend.open_output(port)  # no client_name: mido would make it virtual
        except MidiError:
            raise
        except Exception as err:
            raise MidiError(f"cannot open MIDI output {name!r} ({resolve_api(api)}): {err}") from None
        self.name = self._port.name
        self.sent = 0
        self._lock = threading.Lock()

    def send(self, messages: Iterable) -> None:
        """Send mido messages (non-blocking for rtmidi)."""
        with self._lock:
            for m in messages:
                self._port.send(m)
                self.sent += 1

    def close(self) -> None:
        with self._lock:
            if self._port is not None:
                try:
                    self._port.reset()  # all notes off
                except Exception:
                    pass
                self._port.close()
                self._port = None


class AnalysisToMidi:
    """Turns analysis states into MIDI messages for lights and other software.

    * CC ``valence_cc`` / ``arousal_cc``: valence/arousal −1..1 → 0..127 (64 ≈ neutral).
    * CC ``energy_cc``: energy divided by its running peak (decaying with ``peak_half_life_s``)
      → 0..127.
    * note ``beat_note`` on each beat (``beat_phase`` wrapping around while the tempo is known),
      velocity 64..127 with the energy; note ``onset_note`` when onset rises past
      ``onset_threshold``; both released after ``note_s``.
    * notes ``quadrant_base`` + 0..3 held while the emotion is happy (v≥0, a≥0), angry (v<0,
      a≥0), sad (v<0, a<0), calm (v≥0, a<0); the quadrant changes only past ``hysteresis``.

    A CC is sent when its value changes, and at least every ``keepalive_s``.
    All on ``channel`` 1..16. :meth:`update` is pure apart from this object's own state.
    """

    def __init__(self, channel: int = 16, valence_cc: int = 20, arousal_cc: int = 21, energy_cc: int = 22,
                 beat_note: int = 36, onset_note: int = 38, quadrant_base: int = 48,
                 onset_threshold: float = 0.6, note_s: float = 0.05, hysteresis: float = 0.1,
                 peak_half_life_s: float = 10.0, keepalive_s: float = 1.0) -> None:
        self.channel = channel - 1
        self.ccs = {"valence": valence_cc, "arousal": arousal_cc, "energy": energy_cc}
        self.beat_note, self.onset_note, self.quadrant_base = beat_note, onset_note, quadrant_base
        self.onset_threshold, self.note_s, self.hysteresis = onset_threshold, note_s, hysteresis
        self.peak_half_life_s, self.keepalive_s = peak_half_life_s, keepalive_s
        self._last_cc: dict[int, tuple[int, float]] = {}
        self._peak = 1e-6
        self._prev_phase: float | None = None
        self._prev_onset = 0.0
        self._quadrant: int | None = None
        self._offs: list[tuple[float, int]] = []  # (due time, note)
        self._t: float | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> "AnalysisToMidi":
        """From a preset's ``midi`` section."""
        return cls(spec.out_channel, spec.valence_cc, spec.arousal_cc, spec.energy_cc,
                   spec.beat_note, spec.onset_note, spec.quadrant_base)

    @staticmethod
    def quadrant(valence: float, arousal: float) -> int:
        """0 happy, 1 angry, 2 sad, 3 calm."""
        if arousal >= 0:
            return 0 if valence >= 0 else 1
        return 3 if valence >= 0 else 2

    def update(self, state: Any, now: float) -> list:
        """Messages to send for ``state`` at time ``now`` (seconds, monotonic)."""
        mido = _mido()
        out: list = []
        ch = self.channel
        dt = 0.0 if self._t is None else max(now - self._t, 0.0)
        self._t = now
        due = [n for t, n in self._offs if t <= now]
        self._offs = [(t, n) for t, n in self._offs if t > now]
        out += [mido.Message("note_off", channel=ch, note=n, velocity=0) for n in due]
        self._peak = max(float(state.energy), self._peak * 0.5 ** (dt / self.peak_half_life_s), 1e-6)
        energy = min(float(state.energy) / self._peak, 1.0)
        values = {"valence": (state.valence + 1) / 2, "arousal": (state.arousal + 1) / 2, "energy": energy}
        for key, x in values.items():
            cc, v = self.ccs[key], unit_to_cc(x)
            last = self._last_cc.get(cc)
            if last is None or last[0] != v or now - last[1] >= self.keepalive_s:
                out.append(mido.Message("control_change", channel=ch, control=cc, value=v))
                self._last_cc[cc] = (v, now)
        phase = float(state.beat_phase)
        if self._prev_phase is not None and state.tempo > 0 and self._prev_phase - phase > 0.5:
            out += self._note(self.beat_note, 64 + int(round(63 * energy)), now)
        self._prev_phase = phase
        if state.onset >= self.onset_threshold > self._prev_onset:
            out += self._note(self.onset_note, 64 + int(round(63 * min(state.onset, 1.0))), now)
        self._prev_onset = float(state.onset)
        q = self.quadrant(state.valence, state.arousal)
        if q != self._quadrant:
            stay = False
            if self._quadrant is not None:  # hysteresis: both coordinates must be clearly over
                v, a = state.valence, state.arousal
                pv, pa = {0: (1, 1), 1: (-1, 1), 2: (-1, -1), 3: (1, -1)}[self._quadrant]
                stay = (v * pv > -self.hysteresis) and (a * pa > -self.hysteresis)
            if not stay:
                if self._quadrant is not None:
                    out.append(mido.Message("note_off", channel=ch, note=self.quadrant_base + self._quadrant, velocity=0))
                self._quadrant = q
                out.append(mido.Message("note_on", channel=ch, note=self.quadrant_base + q, velocity=100))
        return out

    def _note(self, note: int, velocity: int, now: float) -> list:
        mido = _mido()
        self._offs.append((now + self.note_s, note))
        return [mido.Message("note_on", channel=self.channel, note=note, velocity=min(max(velocity, 1), 127))]

    def release(self) -> list:
        """Note-offs for every note still held (call before closing)."""
        mido = _mido()
        notes = [n for _, n in self._offs]
        if self._quadrant is not None:
            notes.append(self.quadrant_base + self._quadrant)
        self._offs, self._quadrant = [], None
        return [mido.Message("note_off", channel=self.channel, note=n, velocity=0) for n in notes]


# --------------------------------------------------------------------------- generative

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
#: Emotion2Music's progressions: I-IV-V-I (major), i-VI-III-VII (minor), as scale degrees.
PROGRESSIONS = {"major": (("I", 0), ("IV", 3), ("V", 4), ("I", 0)),
                "minor": (("i", 0), ("VI", 5), ("III", 2), ("VII", 6))}


@dataclass(frozen=True)
class MusicPlan:
    """Musical features chosen from valence/arousal (Emotion2Music, "Music Generation").

    Attributes:
        tempo_range: (low, high) BPM; higher arousal → faster.
        mode: ``major`` (valence >= 0) or ``minor``.
        progression: chord names, one per bar (I-IV-V-I or i-VI-III-VII).
        chords: MIDI notes of each chord (root-position triads in the mode).
        notes_per_bar: melody note density, 2..8, grows with arousal.
        velocity: 40..120, grows with arousal.
        pitch_range: (low, high) MIDI notes of the melody; higher with valence.
        irregular: tense emotions (negative valence, high arousal: angry/fear) get an
            irregular rhythm, the others a regular grid.
    """

    tempo_range: tuple[float, float]
    mode: str
    progression: tuple[str, ...]
    chords: tuple[tuple[int, ...], ...]
    notes_per_bar: int
    velocity: int
    pitch_range: tuple[int, int]
    irregular: bool


def plan_music(valence: float, arousal: float, root: int = 60, tempo_min: float = 50.0,
               tempo_max: float = 160.0) -> MusicPlan:
    """Choose tempo range, mode, progression, density, velocity and pitch range.

    Args:
        valence, arousal: [-1, 1] (clamped).
        root: MIDI note of the tonic.
        tempo_min, tempo_max: clamp of the tempo range, BPM.
    """
    v = min(max(float(valence), -1.0), 1.0)
    a = min(max(float(arousal), -1.0), 1.0)
    a01 = (a + 1) / 2
    lo = 60.0 + 70.0 * a01
    hi = lo + 20.0 + 10.0 * a01
    lo, hi = min(max(lo, tempo_min), tempo_max), min(max(hi, tempo_min), tempo_max)
    mode = "major" if v >= 0 else "minor"
    scale = MAJOR if mode == "major" else MINOR
    names, chords = [], []
    for name, degree in PROGRESSIONS[mode]:
        names.append(name)
        notes = []
        for step in (0, 2, 4):
            d = degree + step
            notes.append(root - 12 + scale[d % 7] + 12 * (d // 7))
        chords.append(tuple(notes))
    centre = root + 12 + int(round(5 * v))
    return MusicPlan(tempo_range=(lo, hi), mode=mode, progression=tuple(names), chords=tuple(chords),
                     notes_per_bar=int(round(2 + 6 * a01)), velocity=int(round(40 + 80 * a01)),
                     pitch_range=(centre - 6, centre + 6), irregular=(v < 0 and a > 0.2))


class GenerativePlayer:
    """Plays generated music from the current valence/arousal, bar by bar.

    At each bar start it takes :func:`plan_music` of the current emotion: the tempo is drawn
    once per 4-bar phrase within the plan's range (or follows ``tempo_hint``), the bar's chord
    is the next of the progression (held on ``channel``), and ``notes_per_bar`` melody notes in
    the mode's scale within the pitch range are played on ``channel + 1``, on a regular grid or
    at irregular positions.

    Args:
        channel: chord channel 1..15 (melody on the next one).
        root, tempo_min, tempo_max: see :func:`plan_music`.
        follow_tempo: use ``tempo_hint`` (e.g. the analysed tempo) when it is > 0.
        seed: random seed (for reproducible tests).
    """

    def __init__(self, channel: int = 1, root: int = 60, tempo_min: float = 50.0, tempo_max: float = 160.0,
                 follow_tempo: bool = False, seed: int | None = None) -> None:
        self.chord_ch = channel - 1
        self.melody_ch = channel
        self.root, self.tempo_min, self.tempo_max = root, tempo_min, tempo_max
        self.follow_tempo = follow_tempo
        self.rng = random.Random(seed)
        self._queue: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._next_bar: float | None = None
        self._bar = 0
        self.tempo = 0.0
        self.plan: MusicPlan | None = None
        self._held: dict[tuple[int, int], int] = {}

    @classmethod
    def from_spec(cls, spec: Any, seed: int | None = None) -> "GenerativePlayer":
        """From a preset's ``midi.generative`` section."""
        return cls(spec.channel, spec.root_note, spec.tempo_min, spec.tempo_max, spec.follow_tempo, seed)

    def _push(self, t: float, msg) -> None:
        heapq.heappush(self._queue, (t, next(self._seq), msg))

    def _schedule_bar(self, start: float, valence: float, arousal: float, tempo_hint: float) -> float:
        mido = _mido()
        plan = plan_music(valence, arousal, self.root, self.tempo_min, self.tempo_max)
        self.plan = plan
        if self.follow_tempo and tempo_hint > 0:
            self.tempo = min(max(tempo_hint, self.tempo_min), self.tempo_max)
        elif self._bar % 4 == 0 or not plan.tempo_range[0] <= self.tempo <= plan.tempo_range[1]:
            self.tempo = self.rng.uniform(*plan.tempo_range)
        beat = 60.0 / self.tempo
        bar = 4 * beat
        chord = plan.chords[self._bar % len(plan.chords)]
        for n in chord:
            self._push(start, mido.Message("note_on", channel=self.chord_ch, note=n, velocity=max(plan.velocity - 20, 1)))
            self._push(start + bar * 0.95, mido.Message("note_off", channel=self.chord_ch, note=n, velocity=0))
        k = plan.notes_per_bar
        if plan.irregular:
            positions = sorted(self.rng.uniform(0, bar * 0.9) for _ in range(k))
        else:
            positions = [i * bar / k for i in range(k)]
        scale = MAJOR if plan.mode == "major" else MINOR
        pitches = [p for p in range(plan.pitch_range[0], plan.pitch_range[1] + 1) if (p - self.root) % 12 in scale]
        ends = positions[1:] + [bar]
        for pos, end in zip(positions, ends):
            note = self.rng.choice(pitches)
            vel = min(max(plan.velocity + self.rng.randint(-10, 10), 1), 127)
            length = max((end - pos) * 0.9, 0.02)
            self._push(start + pos, mido.Message("note_on", channel=self.melody_ch, note=note, velocity=vel))
            self._push(start + pos + length, mido.Message("note_off", channel=self.melody_ch, note=note, velocity=0))
        self._bar += 1
        return start + bar

    def step(self, now: float, valence: float, arousal: float, tempo_hint: float = 0.0) -> list:
        """Messages due by ``now`` (seconds, monotonic); schedules bars as time passes."""
        if self._next_bar is None:
            self._next_bar = now
        while self._next_bar <= now:
            self._next_bar = self._schedule_bar(self._next_bar, valence, arousal, tempo_hint)
        out = []
        while self._queue and self._queue[0][0] <= now:
            _, _, msg = heapq.heappop(self._queue)
            key = (msg.channel, msg.note)
            if msg.type == "note_on":
                self._held[key] = self._held.get(key, 0) + 1
            else:
                if self._held.get(key, 0) <= 0:
                    continue
                self._held[key] -= 1
            out.append(msg)
        return out

    def stop(self) -> list:
        """Note-offs for every sounding note; clears the schedule."""
        mido = _mido()
        out = [mido.Message("note_off", channel=ch, note=n, velocity=0)
               for (ch, n), count in self._held.items() for _ in range(count)]
        self._held.clear()
        self._queue.clear()
        self._next_bar = None
        return out


class ClockOut:
    """MIDI clock out (24 pulses per beat, start/stop) locked to the show's tempo and beat phase.

    An internal beat position runs at the state's tempo; each step it is pulled a tenth of the way
    towards the state's beat phase (a phase-locked loop), so the pulses keep an even spacing while
    the beat that starts every 24th pulse stays on the show's beat: the analysed one, or Ableton
    Link's when the show follows a Link session (then the phase is exact and continuous).

    Args:
        gain: fraction of the phase error corrected per step, (0, 1].
    """

    PPQN = 24

    def __init__(self, gain: float = 0.1) -> None:
        self.gain = gain
        self._pos: float | None = None  # beats
        self._last: float | None = None
        self._pulse = 0
        self.running = False

    def step(self, tempo: float, beat_phase: float, now: float) -> list:
        """Messages due at host time ``now`` (seconds): ``start`` on the first beat after the
        tempo becomes known, then a ``clock`` for every 1/24 beat passed (the first one on that
        beat, as MIDI specifies), and ``stop`` when the tempo is lost (0). After a stall the clock
        skips ahead instead of sending a burst."""
        mido = _mido()
        if tempo <= 0:
            return self.stop()
        if self._pos is None:  # wait for the next beat boundary
            self._pos, self._last = float(beat_phase), now
            self._pulse = math.ceil(self._pos - 1e-9) * self.PPQN
            return []
        self._pos += (now - self._last) * tempo / 60.0
        self._last = now
        self._pos += self.gain * ((beat_phase - self._pos + 0.5) % 1.0 - 0.5)
        out = []
        if self._pos * self.PPQN - self._pulse > self.PPQN:  # stalled for more than a beat
            self._pulse = math.floor(self._pos * self.PPQN)
        if not self.running and self._pos * self.PPQN >= self._pulse:
            out.append(mido.Message("start"))
            self.running = True
        while self.running and self._pos * self.PPQN >= self._pulse:
            out.append(mido.Message("clock"))
            self._pulse += 1
        return out

    def stop(self) -> list:
        """``stop`` if running."""
        out = [_mido().Message("stop")] if self.running else []
        self.running, self._pos = False, None
        return out


class MidiOutputThread(threading.Thread):
    """Sends :class:`AnalysisToMidi` and :class:`GenerativePlayer` output from the newest state.

    Args:
        output: the port.
        get_state: returns the newest :class:`~livevis.analysis.state.AnalysisState` (e.g.
            ``LatestState.get``); called ``rate_hz`` times a second, must not block.
        analysis: analysis→MIDI converter, or None.
        generative: generated music, or None.
        rate_hz: update rate, [10, 1000].
        get_tempo: optional tempo override in BPM (e.g. the ``tempo.bpm`` parameter), 0: none.
        clock: MIDI clock out (:class:`ClockOut`) at the state's tempo and beat phase, or None.
    """

    def __init__(self, output: MidiOutput, get_state: Callable[[], Any], analysis: AnalysisToMidi | None = None,
                 generative: GenerativePlayer | None = None, rate_hz: float = 200.0,
                 get_tempo: Callable[[], float] | None = None, clock: ClockOut | None = None) -> None:
        super().__init__(name="livevis-midi-out", daemon=True)
        self.output, self.get_state = output, get_state
        self.analysis, self.generative, self.clock = analysis, generative, clock
        self.period = 1.0 / min(max(rate_hz, 10.0), 1000.0)
        self.get_tempo = get_tempo
        self._stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._stop_event.wait(self.period):
                state = self.get_state()
                now = time.monotonic()
                msgs = []
                if self.analysis is not None:
                    msgs += self.analysis.update(state, now)
                if self.generative is not None:
                    hint = (self.get_tempo() if self.get_tempo else 0.0) or float(state.tempo)
                    msgs += self.generative.step(now, state.valence, state.arousal, hint)
                if self.clock is not None:
                    msgs += self.clock.step(float(state.tempo), float(state.beat_phase), now)
                if msgs:
                    self.output.send(msgs)
        except BaseException as err:  # keep the show running; report via .error
            self.error = err
        finally:
            tail = []
            if self.analysis is not None:
                tail += self.analysis.release()
            if self.generative is not None:
                tail += self.generative.stop()
            if self.clock is not None:
                tail += self.clock.stop()
            try:
                self.output.send(tail)
            except Exception:
                pass

    def stop(self, timeout: float = 1.0) -> None:
        """Stop, release held notes and wait up to ``timeout`` seconds."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)
