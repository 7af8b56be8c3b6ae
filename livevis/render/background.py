"""The audio-reactive shader background."""

from __future__ import annotations

import moderngl
import numpy as np

from livevis.render.layers import ShaderLayer
from livevis.state import AnalysisState


#: Palette colours a background shader receives (``u_palette[MAX_PALETTE]`` in background.frag).
MAX_PALETTE = 8


class BackgroundLayer(ShaderLayer):
    """Flowing domain-warped noise driven by the music (``shaders/background.frag``).

    Hue follows valence (cold blue/purple at -1, warm orange/yellow at +1), flow speed and
    contrast follow arousal, brightness pulses on onsets and beats, and bass drives a radial
    glow. Opaque (alpha 1) everywhere.

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
    (``background.frag`` walks them as a gradient; empty: its own valence palette).

    Raises:
        ShaderError: the shader file is missing or does not compile.
    """

    fragment = "background.frag"

    def __init__(self, ctx: moderngl.Context, opacity: float = 1.0, blend: str = "normal",
                 fragment: str | None = None, params: dict | None = None, palette=()) -> None:
        super().__init__(ctx, opacity, blend, fragment)
        #: extra uniforms by name (``{"contrast": 1.4}`` sets ``u_contrast``), numbers or 2–4 numbers
        self.params: dict = dict(params or {})
        #: the palette uploaded, float32 (n, 3), n <= MAX_PALETTE
        self.palette = np.asarray(list(palette)[:MAX_PALETTE], dtype=np.float32).reshape(-1, 3)
        if "u_palette" in self.program:
            padded = np.zeros((MAX_PALETTE, 3), np.float32)
            padded[: len(self.palette)] = self.palette
            self.program["u_palette"].write(padded.tobytes())
        self.uniform("u_palette_n", len(self.palette))

    def set_uniforms(self, state: AnalysisState, t: float, size) -> None:
        for name, value in self.params.items():
            self.uniform(f"u_{name}", tuple(map(float, value)) if isinstance(value, (list, tuple)) else float(value))
        for name in ("rms", "bass", "mid", "high", "onset", "beat_phase", "valence", "arousal", "energy"):
            self.uniform(f"u_{name}", float(getattr(state, name)))
