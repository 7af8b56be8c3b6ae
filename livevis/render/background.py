"""The audio-reactive shader background."""

from __future__ import annotations

import moderngl

from livevis.render.layers import ShaderLayer
from livevis.state import AnalysisState


class BackgroundLayer(ShaderLayer):
    """Flowing domain-warped noise driven by the music (``shaders/background.frag``).

    Hue follows valence (cold blue/purple at -1, warm orange/yellow at +1), flow speed and
    contrast follow arousal, brightness pulses on onsets and beats, and bass drives a radial
    glow. Opaque (alpha 1) everywhere.

    Args:
        ctx: the GL context. opacity, blend: see :class:`Layer`.

    Raises:
        ShaderError: the shader file is missing or does not compile.
    """

    fragment = "background.frag"

    def __init__(self, ctx: moderngl.Context, opacity: float = 1.0, blend: str = "normal") -> None:
        super().__init__(ctx, opacity, blend)

    def set_uniforms(self, state: AnalysisState, t: float, size) -> None:
        for name in ("rms", "bass", "mid", "high", "onset", "beat_phase", "valence", "arousal", "energy"):
            self.uniform(f"u_{name}", float(getattr(state, name)))
