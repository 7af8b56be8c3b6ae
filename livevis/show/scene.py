"""Scenes: a preset turned into analyser settings and a :class:`~livevis.render.Compositor`.

This is the one path from a preset to what is seen, shared by the live show and offline
rendering (:class:`~livevis.show.show.Show` uses it; :class:`OfflineScene` *is* a Show with a
simulated clock):

* :func:`configure_analyzer` — the preset's emotion smoothing and input conditioning (noise gate,
  gain, AGC) on an :class:`~livevis.analysis.analyzer.Analyzer`;
* :func:`make_compositor` — the preset's layers (kinds, blends, opacities), background shader,
  shader parameters and palette;
* :func:`shown_state`, :func:`scene_time`, :func:`apply_layer_params` — each frame, the live
  parameters (initially the preset's values: sensitivities, speeds, layer opacities, face and
  shader parameters; MIDI/OSC may change them) applied to the state, the clock and the layers.

Preset layer kinds map to layers: ``background`` → :class:`BackgroundLayer` (the preset's
shader and palette), ``face`` → :class:`FaceLayer`, ``image``/``latent`` → :class:`ImageLayer` (fed by the
latent image stream), ``solid`` → :class:`SolidLayer`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace

import moderngl
import numpy as np

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
                     outline_scale=outline_scale(width) if outline_on else 0.0, expressiveness=expressiveness)


def build_layer(ctx: moderngl.Context, spec, preset=None) -> Layer:
    """One layer for a preset ``LayerSpec`` (kind, opacity, blend, enabled, color); face
    options come from the preset's ``face`` section."""
    opacity = spec.opacity if spec.enabled else 0.0
    if spec.kind == "background":
        if preset is None:
            return BackgroundLayer(ctx, opacity=opacity, blend=spec.blend)
        return BackgroundLayer(ctx, opacity=opacity, blend=spec.blend, fragment=str(preset.shader_path()),
                               params=preset.background.params, palette=preset.palette)
    if spec.kind == "face":
        return build_face_layer(ctx, spec, preset, opacity)
    if spec.kind in ("image", "latent"):
        return ImageLayer(ctx, opacity=opacity, blend=spec.blend)
    if spec.kind == "solid":
        return SolidLayer(ctx, color=spec.color, opacity=opacity, blend=spec.blend)
    raise ValueError(f"unknown layer kind {spec.kind!r}")


def latent_layers(preset, compositor) -> list:
    """The compositor's layers that show the latent image stream (preset kinds ``latent`` and
    ``image``), in preset order: the ones a :class:`~livevis.render.latent.layer.LatentLayerDriver` feeds."""
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


#: The live parameters that the analyser (not the renderer) acts on.
ANALYSIS_PARAMS = ("face.smoothing.attack", "face.smoothing.release", "audio.gain_db", "audio.noise_gate_db")


def analysis_settings(preset, params: dict[str, float] | None = None) -> tuple:
    """``(attack_s, release_s, ConditioningSettings)`` for the analyser: the preset's ``emotion``
    smoothing (time constants, seconds) and ``audio`` conditioning (noise gate dBFS, gain dB,
    AGC), with the live parameters of :data:`ANALYSIS_PARAMS` in ``params`` (a registry
    snapshot) taking precedence."""
    from livevis.audio.conditioning import settings_from_preset

    params = params or {}
    cond = settings_from_preset(preset.audio)
    cond = replace(cond, gain_db=float(params.get("audio.gain_db", cond.gain_db)),
                   gate_db=float(params.get("audio.noise_gate_db", cond.gate_db)))
    return (float(params.get("face.smoothing.attack", preset.emotion.attack_s)),
            float(params.get("face.smoothing.release", preset.emotion.release_s)), cond)


def configure_analyzer(analyzer, preset, params: dict[str, float] | None = None) -> None:
    """Apply :func:`analysis_settings` (the preset's smoothing and input conditioning, overridden
    by the live parameters in ``params``) to ``analyzer`` (an
    :class:`~livevis.analysis.analyzer.Analyzer` or :class:`~livevis.audio.engine.AudioEngine`),
    live and offline alike."""
    analyzer.apply_settings(*analysis_settings(preset, params))


def audio_engine(preset, input_path=None, device=None, output_device=None, model=None, say=print):
    """The audio engine process a preset asks for (not started): plays ``input_path`` or listens to
    ``device`` (None: the preset's ``audio.input_device``), with the preset's emotion smoothing and
    input conditioning, logging at this process's level. See
    :class:`~livevis.audio.engine.AudioEngine` (its ``start`` raises the one-line errors)."""
    from livevis.audio.conditioning import settings_from_preset
    from livevis.audio.engine import AudioEngine
    from livevis.audio.engine_process import EngineConfig

    return AudioEngine(EngineConfig(
        input_path=input_path, device=device if device is not None else preset.audio.input_device,
        output_device=output_device, model=model,
        settings=(preset.emotion.attack_s, preset.emotion.release_s, settings_from_preset(preset.audio)),
        log_level=logging.getLogger("livevis").getEffectiveLevel()), say=say)


