"""The audio-reactive shader background."""

from __future__ import annotations

import moderngl
import numpy as np

from livevis.render.hits import HeldLevels, HitDetector
from livevis.render.layers import ShaderLayer
from livevis.render.lowres import ReducedResolution, default_scale
from livevis.analysis.state import AnalysisState

#: The background's flow clock ``u_flow`` (issue 14, motion on the beat): it rests at
#: ``FLOW_REST`` clock seconds per second, and each new hop kicks it forward by ``FLOW_KICK · hit``
#: at once (:mod:`livevis.render.hits`: the hop's onset above its recent average), so the
#: picture jumps inside the 0.1 s after each onset and rests between them (a flow paced over the
#: whole hop, or by the raw onset, was measured at the video's average rate around onsets:
#: tools/synchrony.py ratio ≈ 1). Both are times :func:`flow_speed` of the arousal, summed here
#: (the shader multiplied the clock by the speed, so every change of arousal, on every hop,
#: jumped the whole picture, by more the longer the show had run).
FLOW_REST, FLOW_KICK = 0.05, 1.5
#: The onset pulse ``u_hit`` (the hop's hit, for custom shaders) fades with this time constant, seconds.
HIT_FADE_S = 0.06
#: The levels the shader sees (:data:`HELD`) are held between hits: each hop moves them
#: ``HOLD_DRIFT`` of the way to the hop's values, and a hit ``HOLD_HIT · hit`` more, so the
#: colours, contrast and glow change on the onsets (they stepped on every hop: 10 changes a
#: second, on and off the beat).
HOLD_DRIFT, HOLD_HIT = 0.03, 2.0
HELD = ("rms", "bass", "mid", "high", "onset", "energy", "valence", "arousal")
#: A step of ``t`` beyond this (a seek, a restart, a paused show) does not advance the flow.
FLOW_MAX_STEP_S = 0.5


def flow_speed(arousal: float) -> float:
    """The flow's speed at ``arousal`` ∈ [−1, 1]: 0.05 (calm) … 0.45 (excited), linear."""
    return 0.05 + 0.4 * min(max(float(arousal) * 0.5 + 0.5, 0.0), 1.0)


#: Palette colours a background shader receives (``u_palette[MAX_PALETTE]`` in background.frag).
MAX_PALETTE = 8


