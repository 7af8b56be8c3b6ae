"""The latent image stream: keyframe latents joined by slerp, paced by the audio energy vector.

Per analysis hop (0.1 s) :meth:`LatentEngine.update` advances the motion:

* The show is cut into **segments** (``segment`` seconds, or beats at the current tempo).
  Segment k glides from keyframe A to keyframe B along ``slerp(z_A, z_B, p)``
  (:mod:`livevis.render.latent.slerp`); at p = 1 the next segment starts from B toward a keyframe
  chosen near the music's valence/arousal (:class:`~livevis.render.latent.keyframes.KeyframeChooser`).
* The **progress** p ∈ [0, 1] follows the cumulative audio energy vector of the segment
  (``AnalysisState.energy``: 0.9·percussive + 0.1·harmonic mel power, diffusion music
  visualiser paper section 3.3), so the picture moves on hits and rests in quiet passages.
  One engine, three progress policies:

  - ``"exact"`` (offline, the paper's): p(h) = Σ_{j≤h} E_j / Σ_{j∈segment} E_j over the whole
    segment, which needs the future energy: pass ``energies`` (one value per hop, from a
    first analysis pass). p reaches 1 exactly on the segment's last hop.
  - ``"causal"`` (live): the future energy of the segment is unknown, so the expected
    segment energy is estimated: p(h) = min(1, p(h−1) + E_h / (r̂_h · L)), r̂_h a running
    estimate of energy per second (cumulative mean over the first ``energy_tau_s`` seconds,
    then an exponential average with that time constant, including hop h) and L the segment
    length in seconds. Monotone; with steady energy it is linear and lasts L; it jumps on
    hits and rests while there is no energy; the segment ends when p reaches 1 (sooner than L
    in passages louder than the recent average, later in quieter ones).
  - ``"linear"`` (baseline for AVS): p = elapsed / L.

* Optional latent noise σ: each segment boundary k gets a fixed Gaussian offset
  σ·std(z)·n_k (seeded), interpolated with the endpoints, so the variation is smooth.

Decoding: in a live show :meth:`start` runs a decode thread. ``update`` hands it the newest
latent through a bounded queue of at most two pending frames (the oldest is dropped when
full; the thread decodes only the newest and drops the rest as stale). The render loop
calls :meth:`latest_frame`, which returns the newest decoded frame at once and never waits
for the decoder. Offline, :meth:`frame_sync` updates and decodes in the caller's thread:
the same inputs give the same frames.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from livevis.errors import LivevisError
from livevis.render.latent.keyframes import Keyframe, KeyframeChooser, LatentCache, load_keyframes
from livevis.render.latent.slerp import GreatCircle, slerp
from livevis.analysis.state import AnalysisState

POLICIES = ("causal", "exact", "linear")


@dataclass(frozen=True)
class DecodedFrame:
    """A decoded picture of the latent stream.

    Attributes:
        image: uint8 RGB (H, W, 3) at the engine size (the GL layer upscales it).
        hop: index of the hop (``update`` call, from 0) whose latent this is.
        time: the hop's audio time (``AnalysisState.time``), seconds.
        progress: segment progress p in [0, 1] of that hop.
        segment: segment index.
        decoded_at: ``time.monotonic()`` when decoding finished.
        sub_images: uint8 (N, H, W, 3), the in-between pictures of the hop decoded as one batch
            (``sub_frames`` = N > 1): ``slerp(previous hop's latent, this hop's, w_i)`` at
            w_i = :meth:`LatentEngine.sub_hop_weights` of α = (i + 1) / N, so the last one is
            ``image``; None when N = 1.
    """

    image: np.ndarray
    hop: int
    time: float
    progress: float
    segment: int
    decoded_at: float = 0.0
    sub_images: np.ndarray | None = None


@dataclass
class EngineStats:
    """Counters of the decode thread."""

    submitted: int = 0
    decoded: int = 0
    dropped: int = 0          # pending frames discarded as stale
    max_pending: int = 0      # high-water mark of the pending queue (≤ 2)
    decode_s: list[float] = field(default_factory=list)  # seconds per decode (last 200)


#: Decode threads still alive, joined at interpreter exit: a daemon thread killed inside an
#: onnxruntime run (a 512² CPU decode takes seconds) aborts the process ("terminate called
#: without an active exception"), turning a clean exit into SIGABRT.
_LIVE_WORKERS: "weakref.WeakSet[_DecodeWorker]" = weakref.WeakSet()


@atexit.register
def _join_workers_at_exit(timeout: float = 60.0) -> None:
    workers = list(_LIVE_WORKERS)
    for w in workers:
        w.stop()
    for w in workers:
        w.join(timeout)


#: Niceness added to the live decode thread's (Linux: per thread). On CPU the decoder keeps a core busy; at
#: the default priority it took that time from the render loop (issue 15, latency). On this 2-core
#: machine (``tools/bench_pipeline.py --only latency --engine process``, 640x360): frame median 31 →
#: 25 ms, arrival→frame 64 → 44 ms, 0.9 → 0.5 pictures decoded per second; nice 10 decoded 0.3/s for
#: no clear further gain. On a GPU the decode hardly uses the CPU and nothing changes.
DECODE_NICE = 5


def _lower_this_threads_priority(increment: int) -> None:
    """Raise the calling thread's niceness by ``increment`` (on Linux a thread's niceness is its own);
    elsewhere, or if the OS refuses, nothing happens."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))
    except (AttributeError, OSError):
        pass


