"""The audio-reactive shader background."""

from __future__ import annotations

import moderngl

from livevis.render.layers import ShaderLayer
from livevis.state import AnalysisState

#: Rate of the background's flow clock ``u_flow`` (clock seconds per second of ``t``):
#: ``FLOW_REST + FLOW_PUNCH · onset³``. The flow surges right after a hit (onset near 1) and nearly
#: rests in quiet passages, so the picture changes on the beat (issue 14: change in the 0.1 s
#: after an onset ≥ 2× its average rate), instead of flowing at a constant speed.
FLOW_REST, FLOW_PUNCH = 0.15, 6.0
#: A step of ``t`` beyond this (a seek, a restart, a paused show) does not advance the flow.
FLOW_MAX_STEP_S = 0.5


class BackgroundLayer(ShaderLayer):
    """Flowing domain-warped noise driven by the music (``shaders/background.frag``).

    Hue follows valence (cold blue/purple at -1, warm orange/yellow at +1), flow speed and
    contrast follow arousal, the flow advances on onsets (``u_flow``, :data:`FLOW_REST`,
    :data:`FLOW_PUNCH`), brightness pulses on onsets and beats, and bass drives a radial
    glow. Opaque (alpha 1) everywhere.

    Args:
        ctx: the GL context. opacity, blend: see :class:`Layer`.

    Args (beyond :class:`ShaderLayer`'s): fragment: another fragment shader (a file name in
    ``shaders/`` or an absolute path) fed the same uniforms; params: extra uniforms.

    Raises:
        ShaderError: the shader file is missing or does not compile.
    """

    fragment = "background.frag"

    def __init__(self, ctx: moderngl.Context, opacity: float = 1.0, blend: str = "normal",
                 fragment: str | None = None, params: dict | None = None) -> None:
        super().__init__(ctx, opacity, blend, fragment)
        #: extra uniforms by name (``{"contrast": 1.4}`` sets ``u_contrast``), numbers or 2–4 numbers
        self.params: dict = dict(params or {})
        self.flow = 0.0  #: the onset-paced flow clock, seconds
        self._last_t: float | None = None

    def advance_flow(self, onset: float, t: float) -> float:
        """Advance the flow clock to time ``t`` (s, the host's clock) at the rate set by ``onset``
        ∈ [0, 1] (the newest hop's normalised onset strength); returns the clock. The first call
        starts it at ``FLOW_REST · t`` (as if at rest since 0)."""
        if self._last_t is None:
            self.flow = FLOW_REST * max(float(t), 0.0)
        dt = 0.0 if self._last_t is None else t - self._last_t
        self._last_t = t
        if 0.0 < dt <= FLOW_MAX_STEP_S:
            o = min(max(float(onset), 0.0), 1.0)
            self.flow += dt * (FLOW_REST + FLOW_PUNCH * o ** 3)
        return self.flow

    def set_uniforms(self, state: AnalysisState, t: float, size) -> None:
        for name, value in self.params.items():
            self.uniform(f"u_{name}", tuple(map(float, value)) if isinstance(value, (list, tuple)) else float(value))
        self.uniform("u_flow", self.advance_flow(state.onset, t))
        for name in ("rms", "bass", "mid", "high", "onset", "beat_phase", "valence", "arousal", "energy"):
            self.uniform(f"u_{name}", float(getattr(state, name)))
