"""Layers: things that draw one full-size RGBA picture per frame.

A *direct* layer (:attr:`Layer.direct`) draws straight into the compositor's picture, with GL
blending set for its ``blend`` mode (:data:`BLEND_FUNCS`): it writes premultiplied colour
times its ``opacity``. Any other layer draws straight-alpha colour into a cleared (transparent)
scratch framebuffer, which the compositor then blends onto the picture in one pass.
"""

from __future__ import annotations

from typing import Sequence

import moderngl
import numpy as np

from livevis.render.shaders import OPACITY_UNIFORM, load_program, set_uniform
from livevis.analysis.state import AnalysisState

#: Blend modes a layer may use, in the order of the composite shader's ``u_mode``.
BLEND_MODES: tuple[str, ...] = ("normal", "add", "screen", "multiply")

#: ``ctx.blend_func`` (src RGB, dst RGB, src alpha, dst alpha) of each blend mode for a source
#: in premultiplied colour ``s = rgb * a`` (``a`` = alpha × opacity) onto an opaque picture ``d``:
#: normal ``s + d(1 - a)``, add ``s + d``, screen ``s(1 - d) + d = 1 - (1 - d)(1 - s)``, multiply
#: ``s·d + d(1 - a)``; the picture's alpha stays 1. Results clamp to [0, 1] in the RGBA8 target.
BLEND_FUNCS: dict[str, tuple[int, int, int, int]] = {
    "normal": (moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ZERO, moderngl.ONE),
    "add": (moderngl.ONE, moderngl.ONE, moderngl.ZERO, moderngl.ONE),
    "screen": (moderngl.ONE_MINUS_DST_COLOR, moderngl.ONE, moderngl.ZERO, moderngl.ONE),
    "multiply": (moderngl.DST_COLOR, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ZERO, moderngl.ONE),
}


class Layer:
    """Base class of compositor layers.

    Args:
        opacity: layer opacity in [0, 1] (values outside are clamped).
        blend: one of :data:`BLEND_MODES`. With ``a = src.alpha * opacity``:
            normal = mix(dst, src, a); add = dst + src*a; screen = 1-(1-dst)(1-src*a);
            multiply = mix(dst, dst*src, a).

    Raises:
        ValueError: ``blend`` is not one of :data:`BLEND_MODES`.
    """

    def __init__(self, opacity: float = 1.0, blend: str = "normal") -> None:
        self.opacity = opacity
        self.blend = blend

    @property
    def opacity(self) -> float:
        """Opacity in [0, 1]."""
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        self._opacity = float(min(max(float(value), 0.0), 1.0))

    @property
    def blend(self) -> str:
        """Blend mode, one of :data:`BLEND_MODES`."""
        return self._blend

    @blend.setter
    def blend(self, value: str) -> None:
        if value not in BLEND_MODES:
            raise ValueError(f"unknown blend mode {value!r}; choose one of {', '.join(BLEND_MODES)}")
        self._blend = value

    @property
    def direct(self) -> bool:
        """True if :meth:`draw` may be called with the picture itself bound: GL blending
        enabled with ``BLEND_FUNCS[self.blend]``, viewport set, a depth attachment cleared to 1
        at the start of the frame. Such a draw writes premultiplied colour × :attr:`opacity`
        and leaves blending enabled with that function. False (the default): :meth:`draw`
        gets a transparent scratch framebuffer and writes straight alpha."""
        return False

    @property
    def visible(self) -> bool:
        """False if the layer would draw nothing this frame (opacity 0, nothing to show): the
        compositor then skips it."""
        return self._opacity > 0.0

    @property
    def uses_depth(self) -> bool:
        """True if :meth:`draw` changes the depth test or the depth buffer (3D layers)."""
        return False

    @property
    def occludes(self) -> bool:
        """True if this frame's direct :meth:`draw` writes opaque colour, in normal blend at
        opacity 1, and a depth below 1 exactly where it draws, and touches no other pixel. The
        compositor may then draw it before the layers under it and draw those only where the
        depth is still 1: a software rasteriser skips shading the pixels it hides (early depth
        test). The picture is the same."""
        return False

    def draw(self, state: AnalysisState, t: float, size: tuple[int, int]) -> None:
        """Draw into the currently bound framebuffer (see :attr:`direct`; viewport set).

        Args:
            state: the newest analysis state.
            t: clock time in seconds, for animation.
            size: (width, height) of the target in pixels.
        """
        raise NotImplementedError

    def release(self) -> None:
        """Free GL objects. The layer must not be drawn afterwards."""


