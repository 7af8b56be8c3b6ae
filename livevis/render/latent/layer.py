"""Glue between a preset's ``latent`` section, the latent engine and an :class:`ImageLayer`.

The engine is built on a background thread (keyframes are encoded once, which takes a
moment), so loading a preset never stalls the render loop; until it is ready, or if it cannot
be built (the message names the file), the layer stays transparent and the show goes on.
Each new analysis hop advances the slerp (paced by the energy, issue 14) and its picture is
decoded: at once offline (synchronous), on the decode thread live (on a GPU with each hop's
in-between latents, which the glide then passes through). The picture on screen moves on the
music's hits (:mod:`livevis.render.hits`, issue 14, motion on the beat): a hit glides it to the
newest decoded picture, half-way on the frame where the hit shows and all the way
:data:`ARRIVE_S` / 2 later, and it is held between hits, so it moves right after the onsets
(the hop's state arrives 0–100 ms after them). Without a hit for :data:`QUIET_S` seconds it
glides on slowly (:data:`QUIET_GLIDE_S`), so music without accents still moves it. Live and
offline run the same policy, on the host clock and on the video's.

The glide is a cross-fade on the GPU (:meth:`~livevis.render.ImageLayer.glide_to`,
:meth:`~livevis.render.ImageLayer.set_mix`): each decoded picture is uploaded once, and nothing
is blended by the CPU between decodes.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from livevis.logs import FILE_ONLY
from livevis.render.hits import HitDetector
from livevis.analysis.state import AnalysisState

log = logging.getLogger("livevis.latent")

#: onnxruntime intra-op threads of the live decoder on CPU. One leaves the other core(s) to the
#: audio callback, analysis and GL: on this 2-core machine, playing the demo with the keyframes
#: preset, the default (all cores) gave 6–7 output underruns in 25 s, one thread 0–1. Offline
#: rendering has no audio deadline and uses onnxruntime's default.
LIVE_CPU_THREADS = 1
#: Pacing exponent of the latent walk (``LatentEngine(energy_exponent=...)``): 2 puts the motion
#: on the loud hops and their hits and lets quieter ones rest (issue 14, motion on the beat).
ENERGY_EXPONENT = 2.0
#: A hit's glide reaches the newest picture this many seconds after the hit is first shown
#: (half-way on that frame). A glide over the whole following hop, paced by its 10 ms envelope,
#: replayed each hit exactly one hop (0.1 s) late, outside the 0.1 s after the onset
#: (tools/synchrony.py).
ARRIVE_S = 0.06
#: Without a hit for ``QUIET_S`` seconds the picture glides on to the newest one over
#: ``QUIET_GLIDE_S`` seconds (music without accents, a quiet passage).
QUIET_S, QUIET_GLIDE_S = 2.0, 1.0


def glide_step(stops: int, a: float) -> tuple[int, float]:
    """Where fraction ``a`` ∈ [0, 1] of a glide from the picture on screen through ``stops``
    (≥ 1) evenly spaced pictures is: the stop being faded to (0-based) and the fade's mix
    towards it in [0, 1]; ``a = 1`` is the last stop, fully."""
    x = min(max(a, 0.0), 1.0) * stops
    k = min(int(x), stops - 1)
    return k, x - k


def preset_keyframes(preset) -> tuple[list[dict], str | None]:
    """The preset's keyframes as ``{"path", "valence", "arousal"}`` and a note, or None.

    Its ``keyframes`` first (seeds become generated images), then the installed pictures of its
    library ``themes`` (attributes estimated from their colours). The note is
    :func:`~livevis.render.latent.library.missing_note` when themes are named but none of their
    pictures is installed.
    """
    from livevis.render.latent.library import missing_note, theme_paths
    from livevis.render.latent.seeds import seed_keyframe_path

    out = []
    for source, valence, arousal in preset.keyframe_list():
        path = seed_keyframe_path(source, valence, arousal) if isinstance(source, int) else source
        out.append({"path": path, "valence": valence, "arousal": arousal})
    note = None
    names = list(getattr(preset.latent, "themes", []) or [])
    if names:
        paths = theme_paths(names)
        if not paths:
            note = missing_note(names)
        out.extend({"path": p, "valence": None, "arousal": None} for p in paths)
    return out, note


def _uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else np.clip(np.rint(image), 0, 255).astype(np.uint8)


class LatentLayerDriver:
    """Feeds one :class:`~livevis.render.ImageLayer` from a latent engine built for ``preset``.

    Args:
        preset: the preset (its ``latent`` section).
        layer: the image layer to feed.
        say: callable for one-line operator messages.
        synchronous: offline rendering: build now and decode each hop in the calling thread,
            so the video is deterministic (no decode thread, no dropped frames).
    """

    def __init__(self, preset, layer, say=print, synchronous: bool = False) -> None:
        self.layer, self.say = layer, say
        self.engine = None
        self.message: str | None = None
        self._last_time = None
        self._shown_hop = -1
        self._closed = False
        self._latest: np.ndarray | None = None  # the newest picture glided to, uint8
        self._pending: list[np.ndarray] = []  # decoded, waiting for a hit: the path to glide through
        self._pending_latent: np.ndarray | None = None  # offline: the newest hop's latent, decoded when shown
        self._path: list[np.ndarray] = []  # the pictures the glide passes through, uint8
        self._stop = 0  # the stop of the path being faded to
        self._gliding = False
        self._glide_at, self._glide_s = 0.0, ARRIVE_S  # when the glide started (clock s), its length
        self._half = True  # the glide starts half-way (a hit) or at 0 (a quiet glide)
        self.hits = HitDetector()
        spec = preset.latent
        self._kwargs = dict(
            segment=spec.segment_beats or spec.segment_s,
            segment_unit="beats" if spec.segment_beats else "seconds",
            policy="causal", noise_sigma=spec.noise_sigma, energy_exponent=ENERGY_EXPONENT,
        )
        self._preset, self.synchronous = preset, synchronous
        if synchronous:
            self._build()
        else:
            threading.Thread(target=self._build, name="livevis-latent-build", daemon=True).start()

    def _build(self) -> None:
        from livevis.render.latent import build_engine

        try:
            keyframes, note = preset_keyframes(self._preset)
            if note and keyframes:
                self.say(note)
            if not keyframes:
                self.message = note or "latent image layer disabled: the preset lists no keyframes"
            else:
                engine, self.message = build_engine(keyframes,
                                                    threads=None if self.synchronous else LIVE_CPU_THREADS,
                                                    warn=self.say, **self._kwargs)
                if engine is not None and not self._closed:
                    if not self.synchronous:
                        engine.start()
                    self.engine = engine
        except Exception as err:  # never take the show down for the image stream
            self.message = f"latent image layer disabled: {err}"
        if self.message:
            log.warning("%s", self.message, extra=FILE_ONLY)  # say() shows it to the operator, once
            self.say(self.message)

    def update(self, state: AnalysisState, t: float | None = None) -> None:
        """Call every frame with the newest state: decodes each new hop, glides on hits.

        Args:
            state: the newest analysis state.
            t: offline (``synchronous``) only: the video frame's time in seconds (live: the
                host's monotonic clock). Without ``t`` offline the picture steps to each hop's.
        """
        engine = self.engine
        if engine is None:
            return
        now = time.monotonic() if not self.synchronous else t
        new_hop = state.time != self._last_time
        if new_hop:
            self._last_time = state.time
        if self.synchronous and new_hop:
            # the walk advances every hop; only a picture a glide starts toward is decoded (the decode
            # is most of an offline frame's cost, and the hops between hits are never shown)
            self._pending_latent = engine.update(state).copy()
        elif not self.synchronous:
            if new_hop:
                engine.update(state)
            frame = engine.latest_frame()
            if frame is not None and frame.hop != self._shown_hop:
                self._shown_hop = frame.hop
                subs = [] if frame.sub_images is None else list(frame.sub_images[:-1])
                self._pending = [_uint8(im) for im in (*subs, frame.image)]
        hit = self.hits.update(state, now if now is not None else state.time)
        if self._pending or self._pending_latent is not None:
            if self._latest is None:  # the first picture: shown at once
                self._decode_pending()
                self._latest = self._pending[-1]
                self._pending, self._glide_at = [], (now if now is not None else 0.0)
                self.layer.set_image(self._latest)
            elif now is None or (hit > 0.0 and self.hits.since(now) < ARRIVE_S):
                self._start_glide(now, ARRIVE_S, half=True)
            elif now - self._glide_at >= QUIET_S + self._glide_s:
                self._start_glide(now, QUIET_GLIDE_S, half=False)
        if self._gliding:
            self._advance(now)

    def _start_glide(self, now: float | None, seconds: float, half: bool) -> None:
        """Glide from the picture on screen through the pending pictures, starting at ``now``."""
        self._decode_pending()
        self._path, self._pending = self._pending, []
        self._latest = self._path[-1]
        self._stop, self._gliding, self._half = 0, True, half
        self._glide_at, self._glide_s = (now if now is not None else 0.0), seconds
        self.layer.glide_to(self._path[0])

    def _decode_pending(self) -> None:
        """Offline: decode the newest hop's latent into the pending picture (once)."""
        if self._pending_latent is not None:
            self._pending = [_uint8(self.engine.decode(self._pending_latent))]
            self._pending_latent = None

    def _advance(self, now: float | None) -> None:
        """Set the glide's mix for clock time ``now`` (None: all the way)."""
        a = 1.0 if now is None else (now - self._glide_at) / self._glide_s + (0.5 if self._half else 0.0)
        a = min(max(a, 0.0), 1.0)
        stop, mix = glide_step(len(self._path), a)
        while self._stop < stop:  # on to the next in-between picture, from the one just reached
            self.layer.set_mix(1.0)
            self._stop += 1
            self.layer.glide_to(self._path[self._stop])
        self.layer.set_mix(mix)
        self._gliding = a < 1.0

    def attach(self, layer) -> None:
        """Feed a new layer (the compositor was rebuilt, e.g. on a window resize)."""
        self.layer = layer
        self._gliding = False
        if self._latest is not None:
            layer.set_image(self._latest)

    def close(self) -> None:
        self._closed = True
        if self.engine is not None and not self.synchronous:
            self.engine.stop()
