"""Scenes: a preset's layer list turned into a :class:`~livevis.render.Compositor`.

Preset layer kinds map to layers: ``background`` → :class:`BackgroundLayer` (the preset's
shader), ``face`` → :class:`FaceLayer`, ``image``/``latent`` → :class:`ImageLayer` (fed by the
latent image stream), ``solid`` → :class:`SolidLayer`.
"""

from __future__ import annotations

import moderngl

from livevis.errors import LivevisError
from livevis.render import BackgroundLayer, Compositor, FaceLayer, ImageLayer, Layer, SolidLayer


def build_layer(ctx: moderngl.Context, spec) -> Layer:
    """One layer for a preset ``LayerSpec`` (kind, opacity, blend, enabled, color)."""
    opacity = spec.opacity if spec.enabled else 0.0
    if spec.kind == "background":
        return BackgroundLayer(ctx, opacity=opacity, blend=spec.blend)
    if spec.kind == "face":
        return FaceLayer(ctx, opacity=opacity, blend=spec.blend)
    if spec.kind in ("image", "latent"):
        return ImageLayer(ctx, opacity=opacity, blend=spec.blend)
    if spec.kind == "solid":
        return SolidLayer(ctx, color=spec.color, opacity=opacity, blend=spec.blend)
    raise ValueError(f"unknown layer kind {spec.kind!r}")


def make_compositor(ctx: moderngl.Context, width: int, height: int, preset=None) -> Compositor:
    """A :class:`Compositor` of ``width`` × ``height`` pixels with the preset's layers, bottom
    first (None: the default preset's layers — a shader background and the AU face)."""
    if preset is None:
        from livevis.presets import Preset

        preset = Preset()
    return Compositor(ctx, width, height, [build_layer(ctx, spec) for spec in preset.layers])


def offscreen_context() -> moderngl.Context:
    """A headless OpenGL 3.3+ context (EGL; Mesa's llvmpipe on machines without a GPU).

    Raises:
        LivevisError: no EGL/OpenGL driver is available.
    """
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
