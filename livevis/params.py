"""Live parameters: a thread-safe registry of named, ranged values and the mapping machinery.

MIDI and OSC threads (and keyboard shortcuts) write parameters; the render loop reads them
each frame with :meth:`ParamRegistry.snapshot` or :meth:`ParamRegistry.get` and never waits
longer than a dict copy under a lock.

Names are dotted (``layer.1.opacity``, ``face.smoothing.attack``, ``master.brightness``); each
name has an OSC address with the dots as slashes (``/layer/1/opacity``). Layers are numbered
from 1, bottom first (as in Resolume).

A :class:`Mapping` turns a normalised control value in [0, 1] (CC/127, an OSC fader) into a
parameter value through a range and a curve:

* ``linear``: ``lo + (hi - lo) * x``
* ``exp``:    fine control at the low end, ``lo + (hi - lo) * (e^(k x) - 1) / (e^k - 1)``, k = 4
* ``log``:    fine control at the high end (the inverse shape of ``exp``)
* ``toggle``: each press (x crossing 0.5 upwards) flips between ``lo`` and ``hi``
* ``gate``:   ``hi`` while x >= 0.5, ``lo`` otherwise
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from livevis.errors import LivevisError

CURVES: tuple[str, ...] = ("linear", "exp", "log", "toggle", "gate")
_K = 4.0
_EK = math.exp(_K) - 1.0


class UnknownParamError(LivevisError, KeyError):
    """A parameter name (or OSC address) that the registry does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown parameter"


@dataclass(frozen=True)
class ParamSpec:
    """A parameter's definition.

    Attributes:
        name: dotted name, e.g. ``layer.1.opacity``.
        min, max: the range; values set are clamped to it.
        default: initial value.
        kind: ``float``, ``int`` (rounded) or ``bool`` (0 or 1).
        doc: one line with the unit.
    """

    name: str
    min: float
    max: float
    default: float
    kind: str = "float"
    doc: str = ""

    @property
    def address(self) -> str:
        """OSC address: ``/`` + the name with dots as slashes."""
        return name_to_address(self.name)

    def clamp(self, value: float) -> float:
        v = float(value)
        if math.isnan(v):
            v = self.default
        v = min(max(v, self.min), self.max)
        if self.kind == "bool":
            return 1.0 if v >= 0.5 else 0.0
        if self.kind == "int":
            return float(round(v))
        return v


def name_to_address(name: str) -> str:
    """``layer.1.opacity`` → ``/layer/1/opacity``."""
    return "/" + name.replace(".", "/")


def address_to_name(address: str) -> str:
    """``/layer/1/opacity`` → ``layer.1.opacity``."""
    return address.strip("/").replace("/", ".")


def apply_curve(x: float, curve: str, lo: float, hi: float) -> float:
    """Map ``x`` in [0, 1] (clamped) to [lo, hi] through a stateless curve.

    ``toggle`` behaves like ``gate`` here (it needs state: use :class:`Mapping`).

    Raises:
        ValueError: unknown curve.
    """
    x = min(max(float(x), 0.0), 1.0)
    if curve == "linear":
        y = x
    elif curve == "exp":
        y = (math.exp(_K * x) - 1.0) / _EK
    elif curve == "log":
        y = math.log1p(_EK * x) / _K
    elif curve in ("toggle", "gate"):
        y = 1.0 if x >= 0.5 else 0.0
    else:
        raise ValueError(f"unknown curve {curve!r}; choose one of {', '.join(CURVES)}")
    return lo + (hi - lo) * y


def invert_curve(value: float, curve: str, lo: float, hi: float) -> float:
    """The ``x`` in [0, 1] that :func:`apply_curve` maps to ``value`` (for feedback/display)."""
    if hi == lo:
        return 0.0
    y = min(max((float(value) - lo) / (hi - lo), 0.0), 1.0)
    if curve == "exp":
        return math.log1p(_EK * y) / _K
    if curve == "log":
        return (math.exp(_K * y) - 1.0) / _EK
    if curve in ("toggle", "gate"):
        return 1.0 if y >= 0.5 else 0.0
    return y


