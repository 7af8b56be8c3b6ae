"""Render a full-screen shader at a reduced resolution and draw it upscaled.

On a software rasteriser (Mesa's llvmpipe) a full-screen noise shader costs in proportion to its
pixels: at half the width and height it shades a quarter of them, and the bilinear upscale of a
smooth field costs less than the shading it saves (issue 15, goal 3). A GPU shades every pixel.
"""

from __future__ import annotations

import moderngl

from livevis.render.shaders import is_software_renderer, load_program

#: The render scale a layer gets by default on a software rasteriser (on a GPU: 1).
SOFTWARE_SCALE = 0.5


def default_scale(ctx: moderngl.Context) -> float:
    """:data:`SOFTWARE_SCALE` on a software rasteriser, else 1."""
    return SOFTWARE_SCALE if is_software_renderer(ctx.info["GL_RENDERER"]) else 1.0


def reduced_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """``size`` (w, h) pixels times ``scale``, rounded, at least 1×1."""
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


class ReducedResolution:
    """An offscreen RGBA8 target of a reduced size and the pass that draws it upscaled.

    Used inside a direct layer's draw (picture bound, GL blending set for the layer's mode, the
    compositor's depth mask possibly on)::

        small = reduced.begin(size)   # binds the small target, blending off
        ...                           # the shader, with u_resolution = small
        reduced.end(opacity)          # rebinds the picture, blending on, draws the upscale

    The small target has no depth buffer (its depth test always passes), so the compositor's
    depth mask applies to the upscale pass only, which lies on the far plane like any
    full-screen layer. The target holds premultiplied colour; the upscale writes it times
    ``opacity``, as a direct layer must.

    Args:
        ctx: the GL context. scale: (0, 1], the fraction of the picture's width and height.

    Raises:
        ValueError: scale outside (0, 1].
        ShaderError: the upscale shader is missing or does not compile.
    """

    def __init__(self, ctx: moderngl.Context, scale: float) -> None:
        if not 0.0 < float(scale) <= 1.0:
            raise ValueError(f"render scale must be in (0, 1], got {scale}")
        self.ctx = ctx
        self.scale = float(scale)
        self._program = load_program(ctx, "fullscreen.vert", "upscale.frag")
        self._program["u_src"].value = 0
        self._vao = ctx.vertex_array(self._program, [])
        self._texture: moderngl.Texture | None = None
        self._fbo: moderngl.Framebuffer | None = None
        self._picture: moderngl.Framebuffer | None = None
        self._viewport = (0, 0, 1, 1)

    def begin(self, size: tuple[int, int]) -> tuple[int, int]:
        """Bind a cleared small target for a picture of ``size`` (w, h) pixels, blending off;
        returns the target's (w, h)."""
        small = reduced_size(size, self.scale)
        if self._texture is None or self._texture.size != small:
            self._release_target()
            self._texture = self.ctx.texture(small, 4, dtype="f1")
            self._texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._texture.repeat_x = self._texture.repeat_y = False
            self._fbo = self.ctx.framebuffer(color_attachments=[self._texture])
        self._picture = self.ctx.fbo
        self._viewport = self._picture.viewport
        self.ctx.disable(moderngl.BLEND)
        self._fbo.use()
        self._fbo.viewport = (0, 0, *small)
        self._fbo.clear(0.0, 0.0, 0.0, 0.0)
        return small

    def end(self, opacity: float) -> None:
        """Rebind the picture (its viewport as it was), enable blending and draw the small
        target over the viewport, bilinearly upscaled, times ``opacity`` ∈ [0, 1]."""
        picture, self._picture = self._picture, None
        picture.use()
        picture.viewport = self._viewport
        self.ctx.enable(moderngl.BLEND)
        self._texture.use(0)
        self._program["u_opacity"].value = float(opacity)
        self._vao.render(moderngl.TRIANGLES, vertices=3)

    def _release_target(self) -> None:
        for gl_object in (self._fbo, self._texture):
            if gl_object is not None:
                gl_object.release()
        self._fbo = self._texture = None

    def release(self) -> None:
        self._release_target()
        self._vao.release()
        self._program.release()
