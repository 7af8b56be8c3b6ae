"""The default scene: which layers make up the picture, in which order and blend mode.

Presets will configure this; until then the scene is a shader background with the AU face
screened over it.
"""

from __future__ import annotations

import moderngl

from livevis.render import BackgroundLayer, Compositor, FaceLayer


def make_compositor(ctx: moderngl.Context, width: int, height: int) -> Compositor:
    """A :class:`Compositor` of ``width`` × ``height`` pixels with the default layers."""
    layers = [BackgroundLayer(ctx), FaceLayer(ctx)]
    return Compositor(ctx, width, height, layers)


def offscreen_context() -> moderngl.Context:
    """A headless OpenGL 3.3+ context (EGL; Mesa's llvmpipe on machines without a GPU).

    Raises:
        LivevisError: no EGL/OpenGL driver is available.
    """
    from livevis.errors import LivevisError

    try:
        return moderngl.create_standalone_context(backend="egl")
    except Exception as egl_err:
        try:
            return moderngl.create_standalone_context()
        except Exception:
            raise LivevisError(
                f"cannot create an OpenGL context ({egl_err}); install Mesa's EGL drivers "
                "(Debian: libegl1 libegl-mesa0 libgl1-mesa-dri)"
            ) from None
