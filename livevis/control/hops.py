"""The analysis as a stream of OSC bundles, one per hop, for render nodes that follow one analysis.

A sender (``livevis analyze``, or ``livevis run`` with OSC out) turns each new
:class:`~livevis.analysis.state.AnalysisState` into one OSC bundle (:func:`encode_hop`) and sends it
over UDP to every follower (:class:`HopSender`). A render node (``livevis run --follow HOST:PORT``)
receives them with :class:`HopFollower`, which stands in for the audio engine: the show reads the
newest hop without waiting, a node that falls behind or loses packets simply shows the newest hop, a
stalled stream reads ``input_ok=False`` (NO INPUT), and a restarted sender (a new session number) is
followed as soon as the old one has gone quiet.

The bundle (addresses under ``/livevis/hop/``; ``i`` int32, ``f`` float32, ``d`` float64):

========================  ==============================================================
``time``                  session ``i``, sequence ``i``, stream time s ``d``, sent at (Unix
                          time, s) ``d``, input ok ``i`` (0/1)
``emotion``               valence ``f`` [-1, 1], arousal ``f`` [-1, 1]
``aus``                   17 × ``f`` [0, 1], AU intensities in ``AU_NAMES`` order
``energy``                energy ``f`` >= 0, rms ``f`` [0, 1], onset ``f`` [0, 1]
``envelope``              0..64 × ``f`` >= 0, the energy of each 10 ms frame of the hop
``bands``                 bass, mid, high ``f`` [0, 1]
``beat``                  tempo ``f`` BPM [0, 400], beat phase ``f`` [0, 1)
========================  ==============================================================

Nothing from the network is trusted: a datagram that is not exactly this bundle, with finite values
of these types, is counted as malformed and dropped; values are clipped to their ranges; senders
outside ``allow_from`` are dropped before parsing.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import struct
import threading
import time
from dataclasses import replace

import numpy as np

from livevis.analysis.state import AU_NAMES, AnalysisState
from livevis.errors import LivevisError

log = logging.getLogger("livevis.hops")

PREFIX = "/livevis/hop/"
_BUNDLE = b"#bundle\x00"
#: Longest energy envelope sent or accepted (10 ms frames; 64 frames = a 0.64 s hop).
MAX_ENVELOPE = 64
#: Stream times are clipped to [0, this] seconds (115 days): a hostile time cannot overflow a clock.
MAX_TIME_S = 1e7
#: A follower whose newest hop is older than this (seconds) shows NO INPUT.
STALE_S = 1.0
#: A new sender session replaces the followed one once that has been silent this long (seconds).
SWITCH_S = 0.5

# address -> argument type tags (a trailing "*" : that tag repeated 0..n times)
_LAYOUT = {
    "time": "iiddi",
    "emotion": "ff",
    "aus": "f" * len(AU_NAMES),
    "energy": "fff",
    "envelope": "f*",
    "bands": "fff",
    "beat": "ff",
}


class HopStreamError(LivevisError):
    """The hop stream cannot be sent or received (bad address, port in use)."""


def parse_address(text: str, what: str = "address") -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:7002`` for IPv6) → ``(host, port)``.

    Raises:
        HopStreamError: not of that form, or the port is outside 1..65535; one line naming ``what``.
    """
    host, sep, port = str(text).strip().rpartition(":")
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not sep or not host or not 1 <= number <= 65535:
        raise HopStreamError(f"{what}: expected HOST:PORT such as 127.0.0.1:7002 or 0.0.0.0:7002, got {text!r}")
    return host, number


# ----------------------------------------------------------------------------- codec