class BackgroundLayer(ShaderLayer):
    """Flowing domain-warped noise driven by the music (``shaders/background.frag``).

    Hue follows valence (cold blue/purple at -1, warm orange/yellow at +1), flow speed and
    contrast follow arousal, the flow jumps on each hop's hit and rests between (``u_flow``,
    :data:`FLOW_KICK`), colours, contrast and glow step on hits (:data:`HELD`), brightness pulses a
    touch on the tempo's beats, and bass drives a radial glow. Opaque (alpha 1) everywhere. The
    fading hit pulse ``u_hit`` is passed for custom shaders; ``background.frag`` does not flash.

    Args:
        ctx: the GL context. opacity, blend: see :class:`Layer`.

    Args (beyond :class:`ShaderLayer`'s): fragment: another fragment shader (a file name in
    ``shaders/`` or an absolute path) fed the same uniforms; params: extra uniforms
    (``background.frag`` reads ``contrast`` and ``glow``, multipliers, 1 = as designed; ``halo``
    in [-1, 1], a soft ellipse behind the face lightened towards the palette's brightest colour
    or darkened, so the face's silhouette reads; ``frame`` in [0, 1], transparent in a centre
    ellipse of that size, a frame around the layers below);
    palette: the preset's colours, up to :data:`MAX_PALETTE` (r, g, b) in [0, 1], uploaded as
    ``u_palette`` (vec3 array) and ``u_palette_n`` (int) for shaders that declare them
    (``background.frag`` walks them as a gradient; empty: its own valence palette);
    scale: the render scale in (0, 1], the fraction of the picture's width and height the
    shader runs at, drawn bilinearly upscaled (:class:`~livevis.render.lowres.ReducedResolution`;
    the shader sees ``u_resolution`` and ``gl_FragCoord`` of the small target). None: half on a
    software rasteriser, where shading is the frame's largest cost, and 1 on a GPU.

    Raises:
        ShaderError: the shader file is missing or does not compile.
        ValueError: scale outside (0, 1].
    """

    fragment = "background.frag"

    def __init__(self, ctx: moderngl.Context, opacity: float = 1.0, blend: str = "normal",
                 fragment: str | None = None, params: dict | None = None, palette=(),
                 scale: float | None = None) -> None:
        super().__init__(ctx, opacity, blend, fragment)
        scale = default_scale(ctx) if scale is None else float(scale)
        #: None when the shader runs at the picture's full size (scale 1, or a shader that
        #: cannot be premultiplied, drawn through the compositor's scratch target)
        self.reduced = ReducedResolution(ctx, scale) if scale != 1.0 and self.direct else None
        #: extra uniforms by name (``{"contrast": 1.4}`` sets ``u_contrast``), numbers or 2–4 numbers
        self.params: dict = dict(params or {})
        #: the palette uploaded, float32 (n, 3), n <= MAX_PALETTE
        self.palette = np.asarray(list(palette)[:MAX_PALETTE], dtype=np.float32).reshape(-1, 3)
        if "u_palette" in self.program:
            padded = np.zeros((MAX_PALETTE, 3), np.float32)
            padded[: len(self.palette)] = self.palette
            self.program["u_palette"].write(padded.tobytes())
        self.uniform("u_palette_n", len(self.palette))
        self.flow = 0.0  #: the onset- and arousal-paced flow clock (seconds × flow_speed)
        self._last_t: float | None = None
        self.hits = HitDetector()
        self.held = HeldLevels(self.hits, HOLD_DRIFT, HOLD_HIT)  # the HELD levels shown

    @property
    def kick(self) -> float:
        """Strength of the hits (flow jump and pulse), the preset's ``background.params.kick``
        (default 1; the accessibility preset keeps it low: no strobing)."""
        value = self.params.get("kick", 1.0)
        return float(value) if isinstance(value, (int, float)) else 1.0

    def advance_flow(self, state: AnalysisState, t: float) -> tuple[float, float]:
        """Advance the flow clock to time ``t`` (s, the host's clock) with the newest ``state``.

        Returns:
            (flow clock, the hit pulse in [0, 1]). The first call starts the clock at
            ``FLOW_REST · flow_speed(arousal) · t`` (as if at rest since 0).
        """
        speed = flow_speed(self.held.get("arousal", state.arousal))
        if self._last_t is None:
            self.flow = FLOW_REST * speed * max(float(t), 0.0)
        dt = 0.0 if self._last_t is None else t - self._last_t
        self._last_t = t
        if 0.0 < dt <= FLOW_MAX_STEP_S:
            self.flow += dt * FLOW_REST * speed
        hit = self.hits.update(state, t)
        if self.hits.new_hop:  # a new hop: its hit kicks the flow now
            self.flow += FLOW_KICK * self.kick * hit * speed
        pulse = self.kick * self.hits.pulse(t, HIT_FADE_S)
        return self.flow, pulse

    def set_uniforms(self, state: AnalysisState, t: float, size) -> None:
        for name, value in self.params.items():
            self.uniform(f"u_{name}", tuple(map(float, value)) if isinstance(value, (list, tuple)) else float(value))
        flow, hit = self.advance_flow(state, t)
        self.uniform("u_flow", flow)
        self.uniform("u_hit", hit)
        for name in HELD:
            self.uniform(f"u_{name}", self.held.hold(name, float(getattr(state, name))))
        self.uniform("u_beat_phase", float(state.beat_phase))

    def draw(self, state: AnalysisState, t: float, size: tuple[int, int]) -> None:
        if self.reduced is None:
            super().draw(state, t, size)
            return
        small = self.reduced.begin(size)
        self.shade(state, t, small, 1.0)
        self.reduced.end(self.opacity)

    def release(self) -> None:
        if self.reduced is not None:
            self.reduced.release()
            self.reduced = None
        super().release()