class ParamRegistry:
    """Named parameters with ranges; every method is thread-safe and O(1) or O(n) in a dict.

    Writers (MIDI/OSC threads, keyboard) call :meth:`set`; the render loop calls
    :meth:`snapshot` or :meth:`get` once per frame. :attr:`version` increments on each change.
    """

    def __init__(self, specs: Iterable[ParamSpec] = ()) -> None:
        self._lock = threading.RLock()
        self._specs: dict[str, ParamSpec] = {}
        self._values: dict[str, float] = {}
        self._by_address: dict[str, str] = {}
        self._version = 0
        self._last: dict[str, float] = {}  # source → monotonic time of its last change
        for s in specs:
            self.define(s.name, s.min, s.max, s.default, s.kind, s.doc)

    # -- definition ---------------------------------------------------------------------

    def define(self, name: str, min: float, max: float, default: float | None = None,
               kind: str = "float", doc: str = "") -> ParamSpec:
        """Add (or redefine) a parameter; an existing value is kept, clamped to the new range.

        Raises:
            ValueError: empty name, min > max, or unknown kind.
        """
        if not name or name.startswith(".") or name.endswith(".") or " " in name:
            raise ValueError(f"bad parameter name {name!r}")
        if min > max:
            raise ValueError(f"parameter {name}: min {min} > max {max}")
        if kind not in ("float", "int", "bool"):
            raise ValueError(f"parameter {name}: kind must be float, int or bool, got {kind!r}")
        default = min if default is None else default
        spec = ParamSpec(name, float(min), float(max), 0.0, kind, doc)
        spec = ParamSpec(name, float(min), float(max), spec.clamp(default), kind, doc)
        with self._lock:
            self._specs[name] = spec
            self._by_address[spec.address] = name
            self._values[name] = spec.clamp(self._values.get(name, spec.default))
            self._version += 1
        return spec

    def remove(self, name: str) -> None:
        """Forget a parameter (no error if it does not exist)."""
        with self._lock:
            spec = self._specs.pop(name, None)
            if spec is not None:
                self._values.pop(name, None)
                self._by_address.pop(spec.address, None)
                self._version += 1

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._specs

    def __len__(self) -> int:
        with self._lock:
            return len(self._specs)

    def names(self) -> list[str]:
        """All parameter names, sorted."""
        with self._lock:
            return sorted(self._specs)

    def spec(self, name: str) -> ParamSpec:
        """The definition of ``name``.

        Raises:
            UnknownParamError: no such parameter.
        """
        with self._lock:
            try:
                return self._specs[name]
            except KeyError:
                raise UnknownParamError(self._unknown(name)) from None

    def _unknown(self, name: str) -> str:
        import difflib

        near = difflib.get_close_matches(name, list(self._specs), n=3, cutoff=0.5)
        return f"unknown parameter {name!r}" + (f"; did you mean {', '.join(near)}?" if near else "")

    def name_for_address(self, address: str) -> str | None:
        """The parameter whose OSC address is ``address`` (None if none)."""
        with self._lock:
            return self._by_address.get(address)

    # -- values -------------------------------------------------------------------------

    def get(self, name: str) -> float:
        """Current value of ``name``.

        Raises:
            UnknownParamError: no such parameter.
        """
        with self._lock:
            try:
                return self._values[name]
            except KeyError:
                raise UnknownParamError(self._unknown(name)) from None

    def set(self, name: str, value: float, source: str | None = None) -> float:
        """Set ``name`` to ``value`` clamped to its range; returns the value stored.

        Args:
            source: who set it (``midi``, ``osc``, ``key``...), recorded for activity display.

        Raises:
            UnknownParamError: no such parameter.
        """
        with self._lock:
            spec = self._specs.get(name)
            if spec is None:
                raise UnknownParamError(self._unknown(name))
            v = spec.clamp(value)
            self._values[name] = v
            self._version += 1
            if source:
                self._last[source] = time.monotonic()
            return v

    def set_normalized(self, name: str, x: float, curve: str = "linear", source: str | None = None) -> float:
        """Set ``name`` from ``x`` in [0, 1] over its own range through ``curve``."""
        spec = self.spec(name)
        return self.set(name, apply_curve(x, curve, spec.min, spec.max), source)

    def toggle(self, name: str, source: str | None = None) -> float:
        """Flip a parameter between its min and max (bool parameters: 0 ↔ 1)."""
        with self._lock:
            spec = self.spec(name)
            mid = (spec.min + spec.max) / 2
            return self.set(name, spec.min if self._values[name] > mid else spec.max, source)

    def snapshot(self) -> dict[str, float]:
        """A copy of all values (the render loop's per-frame read)."""
        with self._lock:
            return dict(self._values)

    def update(self, values: dict[str, float], source: str | None = None) -> None:
        """Set several parameters at once (unknown names raise before any is set)."""
        with self._lock:
            for name in values:
                if name not in self._specs:
                    raise UnknownParamError(self._unknown(name))
            for name, value in values.items():
                self.set(name, value, source)

    @property
    def version(self) -> int:
        """Increments on every definition or value change."""
        with self._lock:
            return self._version

    def last_activity(self, source: str) -> float:
        """``time.monotonic()`` of the last change from ``source`` (0.0: never)."""
        with self._lock:
            return self._last.get(source, 0.0)

    def touch(self, source: str) -> None:
        """Record activity from ``source`` without changing a value (e.g. a note received)."""
        with self._lock:
            self._last[source] = time.monotonic()


