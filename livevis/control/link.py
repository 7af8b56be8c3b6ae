"""Ableton Link: tempo and beat phase shared with DJ software, drum machines and other VJ tools.

:class:`LinkSession` joins the Link session on the local network (through ``aalink``, GPL-3.0-or-later,
a binding of Ableton's Link library). While other peers are present, the show's tempo and beat phase
follow the session's (:meth:`LinkSession.apply`): the shader's beat uniforms, latent segments counted in
beats and MIDI clock out all read them from the state. While livevis is the only peer it keeps its own
detected beat and proposes the tempo it detects to the session, so that peers joining later start from
the music's tempo.

aalink needs an asyncio event loop: the session owns one on its own thread; its reads (beat, phase,
tempo, peers) are Link's thread-safe app-side calls and never block the render loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from dataclasses import replace

from livevis.errors import LivevisError

log = logging.getLogger("livevis.link")

#: The detected tempo is proposed to an empty session when it differs from Link's by more than this (BPM)…
PROPOSE_BPM = 0.5
#: …at most once per this many seconds.
PROPOSE_EVERY_S = 2.0
#: Link's tempo range (BPM).
TEMPO_RANGE = (20.0, 999.0)


class LinkError(LivevisError):
    """Link cannot be joined (aalink missing or failing to start)."""


class LinkSession:
    """A Link peer.

    Args:
        tempo: the tempo (BPM) this peer starts with, in [20, 999].
        quantum: beats per bar for phase alignment (Link's quantum), >= 1.

    Raises:
        LinkError: aalink is not installed or the session cannot start.
    """

    def __init__(self, tempo: float = 120.0, quantum: float = 4.0) -> None:
        try:
            import aalink
        except ImportError as err:
            raise LinkError(f"Ableton Link needs the aalink package (pip install aalink): {err}") from None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._link = None
        self._last_propose = -1e9
        self.proposed = 0

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self._link = aalink.Link(float(min(max(tempo, TEMPO_RANGE[0]), TEMPO_RANGE[1])), self._loop)
                self._link.quantum = float(max(quantum, 1.0))
                self._link.enabled = True
            except BaseException as err:  # surfaced by the constructor below
                self._error = err
            self._ready.set()
            if self._error is None:
                self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="livevis-link", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)
        if self._link is None:
            self.close()
            raise LinkError(f"cannot join the Ableton Link session: {self._error or 'aalink did not start'}")

    # -- reads (any thread, never block) ---------------------------------------------------------

    @property
    def peers(self) -> int:
        """Other Link peers in the session (0: alone)."""
        return int(self._link.num_peers)

    @property
    def tempo(self) -> float:
        """The session's tempo in BPM."""
        return float(self._link.tempo)

    @property
    def beat(self) -> float:
        """The session's beat now (beats since the timeline's origin, float)."""
        return float(self._link.beat)

    def time_and_beat(self) -> tuple[float, float]:
        """``(Link clock time in seconds, beat at that time)``, read back to back."""
        t, beat = self._link.time, float(self._link.beat)
        return (t.total_seconds() if hasattr(t, "total_seconds") else t / 1e6), beat

    # -- the show's side ---------------------------------------------------------------------------

    def propose(self, tempo: float, now: float | None = None) -> bool:
        """Propose ``tempo`` (BPM) to the session if livevis is alone in it, the tempo is known (> 0)
        and differs from Link's by more than :data:`PROPOSE_BPM`, at most every
        :data:`PROPOSE_EVERY_S`; returns whether it was set."""
        now = time.monotonic() if now is None else now
        if (tempo <= 0 or self.peers > 0 or abs(tempo - self.tempo) <= PROPOSE_BPM
                or now - self._last_propose < PROPOSE_EVERY_S):
            return False
        self._link.tempo = float(min(max(tempo, TEMPO_RANGE[0]), TEMPO_RANGE[1]))
        self._last_propose = now
        self.proposed += 1
        return True

    def apply(self, state, now: float | None = None):
        """The state the show draws: with peers, ``tempo`` and ``beat_phase`` (the fraction of
        the current beat, [0, 1)) are the session's; alone, the state is unchanged and its detected
        tempo is proposed to the session (:meth:`propose`)."""
        if self.peers > 0:
            beat = self.beat
            return replace(state, tempo=self.tempo, beat_phase=float(beat - int(beat // 1)) % 1.0)
        self.propose(float(state.tempo), now)
        return state

    def status(self) -> str:
        """One line for the overlay: ``Link: 2 peers, 124.0 BPM``."""
        n = self.peers
        return f"Link: {n} peer{'s' if n != 1 else ''}, {self.tempo:.1f} BPM"

    def close(self) -> None:
        """Leave the session and stop the loop thread."""
        if self._link is not None:
            try:
                self._link.enabled = False
            except Exception:
                pass
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2.0)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> "LinkSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def join_link(spec, log) -> LinkSession | None:
    """Join the session as a preset's ``[link]`` (:class:`~livevis.control.presets.LinkSpec`) says,
    or tell ``log`` why not and return None: the show goes on with its own tempo."""
    try:
        link = LinkSession(quantum=spec.quantum)
    except LinkError as err:
        log(f"warning: {err}; the show goes on with its own tempo")
        return None
    log(f"Ableton Link: joined ({link.status()})")
    return link


__all__ = ["LinkError", "LinkSession", "join_link"]
