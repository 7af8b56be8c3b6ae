"""Blends layers into one offscreen picture with exact blend-mode formulas."""

from __future__ import annotations

import moderngl
import numpy as np

from livevis.render.layers import BLEND_MODES, Layer
from livevis.render.shaders import load_program
from livevis.analysis.state import AnalysisState


def _target(ctx: moderngl.Context, size: tuple[int, int]) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
    tex = ctx.texture(size, 4, dtype="f1")
    tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
    tex.repeat_x = tex.repeat_y = False
    return tex, ctx.framebuffer(color_attachments=[tex])


class Compositor:
    """Renders ``layers`` in order into an offscreen RGBA8 framebuffer of width × height.

    Each layer is drawn into a transparent scratch target, then blended onto the picture so
    far (which starts opaque black) by ``shaders/composite.frag``, ping-ponging between two
    accumulation targets; the last layer writes into :attr:`fbo`. See :class:`Layer` for the
    blend formulas.

    Args:
        ctx: an OpenGL 3.3+ moderngl context.
        width, height: picture size in pixels (>= 1).
        layers: layers drawn bottom first; the compositor owns them and releases them in
            :meth:`release`. The list :attr:`layers` may be changed between frames.

    Raises:
        ValueError: width or height < 1.
        ShaderError: a shader file is missing or does not compile.
    """

    def __init__(self, ctx: moderngl.Context, width: int, height: int,
                 layers: list[Layer] | None = None) -> None:
        if int(width) < 1 or int(height) < 1:
            raise ValueError(f"compositor size must be at least 1x1, got {width}x{height}")
        self.ctx = ctx
        self.width, self.height = int(width), int(height)
        self.layers: list[Layer] = list(layers) if layers else []
        size = (self.width, self.height)
        self._layer_tex, self._layer_fbo = _target(ctx, size)
        self._ping = [_target(ctx, size), _target(ctx, size)]
        self._tex, self.fbo = _target(ctx, size)
        self._program = load_program(ctx, "fullscreen.vert", "composite.frag")
        self._vao = ctx.vertex_array(self._program, [])
        self._program["u_src"].value = 0
        self._program["u_dst"].value = 1

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.width, self.height

    @property
    def texture(self) -> moderngl.Texture:
        """The final picture (RGBA8, width × height), e.g. for :class:`ScreenBlitter`."""
        return self._tex

    def render(self, state: AnalysisState, t: float) -> None:
        """Draw one frame of all layers into :attr:`fbo`.

        Args:
            state: the newest analysis state.
            t: clock time in seconds (drives animation).
        """
        ctx = self.ctx
        ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        size = self.size
        black = (0.0, 0.0, 0.0, 1.0)
        if not self.layers:
            self.fbo.use()
            self.fbo.clear(*black)
            return
        src_tex, src_fbo = self._ping[1]
        src_fbo.clear(*black)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            self._layer_fbo.use()
            self._layer_fbo.viewport = (0, 0, *size)
            self._layer_fbo.clear(0.0, 0.0, 0.0, 0.0)
            layer.draw(state, t, size)
            ctx.disable(moderngl.BLEND)
            out_tex, out_fbo = (self._tex, self.fbo) if i == last else self._ping[i % 2]
            out_fbo.use()
            out_fbo.viewport = (0, 0, *size)
            self._layer_tex.use(0)
            src_tex.use(1)
            self._program["u_opacity"].value = layer.opacity
            self._program["u_mode"].value = BLEND_MODES.index(layer.blend)
            self._vao.render(moderngl.TRIANGLES, vertices=3)
            src_tex = out_tex

    def read_rgb(self) -> np.ndarray:
        """The last rendered frame as a uint8 array of shape (height, width, 3), row 0 = top."""
        data = self.fbo.read(components=3, alignment=1)
        return np.frombuffer(data, dtype=np.uint8).reshape(self.height, self.width, 3)[::-1].copy()

    def blit_to(self, fbo: moderngl.Framebuffer) -> None:
        """Copy the picture into ``fbo`` (same size), e.g. ``ctx.screen`` for a same-size window.

        For another size, letterboxed, use :class:`ScreenBlitter`.
        """
        self.ctx.copy_framebuffer(fbo, self.fbo)

    def release(self) -> None:
        """Free the GL objects, including the layers'."""
        for layer in self.layers:
            layer.release()
        self.layers = []
        for tex, fbo in (*self._ping, (self._layer_tex, self._layer_fbo), (self._tex, self.fbo)):
            fbo.release()
            tex.release()
        self._vao.release()
        self._program.release()


class ScreenBlitter:
    """Draws a texture into a framebuffer (default: the window) letterboxed to keep its aspect.

    Args:
        ctx: the GL context of the window.
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self._program = load_program(ctx, "fullscreen.vert", "blit.frag")
        self._vao = ctx.vertex_array(self._program, [])
        self._program["u_tex"].value = 0

    @staticmethod
    def viewport(src: tuple[int, int], dst: tuple[int, int]) -> tuple[int, int, int, int]:
        """Largest centred (x, y, w, h) inside ``dst`` with the aspect ratio of ``src``."""
        sw, sh = src
        dw, dh = dst
        scale = min(dw / sw, dh / sh)
        w, h = max(1, round(sw * scale)), max(1, round(sh * scale))
        return (dw - w) // 2, (dh - h) // 2, w, h

    def draw(self, texture: moderngl.Texture, size: tuple[int, int],
             fbo: moderngl.Framebuffer | None = None) -> None:
        """Clear ``fbo`` (default ``ctx.screen``) of ``size`` (w, h) pixels to black and draw
        ``texture`` letterboxed into it."""
        target = fbo if fbo is not None else self.ctx.screen
        target.use()
        target.viewport = (0, 0, *size)
        target.clear(0.0, 0.0, 0.0, 1.0)
        target.viewport = self.viewport(texture.size, size)
        self.ctx.disable(moderngl.BLEND)
        texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        texture.use(0)
        self._vao.render(moderngl.TRIANGLES, vertices=3)
        texture.filter = (moderngl.NEAREST, moderngl.NEAREST)

    def release(self) -> None:
        self._vao.release()
        self._program.release()
