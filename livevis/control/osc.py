"""OSC control and analysis output (python-osc over UDP).

Input (:class:`OscControl`), every message on a server thread, which only writes the
:class:`~livevis.params.ParamRegistry` and the :class:`~livevis.control.ControlEvents` queue:

* every parameter has an address, its name with slashes (Resolume style):
  ``/layer/1/opacity 0.5`` sets the value in the parameter's own units (clamped);
  ``/layer/1/opacity/normalized 0.5`` takes 0..1 over the parameter's range; a bool
  parameter's address with no argument toggles it.
* preset ``osc.mappings``: an address → parameter through range and curve, argument 0..1
  (the same :class:`~livevis.params.Mapping` as MIDI).
* actions: ``/livevis/preset NAME|INDEX``, ``/livevis/preset/next``, ``/livevis/preset/prev``,
  ``/livevis/tap``, ``/livevis/learn PARAM`` (arm learn: the next unknown address moved is
  bound), ``/livevis/action NAME`` (a shortcut action, see :mod:`livevis.overlay`).

Output (:class:`OscSender`, :class:`OscOutputThread`): ``/livevis/valence``, ``/livevis/arousal``
(−1..1), ``/livevis/aus`` (17 floats 0..1 in :data:`~livevis.analysis.state.AU_NAMES` order),
``/livevis/energy`` (≥ 0), ``/livevis/onset`` (0..1), ``/livevis/tempo`` (BPM),
``/livevis/rms`` (0..1), ``/livevis/beat_phase`` (0..1) and ``/livevis/beat`` (1 on each beat);
with a camera, ``/livevis/camera/valence``, ``/livevis/camera/arousal`` and ``/livevis/camera/face``.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from livevis.control import ControlEvents, LearnState, TapTempo
from livevis.errors import LivevisError
from livevis.params import Mapping, ParamRegistry, UnknownParamError, address_to_name

ANALYSIS_ADDRESSES: tuple[str, ...] = ("/livevis/valence", "/livevis/arousal", "/livevis/aus", "/livevis/energy",
                                       "/livevis/onset", "/livevis/tempo", "/livevis/rms", "/livevis/beat_phase",
                                       "/livevis/beat")


class OscError(LivevisError):
    """OSC is unavailable (python-osc missing) or a port cannot be bound."""


def _osc():
    try:
        from pythonosc import dispatcher, osc_server, udp_client
    except ImportError:
        raise OscError("OSC needs the 'python-osc' package: pip install python-osc") from None
    return dispatcher, osc_server, udp_client


def _number(args: tuple) -> float | None:
    if not args:
        return None
    a = args[0]
    if isinstance(a, bool):
        return 1.0 if a else 0.0
    if isinstance(a, (int, float)):
        return float(a)
    try:
        return float(a)
    except (TypeError, ValueError):
        return None


class OscControl:
    """OSC input: parameter addresses, mapped addresses, actions and learn.

    Args:
        registry, events: where values and actions go.
        learn: shared learn state (a new one if None).

    :meth:`configure` takes a preset's ``osc`` section; :meth:`open` starts the UDP server;
    :meth:`handle` is the per-message logic.
    """

    def __init__(self, registry: ParamRegistry, events: ControlEvents, learn: LearnState | None = None) -> None:
        self.registry = registry
        self.events = events
        self.learn = learn if learn is not None else LearnState()
        self.tapper = TapTempo()
        self._lock = threading.Lock()
        self._mappings: dict[str, list[Mapping]] = {}
        self._receiver = None
        self._allow: list = []
        self.address: tuple[str, int] | None = None
        self.messages = 0
        self.unknown: list[str] = []  # recent unknown addresses (at most 20)

    def configure(self, spec: Any) -> None:
        """Take address mappings and the sender allow-list from a preset's ``osc`` section
        (thread-safe; a running receiver takes the new allow-list at once)."""
        from livevis.control.osc_receiver import parse_allow_list

        maps: dict[str, list[Mapping]] = {}
        for m in spec.mappings:
            maps.setdefault(m.address, []).append(Mapping(m.param, m.min, m.max, m.curve))
        allow = parse_allow_list(getattr(spec, "allow_from", ()))
        with self._lock:
            self._mappings = maps
        self._allow = allow
        if self._receiver is not None:
            self._receiver.allow = allow

    def bind(self, address: str, param: str, lo: float | None = None, hi: float | None = None,
             curve: str = "linear") -> None:
        """Bind ``address`` (argument 0..1) to ``param``."""
        self.registry.spec(param)
        with self._lock:
            self._mappings.setdefault(address, []).append(Mapping(param, lo, hi, curve))

    # -- server --------------------------------------------------------------------------

    def open(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on UDP ``host:port`` (port 0: a free one); returns the bound address.

        Messages are read by an :class:`~livevis.control.osc_receiver.OscReceiver`: senders
        outside the allow-list (:meth:`configure`) are ignored, time tags never block it,
        malformed packets are counted and logged once a second.

        Raises:
            OscError: python-osc missing or the address cannot be resolved or bound.
        """
        _osc()
        from livevis.control.osc_receiver import OscReceiver

        receiver = OscReceiver(self._on_message, allow=self._allow)
        try:
            self.address = receiver.open(host, port)
        except OSError as err:
            raise OscError(f"cannot listen for OSC on {host}:{port}: {err.strerror or err}") from None
        self._receiver = receiver
        return self.address

    @property
    def receiver(self):
        """The running :class:`~livevis.control.osc_receiver.OscReceiver` (None when closed)."""
        return self._receiver

    def close(self) -> None:
        """Stop listening (idempotent; returns within ~50 ms, whatever is scheduled)."""
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.close()

    def __enter__(self) -> "OscControl":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _on_message(self, address: str, args: tuple, sender: tuple) -> None:
        try:
            self.handle(address, *args)
        except Exception as err:  # a bad message must not stop the server
            self._note_unknown(f"{address}: {err}")

    def _note_unknown(self, text: str) -> None:
        self.unknown = (self.unknown + [text])[-20:]

    # -- message logic -------------------------------------------------------------------

    def handle(self, address: str, *args: Any) -> bool:
        """Act on one OSC message; returns False when the address means nothing here."""
        self.messages += 1
        self.registry.touch("osc")
        if address.startswith("/livevis/"):
            return self._action(address, args)
        with self._lock:
            mapped = list(self._mappings.get(address, ()))
        x = _number(args)
        if mapped:
            if x is None:
                return False
            for m in mapped:
                try:
                    m.apply(self.registry, x, "osc")
                except UnknownParamError:
                    pass
            return True
        normalized = address.endswith("/normalized")
        name = self.registry.name_for_address(address[: -len("/normalized")] if normalized else address)
        if name is None:
            param = self.learn.take()
            if param is not None and param in self.registry:
                from livevis.control.presets import OscMapping

                spec = self.registry.spec(param)
                curve = "toggle" if spec.kind == "bool" else "linear"
                self.bind(address, param, curve=curve)
                self.events.put("learned", OscMapping(address=address, param=param, curve=curve), "osc")
                return True
            self._note_unknown(address)
            return False
        spec = self.registry.spec(name)
        if x is None:
            if spec.kind == "bool" and not args:
                self.registry.toggle(name, "osc")
                return True
            return False
        if normalized:
            self.registry.set_normalized(name, x, source="osc")
        else:
            self.registry.set(name, x, "osc")
        return True

    def _action(self, address: str, args: tuple) -> bool:
        if address == "/livevis/preset" and args:
            a = args[0]
            if isinstance(a, int) and not isinstance(a, bool):
                self.events.put("preset_index", a, "osc")
            else:
                self.events.put("preset", str(a), "osc")
        elif address == "/livevis/preset/next":
            self.events.put("preset_next", None, "osc")
        elif address == "/livevis/preset/prev":
            self.events.put("preset_prev", None, "osc")
        elif address == "/livevis/tap":
            bpm = self.tapper.tap()
            if bpm is not None:
                self.registry.set("tempo.bpm", bpm, "osc")
            self.events.put("tap", bpm, "osc")
        elif address == "/livevis/learn" and args:
            param = str(args[0])
            if param not in self.registry:
                self._note_unknown(f"/livevis/learn: unknown parameter {param!r}")
                return False
            self.learn.arm(param)
        elif address == "/livevis/action" and args:
            self.events.put("action", str(args[0]), "osc")
        else:
            self._note_unknown(address)
            return False
        return True