def shown_state(state, params: dict[str, float]):
    """The analysis state as the scene shows it, with the live parameters' sensitivities.

    Args:
        state: an :class:`~livevis.analysis.state.AnalysisState`.
        params: a parameter snapshot (:meth:`~livevis.params.ParamRegistry.snapshot`):
            ``emotion.sensitivity`` scales valence/arousal (clipped to [-1, 1]), ``audio.sensitivity`` onset
            (clipped to [0, 1]) and energy; ``tempo.bpm`` > 0 overrides the tempo (BPM).

    Returns:
        A new :class:`~livevis.analysis.state.AnalysisState`; its AUs are the state's (the face
        layers apply ``face.expressiveness``: :func:`apply_layer_params`).
    """
    sens = params.get("emotion.sensitivity", 1.0)
    audio_sens = params.get("audio.sensitivity", 1.0)
    bpm = params.get("tempo.bpm", 0.0)
    return replace(
        state,
        valence=float(np.clip(state.valence * sens, -1, 1)),
        arousal=float(np.clip(state.arousal * sens, -1, 1)),
        onset=float(np.clip(state.onset * audio_sens, 0, 1)),
        energy=state.energy * audio_sens,
        tempo=bpm if bpm > 0 else state.tempo,
    )


def scene_time(t: float, params: dict[str, float]) -> float:
    """The shaders' time (seconds) at host time ``t``: scaled by ``master.speed`` and
    ``background.speed`` (the preset's ``background.speed`` until a control changes it)."""
    return t * params.get("master.speed", 1.0) * params.get("background.speed", 1.0)


def apply_layer_params(compositor, preset, params: dict[str, float]) -> None:
    """Set each layer from the live parameters: ``layer.N.opacity`` × ``layer.N.enabled``
    (N from 1, bottom first), the face's ``face.scale``/``outline_width`` (outline only where the
    preset's face has one) and ``face.expressiveness`` (the gain every kind of face applies to
    the AUs; :func:`shown_state` leaves them as they are), the background's numeric shader
    parameters ``background.NAME``."""
    from livevis.face3d.mesh_layer import FaceMeshLayer
    from livevis.render import BackgroundLayer, FaceLayer

    for i, layer in enumerate(compositor.layers, start=1):
        opacity = params.get(f"layer.{i}.opacity")
        if opacity is not None:
            layer.opacity = opacity * params.get(f"layer.{i}.enabled", 1.0)
        if hasattr(layer, "expressiveness"):  # the 3D face, the portrait, the flat face
            layer.expressiveness = params.get("face.expressiveness", layer.expressiveness)
        if isinstance(layer, FaceLayer):
            layer.scale = params.get("face.scale", layer.scale)
            if preset.face.outline:
                layer.outline_scale = outline_scale(params.get("face.outline_width", 2.0))
        elif isinstance(layer, BackgroundLayer):
            for name in layer.params:
                if not isinstance(layer.params[name], (list, tuple)) and f"background.{name}" in params:
                    layer.params[name] = params[f"background.{name}"]
        elif isinstance(layer, FaceMeshLayer):
            layer.scale = MESH_FACE_SCALE * params.get("face.scale", 1.0)
            if preset.face.outline:
                layer.outline = MESH_OUTLINE * outline_scale(params.get("face.outline_width", 2.0))


class OfflineScene:
    """The live :class:`~livevis.show.show.Show` of a preset, driven by a simulated clock, for
    deterministic offline rendering (``livevis render``).

    Everything the preset sets reaches the picture through the same code as live: the
    analyser's smoothing and conditioning (:meth:`configure_analyzer`, called by
    :func:`~livevis.show.offline.render_file`), the sensitivities, speeds, layer parameters,
    shader parameters and palette. Differences from a live show, by design: no MIDI/OSC ports,
    no preset file watching, no A/V offset (the file's sound and picture are muxed in sync), and
    the latent image stream is decoded synchronously, gliding by the frame clock.

    Has the compositor interface :func:`livevis.show.offline.render_file` needs: ``render(state,
    t)``, ``read_rgb()``, ``release()``, and ``configure_analyzer(analyzer)``.

    Args:
        ctx: the GL context. width, height: picture size in pixels.
        preset: the preset (None: the default one). say: one-line operator messages.
    """

    def __init__(self, ctx: moderngl.Context, width: int, height: int, preset=None, say=print) -> None:
        from livevis.control.presets import default_preset
        from livevis.show.show import Show
        from livevis.analysis.state import AnalysisState

        preset = preset if preset is not None else default_preset()
        self._state = AnalysisState()
        self.show = Show(ctx, (width, height), preset, self._get_state, control=False, say=say,
                         synchronous=True, av_offset=False)

    def _get_state(self):
        return self._state

    @property
    def compositor(self):
        """The show's :class:`~livevis.render.Compositor` (its ``layers``, bottom first)."""
        return self.show.compositor

    @property
    def drivers(self) -> list:
        """The latent image stream drivers of the preset's ``latent``/``image`` layers."""
        return self.show.drivers

    def configure_analyzer(self, analyzer) -> None:
        """Apply the preset's smoothing and conditioning to the analyser feeding this scene."""
        self.show.configure_analyzer(analyzer)

    def render(self, state, t: float) -> None:
        """Render ``state`` at simulated clock time ``t`` (seconds, non-decreasing)."""
        self._state = state
        self.show.frame(t)

    def read_rgb(self) -> np.ndarray:
        """The last frame: (height, width, 3) uint8, top row first."""
        return self.show.read_rgb()

    @property
    def ctx(self) -> moderngl.Context:
        """The GL context the scene renders with."""
        return self.show.ctx

    def read_into(self, buffer) -> None:
        """Queue the last frame's read-back into a pixel-pack ``buffer`` (see :meth:`Show.read_into`)."""
        self.show.read_into(buffer)

    def release(self) -> None:
        self.show.close()
