"""A UDP OSC receiver that no sender can block, flood or crash.

:class:`OscReceiver` reads datagrams on its own thread and hands each OSC message to a
callback ``handle(address, args, sender)``. Unlike python-osc's server it

* never sleeps for a time tag: a bundle due later waits in a bounded schedule and the thread
  keeps reading; a tag more than ``max_ahead_s`` ahead is dropped, a tag in the past is applied
  now (both logged);
* drops packets from senders outside the allow-list before parsing them;
* counts malformed packets (and any error from the callback) instead of printing tracebacks;
* logs each kind of problem at most once a second while it lasts, to the ``livevis.osc`` logger;
* stops within one poll interval (50 ms), whatever is scheduled.

Senders are never trusted: everything here is bounded (datagrams read per wake-up, scheduled
messages, bundle nesting).
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import logging
import select
import socket
import threading
import time
from typing import Any, Callable, Iterable, Sequence

log = logging.getLogger("livevis.osc")

#: A message time-tagged further ahead than this (seconds) is dropped.
MAX_AHEAD_S = 10.0
#: A message time-tagged more than this (seconds) in the past is applied now and logged as late.
LATE_S = 1.0
#: Scheduled (future-tagged) messages kept at most; more are dropped.
MAX_PENDING = 256
#: Datagrams read per wake-up of the thread, at most.
MAX_READS = 256
#: Bundles nested deeper than this are malformed.
MAX_DEPTH = 8
#: Seconds between two log lines about the same kind of problem.
LOG_EVERY_S = 1.0
POLL_S = 0.05

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: What each problem counter means, for the log.
PROBLEMS = {
    "malformed": "malformed packets ignored",
    "refused": "packets from senders outside osc.allow_from ignored",
    "too_far_ahead": f"messages time-tagged more than {MAX_AHEAD_S:g} s ahead dropped",
    "late": f"messages time-tagged more than {LATE_S:g} s in the past applied now",
    "schedule_full": f"future-tagged messages dropped ({MAX_PENDING} already waiting)",
    "handler_errors": "messages whose handling failed",
}


def parse_allow_list(entries: Iterable[str], where: str = "osc.allow_from") -> list[Network]:
    """IP addresses or networks (``192.168.1.20``, ``192.168.1.0/24``, ``::1``) → networks.

    Raises:
        ValueError: an entry is neither; one line naming ``where``, the entry and the forms.
    """
    out = []
    for i, entry in enumerate(entries):
        try:
            out.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"{where}[{i}]: expected an IP address or network such as 192.168.1.20 or "
                             f"192.168.1.0/24, got {entry!r}") from None
    return out


def sender_allowed(ip: str, allow: Sequence[Network]) -> bool:
    """True if ``allow`` is empty or ``ip`` lies in one of its networks (IPv4-mapped IPv6 too)."""
    if not allow:
        return True
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return any(addr in net or (mapped is not None and mapped in net) for net in allow)


_BUNDLE = b"#bundle\x00"


def timed_messages(data: bytes) -> list[tuple[float | None, str, tuple]]:
    """The messages of one OSC packet as ``(time_tag, address, args)``.

    ``time_tag`` is the system time (seconds since the epoch) a bundle asks for, None for a
    plain message or a bundle tagged "immediately". Bundles are walked here, not by python-osc,
    whose bundle parser loops forever on a negative element size (python-osc 1.10).

    Raises:
        ValueError: the packet is not a valid OSC message or bundle (any parse failure), or
            nests bundles deeper than :data:`MAX_DEPTH`.
    """
    from pythonosc import osc_message
    from pythonosc.parsing import osc_types

    def message(content: bytes, tag: float | None) -> tuple[float | None, str, tuple]:
        msg = osc_message.OscMessage(content)
        return tag, msg.address, tuple(msg.params)

    def walk(bundle: bytes, depth: int) -> Iterable[tuple[float | None, str, tuple]]:
        if depth > MAX_DEPTH:
            raise ValueError(f"bundles nested more than {MAX_DEPTH} deep")
        tag, index = osc_types.get_date(bundle, len(_BUNDLE))
        tag = tag if tag > 0 else None  # 0 (and NTP 0): immediately
        while index < len(bundle):
            size, index = osc_types.get_int(bundle, index)
            if size <= 0 or size % 4 or index + size > len(bundle):
                raise ValueError(f"bundle element of {size} bytes at byte {index - 4} of {len(bundle)}")
            content, index = bundle[index:index + size], index + size
            if content.startswith(_BUNDLE):
                yield from walk(content, depth + 1)
            elif content.startswith(b"/"):
                yield message(content, tag)
            else:
                raise ValueError(f"bundle element at byte {index - size} is neither a message nor a bundle")

    try:
        if data.startswith(_BUNDLE):
            return list(walk(data, 1))
        if data.startswith(b"/"):
            return [message(data, None)]
    except ValueError:
        raise
    except Exception as err:  # python-osc raises ParseError, IndexError, struct.error, UnicodeError...
        raise ValueError(f"{type(err).__name__}: {err}"[:200]) from None
    raise ValueError("neither an OSC message nor a bundle")


class OscReceiver:
    """Receives OSC over UDP on a thread and calls ``handle(address, args, sender)`` per message.

    Args:
        handle: called on the receiver thread with the address (str), the arguments (tuple)
            and the sender ``(ip, port)``; it must not block. Its exceptions are counted in
            ``counts["handler_errors"]`` and logged (no traceback).
        allow: sender networks accepted (empty: any sender); see :func:`parse_allow_list`.
        max_ahead_s: time tags further ahead than this (seconds, > 0) are dropped.
        clock: wall clock in seconds since the epoch (OSC time tags are wall-clock times).
        raw: called first with each accepted datagram (bytes) and its sender; returning True means
            it was taken whole (e.g. a render node's hop bundle, see
            :class:`~livevis.control.hops.HopFollower`) and is not parsed here. None: parse all.

    Attributes:
        address: ``(host, port)`` bound, after :meth:`open`.
        received: datagrams read (refused and malformed ones included).
        messages: messages handed to ``handle``.
        counts: problem counters, keys of :data:`PROBLEMS`.
    """

    def __init__(self, handle: Callable[[str, tuple, tuple], Any], allow: Sequence[Network] = (),
                 max_ahead_s: float = MAX_AHEAD_S, clock: Callable[[], float] = time.time,
                 raw: Callable[[bytes, tuple], bool] | None = None) -> None:
        self._handle = handle
        self._raw = raw
        self.allow = list(allow)
        self.max_ahead_s = float(max_ahead_s)
        self._clock = clock
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pending: list[tuple[float, int, str, tuple, tuple]] = []
        self._seq = itertools.count()
        self.address: tuple[str, int] | None = None
        self.received = 0
        self.messages = 0
        self.counts = dict.fromkeys(PROBLEMS, 0)
        self._logged = dict.fromkeys(PROBLEMS, 0)
        self._example: dict[str, str] = {}
        self._next_log = 0.0

    # -- lifetime ------------------------------------------------------------------------

    def open(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Bind UDP ``host:port`` (port 0: a free one), start the thread; returns the bound address.

        Raises:
            OSError: the address cannot be resolved or bound.
        """
        family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind(sockaddr)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.address = tuple(sock.getsockname()[:2])
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="livevis-osc-in", daemon=True)
        self._thread.start()
        return self.address

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread and close the socket (idempotent; returns within ~``POLL_S``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._pending.clear()

    @property
    def pending(self) -> int:
        """Future-tagged messages waiting for their time."""
        return len(self._pending)

    # -- thread --------------------------------------------------------------------------

    def _run(self) -> None:
        sock = self._sock
        while not self._stop.is_set():
            wait = POLL_S
            if self._pending:
                wait = min(wait, max(0.0, self._pending[0][0] - self._clock()))
            try:
                ready, _, _ = select.select([sock], [], [], wait)
            except (OSError, ValueError):  # socket closed under us
                return
            if ready:
                self._read(sock)
            self._run_due()
            self._log_problems()

    def _read(self, sock: socket.socket) -> None:
        for _ in range(MAX_READS):
            try:
                data, sender = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable reported on some systems
                return
            self.received += 1
            self._packet(data, tuple(sender[:2]))

    def _packet(self, data: bytes, sender: tuple) -> None:
        who = f"{sender[0]}:{sender[1]}"
        if not sender_allowed(sender[0], self.allow):
            self._problem("refused", who)
            return
        if self._raw is not None:
            try:
                if self._raw(data, sender):
                    return
            except Exception as err:
                self._problem("handler_errors", f"datagram from {who}: {type(err).__name__}: {err}"[:200])
                return
        try:
            messages = timed_messages(data)
        except ValueError as err:
            self._problem("malformed", f"{who}: {err}")
            return
        now = self._clock()
        for tag, address, args in messages:
            if tag is None or tag <= now:
                if tag is not None and now - tag > LATE_S:
                    self._problem("late", f"{address} from {who}, {now - tag:.3g} s late")
                self._call(address, args, sender)
            elif tag - now > self.max_ahead_s:
                self._problem("too_far_ahead", f"{address} from {who}, {tag - now:.3g} s ahead")
            elif len(self._pending) >= MAX_PENDING:
                self._problem("schedule_full", f"{address} from {who}")
            else:
                heapq.heappush(self._pending, (tag, next(self._seq), address, args, sender))

    def _run_due(self) -> None:
        now = self._clock()
        while self._pending and self._pending[0][0] <= now:
            _, _, address, args, sender = heapq.heappop(self._pending)
            self._call(address, args, sender)

    def _call(self, address: str, args: tuple, sender: tuple) -> None:
        self.messages += 1
        try:
            self._handle(address, args, sender)
        except Exception as err:
            self._problem("handler_errors", f"{address}: {type(err).__name__}: {err}"[:200])

    # -- problems ------------------------------------------------------------------------

    def _problem(self, kind: str, example: str) -> None:
        self.counts[kind] += 1
        self._example[kind] = example

    def _log_problems(self) -> None:
        now = time.monotonic()
        if now < self._next_log:
            return
        for kind, total in self.counts.items():
            new = total - self._logged[kind]
            if new:
                self._logged[kind] = total
                log.warning("OSC: %d %s (%d in all), latest: %s", new, PROBLEMS[kind], total,
                            self._example.get(kind, "?"))
                self._next_log = now + LOG_EVERY_S


__all__ = ["LATE_S", "MAX_AHEAD_S", "MAX_PENDING", "OscReceiver", "PROBLEMS", "parse_allow_list",
           "sender_allowed", "timed_messages"]