class ShaderLayer(Layer):
    """A layer drawn by one fullscreen fragment shader file from ``shaders/``.

    The shader writes straight alpha; it is wrapped to premultiply by alpha × opacity
    (:func:`~livevis.render.shaders.premultiplied_source`), which makes the layer
    :attr:`~Layer.direct`. Subclasses override :meth:`set_uniforms`. Raises
    :class:`ShaderError` if the shader file is missing or does not compile.
    """

    fragment: str = ""

    def __init__(self, ctx: moderngl.Context, opacity: float = 1.0, blend: str = "normal",
                 fragment: str | None = None) -> None:
        super().__init__(opacity, blend)
        self.ctx = ctx
        self.program = load_program(ctx, "fullscreen.vert", fragment or self.fragment, premultiply=True)
        self.vao = ctx.vertex_array(self.program, [])
        self._direct = OPACITY_UNIFORM in self.program

    @property
    def direct(self) -> bool:
        return self._direct

    def set_uniforms(self, state: AnalysisState, t: float, size: tuple[int, int]) -> None:
        """Set this layer's uniforms before drawing (override)."""

    def uniform(self, name: str, value) -> None:
        """Set uniform ``name`` if the shader uses it."""
        set_uniform(self.program, name, value)

    def draw(self, state: AnalysisState, t: float, size: tuple[int, int]) -> None:
        self.shade(state, t, size, self.opacity)

    def shade(self, state: AnalysisState, t: float, size: tuple[int, int], opacity: float) -> None:
        """Set the uniforms (``u_resolution`` = ``size``, the opacity ``opacity``) and run the
        shader over the viewport of the bound framebuffer."""
        self.uniform("u_time", float(t))
        self.uniform("u_resolution", (float(size[0]), float(size[1])))
        self.uniform(OPACITY_UNIFORM, opacity)
        self.set_uniforms(state, t, size)
        self.vao.render(moderngl.TRIANGLES, vertices=3)

    def release(self) -> None:
        self.vao.release()
        self.program.release()


class SolidLayer(ShaderLayer):
    """A flat colour over the whole frame (fades, blackout, tints).

    Args:
        color: RGB or RGBA floats in [0, 1] (alpha defaults to 1).

    Raises:
        ValueError: ``color`` has not 3 or 4 components.
    """

    fragment = "solid.frag"

    def __init__(self, ctx: moderngl.Context, color: Sequence[float] = (0.0, 0.0, 0.0),
                 opacity: float = 1.0, blend: str = "normal") -> None:
        super().__init__(ctx, opacity, blend)
        self.color = color

    @property
    def color(self) -> tuple[float, float, float, float]:
        """RGBA in [0, 1]."""
        return self._color

    @color.setter
    def color(self, value: Sequence[float]) -> None:
        c = [float(v) for v in value]
        if len(c) == 3:
            c.append(1.0)
        if len(c) != 4:
            raise ValueError(f"color needs 3 or 4 components, got {len(c)}")
        self._color = tuple(c)

    @property
    def visible(self) -> bool:
        return self.opacity > 0.0 and self._color[3] > 0.0

    def set_uniforms(self, state, t, size) -> None:
        self.uniform("u_color", self._color)