class _DecodeWorker(threading.Thread):
    """Decodes the newest submitted latent; at most two pending; publishes into one slot. Runs
    :data:`DECODE_NICE` steps nicer than the process, below the render loop."""

    MAX_PENDING = 2

    def __init__(self, codec) -> None:
        super().__init__(name="livevis-latent-decode", daemon=True)
        _LIVE_WORKERS.add(self)
        self.codec = codec
        self.stats = EngineStats()
        self._pending: deque = deque()
        self._cv = threading.Condition()
        self._lock = threading.Lock()
        self._latest: DecodedFrame | None = None
        self._stopping = False
        self.error: BaseException | None = None

    def submit(self, job: tuple) -> None:
        with self._cv:
            if len(self._pending) >= self.MAX_PENDING:
                self._pending.popleft()
                self.stats.dropped += 1
            self._pending.append(job)
            self.stats.submitted += 1
            self.stats.max_pending = max(self.stats.max_pending, len(self._pending))
            self._cv.notify()

    def pending(self) -> int:
        with self._cv:
            return len(self._pending)

    def latest(self) -> DecodedFrame | None:
        with self._lock:
            return self._latest

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify()

    def run(self) -> None:
        _lower_this_threads_priority(DECODE_NICE)
        while True:
            with self._cv:
                while not self._pending and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                job = self._pending.pop()           # newest
                self.stats.dropped += len(self._pending)
                self._pending.clear()
            latent, hop, t, p, seg = job  # latent: (C, h, w), or (N, C, h, w) in-between latents
            t0 = time.perf_counter()
            try:
                images = self.codec.decode(latent)
            except BaseException as err:  # the show goes on with the last good frame
                self.error = err
                continue
            dt = time.perf_counter() - t0
            frame = DecodedFrame(images[-1], hop, t, p, seg, time.monotonic(),
                                 images if latent.ndim == 4 and len(images) > 1 else None)
            with self._lock:
                self._latest = frame
            self.stats.decoded += 1
            self.stats.decode_s.append(dt)
            del self.stats.decode_s[:-200]


