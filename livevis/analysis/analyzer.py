"""The analysis stage: audio samples in, one :class:`AnalysisState` per hop out.

:class:`Analyzer` is the pure pipeline (resample → 0.5 s window → features → emotion →
state) used both live and offline, so an offline render shows exactly what a live show
would. :class:`AnalysisThread` runs it live: it drains the capture ring buffer, publishes
the newest state into a :class:`LatestState` slot and never blocks the render loop.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import soxr

from livevis.audio.conditioning import ConditioningSettings, InputConditioner
from livevis.expression import ExpressionMapper
from livevis.analysis.features import HOP_S, SAMPLE_RATE, FeatureExtractor
from livevis.analysis.state import AnalysisState, LatestState
from livevis.analysis.tempo import TempoTracker

log = logging.getLogger("livevis.analysis")

#: soxr quality of the resampling to the analysis rate: ``"QQ"`` (cubic interpolation) has no
#: look-ahead, so a hop is analysed as soon as its last sample arrives; ``"HQ"`` held every sample
#: back 23 ms (its linear-phase filter), which put a hop's state one video frame later (issue 14).
#: Against HQ on real music the eGeMAPS functionals differ by 0.3 % (median) and the log-mel means by
#: at most 1.4 dB, except the top band (7.6–8 kHz: +4 dB of folded cymbals).
RESAMPLE_QUALITY = "QQ"


class EmotionPredictor(Protocol):
    def step(self, features: np.ndarray) -> tuple[float, float, np.ndarray]: ...


#: The calm resting state the emotion eases to in silence: valence 0, arousal -0.4, all AUs 0.
REST = np.concatenate([[0.0, -0.4], np.zeros(17)]).astype(np.float32)


class Analyzer:
    """Turns a stream of mono samples into analysis states, one per hop.

    Args:
        source_rate: sample rate of the samples passed to :meth:`feed`, Hz.
        emotion: a predictor with ``step(features (128,) float32) -> (valence, arousal, aus (17,))``
            such as :class:`livevis.analysis.emotion.EmotionModel`.
        hop_s: hop in seconds (default 0.1).
        smoother: optional callable ``(vector) -> vector`` applied to [valence, arousal, *aus]
            each hop (attack/release smoothing).
        conditioning: noise gate / AGC settings. Hops below the gate skip the emotion model
            and ease towards :data:`REST`.
        expression: turns each hop's (smoothed) valence/arousal into the face's 17 AUs with
            per-song normalisation (default :class:`~livevis.expression.ExpressionMapper`);
            the emotion model's own AU output is not used. Gated hops ease the face to neutral.
    """

    def __init__(self, source_rate: int, emotion: EmotionPredictor, hop_s: float = HOP_S,
                 smoother: Callable[[np.ndarray], np.ndarray] | None = None,
                 conditioning: ConditioningSettings | None = None,
                 expression: ExpressionMapper | None = None) -> None:
        self.features = FeatureExtractor(hop_s)
        self.emotion = emotion
        self.smoother = smoother
        self.tempo = TempoTracker()
        self.hop_s = self.features.hop_samples / SAMPLE_RATE
        self.conditioner = InputConditioner(conditioning, self.hop_s)
        self.expression = expression if expression is not None else ExpressionMapper(self.hop_s)
        self.gated_hops = 0
        self.set_source_rate(source_rate)
        self._window = np.zeros(self.features.window_samples, dtype=np.float32)
        self._pending = 0  # samples in _window not yet covered by a hop
        self._samples = 0  # total 16 kHz samples consumed
        self._onset_peak = 1e-6

    def set_source_rate(self, source_rate: int) -> None:
        """(Re)start resampling from ``source_rate`` Hz (e.g. after a device was reopened)."""
        self.source_rate = source_rate
        self._resampler = (
            None if source_rate == SAMPLE_RATE
            else soxr.ResampleStream(source_rate, SAMPLE_RATE, 1, dtype="float32", quality=RESAMPLE_QUALITY)
        )

    def apply_settings(self, attack_s: float, release_s: float, conditioning: ConditioningSettings) -> None:
        """Use a preset's emotion smoothing (attack/release times, seconds) and noise gate / AGC
        settings. A running :class:`~livevis.analysis.emotion.Smoother` keeps its value (live
        parameter changes do not make the face jump)."""
        from livevis.analysis.emotion import Smoother

        if isinstance(self.smoother, Smoother) and self.smoother.dt == self.hop_s:
            self.smoother.set_times(attack_s, release_s)
        else:
            self.smoother = Smoother(attack_s, release_s, self.hop_s)
        self.conditioner.settings = conditioning

    def idle(self) -> None:
        """Do, while no audio waits, the work the next hop would otherwise begin with
        (:meth:`FeatureExtractor.idle`); the states are the same either way."""
        self.features.idle()

    def skip(self, n_source_samples: int) -> None:
        """Account for ``n_source_samples`` of audio dropped unanalysed (overload), so that
        :attr:`AnalysisState.time` stays the stream's time."""
        self._samples += int(round(n_source_samples * SAMPLE_RATE / self.source_rate))

    def _hop(self) -> AnalysisState:
        window, gated = self.conditioner.process(self._window, self.features.hop_samples)
        f = self.features.process(window)
        values = REST
        if gated:
            self.gated_hops += 1
        else:
            valence, arousal, aus = self.emotion.step(f.vector)
            predicted = np.concatenate([[valence, arousal], aus]).astype(np.float32)
            if np.all(np.isfinite(predicted)):
                values = predicted
        if self.smoother is not None:
            values = self.smoother(values)
        aus = self.expression.update(float(values[0]), float(values[1]), active=not gated)
        tempo, phase = self.tempo.update(f.onset_envelope)
        self._onset_peak = max(self._onset_peak * 0.995, f.onset)
        return AnalysisState(
            time=self._samples / SAMPLE_RATE, rms=f.rms, bass=f.bass, mid=f.mid, high=f.high,
            onset=float(np.clip(f.onset / self._onset_peak, 0.0, 1.0)), energy=f.energy,
            energy_envelope=f.energy_envelope,
            tempo=tempo, beat_phase=phase,
            valence=float(np.clip(values[0], -1, 1)), arousal=float(np.clip(values[1], -1, 1)),
            aus=np.clip(aus, 0.0, 1.0).astype(np.float32),
        )

    def feed(self, samples: np.ndarray, last: bool = False) -> list[AnalysisState]:
        """Consume mono float32 samples at ``source_rate``; return the states of completed hops.

        Args:
            samples: shape (n,), float32, [-1, 1].
            last: True at the end of a stream, to flush the resampler.
        """
        x = np.nan_to_num(samples.astype(np.float32, copy=False))
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x, last=last)
        states = []
        hop = self.features.hop_samples
        while len(x):
            take = min(len(x), hop - self._pending)
            self._window = np.roll(self._window, -take)
            self._window[-take:] = x[:take]
            x = x[take:]
            self._pending += take
            self._samples += take
            if self._pending == hop:
                self._pending = 0
                states.append(self._hop())
        return states


