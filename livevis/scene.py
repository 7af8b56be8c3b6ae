"""Scenes: a preset's layer list turned into a :class:`~livevis.render.Compositor`.

Preset layer kinds map to layers: ``background`` → :class:`BackgroundLayer` (the preset's
shader), ``face`` → :class:`FaceLayer`, ``image``/``latent`` → :class:`ImageLayer` (fed by the
latent image stream), ``solid`` → :class:`SolidLayer`.
"""

from __future__ import annotations

import functools
import logging

import moderngl

from livevis.errors import LivevisError
from livevis.render import BackgroundLayer, Compositor, FaceLayer, ImageLayer, Layer, SolidLayer

log = logging.getLogger("livevis.scene")


#: The 3D face's size (fraction of the picture height at ``face.scale`` 1) and outline width
#: (at ``outline_width`` 2 px), as FaceMeshLayer takes them.
MESH_FACE_SCALE = 0.62
MESH_OUTLINE = 0.004


def outline_scale(width_px: float) -> float:
    """Preset outline width (pixels at 1080p, default 2) → the face shader's multiplier:
    gentle, so that thick outlines stay outlines and do not swallow the features."""
    return max(0.0, 1.0 + (width_px - 2.0) / 12.0)


@functools.lru_cache(maxsize=1)
def _mesh_model():
    from livevis.face3d.aumesh import AUMeshModel

    return AUMeshModel.load()


def build_face_layer(ctx: moderngl.Context, spec, preset, opacity: float) -> Layer:
    """The face layer a preset's ``face`` section asks for: the 3D mesh face (``face``), a
    portrait (``portrait``) or the flat cartoon face (``cartoon``). If the 3D assets or the
    photo cannot be used, the message is logged and the flat face stands in: the show goes on.
    """
    face = preset.face if preset is not None else None
    mode = face.mode if face is not None else "face"
    scale = face.scale if face is not None else 1.0
    expressiveness = face.expressiveness if face is not None else 1.0
    outline_on = face.outline if face is not None else True
    width = face.outline_width if face is not None else 2.0
    try:
        if mode == "portrait":
            from livevis.face3d.assets import default_portrait
            from livevis.face3d.ganimation_layer import DEFAULT_MODEL, GanimationLayer
            from livevis.face3d.portrait import PortraitLayer, make_rig

            photo = preset.resolve(face.portrait) if face is not None and face.portrait else default_portrait()
            if DEFAULT_MODEL.is_file():  # a trained GANimation generator: synthesise the face
                rig = make_rig(photo, _mesh_model())
                return GanimationLayer(ctx, rig.photo, rig.rest[:468], DEFAULT_MODEL, opacity=opacity,
                                       blend=spec.blend, expressiveness=expressiveness)
            return PortraitLayer(ctx, photo, _mesh_model(), opacity=opacity, blend=spec.blend,
                                 expressiveness=expressiveness)
        if mode == "face":
            from livevis.face3d.mesh_layer import FaceMeshLayer

            return FaceMeshLayer(ctx, _mesh_model(), opacity=opacity, blend=spec.blend, scale=MESH_FACE_SCALE * scale,
                                 outline=MESH_OUTLINE * outline_scale(width) if outline_on else 0.0,
                                 expressiveness=expressiveness, style=face.style if face is not None else "realistic")
    except (LivevisError, OSError) as err:
        log.warning("%s face unavailable, using the flat face: %s", mode, err)
    return FaceLayer(ctx, opacity=opacity, blend=spec.blend, scale=scale,
                     outline_scale=outline_scale(width) if outline_on else 0.0)


def build_layer(ctx: moderngl.Context, spec, preset=None) -> Layer:
    """One layer for a preset ``LayerSpec`` (kind, opacity, blend, enabled, color); face
    options come from the preset's ``face`` section."""
    opacity = spec.opacity if spec.enabled else 0.0
    if spec.kind == "background":
        if preset is None:
            return BackgroundLayer(ctx, opacity=opacity, blend=spec.blend)
        return BackgroundLayer(ctx, opacity=opacity, blend=spec.blend, fragment=str(preset.shader_path()),
                               params=preset.background.params)
    if spec.kind == "face":
        return build_face_layer(ctx, spec, preset, opacity)
    if spec.kind in ("image", "latent"):
        return ImageLayer(ctx, opacity=opacity, blend=spec.blend)
    if spec.kind == "solid":
        return SolidLayer(ctx, color=spec.color, opacity=opacity, blend=spec.blend)
    raise ValueError(f"unknown layer kind {spec.kind!r}")


def latent_layers(preset, compositor) -> list:
    """The compositor's layers that show the latent image stream (preset kinds ``latent`` and
    ``image``), in preset order: the ones a :class:`~livevis.latent_layer.LatentLayerDriver` feeds."""
    return [layer for spec, layer in zip(preset.layers, compositor.layers) if spec.kind in ("latent", "image")]


def make_compositor(ctx: moderngl.Context, width: int, height: int, preset=None) -> Compositor:
    """A :class:`Compositor` of ``width`` × ``height`` pixels with the preset's layers, bottom
    first (None: the default preset's layers — shader background, latent image stream, face)."""
    if preset is None:
        from livevis.control.presets import default_preset

        preset = default_preset()
    return Compositor(ctx, width, height, [build_layer(ctx, spec, preset) for spec in preset.layers])


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


class OfflineScene:
    """A compositor plus synchronous latent drivers, for deterministic offline rendering.

    Has the compositor interface :func:`livevis.offline.render_file` needs: ``render(state,
    t)``, ``read_rgb()``, ``release()``, and ``ctx`` + ``read_into(buffer)`` for the
    double-buffered read-back.
    """

    def __init__(self, ctx: moderngl.Context, width: int, height: int, preset=None, say=print) -> None:
        from livevis.latent_layer import LatentLayerDriver
        from livevis.control.presets import default_preset

        preset = preset if preset is not None else default_preset()
        self.compositor = make_compositor(ctx, width, height, preset)
        self.drivers = [LatentLayerDriver(preset, layer, say=say, synchronous=True)
                        for layer in latent_layers(preset, self.compositor)]

    def render(self, state, t: float) -> None:
        for driver in self.drivers:
            driver.update(state, t)
        self.compositor.render(state, t)

    @property
    def ctx(self) -> moderngl.Context:
        return self.compositor.ctx

    def read_rgb(self):
        return self.compositor.read_rgb()

    def read_into(self, buffer) -> None:
        """See :meth:`Compositor.read_into`."""
        self.compositor.read_into(buffer)

    def release(self) -> None:
        for driver in self.drivers:
            driver.close()
        self.compositor.release()