class LatentEngine:
    """Keyframe latents in motion, paced by the audio energy vector.

    Args:
        codec: a :class:`~livevis.render.latent.runtime.LatentCodec` (its decoder is used).
        keyframes: at least one :class:`~livevis.render.latent.keyframes.Keyframe` (same latent shape).
        segment: segment length, in ``segment_unit`` (> 0).
        segment_unit: ``"seconds"`` or ``"beats"`` (beats use ``AnalysisState.tempo`` at the
            segment's start, or ``default_tempo`` while the tempo is unknown).
        policy: ``"causal"`` (live), ``"exact"`` (offline, needs ``energies``) or ``"linear"``.
        energies: for ``"exact"``: float array, the energy of every hop in order (the
            ``AnalysisState.energy`` values the engine will be fed), >= 0.
        noise_sigma: latent noise σ as a fraction of the keyframe latent's std (0: none).
        seed: seed of the keyframe choice and the noise.
        hop_s: hop length in seconds (0.1, the analyser's).
        energy_tau_s: time constant of the causal energy-rate estimate, seconds.
        default_tempo: BPM used for beat segments while the tempo is 0.
        energy_exponent: pacing uses energy ** exponent (1: the paper's mel power; 0.5: an
            amplitude-like compression that spreads motion over more, softer onsets).
        chooser: a custom :class:`KeyframeChooser` (default: one over the keyframes' attributes).
        sub_frames: pictures decoded per hop by the decode thread, as one batch (≥ 1). N > 1
            decodes the in-between latents of each hop paced by its energy envelope (true
            latent interpolation at N × 10 Hz, e.g. 6 for 60 fps on a GPU; see
            :attr:`DecodedFrame.sub_images`); 1 decodes the hop's latent only (CPU).

    Raises:
        ValueError: bad policy/unit/segment, ``"exact"`` without energies, or keyframes
            of different latent shapes.
    """

    def __init__(self, codec, keyframes: Sequence[Keyframe], *, segment: float = 8.0,
                 segment_unit: str = "seconds", policy: str = "causal", energies=None,
                 noise_sigma: float = 0.0, seed: int = 0, hop_s: float = 0.1,
                 energy_tau_s: float = 10.0, default_tempo: float = 120.0, energy_exponent: float = 1.0,
                 chooser: KeyframeChooser | None = None, sub_frames: int = 1) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        if segment_unit not in ("seconds", "beats"):
            raise ValueError(f"segment_unit must be 'seconds' or 'beats', got {segment_unit!r}")
        if not segment > 0:
            raise ValueError(f"segment must be > 0, got {segment}")
        if not keyframes:
            raise ValueError("the latent engine needs at least one keyframe")
        if int(sub_frames) < 1:
            raise ValueError(f"sub_frames must be >= 1, got {sub_frames}")
        shapes = {kf.latent.shape for kf in keyframes}
        if len(shapes) != 1:
            raise ValueError(f"keyframe latents differ in shape: {sorted(shapes)}")
        if policy == "exact":
            if energies is None:
                raise ValueError("policy 'exact' needs the per-hop energies of the whole track")
            energies = np.maximum(np.nan_to_num(np.asarray(energies, dtype=np.float64)), 0.0) ** energy_exponent
            self._cum = np.concatenate([[0.0], np.cumsum(energies)])
        self.codec, self.keyframes = codec, list(keyframes)
        self.segment, self.segment_unit, self.policy = float(segment), segment_unit, policy
        self.noise_sigma, self.seed, self.hop_s = float(noise_sigma), int(seed), float(hop_s)
        self.energy_tau_s, self.default_tempo = float(energy_tau_s), float(default_tempo)
        self.energy_exponent = float(energy_exponent)
        self.sub_frames = int(sub_frames)
        self.chooser = chooser or KeyframeChooser([(k.valence, k.arousal) for k in self.keyframes], seed=seed)
        self.hop = -1                    # index of the last update
        self.segment_index = 0
        self.progress = 0.0
        self.current = 0                 # keyframe index of the segment start
        self.target: int | None = None   # keyframe index of the segment end
        self._seg_start = 0              # first hop of the segment
        self._seg_seconds = 0.0
        self._seg_energy = 0.0           # Σ energy so far in the segment (causal)
        self._rate: float | None = None  # r̂, energy per second (causal)
        self._rate_hops = 0
        self._new_segment = True
        self._latent: np.ndarray | None = None
        self._prev_latent: np.ndarray | None = None
        self._last_state: AnalysisState | None = None
        self._worker: _DecodeWorker | None = None
        self._noise_cache: dict[int, np.ndarray] = {}
        self._path: GreatCircle | None = None  # the segment's, with the key it was made for
        self._path_key: tuple | None = None

    # -- motion ------------------------------------------------------------------------------
    def _segment_seconds(self, state: AnalysisState) -> float:
        if self.segment_unit == "seconds":
            return self.segment
        bpm = state.tempo if state.tempo > 30 else self.default_tempo
        return self.segment * 60.0 / bpm

    def _noise(self, boundary: int, z: np.ndarray) -> np.ndarray:
        if self.noise_sigma <= 0:
            return 0.0
        if boundary not in self._noise_cache:
            rng = np.random.default_rng([self.seed, boundary])
            self._noise_cache = {k: v for k, v in self._noise_cache.items() if k >= boundary - 1}
            self._noise_cache[boundary] = rng.standard_normal(z.shape).astype(np.float32)
        return self.noise_sigma * float(z.std()) * self._noise_cache[boundary]

    def _segment_path(self) -> GreatCircle:
        """The segment's slerp path between its noisy keyframe latents, made once per segment (it
        was made at every hop: 3 ms of the render thread's frame that brought the hop)."""
        a, b = self.keyframes[self.current], self.keyframes[self.target]
        key = (self.segment_index, id(a), id(b))
        if self._path_key != key:
            za = a.latent + self._noise(self.segment_index, a.latent)
            zb = b.latent + self._noise(self.segment_index + 1, b.latent)
            self._path, self._path_key = GreatCircle(za, zb), key
        return self._path

    def _begin_segment(self, state: AnalysisState) -> None:
        if self.target is not None:
            self.current = self.target
            self.segment_index += 1
        self.target = self.chooser.choose(state.valence, state.arousal, self.current)
        self._seg_start = self.hop
        self._seg_seconds = self._segment_seconds(state)
        self._seg_energy = 0.0
        self.progress = 0.0
        self._new_segment = False

    def _advance(self, energy: float, state: AnalysisState) -> float:
        hops = max(1, int(round(self._seg_seconds / self.hop_s)))
        k = self.hop - self._seg_start            # 0 on the segment's first hop
        if self.policy == "linear":
            return min(1.0, (k + 1) / hops)
        if self.policy == "exact":
            lo = min(self._seg_start, len(self._cum) - 1)
            hi = min(self._seg_start + hops, len(self._cum) - 1)
            here = min(self.hop + 1, hi)
            total = self._cum[hi] - self._cum[lo]
            if k + 1 >= hops:
                return 1.0
            if total <= 0:
                return min(1.0, (k + 1) / hops)
            return float(np.clip((self._cum[here] - self._cum[lo]) / total, 0.0, 1.0))
        # causal: the rate estimate already includes this hop (so it is > 0 when energy is)
        self._seg_energy += energy
        if not self._rate or energy <= 0:
            return self.progress
        return float(min(1.0, self.progress + energy / (self._rate * self._seg_seconds)))

    def _update_rate(self, energy: float) -> None:
        per_s = energy / self.hop_s
        self._rate_hops += 1
        alpha = max(self.hop_s / self.energy_tau_s, 1.0 / self._rate_hops)
        self._rate = (self._rate or 0.0) + alpha * (per_s - (self._rate or 0.0))

    def update(self, state: AnalysisState) -> np.ndarray:
        """Advance one hop and return the latent to show; hands it to the decode thread if running.

        Args:
            state: the hop's analysis state (uses ``energy``, ``valence``, ``arousal``,
                ``tempo``, ``time``). Call once per hop, in order.

        Returns:
            float32 latent (C, h, w).
        """
        self.hop += 1
        energy = max(0.0, float(state.energy)) if np.isfinite(state.energy) else 0.0
        energy **= self.energy_exponent
        if self._new_segment:
            self._begin_segment(state)
        self._update_rate(energy)
        self.progress = max(self.progress, self._advance(energy, state))
        self._prev_latent = self._latent
        self._latent = self._segment_path().at(self.progress).astype(np.float32, copy=False)
        self._last_state = state
        if self.progress >= 1.0:
            self._new_segment = True
        if self._worker is not None:
            latent = self._latent
            if self.sub_frames > 1:
                latent = self._in_between(state, np.arange(1, self.sub_frames + 1) / self.sub_frames)
            self._worker.submit((latent, self.hop, float(state.time), self.progress, self.segment_index))
        return self._latent

    # -- decoding ----------------------------------------------------------------------------
    def frame_sync(self, state: AnalysisState) -> np.ndarray:
        """Offline path: :meth:`update` then decode in this thread. Deterministic.

        Returns:
            uint8 RGB (H, W, 3).
        """
        return self.decode(self.update(state))

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """Decode one latent (float32 (C, h, w), from :meth:`update`) in this thread.

        Returns:
            uint8 RGB (H, W, 3).
        """
        return self.codec.decode(latent)[0]

    def frames_sync(self, state: AnalysisState, alphas: Sequence[float]) -> np.ndarray:
        """Offline path with sub-hop frames: :meth:`update`, then decode, in one batch, the
        latents ``slerp(previous hop's latent, this hop's latent, w(α))`` for each α in (0, 1].

        A video at ``fps`` > 1 / hop uses α = (t − t_prev_hop) / hop for its frames between two
        hops. With the energy policies, ``w`` is the hop's normalised cumulative energy
        (:meth:`sub_hop_weights`, from ``state.energy_envelope`` at 10 ms), so the picture moves
        on the hit inside the hop rather than evenly across it; with ``"linear"`` (or no
        envelope) ``w(α) = α``. ``w(1) = 1``: the hop's own latent. Deterministic.

        Returns:
            uint8 RGB (len(alphas), H, W, 3).
        """
        self.update(state)
        return self.codec.decode(self._in_between(state, alphas))

    def _in_between(self, state: AnalysisState, alphas: Sequence[float]) -> np.ndarray:
        """float32 (len(alphas), C, h, w): ``slerp(previous hop's latent, this hop's, w(α))``
        for the hop just updated, w = :meth:`sub_hop_weights`."""
        z = self._latent
        prev = self._prev_latent if self._prev_latent is not None else z
        return np.stack([slerp(prev, z, float(w)) for w in self.sub_hop_weights(state, alphas)]).astype(np.float32)

    def sub_hop_weights(self, state: AnalysisState, alphas: Sequence[float]) -> np.ndarray:
        """Where between the previous hop's latent (0) and this hop's (1) each sub-hop frame lies.

        Args:
            state: the hop's state; its ``energy_envelope`` (energy per 10 ms frame) is used.
            alphas: fractions of the hop elapsed at each frame, in [0, 1].

        Returns:
            float64 (len(alphas),) in [0, 1], non-decreasing in α: the cumulative
            ``envelope ** energy_exponent`` up to α (piecewise linear inside each 10 ms frame)
            over the hop's total (the paper's cumulative energy pacing, section 3.3, at the
            envelope's resolution); α itself for ``"linear"`` or a silent/empty envelope.
        """
        a = np.clip(np.asarray(alphas, dtype=np.float64), 0.0, 1.0)
        env = np.nan_to_num(np.asarray(state.energy_envelope, dtype=np.float64))
        if self.policy == "linear" or env.size == 0:
            return a
        e = np.maximum(env, 0.0) ** self.energy_exponent
        total = float(e.sum())
        if total <= 0.0:
            return a
        cum = np.concatenate([[0.0], np.cumsum(e)]) / total
        return np.interp(a * e.size, np.arange(e.size + 1), cum)

    def decode_current(self) -> np.ndarray | None:
        """Decode the latest latent synchronously (None before the first update)."""
        return None if self._latent is None else self.codec.decode(self._latent)[0]

    def start(self) -> "LatentEngine":
        """Start the decode thread (live shows). Idempotent."""
        if self._worker is None:
            self._worker = _DecodeWorker(self.codec)
            self._worker.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the decode thread (waits up to ``timeout`` s for a decode in flight)."""
        if self._worker is not None:
            self._worker.stop()
            self._worker.join(timeout)

    def latest_frame(self) -> DecodedFrame | None:
        """The newest decoded frame, or None before the first one. Never blocks on decoding."""
        return None if self._worker is None else self._worker.latest()

    def pending(self) -> int:
        """Frames waiting to be decoded (≤ 2)."""
        return 0 if self._worker is None else self._worker.pending()

    @property
    def stats(self) -> EngineStats:
        return self._worker.stats if self._worker is not None else EngineStats()

    @property
    def decode_error(self) -> BaseException | None:
        """The last decode error of the thread (frames keep the last good picture)."""
        return None if self._worker is None else self._worker.error

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the decoded frames in pixels."""
        h, w = self.keyframes[0].image.shape[:2]
        return w, h


