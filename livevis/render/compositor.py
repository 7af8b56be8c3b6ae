"""Blends layers into one offscreen picture with exact blend-mode formulas."""

from __future__ import annotations

import moderngl
import numpy as np

from livevis.render.layers import BLEND_FUNCS, BLEND_MODES, Layer
from livevis.render.shaders import load_program
from livevis.analysis.state import AnalysisState


def _target(ctx: moderngl.Context, size: tuple[int, int],
            depth: bool = False) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
    tex = ctx.texture(size, 4, dtype="f1")
    tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
    tex.repeat_x = tex.repeat_y = False
    return tex, ctx.framebuffer(color_attachments=[tex],
                                depth_attachment=ctx.depth_renderbuffer(size) if depth else None)


class LayerBlender:
    """Blends a straight-alpha texture onto the bound framebuffer with a layer's blend mode and
    opacity, in one pass over a region (``shaders/composite.frag`` + :data:`BLEND_FUNCS`).

    Args:
        ctx: an OpenGL 3.3+ moderngl context.

    Raises:
        ShaderError: the shader files are missing or do not compile.
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self._program = load_program(ctx, "fullscreen.vert", "composite.frag")
        self._vao = ctx.vertex_array(self._program, [])
        self._program["u_src"].value = 0

    def blend(self, texture: moderngl.Texture, blend: str, opacity: float,
              region: tuple[int, int, int, int] | None = None) -> None:
        """Blend ``texture`` onto the bound framebuffer (``ctx.fbo``).

        Args:
            texture: RGBA, straight alpha; its texel (0, 0) lands on pixel (x, y) of ``region``.
            blend: one of :data:`BLEND_MODES`. opacity: [0, 1].
            region: (x, y, width, height) in framebuffer pixels, y up (None: the whole
                texture at (0, 0)). Pixels outside it are not touched.
        """
        x, y, w, h = region if region is not None else (0, 0, *texture.size)
        if w <= 0 or h <= 0:
            return
        ctx = self.ctx
        ctx.fbo.viewport = (x, y, w, h)
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = BLEND_FUNCS[blend]
        texture.use(0)
        self._program["u_opacity"].value = float(opacity)
        if "u_origin" in self._program:
            self._program["u_origin"].value = (int(x), int(y))
        self._vao.render(moderngl.TRIANGLES, vertices=3)

    def release(self) -> None:
        self._vao.release()
        self._program.release()


class Compositor:
    """Renders ``layers`` in order into an offscreen RGBA8 framebuffer of width × height.

    The picture starts opaque black. Layers that are not :attr:`~Layer.visible` are skipped.
    A :attr:`~Layer.direct` layer draws straight into :attr:`fbo` with GL blending for its
    mode (:data:`BLEND_FUNCS`); any other layer draws into a transparent scratch target that
    is then blended onto the picture in one pass. If the topmost layer that
    :attr:`~Layer.occludes` (the opaque 3D face) has only layers that do not use depth under
    it, it is drawn first and those layers only where it did not draw (depth test '==' on
    the far plane), so that their shaders do not run under it; the picture is the same. The formulas are those of :class:`Layer`;
    each layer's result is rounded to 8 bits once (the picture is RGBA8). :attr:`fbo` has a
    depth attachment, cleared to 1 at the start of each frame, for 3D layers.

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
        self._tex, self.fbo = _target(ctx, self.size, depth=True)
        self._scratch: tuple[moderngl.Texture, moderngl.Framebuffer] | None = None  # made when needed
        self._blender = LayerBlender(ctx)
        self._released = False

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

        Leaves blending disabled and ``ctx.blend_func`` at moderngl's default.

        Args:
            state: the newest analysis state.
            t: clock time in seconds (drives animation).
        """
        ctx = self.ctx
        ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        size = self.size
        self.fbo.use()
        self.fbo.viewport = (0, 0, *size)
        self.fbo.clear(0.0, 0.0, 0.0, 1.0, depth=1.0)
        try:
            for layer, masked in self._order():
                if layer.direct:
                    self.fbo.use()
                    self.fbo.viewport = (0, 0, *size)
                    ctx.enable(moderngl.BLEND)
                    ctx.blend_func = BLEND_FUNCS[layer.blend]
                    self._mask(masked)
                    layer.draw(state, t, size)
                    self._mask(False)
                    continue
                if self._scratch is None:
                    self._scratch = _target(ctx, size)
                scratch_tex, scratch = self._scratch
                ctx.disable(moderngl.BLEND)
                scratch.use()
                scratch.viewport = (0, 0, *size)
                scratch.clear(0.0, 0.0, 0.0, 0.0)
                layer.draw(state, t, size)
                ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
                self.fbo.use()
                self._mask(masked)
                self._blender.blend(scratch_tex, layer.blend, layer.opacity)
                self._mask(False)
        finally:
            ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.CULL_FACE)
            ctx.depth_func = "<"
            ctx.blend_func = moderngl.DEFAULT_BLENDING
            self.fbo.use()
            self.fbo.viewport = (0, 0, *size)

    def _order(self) -> list[tuple[Layer, bool]]:
        """The visible layers in drawing order, each with whether it is drawn only where the
        depth is still 1 (under an occluding layer drawn first)."""
        layers = [layer for layer in self.layers if layer.visible]
        top = max((i for i, layer in enumerate(layers) if layer.direct and layer.occludes), default=0)
        if top == 0 or any(layer.uses_depth for layer in layers[:top]):
            return [(layer, False) for layer in layers]
        return ([(layers[top], False)] + [(layer, True) for layer in layers[:top]]
                + [(layer, False) for layer in layers[top + 1:]])

    def _mask(self, on: bool) -> None:
        if on:
            self.ctx.enable(moderngl.DEPTH_TEST)
            self.ctx.depth_func = "=="
        else:
            self.ctx.disable(moderngl.DEPTH_TEST)
            self.ctx.depth_func = "<"

    def read_rgb(self) -> np.ndarray:
        """The last rendered frame as a uint8 array of shape (height, width, 3), row 0 = top."""
        data = self.fbo.read(components=3, alignment=1)
        return np.frombuffer(data, dtype=np.uint8).reshape(self.height, self.width, 3)[::-1].copy()

    def read_into(self, buffer: moderngl.Buffer) -> None:
        """Queue a copy of the last rendered frame into ``buffer`` (a pixel-pack buffer of at
        least width × height × 3 bytes): RGB uint8, rows bottom first, no padding. On a GPU
        the copy runs while the CPU goes on; ``buffer.read()`` waits for it."""
        self.fbo.read_into(buffer, components=3, alignment=1)

    def blit_to(self, fbo: moderngl.Framebuffer) -> None:
        """Copy the picture into ``fbo`` (same size), e.g. ``ctx.screen`` for a same-size window.

        For another size, letterboxed, use :class:`ScreenBlitter`.
        """
        self.ctx.copy_framebuffer(fbo, self.fbo)

    def release(self) -> None:
        """Free the GL objects, including the layers'. A second call does nothing."""
        for layer in self.layers:
            layer.release()
        self.layers = []
        if self._released:
            return
        self._released = True
        targets = [(self._tex, self.fbo)] + ([self._scratch] if self._scratch is not None else [])
        for tex, fbo in targets:
            for attachment in fbo.color_attachments + ((fbo.depth_attachment,) if fbo.depth_attachment else ()):
                if attachment is not tex:
                    attachment.release()
            fbo.release()
            tex.release()
        self._scratch = None
        self._blender.release()


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
