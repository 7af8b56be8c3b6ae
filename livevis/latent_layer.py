"""Glue between a preset's ``latent`` section, the latent engine and an :class:`ImageLayer`.

The engine is built on a background thread (keyframes are encoded once, which takes a
moment), so loading a preset never stalls the render loop; until it is ready, or if it cannot
be built (the message names the file), the layer stays transparent and the show goes on.
Each new analysis hop advances the slerp; each frame uploads the newest decoded picture.
"""

from __future__ import annotations

import logging
import threading

from livevis.state import AnalysisState

log = logging.getLogger("livevis.latent")

#: Decoded frame size: 256² keeps CPU decoding near 5 fps here; the shader upscales it.
CPU_SIZE = (256, 256)
GPU_SIZE = (512, 512)


def preset_keyframes(preset) -> list[dict]:
    """The preset's keyframes as ``{"path", "valence", "arousal"}``; seeds become generated images."""
    from livevis.latent.seeds import seed_keyframe_path

    out = []
    for source, valence, arousal in preset.keyframe_list():
        path = seed_keyframe_path(source, valence, arousal) if isinstance(source, int) else source
        out.append({"path": path, "valence": valence, "arousal": arousal})
    return out


class LatentLayerDriver:
    """Feeds one :class:`~livevis.render.ImageLayer` from a latent engine built for ``preset``.

    Args:
        preset: the preset (its ``latent`` section).
        layer: the image layer to feed.
        say: callable for one-line operator messages.
        weights: TAEF2 weight source if the ONNX graphs are not exported yet (see
            :func:`livevis.latent.build_engine`).
        synchronous: offline rendering: build now and decode each hop in the calling thread,
            so the video is deterministic (no decode thread, no dropped frames).
    """

    def __init__(self, preset, layer, say=print, weights=None, synchronous: bool = False) -> None:
        self.layer, self.say = layer, say
        self.engine = None
        self.message: str | None = None
        self._last_time = None
        self._shown_hop = -1
        self._closed = False
        spec = preset.latent
        self._kwargs = dict(
            segment=spec.segment_beats or spec.segment_s,
            segment_unit="beats" if spec.segment_beats else "seconds",
            policy="causal", noise_sigma=spec.noise_sigma,
        )
        self._preset, self._weights, self.synchronous = preset, weights, synchronous
        if synchronous:
            self._build()
        else:
            threading.Thread(target=self._build, name="livevis-latent-build", daemon=True).start()

    def _build(self) -> None:
        from livevis.latent import build_engine

        try:
            keyframes = preset_keyframes(self._preset)
            if not keyframes:
                self.message = "latent image layer disabled: the preset lists no keyframes"
            else:
                engine, self.message = build_engine(keyframes, weights=self._weights, size=CPU_SIZE,
                                                    warn=self.say, **self._kwargs)
                if engine is not None and not self._closed:
                    if not self.synchronous:
                        engine.start()
                    self.engine = engine
        except Exception as err:  # never take the show down for the image stream
            self.message = f"latent image layer disabled: {err}"
        if self.message:
            log.warning("%s", self.message)
            self.say(self.message)

    def update(self, state: AnalysisState) -> None:
        """Call every frame with the newest state: advances once per new hop, uploads new frames."""
        engine = self.engine
        if engine is None:
            return
        if state.time != self._last_time:
            self._last_time = state.time
            if self.synchronous:
                self.layer.set_image(engine.frame_sync(state))
                return
            engine.update(state)
        frame = engine.latest_frame()
        if frame is not None and frame.hop != self._shown_hop:
            self._shown_hop = frame.hop
            self.layer.set_image(frame.image)

    def attach(self, layer) -> None:
        """Feed a new layer (the compositor was rebuilt, e.g. on a window resize)."""
        self.layer = layer
        self._shown_hop = -1

    def close(self) -> None:
        self._closed = True
        if self.engine is not None and not self.synchronous:
            self.engine.stop()