#: Decoded frame size and pictures per hop chosen by :func:`build_engine` when not given:
#: on CPU 512² (issue 14: the largest size the CPU sustains; pictures are upscaled by the image
#: layer's Catmull-Rom filter) and one picture per hop, decoded as often as the decoder keeps up
#: (stale hops are dropped) while the layer glides between them in image space;
#: on CUDA 512² and 6 in-between pictures per hop, decoded as one batch (60 fps of true latent
#: interpolation — the GPU design target; not measurable on the CPU-only machines here).
CPU_SIZE, CPU_SUB_FRAMES = (512, 512), 1
GPU_SIZE, GPU_SUB_FRAMES = (512, 512), 6


def build_engine(keyframes, *, size: tuple[int, int] | None = None,
                 model_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                 providers=None, threads: int | None = None, skip_bad: bool = True, warn=None,
                 sub_frames: int | None = None, **engine_kwargs) -> tuple[LatentEngine | None, str | None]:
    """Build the engine for a preset, or disable the layer with a clear message.

    Args:
        keyframes: as :func:`livevis.render.latent.keyframes.keyframe_sources` (folder, files, or
            entries with valence/arousal).
        size: (width, height) of the decoded frames, multiples of 8; None: :data:`CPU_SIZE` or,
            on the CUDA provider, :data:`GPU_SIZE`.
        model_dir: a user encoder/decoder pair (``card.json`` + ONNX) instead of the shipped
            TAEF2 (``models/taef2_*.onnx``).
        cache_dir: latent cache folder (default ``<user cache>/latents``).
        providers, threads: onnxruntime settings.
        skip_bad: skip unreadable keyframes (reported through ``warn``) if others are usable.
        warn: callable ``(message)`` for skipped files.
        sub_frames: pictures decoded per hop (:class:`LatentEngine`); None: :data:`CPU_SUB_FRAMES`
            or, on the CUDA provider, :data:`GPU_SUB_FRAMES`.
        **engine_kwargs: :class:`LatentEngine` options (segment, segment_unit, policy, …).

    Returns:
        ``(engine, None)``, or ``(None, message)`` when the layer must be disabled (missing or
        bad model, no usable keyframes); the message names the file.
    """
    from livevis.render.latent.runtime import load_codec, load_taef2
    from livevis.render.latent.weights import cache_dir as user_cache

    try:
        codec = load_codec(model_dir, providers, threads) if model_dir else load_taef2(providers, threads)
        gpu = codec.provider == "CUDAExecutionProvider"
        size = size or (GPU_SIZE if gpu else CPU_SIZE)
        sub_frames = sub_frames or (GPU_SUB_FRAMES if gpu else CPU_SUB_FRAMES)
        cache = LatentCache(Path(cache_dir) if cache_dir else user_cache() / "latents")
        kfs = load_keyframes(keyframes, codec, size, cache, skip_bad=skip_bad, warn=warn)
        return LatentEngine(codec, kfs, sub_frames=sub_frames, **engine_kwargs), None
    except LivevisError as err:
        return None, f"latent image layer disabled: {err}"
    except ValueError as err:
        return None, f"latent image layer disabled: {err}"