class ImageLayer(ShaderLayer):
    """Shows the latest image given to :meth:`set_image`, cover-fit (cropped, centred).

    Cross-fades run on the GPU: :meth:`glide_to` uploads the next picture once and :meth:`set_mix`
    moves the fade, blending the picture shown when it began with the new one into the shown
    texture (a pass at the picture's own size, e.g. 512², not the screen's), so no picture is
    blended or uploaded by the CPU between decodes.

    Fully transparent until an image is set.
    """

    fragment = "image.frag"

    def __init__(self, ctx: moderngl.Context, opacity: float = 1.0, blend: str = "normal") -> None:
        super().__init__(ctx, opacity, blend)
        self._texture: moderngl.Texture | None = None  # the picture shown
        self._fbo: moderngl.Framebuffer | None = None  # renders into _texture
        self._fade: list[moderngl.Texture] = []  # [from, to] of the cross-fade, same size as _texture
        self._mix = 1.0
        self._fade_program = None
        self._fade_vao = None

    @staticmethod
    def _rgba(image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
            raise ValueError(f"image must be uint8 HxWx3 or HxWx4, got {image.dtype} {image.shape}")
        if image.shape[2] == 3:
            image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
        return np.ascontiguousarray(image)

    def _texture_of(self, size: tuple[int, int]) -> moderngl.Texture:
        texture = self.ctx.texture(size, 4, dtype="f1")
        texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        texture.repeat_x = texture.repeat_y = False
        return texture

    def set_image(self, image: np.ndarray) -> None:
        """Show ``image`` at once (ends a cross-fade): uint8 array of shape (H, W, 3) or (H, W, 4),
        row 0 = top.

        Raises:
            ValueError: wrong shape or dtype.
        """
        image = self._rgba(image)
        h, w = image.shape[:2]
        if self._texture is None or self._texture.size != (w, h):
            self._release_textures()
            self._texture = self._texture_of((w, h))
            self._fbo = self.ctx.framebuffer([self._texture])
        self._texture.write(image.tobytes())
        self._mix = 1.0

    def glide_to(self, image: np.ndarray) -> None:
        """Begin a cross-fade from the picture shown now (a fade's current blend included) to
        ``image`` (as :meth:`set_image`), at mix 0; the first picture, or one of another size, is
        shown at once.

        Raises:
            ValueError: wrong shape or dtype.
        """
        image = self._rgba(image)
        h, w = image.shape[:2]
        if self._texture is None or self._texture.size != (w, h):
            self.set_image(image)
            return
        if not self._fade:
            self._fade = [self._texture_of((w, h)) for _ in range(2)]
        self.ctx.copy_framebuffer(self._fade[0], self._fbo)  # the fade starts from what is shown
        self._fade[1].write(image.tobytes())
        self._mix = 0.0

    def set_mix(self, mix: float) -> None:
        """Move the cross-fade begun by :meth:`glide_to` to ``mix`` ∈ [0, 1] (1: the new picture)."""
        mix = min(max(float(mix), 0.0), 1.0)
        if not self._fade or self._texture is None or mix == self._mix:
            return
        if self._fade_program is None:
            self._fade_program = load_program(self.ctx, "fullscreen.vert", "mix.frag")
            self._fade_program["u_a"].value = 0
            self._fade_program["u_b"].value = 1
            self._fade_program["u_gain"].value = 1.0
            self._fade_vao = self.ctx.vertex_array(self._fade_program, [])
        self._mix = mix
        self.ctx.disable(moderngl.BLEND)
        self._fbo.use()
        self._fade[0].use(0)
        self._fade[1].use(1)
        self._fade_program["u_t"].value = mix
        self._fade_vao.render(moderngl.TRIANGLES, vertices=3)

    @property
    def mix(self) -> float:
        """Where the cross-fade is, [0, 1] (1: none running)."""
        return self._mix

    def picture(self) -> np.ndarray | None:
        """The picture shown, uint8 (H, W, 3), row 0 = top; None before the first."""
        if self._texture is None:
            return None
        w, h = self._texture.size
        return np.frombuffer(self._texture.read(), np.uint8).reshape(h, w, 4)[..., :3].copy()

    def _release_textures(self) -> None:
        for gl_object in [self._fbo, self._texture, *self._fade]:
            if gl_object is not None:
                gl_object.release()
        self._fbo = self._texture = None
        self._fade = []
        self._mix = 1.0

    def clear_image(self) -> None:
        """Hide the layer again (alpha 0) until the next :meth:`set_image`."""
        self._release_textures()

    @property
    def visible(self) -> bool:
        return self.opacity > 0.0 and self._texture is not None

    def set_uniforms(self, state, t, size) -> None:
        has = self._texture is not None
        self.uniform("u_has_image", 1.0 if has else 0.0)
        if has:
            self._texture.use(0)
            self.uniform("u_image", 0)
            self.uniform("u_image_size", tuple(float(v) for v in self._texture.size))

    def release(self) -> None:
        self.clear_image()
        if self._fade_program is not None:
            self._fade_vao.release()
            self._fade_program.release()
        super().release()