class Mapping:
    """A control (MIDI CC, OSC address) bound to a parameter through a range and curve.

    Args:
        param: parameter name.
        lo, hi: parameter values at control 0 and 1 (None: the parameter's min / max).
            ``lo > hi`` inverts the control.
        curve: one of :data:`CURVES`.

    Raises:
        ValueError: unknown curve.
    """

    def __init__(self, param: str, lo: float | None = None, hi: float | None = None,
                 curve: str = "linear") -> None:
        if curve not in CURVES:
            raise ValueError(f"unknown curve {curve!r}; choose one of {', '.join(CURVES)}")
        self.param = param
        self.lo = lo
        self.hi = hi
        self.curve = curve
        self._pressed = False

    def __repr__(self) -> str:
        return f"Mapping({self.param!r}, {self.lo}, {self.hi}, {self.curve!r})"

    def range(self, registry: ParamRegistry) -> tuple[float, float]:
        spec = registry.spec(self.param)
        return (spec.min if self.lo is None else self.lo, spec.max if self.hi is None else self.hi)

    def apply(self, registry: ParamRegistry, x: float, source: str | None = None) -> float | None:
        """Feed control value ``x`` in [0, 1]; returns the value set, or None if unchanged
        (a toggle's release).

        Raises:
            UnknownParamError: the parameter does not exist (any more).
        """
        lo, hi = self.range(registry)
        if self.curve == "toggle":
            pressed = x >= 0.5
            was, self._pressed = self._pressed, pressed
            if not pressed or was:
                if source:
                    registry.touch(source)
                return None
            current = registry.get(self.param)
            mid = (lo + hi) / 2
            target = lo if (current >= mid if hi >= lo else current <= mid) else hi
            return registry.set(self.param, target, source)
        return registry.set(self.param, apply_curve(x, self.curve, lo, hi), source)


# --------------------------------------------------------------------------- preset params

#: Parameters kept across preset switches (operator state, not scene state).
PERSISTENT_PREFIXES: tuple[str, ...] = ("master.", "tempo.")


def _bg_range(v: float) -> tuple[float, float]:
    if 0.0 <= v <= 1.0:
        return 0.0, 1.0
    m = 4.0 * abs(v)
    return (-m, m) if v < 0 else (0.0, m)