@dataclass
class AnalysisStats:
    """Counters of the live analysis thread."""

    hops: int = 0
    skipped_samples: int = 0
    errors: int = 0
    latencies: list[float] | None = None  # seconds from sample arrival to state publish


#: How long the analysis thread sleeps when no audio waits, seconds: a hop's last block waits for
#: half of it on average before it is analysed.
POLL_S = 0.002


class AnalysisThread(threading.Thread):
    """Drains an audio source's ring buffer into an :class:`Analyzer`; publishes the newest state.

    Args:
        source: an object with ``ring`` (:class:`RingBuffer`), ``clock`` (:class:`StreamClock`)
            and ``sample_rate`` attributes, such as a file player or a live input; if it has a
            ``supervise()`` method (device-loss recovery), it is called every loop; if it has an
            ``xruns`` counter (:class:`~livevis.audio.xruns.XrunCounter`), its underruns are
            published in the state and logged once a second while they last.
        analyzer: the pipeline.
        latest: where states are published.
        max_backlog_s: if more than this much audio is waiting (analysis overloaded), older
            audio is skipped (counted in ``stats.skipped_samples``) so the show stays live.
        record_latency: keep a list of arrival→publish latencies (for benchmarks).

    An exception in one block is logged and counted (``stats.errors``); the thread goes on.
    """

    def __init__(self, source, analyzer: Analyzer, latest: LatestState, max_backlog_s: float = 1.0,
                 record_latency: bool = False) -> None:
        super().__init__(name="livevis-analysis", daemon=True)
        self.source, self.analyzer, self.latest = source, analyzer, latest
        self.max_backlog_s = max_backlog_s
        self.stats = AnalysisStats(latencies=[] if record_latency else None)
        #: ``time.monotonic()`` at which the newest sample of the newest published state arrived
        self.published_arrival = 0.0
        self._stop_event = threading.Event()
        self._ring = source.ring

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        supervise = getattr(self.source, "supervise", None)
        while not self._stop_event.is_set():
            try:
                if supervise is not None:
                    supervise()
                xruns = getattr(self.source, "xruns", None)
                if xruns is not None:
                    xruns.report()
                if not self._step():
                    self.analyzer.idle()
                    time.sleep(POLL_S)
            except Exception:  # never let one bad block end the show
                self.stats.errors += 1
                log.exception("analysis error (%d so far); continuing", self.stats.errors)
                time.sleep(0.05)

    def _underruns(self) -> int:
        xruns = getattr(self.source, "xruns", None)
        return xruns.underruns if xruns is not None else 0

    def _skipped_hops(self) -> int:
        return int(self.stats.skipped_samples / self.source.sample_rate / self.analyzer.hop_s)

    def _step(self) -> bool:
        """Process what is waiting; False if there was nothing."""
        ring, clock = self.source.ring, self.source.clock
        if ring is not self._ring:  # the source reopened its device
            self._ring = ring
            self.analyzer.set_source_rate(self.source.sample_rate)
        max_backlog = int(self.max_backlog_s * self.source.sample_rate)
        backlog = ring.available()
        if backlog > max_backlog:
            skip = backlog - max_backlog // 2
            ring.read(skip)
            self.analyzer.skip(skip)
            self.stats.skipped_samples += skip
            log.warning("analysis overloaded: skipped %.2f s of audio", skip / self.source.sample_rate)
        arrival_total, arrival_time = clock.last_arrival
        block = ring.read()
        if block.size == 0:
            alive = clock.alive()
            current = self.latest.get()
            if current.input_ok != alive:
                self.latest.publish(current.with_input(alive, ring.overflows, self._skipped_hops(), self._underruns()))
            return False
        states = self.analyzer.feed(block)
        if states:
            self.published_arrival = arrival_time
            self.latest.publish(states[-1].with_input(True, ring.overflows, self._skipped_hops(), self._underruns()))
            self.stats.hops += len(states)
            if self.stats.latencies is not None and arrival_time > 0:
                # the newest sample used arrived at or before arrival_time
                self.stats.latencies.append(time.monotonic() - arrival_time)
        return True
