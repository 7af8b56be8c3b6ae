"""The audio-reactive shader background."""

from __future__ import annotations

import moderngl

from livevis.render.layers import ShaderLayer
from livevis.analysis.state import AnalysisState


class BackgroundLayer(ShaderLayer):
    """Flowing domain-warped noise driven by the music (``shaders/background.frag``).

    Hue follows valence (cold blue/purple at -1, warm orange/yellow at +1), flow speed and
    contrast follow arousal, brightness pulses on onsets and beats, and bass drives a radial
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

    def set_uniforms(self, state: AnalysisState, t: float, size) -> None:
        for name, value in self.params.items():
            self.uniform(f"u_{name}", tuple(map(float, value)) if isinstance(value, (list, tuple)) else float(value))
        for name in ("rms", "bass", "mid", "high", "onset", "beat_phase", "valence", "arousal", "energy"):
            self.uniform(f"u_{name}", float(getattr(state, name)))