def encode_hop(state: AnalysisState, session: int, seq: int, sent_at: float | None = None) -> bytes:
    """One hop as an OSC bundle datagram (layout in the module docstring).

    Args:
        state: the hop's analysis.
        session: the sender's session number (int32; a restarted sender picks a new one).
        seq: the hop's sequence number in the session (int32, increasing).
        sent_at: Unix time of sending in seconds (default: now), for measuring a follower's delay.
    """
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    env = np.asarray(state.energy_envelope, dtype=np.float64).ravel()[:MAX_ENVELOPE]
    values = {
        "time": (session & 0x7FFFFFFF, seq & 0x7FFFFFFF, float(state.time),
                 time.time() if sent_at is None else float(sent_at), int(bool(state.input_ok))),
        "emotion": (state.valence, state.arousal),
        "aus": tuple(np.asarray(state.aus, dtype=np.float64).ravel()),
        "energy": (state.energy, state.rms, state.onset),
        "envelope": tuple(env),
        "bands": (state.bass, state.mid, state.high),
        "beat": (state.tempo, state.beat_phase),
    }
    bundle = OscBundleBuilder(IMMEDIATELY)
    for name, tags in _LAYOUT.items():
        msg = OscMessageBuilder(PREFIX + name)
        args = values[name]
        for k, value in enumerate(args):
            tag = tags[0] if tags.endswith("*") else tags[k]
            msg.add_arg(int(value) if tag == "i" else float(value), tag)
        bundle.add_content(msg.build())
    return bundle.build().dgram


def _pad(n: int) -> int:
    """``n`` bytes of an OSC string plus its NUL terminator, padded to a multiple of 4."""
    return (n + 4) & ~3


def _message(content: bytes) -> tuple[str, list] | None:
    """One bundle element → ``(name, args)`` if it is a ``/livevis/hop/*`` message of the layout."""
    end = content.find(b"\0")
    if end < 0 or not content.startswith(PREFIX.encode()):
        return None
    name = content[len(PREFIX):end].decode("ascii", "replace")
    layout = _LAYOUT.get(name)
    start = _pad(end)
    if layout is None or content[start:start + 1] != b",":
        return None
    stop = content.find(b"\0", start)
    if stop < 0:
        return None
    tags = content[start + 1:stop].decode("ascii", "replace")
    if layout.endswith("*"):
        if len(tags) > MAX_ENVELOPE or tags.strip(layout[0]):
            return None
    elif tags != layout:
        return None
    fmt = ">" + tags
    args_at = _pad(stop)
    if len(content) != args_at + struct.calcsize(fmt):
        return None
    return name, list(struct.unpack_from(fmt, content, args_at))


def decode_hop(dgram: bytes) -> tuple[int, int, float, AnalysisState] | None:
    """A datagram → ``(session, seq, sent_at, state)``, or None when it is not a valid hop bundle.

    Never raises and never logs: anything malformed (not a bundle, elements that do not fill the
    datagram exactly, an unknown, repeated or missing address, wrong argument count or type, a
    non-finite number) is None. Values are clipped to the documented ranges. The bundle is parsed
    here, strictly, because python-osc reads short data leniently and logs every odd type tag.
    """
    if not isinstance(dgram, (bytes, bytearray)) or not dgram.startswith(_BUNDLE) or len(dgram) < 16:
        return None
    got: dict[str, list] = {}
    pos, end = 16, len(dgram)
    while pos < end:
        if pos + 4 > end:
            return None
        size = int.from_bytes(dgram[pos:pos + 4], "big", signed=True)
        if size <= 0 or size % 4 or pos + 4 + size > end:
            return None
        item = _message(bytes(dgram[pos + 4:pos + 4 + size]))
        pos += 4 + size
        if item is None or item[0] in got or not all(np.isfinite(v) for v in item[1]):
            return None
        got[item[0]] = item[1]
    if len(got) != len(_LAYOUT):
        return None
    session, seq, stream_time, sent_at, input_ok = got["time"]

    def clip(x, lo, hi):
        return float(min(max(x, lo), hi))

    state = AnalysisState(
        time=clip(stream_time, 0.0, MAX_TIME_S),
        valence=clip(got["emotion"][0], -1, 1), arousal=clip(got["emotion"][1], -1, 1),
        aus=np.clip(np.asarray(got["aus"], dtype=np.float32), 0.0, 1.0),
        energy=clip(got["energy"][0], 0, 1e6), rms=clip(got["energy"][1], 0, 1), onset=clip(got["energy"][2], 0, 1),
        energy_envelope=np.clip(np.asarray(got["envelope"], dtype=np.float32), 0.0, 1e6),
        bass=clip(got["bands"][0], 0, 1), mid=clip(got["bands"][1], 0, 1), high=clip(got["bands"][2], 0, 1),
        tempo=clip(got["beat"][0], 0, 400), beat_phase=clip(got["beat"][1], 0, np.nextafter(1.0, 0.0)),
        input_ok=bool(input_ok))
    return int(session), int(seq), float(sent_at), state


