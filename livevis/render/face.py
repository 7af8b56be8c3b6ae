"""The AU-driven cartoon face."""

from __future__ import annotations

import moderngl
import numpy as np

from livevis.render.layers import ShaderLayer
from livevis.analysis.state import AU_NAMES, AnalysisState


class FaceLayer(ShaderLayer):
    """A stylised 2D face drawn with signed distance fields (``shaders/face.frag``).

    The 17 action-unit intensities of ``state.aus`` (float32, [0, 1], :data:`AU_NAMES`
    order) move brows, lids, cheeks, nose and mouth; valence/arousal tint the skin and
    blush. The face is centred, about 60 % of the frame height, with a bold outline; alpha is
    0 outside it. A slow idle sway from the clock keeps it alive in silence (none at t=0).

    Args:
        ctx: the GL context. opacity, blend: see :class:`Layer`.
        scale: face size multiplier, [0.1, 3]. outline_scale: outline width multiplier.
        expressiveness: gain on the AUs before they are clipped to [0, 1] (>= 0; 1: as given).

    Raises:
        ShaderError: the shader file is missing or does not compile.
    """

    fragment = "face.frag"

    def __init__(self, ctx: moderngl.Context, opacity: float = 1.0, blend: str = "normal",
                 scale: float = 1.0, outline_scale: float = 1.0, expressiveness: float = 1.0) -> None:
        super().__init__(ctx, opacity, blend)
        #: gain on the AUs (the preset's ``face.expressiveness``)
        self.expressiveness = float(expressiveness)
        #: face size multiplier, [0.1, 3] (1: about 60 % of the frame height)
        self.scale = scale
        #: outline width multiplier, [0, 10] (0: no outline)
        self.outline_scale = outline_scale

    def set_uniforms(self, state: AnalysisState, t: float, size) -> None:
        aus = np.clip(np.asarray(state.aus, dtype=np.float32).reshape(-1) * self.expressiveness, 0.0, 1.0)
        if aus.shape != (len(AU_NAMES),):
            raise ValueError(f"state.aus must have {len(AU_NAMES)} values, got {aus.shape}")
        if "u_aus" in self.program:
            uni = self.program["u_aus"]
            uni.write(aus[: uni.array_length].tobytes())  # drivers may trim unused tail elements
        self.uniform("u_valence", float(state.valence))
        self.uniform("u_arousal", float(state.arousal))
        self.uniform("u_onset", float(state.onset))
        self.uniform("u_scale", float(self.scale))
        self.uniform("u_outline_scale", float(self.outline_scale))
