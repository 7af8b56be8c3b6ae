"""The show's handle on the audio engine process: start it, read its newest state, keep it alive.

:class:`AudioEngine` spawns :func:`~livevis.audio.engine_process.engine_main` (``multiprocessing`` spawn
context), reads the newest :class:`~livevis.analysis.state.AnalysisState` from the shared
:class:`~livevis.audio.state_slot.StateSlot` without waiting, and, called from the render loop's timer,
:meth:`AudioEngine.supervise` restarts the engine when it dies or stops beating (a file resumes where it
was). While there is no engine, :meth:`AudioEngine.get` returns the last state with ``input_ok=False``,
so the show draws "NO INPUT". Nothing here imports the analysis libraries: the render process stays light.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import time
from dataclasses import replace

from livevis import errors
from livevis.analysis.state import AnalysisState
from livevis.audio.engine_process import EngineConfig, engine_main
from livevis.audio.state_slot import StateSlot, new_slot

log = logging.getLogger("livevis.engine")

#: The engine is declared hung when its heartbeat is older than this (seconds), then killed and restarted.
HEARTBEAT_TIMEOUT_S = 3.0
#: Seconds a new engine process may take to import, open its source and load the model before its
#: first heartbeat.
STARTUP_GRACE_S = 60.0
#: Seconds between restarts of an engine that keeps dying (doubling up to 8 s).
RESTART_BACKOFF_S = 0.5


class _Forward(logging.Handler):
    """Hands the engine process's log records to this process's loggers (file and console)."""

    def handle(self, record: logging.LogRecord) -> bool:
        logging.getLogger(record.name).handle(record)
        return True


class AudioEngine:
    """Runs capture or playback and the analysis in a supervised child process.

    Args:
        config: what to play or capture and how (:class:`~livevis.audio.engine_process.EngineConfig`).
        say: receives one-line messages for the operator (the engine's model loading, restarts).

    Raises (from :meth:`start`):
        LivevisError (its subclass as raised in the engine: InputFileError, DeviceError, ModelError):
            the file, device or model cannot be used; the message is the engine's one-line message.
    """

    def __init__(self, config: EngineConfig, say=print) -> None:
        self.config, self.say = config, say
        self._mp = multiprocessing.get_context("spawn")
        self._raw = new_slot(self._mp)
        self.slot = StateSlot(self._raw)
        self._log_queue = self._mp.Queue()
        self._listener = logging.handlers.QueueListener(self._log_queue, _Forward())
        self._listener.start()
        self._proc = None
        self._conn = None
        self.info: dict = {}
        self.hop_s = 0.1
        self.restarts = 0
        self._playing = False
        self._stopping = False
        self._next_restart = 0.0
        self._backoff = RESTART_BACKOFF_S
        self._totals = {"hops": 0, "errors": 0, "skipped_samples": 0}
        self._resume_at = config.start_s
        self._spawned_at = 0.0
        self._version_at_spawn = 0

    # ------------------------------------------------------------------ life cycle

    def _spawn(self, config: EngineConfig) -> None:
        self.slot.clear_stats()
        parent_conn, child_conn = self._mp.Pipe()
        self._proc = self._mp.Process(target=engine_main, name="livevis-audio-engine",
                                      args=(config, self._raw, child_conn, self._log_queue), daemon=True)
        self._proc.start()
        self._spawned_at = time.monotonic()
        self._version_at_spawn = self.slot.version
        child_conn.close()
        self._conn = parent_conn

    def _wait(self, kind: str, timeout: float) -> dict:
        """Wait for the engine's ``kind`` message, passing on ``say`` lines; raise its error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._conn.poll(0.05):
                try:
                    message = self._conn.recv()
                except EOFError:
                    break
                if message[0] == kind:
                    return message[1]
                self._handle(message, raise_errors=True)
            elif not self._proc.is_alive() and not self._conn.poll():
                break
        code = self._proc.exitcode
        self.stop()
        raise errors.LivevisError(f"the audio engine process {'exited with code ' + str(code) if code is not None else 'did not answer'} "
                                  f"before it was {kind}; see the log file")

    def _handle(self, message, raise_errors: bool = False) -> None:
        if message[0] == "say":
            self.say(message[1])
        elif message[0] == "error":
            cls = getattr(errors, message[1], None)
            if raise_errors:
                self.stop()
                if isinstance(cls, type) and issubclass(cls, errors.LivevisError):
                    raise cls(message[2])
                raise errors.LivevisError(f"audio engine: {message[1]}: {message[2]}")
            log.error("audio engine: %s", message[2])

    def start(self, timeout: float = 60.0) -> dict:
        """Start the engine and open its source (file or device); returns what it opened:
        ``kind`` ("file"/"input"), ``sample_rate``, ``scheduling``, ``pid`` and ``duration``,
        ``output_latency`` (file) or ``device``, ``device_name`` (input)."""
        self._spawn(self.config)
        self.info = self._wait("opened", timeout)
        return self.info

    def wait_ready(self, timeout: float = 120.0) -> dict:
        """Wait until the engine has loaded the emotion model and warmed up the analysis; returns
        ``provider`` (the ONNX execution provider) and ``hop_s``."""
        ready = self._wait("ready", timeout)
        self.hop_s = ready["hop_s"]
        self.info.update(ready)
        return ready

    def play(self) -> None:
        """Start the stream and the analysis (after :meth:`wait_ready`)."""
        self._conn.send(("go",))
        self._playing = True

    def stop(self) -> None:
        """Stop the engine process (waits up to 2 s, then terminates it) and the log forwarding."""
        self._stopping = True
        if self._proc is not None:
            try:
                self._conn.send(("stop",))
            except (OSError, ValueError):
                pass
            self._proc.join(timeout=2.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(timeout=2.0)
            self._add_totals()
            self._proc = None
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    # ------------------------------------------------------------------ render-loop side

    @property
    def pid(self) -> int | None:
        """Process id of the running engine (None between a death and its restart)."""
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def healthy(self, now: float | None = None) -> bool:
        """True while the engine process runs and beats."""
        now = time.monotonic() if now is None else now
        return (self._proc is not None and self._proc.exitcode is None
                and now - self.slot.stat("heartbeat") < HEARTBEAT_TIMEOUT_S)

    def get(self) -> AnalysisState:
        """The newest state; never blocks. ``input_ok`` is False while the engine is down, and after a
        restart until the new engine has published its first state."""
        state, _ = self.slot.read()
        if not self.healthy() or (self.restarts and self.slot.version == self._version_at_spawn):
            return replace(state, input_ok=False) if state.input_ok else state
        return state

    @property
    def version(self) -> int:
        """Number of states the engine has published (0 until its first hop)."""
        return self.slot.version

    def newest(self) -> tuple[AnalysisState, float]:
        """The newest state and the ``time.monotonic()`` at which its newest sample arrived."""
        return self.slot.read()

    @property
    def position_s(self) -> float:
        """Seconds into the file played so far (handed to the output device; updated every 20 ms);
        0.0 when listening to an input."""
        return self.slot.stat("position_s")

    @property
    def finished(self) -> bool:
        """True when the file has been played to its end."""
        return self.slot.stat("finished") > 0

    def supervise(self, now: float | None = None) -> None:
        """Pass on the engine's messages; restart it if it died or hung. Call often (render-loop timer)."""
        if self._stopping or not self._playing:
            return
        now = time.monotonic() if now is None else now
        try:
            while self._conn is not None and self._conn.poll():
                self._handle(self._conn.recv())
        except (EOFError, OSError):
            pass
        if self._proc is not None:
            beat = max(self.slot.stat("heartbeat"), self._spawned_at + STARTUP_GRACE_S)
            if self._proc.exitcode is None and now - beat < HEARTBEAT_TIMEOUT_S:
                if now - self._spawned_at > 10.0:
                    self._backoff = RESTART_BACKOFF_S  # it ran well for a while
                return
            if self._proc.exitcode is None:
                log.error("the audio engine stopped answering; restarting it")
                self._proc.kill()
                self._proc.join(timeout=2.0)
            else:
                log.error("the audio engine process exited (code %s); restarting it", self._proc.exitcode)
            self._add_totals()
            self._proc, self._conn = None, None
            self._next_restart = now + self._backoff
            self._backoff = min(self._backoff * 2, 8.0)
        if now < self._next_restart:
            return
        config = self.config
        if config.input_path is not None:
            config = replace(config, start_s=self._resume_at)
        self.restarts += 1
        self.say(f"restarting the audio engine ({self.restarts})")
        self._spawn(config)
        self._conn.send(("go",))  # it plays as soon as it is ready; NO INPUT until then

    def _add_totals(self) -> None:
        for key in self._totals:
            self._totals[key] += int(self.slot.stat(key))
        self._resume_at = self.slot.stat("position_s") or self._resume_at

    def apply_settings(self, attack_s: float, release_s: float, conditioning) -> None:
        """Use a preset's emotion smoothing and noise gate / AGC (sent to the engine; kept for restarts)."""
        self.config = replace(self.config, settings=(attack_s, release_s, conditioning))
        if self._conn is not None:
            try:
                self._conn.send(("settings", self.config.settings))
            except (OSError, ValueError):
                pass

    def stats(self) -> dict:
        """Totals over this engine and the ones before it: ``hops``, ``errors``, ``skipped_samples``,
        ``overflows``, ``underruns`` (of the newest state) and ``restarts``."""
        running = self._proc is not None
        totals = {k: v + (int(self.slot.stat(k)) if running else 0) for k, v in self._totals.items()}
        state, _ = self.slot.read()
        return dict(totals, overflows=state.overflows, underruns=state.underruns, restarts=self.restarts)