class OscSender:
    """Sends analysis states as OSC to ``host:port`` over UDP (non-blocking sends).

    Raises:
        OscError: python-osc missing or the host cannot be resolved.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 7001) -> None:
        _, _, udp_client = _osc()
        try:
            self._client = udp_client.SimpleUDPClient(host, port)
        except OSError as err:
            raise OscError(f"cannot send OSC to {host}:{port}: {err}") from None
        self.target = (host, port)
        self._prev_phase: float | None = None
        self.sent = 0

    def send(self, address: str, value: Any) -> None:
        try:
            self._client.send_message(address, value)
            self.sent += 1
        except OSError:
            pass  # nobody listening / network down: never stall the show

    def send_state(self, state: Any) -> None:
        """Send one analysis state (all :data:`ANALYSIS_ADDRESSES`; ``/livevis/beat`` only on a
        beat, i.e. when ``beat_phase`` wraps while the tempo is known)."""
        self.send("/livevis/valence", float(state.valence))
        self.send("/livevis/arousal", float(state.arousal))
        self.send("/livevis/aus", [float(a) for a in state.aus])
        self.send("/livevis/energy", float(state.energy))
        self.send("/livevis/onset", float(state.onset))
        self.send("/livevis/tempo", float(state.tempo))
        self.send("/livevis/rms", float(state.rms))
        self.send("/livevis/beat_phase", float(state.beat_phase))
        phase = float(state.beat_phase)
        if self._prev_phase is not None and state.tempo > 0 and self._prev_phase - phase > 0.5:
            self.send("/livevis/beat", 1)
        self._prev_phase = phase

    def send_camera(self, camera: Any) -> None:
        """Send the camera's reading (a :class:`~livevis.camera.CameraState`):
        ``/livevis/camera/valence`` (−1..1), ``/livevis/camera/arousal`` (−0.5..1) and
        ``/livevis/camera/face`` (1 while a face is in view, else 0)."""
        self.send("/livevis/camera/valence", float(camera.valence))
        self.send("/livevis/camera/arousal", float(camera.arousal))
        self.send("/livevis/camera/face", 1 if camera.face else 0)


#: How often (seconds) the output thread looks for a new hop to send to render nodes.
HOP_POLL_S = 0.004


class OscOutputThread(threading.Thread):
    """Calls :meth:`OscSender.send_state` with ``get_state()`` ``rate_hz`` times a second.

    Args:
        sender: the sender.
        get_state: returns the newest state (e.g. ``LatestState.get``); must not block.
        rate_hz: [1, 240].
        get_camera: returns the camera's newest :class:`~livevis.camera.CameraState` (sent with
            :meth:`OscSender.send_camera`), or None: no camera.
        hops: also sends each new hop as one bundle (:mod:`livevis.control.hops`, for render
            nodes that follow this analysis) within :data:`HOP_POLL_S` of its arrival; None: not.
    """

    def __init__(self, sender: OscSender, get_state: Callable[[], Any], rate_hz: float = 30.0,
                 get_camera: Callable[[], Any] | None = None, hops: Any = None) -> None:
        super().__init__(name="livevis-osc-out", daemon=True)
        self.sender, self.get_state, self.get_camera, self.hops = sender, get_state, get_camera, hops
        self.period = 1.0 / min(max(rate_hz, 1.0), 240.0)
        self._stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        poll = min(self.period, HOP_POLL_S) if self.hops is not None else self.period
        next_send = time.monotonic() + self.period
        try:
            while not self._stop_event.wait(poll):
                state = self.get_state()
                if self.hops is not None:
                    self.hops.send(state)  # only when the hop is new
                now = time.monotonic()
                if now < next_send:
                    continue
                next_send = max(next_send + self.period, now)
                self.sender.send_state(state)
                if self.get_camera is not None:
                    self.sender.send_camera(self.get_camera())
        except BaseException as err:
            self.error = err

    def stop(self, timeout: float = 1.0) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)
        if self.hops is not None and not self.is_alive():
            self.hops.close()


def address_of(name: str) -> str:
    """The OSC address of parameter ``name`` (``layer.1.opacity`` → ``/layer/1/opacity``)."""
    return "/" + name.replace(".", "/")


__all__ = ["ANALYSIS_ADDRESSES", "OscControl", "OscError", "OscOutputThread", "OscSender", "address_of",
           "address_to_name"]