# ----------------------------------------------------------------------------- sending

class HopSender:
    """Sends each new hop as one bundle to every target over UDP; never blocks, never raises on send.

    Args:
        targets: ``(host, port)`` pairs (resolved once, here).

    Raises:
        HopStreamError: a host cannot be resolved.
    """

    def __init__(self, targets: list[tuple[str, int]]) -> None:
        self.session = random.SystemRandom().randrange(1, 2**31)
        self.seq = 0
        self.sent = 0
        self._last_time: float | None = None
        self._targets = []
        for host, port in targets:
            try:
                family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            except (OSError, UnicodeError) as err:
                raise HopStreamError(f"cannot send the hop stream to {host}:{port}: {err}") from None
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            self._targets.append((sock, addr))
        self.targets = list(targets)

    def send(self, state: AnalysisState) -> bool:
        """Send ``state`` if it is a new hop (its ``time`` differs from the last one sent); returns
        whether it was sent. A full socket buffer or an unreachable follower drops the packet."""
        if self._last_time is not None and state.time == self._last_time:
            return False
        self._last_time = state.time
        self.seq += 1
        dgram = encode_hop(state, self.session, self.seq)
        for sock, addr in self._targets:
            try:
                sock.sendto(dgram, addr)
                self.sent += 1
            except OSError:
                pass  # nobody listening / buffer full: never stall the sender
        return True

    def close(self) -> None:
        for sock, _ in self._targets:
            sock.close()
        self._targets = []


# ----------------------------------------------------------------------------- following

