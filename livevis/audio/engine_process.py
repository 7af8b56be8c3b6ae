"""The audio engine process: capture or file playback and the whole analysis stage, away from the
render process and its GIL (issue 15).

:func:`engine_main` is the entry point of a ``multiprocessing`` *spawn* process started by
:class:`~livevis.audio.engine.AudioEngine`. It opens the source, loads the emotion model, waits for the
``go`` command, then runs the source's PortAudio stream and an
:class:`~livevis.analysis.analyzer.AnalysisThread` publishing each hop's state into the shared
:class:`~livevis.audio.state_slot.StateSlot` (no pickling per hop). Its main thread keeps the heartbeat and
counters in the slot, applies preset settings sent over the pipe, and exits on ``stop`` or when the
parent is gone. Messages to the parent (pickled, a handful per run): ``("opened", info)``,
``("ready", info)``, ``("say", line)``, ``("error", class name, message)``; log records go through a queue.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import time
from dataclasses import dataclass

log = logging.getLogger("livevis.engine")


@dataclass(frozen=True)
class EngineConfig:
    """What the engine process plays or listens to, and how it analyses (picklable).

    Attributes:
        input_path: audio file to play (None: listen to ``device``).
        device: input device (None: default; name substring or index as a string or int).
        output_device: output device for file playback (None: default).
        model: emotion model path (None: the built-in one).
        start_s: file playback starts this many seconds in (a restart resumes where the last engine was).
        settings: ``(attack_s, release_s, ConditioningSettings)`` of the preset, or None for the defaults.
        log_level: level of the ``livevis`` logger in the engine process.
        realtime: ask the OS for real-time scheduling (SCHED_FIFO, else a lower nice value).
    """

    input_path: str | None = None
    device: str | int | None = None
    output_device: str | int | None = None
    model: str | None = None
    start_s: float = 0.0
    settings: tuple | None = None
    log_level: int = logging.INFO
    realtime: bool = True


#: SCHED_FIFO priority asked for (low: above normal processes, below the kernel's audio threads).
RT_PRIORITY = 10


def ask_realtime() -> str:
    """Ask for real-time scheduling for this process's threads created from now on; fall back quietly.

    Returns:
        What was granted: ``"SCHED_FIFO 10"``, ``"nice -10"`` or ``"normal"``.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        return f"SCHED_FIFO {RT_PRIORITY}"
    except (AttributeError, OSError):
        pass
    try:
        os.nice(-10)
        return "nice -10"
    except OSError:
        return "normal"


class _SlotLatest:
    """The :class:`~livevis.analysis.state.LatestState` interface over the shared slot, for the
    analysis thread (its only writer)."""

    def __init__(self, slot, arrival) -> None:
        self.slot, self._arrival = slot, arrival
        self._state = None

    def publish(self, state) -> None:
        self._state = state
        self.slot.publish(state, self._arrival())

    def get(self):
        if self._state is None:
            self._state = self.slot.read()[0]
        return self._state


def engine_main(config: EngineConfig, raw_slot, conn, log_queue) -> None:
    """Run the engine until ``stop``, the parent's exit, or the pipe closing (child process entry)."""
    root = logging.getLogger("livevis")
    root.handlers[:] = [logging.handlers.QueueHandler(log_queue)]
    root.setLevel(config.log_level)
    root.propagate = False
    parent = os.getppid()
    try:
        _run(config, raw_slot, conn, parent)
    except BaseException as err:  # report, then exit non-zero: the supervisor decides what follows
        from livevis.errors import LivevisError

        if not isinstance(err, (LivevisError, KeyboardInterrupt)):
            log.exception("audio engine failed")
        try:
            conn.send(("error", type(err).__name__, str(err) or type(err).__name__))
        except (OSError, ValueError):
            pass
        raise SystemExit(1) from None


def _run(config: EngineConfig, raw_slot, conn, parent: int) -> None:
    from livevis.audio.state_slot import StateSlot

    scheduling = ask_realtime() if config.realtime else "normal"
    slot = StateSlot(raw_slot)
    slot.claim()
    if config.input_path is not None:
        from livevis.audio.playback import FilePlayer

        source = FilePlayer(config.input_path, device=config.output_device, start_s=config.start_s)
        info = {"kind": "file", "duration": source.duration, "output_latency": source.output_latency}
    else:
        from livevis.audio.live import LiveInput

        source = LiveInput(config.device)
        info = {"kind": "input", "device": source.device, "device_name": source.device_name}
    info.update(sample_rate=source.sample_rate, scheduling=scheduling, pid=os.getpid())
    slot.set_stat("sample_rate", source.sample_rate)
    conn.send(("opened", info))

    from livevis.analysis.analyzer import Analyzer, AnalysisThread
    from livevis.analysis.emotion import load_emotion_model

    emotion = load_emotion_model(config.model, log=lambda line: conn.send(("say", line)))
    analyzer = Analyzer(source.sample_rate, emotion)
    if config.settings is not None:
        analyzer.apply_settings(*config.settings)
    if config.input_path is not None and source.start_s > 0:
        analyzer.skip(int(round(source.start_s * source.sample_rate)))  # states keep the file's time
    analyzer.features.warm_up()
    conn.send(("ready", {"provider": emotion.provider, "hop_s": analyzer.hop_s}))

    worker = None
    started = False
    try:
        while True:
            slot.set_stat("heartbeat", time.monotonic())
            if started:
                stats = worker.stats
                slot.set_stat("hops", stats.hops)
                slot.set_stat("errors", stats.errors)
                slot.set_stat("skipped_samples", stats.skipped_samples)
                if config.input_path is not None:
                    slot.set_stat("position_s", source.start_s + source.position / source.sample_rate)
                    if source.finished.is_set():
                        slot.set_stat("finished", 1.0)
            if os.getppid() != parent:
                return  # the show is gone: do not play on as an orphan
            if conn.poll(0.02):
                message = conn.recv()
                if message[0] == "stop":
                    return
                if message[0] == "go" and not started:
                    worker = AnalysisThread(source, analyzer, _SlotLatest(slot, lambda: worker.published_arrival))
                    source.start()
                    worker.start()
                    started = True
                    slot.set_stat("playing", 1.0)
                elif message[0] == "settings":
                    analyzer.apply_settings(*message[1])
    except EOFError:
        return
    finally:
        if worker is not None:
            worker.stop()
            worker.join(timeout=2)
        try:
            source.stop()
        except Exception:  # a stream that never started may refuse to stop; it is closed with the process
            log.debug("closing the audio source", exc_info=True)