def preset_param_specs(preset: Any) -> list[tuple[ParamSpec, float]]:
    """Every live parameter a :class:`~livevis.control.presets.Preset` has, with its preset value.

    Global: ``master.brightness`` [0, 2], ``master.blackout``/``master.freeze`` (bool),
    ``master.speed`` [0, 4], ``master.crossfade_s`` [0, 60], ``tempo.bpm`` [0, 300] (0: follow the
    analysis; set by tap tempo and MIDI clock). Per layer N (1 = bottom): ``layer.N.opacity``
    [0, 1], ``layer.N.enabled`` (bool). Scene: ``background.speed`` and ``background.NAME``
    for each numeric shader parameter, ``face.scale``, ``face.expressiveness``,
    ``face.outline_width``, ``face.smoothing.attack``/``release`` (s; the preset's
    ``emotion.attack_s``/``release_s``), ``emotion.sensitivity``, ``audio.gain_db``,
    ``audio.noise_gate_db``, ``audio.sensitivity``, ``latent.noise_sigma``,
    ``latent.energy_gain``, ``latent.segment_s``, ``output.av_offset_ms``.
    """
    P = ParamSpec
    out: list[tuple[ParamSpec, float]] = [
        (P("master.brightness", 0.0, 2.0, 1.0, doc="picture gain, 1 = unchanged"), 1.0),
        (P("master.blackout", 0.0, 1.0, 0.0, "bool", "1: black screen"), 0.0),
        (P("master.freeze", 0.0, 1.0, 0.0, "bool", "1: hold the current picture"), 0.0),
        (P("master.speed", 0.0, 4.0, 1.0, doc="animation speed multiplier"), 1.0),
        (P("master.crossfade_s", 0.0, 60.0, 2.0, doc="preset crossfade, seconds"), float(preset.crossfade_s)),
        (P("tempo.bpm", 0.0, 300.0, 0.0, doc="tempo override in BPM, 0: analysed tempo"), 0.0),
    ]
    for i, layer in enumerate(preset.layers, start=1):
        out.append((P(f"layer.{i}.opacity", 0.0, 1.0, 1.0, doc=f"{layer.kind} layer opacity"), layer.opacity))
        out.append((P(f"layer.{i}.enabled", 0.0, 1.0, 1.0, "bool", f"{layer.kind} layer shown"),
                    1.0 if layer.enabled else 0.0))
    bg = preset.background
    out.append((P("background.speed", 0.0, 10.0, 1.0, doc="shader time multiplier"), bg.speed))
    for name, value in bg.params.items():
        if isinstance(value, (int, float)) and name != "speed":
            lo, hi = _bg_range(float(value))
            out.append((P(f"background.{name}", lo, hi, float(value), doc=f"shader uniform u_{name}"), float(value)))
    f, e, a, lat, o = preset.face, preset.emotion, preset.audio, preset.latent, preset.output
    out += [
        (P("face.scale", 0.1, 3.0, 1.0, doc="face size relative to picture height"), f.scale),
        (P("face.expressiveness", 0.0, 3.0, 1.0, doc="AU intensity multiplier"), f.expressiveness),
        (P("face.outline_width", 0.0, 20.0, 2.0, doc="outline width, px at 1080p"), f.outline_width),
        (P("face.smoothing.attack", 0.0, 30.0, 0.3, doc="emotion rise time constant, s"), e.attack_s),
        (P("face.smoothing.release", 0.0, 30.0, 0.8, doc="emotion fall time constant, s"), e.release_s),
        (P("emotion.sensitivity", 0.0, 4.0, 1.0, doc="valence/arousal gain"), e.sensitivity),
        (P("audio.gain_db", -40.0, 40.0, 0.0, doc="input gain, dB"), a.gain_db),
        (P("audio.noise_gate_db", -120.0, 0.0, -60.0, doc="silence threshold, dBFS"), a.noise_gate_db),
        (P("audio.sensitivity", 0.0, 4.0, 1.0, doc="onset/energy reaction gain"), a.sensitivity),
        (P("latent.noise_sigma", 0.0, 5.0, 0.1, doc="latent walk noise std"), lat.noise_sigma),
        (P("latent.energy_gain", 0.0, 10.0, 1.0, doc="energy → walk speed gain"), lat.energy_gain),
        (P("latent.segment_s", 0.1, 600.0, 8.0, doc="seconds per keyframe segment"), lat.segment_s),
        (P("output.av_offset_ms", -2000.0, 2000.0, 0.0, doc="picture delay, ms"), o.av_offset_ms),
    ]
    return out


def registry_for_preset(preset: Any, with_params: bool = True) -> ParamRegistry:
    """A new registry with the preset's parameters at the preset's values
    (``with_params=False``: ignore the preset's ``params`` overrides)."""
    reg = ParamRegistry()
    apply_preset(reg, preset, keep_persistent=False, with_params=with_params)
    return reg


def apply_preset(registry: ParamRegistry, preset: Any, keep_persistent: bool = True,
                 with_params: bool = True) -> None:
    """Reconfigure ``registry`` in place for ``preset`` (MIDI/OSC keep their reference).

    Scene parameters take the preset's values (then its ``params`` table overrides them);
    parameters the new preset lacks (extra layers, shader params) are removed.
    ``master.*``/``tempo.*`` keep their current values when ``keep_persistent`` (except those
    the preset's ``params`` sets explicitly, and ``master.crossfade_s``).

    Raises:
        UnknownParamError: ``preset.params`` names an unknown parameter.
    """
    specs = preset_param_specs(preset)
    wanted = {s.name for s, _ in specs}
    with registry._lock:
        for name in registry.names():
            if name not in wanted and not name.startswith(PERSISTENT_PREFIXES):
                registry.remove(name)
        for spec, value in specs:
            existed = spec.name in registry
            registry.define(spec.name, spec.min, spec.max, spec.default, spec.kind, spec.doc)
            persistent = spec.name.startswith(PERSISTENT_PREFIXES) and spec.name != "master.crossfade_s"
            if not (keep_persistent and persistent and existed):
                registry.set(spec.name, value)
        if with_params:
            for name, value in getattr(preset, "params", {}).items():
                registry.set(name, value)