class HopFollower:
    """Receives the hop stream on ``host:port`` and serves its newest hop to the show, in place of
    the audio engine (the same ``start`` / ``wait_ready`` / ``play`` / ``get`` / ``supervise`` /
    ``stop`` / ``stats`` interface).

    Args:
        host, port: the address to listen on (``0.0.0.0`` for every interface).
        allow_from: networks whose senders are accepted (see
            :func:`~livevis.control.osc_receiver.parse_allow_list`); empty: any.
        stale_s: seconds without a new hop after which :meth:`get` reads ``input_ok=False``.

    Raises (from :meth:`start`):
        HopStreamError: the address cannot be listened on (port in use, no such interface).
    """

    finished = False  # a followed stream has no end of its own

    def __init__(self, host: str, port: int, allow_from=(), stale_s: float = STALE_S) -> None:
        self.host, self.port, self.allow, self.stale_s = host, port, list(allow_from), stale_s
        self.hop_s = 0.1
        self.restarts = 0  # sender sessions followed after the first
        self.info: dict = {}
        self._lock = threading.Lock()
        self._state = replace(AnalysisState(), input_ok=False)
        self._session: int | None = None
        self._seq = 0
        self._arrived = -1e9
        self._version = 0
        self._counts = {"hops": 0, "malformed": 0, "refused": 0, "old": 0, "foreign": 0, "other": 0}
        self._delays: list[float] = []
        self._receiver = None  # the OscReceiver listening, between start and stop

    def start(self) -> dict:
        """Listen; returns ``kind`` ("follow"), ``address``, ``pid``, ``scheduling``."""
        from livevis.control.osc_receiver import OscReceiver

        receiver = OscReceiver(self._message, self.allow, raw=self._datagram)
        try:
            self.port = receiver.open(self.host, self.port)[1]
        except (OSError, UnicodeError) as err:
            raise HopStreamError(f"cannot follow the hop stream on {self.host}:{self.port}: "
                                 f"{getattr(err, 'strerror', None) or err} "
                                 f"(pick a free port, or an address of this machine such as 0.0.0.0)") from None
        self._receiver = receiver
        self.info = {"kind": "follow", "address": f"{self.host}:{self.port}", "pid": os.getpid(),
                     "scheduling": "n/a (analysis on the sender)"}
        return self.info

    def wait_ready(self, timeout: float = 0.0) -> dict:
        """Nothing to load here: the sender runs the model."""
        return {"provider": "the sender (followed hop stream)", "hop_s": self.hop_s}

    def play(self) -> None:
        pass

    def supervise(self, now: float | None = None) -> None:
        pass

    def apply_settings(self, *_args) -> None:
        """Analysis settings belong to the sender; a follower ignores them."""

    def _datagram(self, data: bytes, _sender: tuple) -> bool:
        """A datagram from an allowed sender (on the receiver's thread): a hop bundle is taken here;
        the sender's plain ``/livevis/*`` messages go on to :meth:`_message`."""
        if data.startswith(b"/livevis/"):
            return False
        hop = decode_hop(data)
        if hop is None:
            self._counts["malformed"] += 1
        else:
            self._accept(*hop, now=time.monotonic(), wall=time.time())
        return True

    def _message(self, _address: str, _args: tuple, _sender: tuple) -> None:
        self._counts["other"] += 1  # the sender's plain analysis messages: for other software

    def _accept(self, session: int, seq: int, sent_at: float, state: AnalysisState, now: float, wall: float) -> None:
        with self._lock:
            if session != self._session:
                if self._session is not None and now - self._arrived < SWITCH_S:
                    self._counts["foreign"] += 1  # a second sender while ours is alive: ignored
                    return
                if self._session is not None:
                    self.restarts += 1
                    log.info("following a new sender session (%d)", self.restarts)
                self._session, self._seq = session, 0
            elif seq <= self._seq:
                self._counts["old"] += 1  # late or duplicated: the newest is already shown
                return
            if self._seq and seq == self._seq + 1 and state.time > self._state.time:
                self.hop_s = 0.9 * self.hop_s + 0.1 * min(max(state.time - self._state.time, 0.005), 1.0)
            self._seq, self._state, self._arrived = seq, state, now
            self._version += 1
            self._counts["hops"] += 1
            if len(self._delays) < 100_000:
                self._delays.append(wall - sent_at)

    @property
    def version(self) -> int:
        """Number of hops accepted so far."""
        return self._version

    def get(self) -> AnalysisState:
        """The newest hop; never blocks. ``input_ok`` is False before the first hop and while none
        has arrived for ``stale_s``."""
        with self._lock:
            state, arrived = self._state, self._arrived
        if time.monotonic() - arrived > self.stale_s and state.input_ok:
            return replace(state, input_ok=False)
        return state

    def newest(self) -> tuple[AnalysisState, float]:
        """The newest hop and the ``time.monotonic()`` at which it arrived."""
        with self._lock:
            return self._state, self._arrived

    def delays(self) -> np.ndarray:
        """Seconds from each accepted hop's sending to its arrival (sender's and this clock)."""
        with self._lock:
            return np.asarray(self._delays, dtype=np.float64)

    def status(self, now: float | None = None) -> str:
        """One overlay line: the address followed, the newest hop's age, the median sender → here
        delay of the last 100 hops (ms) and the sender restarts."""
        now = time.monotonic() if now is None else now
        with self._lock:
            arrived, recent, restarts = self._arrived, self._delays[-100:], self.restarts
        if arrived < 0:
            return f"render node on {self.host}:{self.port}: no hop yet"
        line = f"render node on {self.host}:{self.port}: last hop {(now - arrived) * 1000:.0f} ms ago"
        if recent:
            line += f", sent → here {np.median(recent) * 1000:.0f} ms"
        return line + (f", {restarts} sender restarts" if restarts else "")

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.close()
            self._counts["refused"] = self._receiver.counts["refused"]  # kept for the closing stats
            self._receiver = None

    def stats(self) -> dict:
        """``hops`` accepted, ``errors`` (malformed + refused packets), ``restarts`` (sender sessions
        after the first), the zero audio counters a render loop reports, and ``dropped_*``: packets
        malformed, refused (outside ``allow_from``), old (late or duplicated), foreign (a second
        sender) and other (the sender's plain ``/livevis/*`` messages)."""
        with self._lock:
            c = dict(self._counts)
        if self._receiver is not None:
            c["refused"] = self._receiver.counts["refused"]
        out = {"hops": c["hops"], "errors": c["malformed"] + c["refused"], "skipped_samples": 0,
               "overflows": 0, "underruns": 0, "restarts": self.restarts}
        for kind in ("malformed", "refused", "old", "foreign", "other"):
            out[f"dropped_{kind}"] = c[kind]
        return out

    def __enter__(self) -> "HopFollower":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["HopFollower", "HopSender", "HopStreamError", "decode_hop", "encode_hop", "parse_address"]
