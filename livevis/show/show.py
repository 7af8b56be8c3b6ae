"""The show: a preset's scene, live parameters, hot reload, crossfades and shortcuts.

:class:`Show` is what the render loop calls once per frame. It owns the compositor built
from the current preset, applies the live parameters (MIDI, OSC, keyboard) to its layers,
reloads the preset file when it is saved (keeping the running one if the new file is
invalid), crossfades between presets, and handles blackout, freeze and master brightness.
Nothing in :meth:`Show.frame` waits on analysis, MIDI or OSC.
"""

from __future__ import annotations

import collections
import logging
import time
from pathlib import Path

import moderngl
import numpy as np

from livevis import PRESETS_DIR
from livevis.control.presets import (Crossfade, Preset, PresetError, PresetWatcher, load_preset, preset_by_name,
                                     preset_names)
from livevis.errors import LivevisError
from livevis.render.shaders import load_program
from livevis.show.scene import (ANALYSIS_PARAMS, apply_layer_params, configure_analyzer, latent_layers,
                                make_compositor, scene_time, shown_state)
from livevis.analysis.state import AnalysisState
from livevis.camera.mix import mix_state

log = logging.getLogger("livevis.show")

#: Longest A/V offset the state history can serve, seconds.
MAX_AV_OFFSET_S = 2.0


class Show:
    """Renders frames of the current preset and handles everything the operator changes live.

    Args:
        ctx: the OpenGL context (a window's, or a standalone one).
        size: (width, height) of the picture in pixels.
        preset: the preset to start with.
        get_state: callable returning the newest :class:`AnalysisState` (never blocks).
        analyzer: the :class:`~livevis.analysis.analyzer.Analyzer` feeding ``get_state``, or the
            :class:`~livevis.audio.engine.AudioEngine` running one (anything with ``apply_settings``),
            whose smoothing and input conditioning follow the preset
            (:func:`~livevis.show.scene.configure_analyzer`; None: set later with
            :meth:`configure_analyzer`, or tests).
        control: open the preset's MIDI/OSC ports (a :class:`~livevis.control.ControlHub`).
        say: callable receiving one-line messages for the operator (log and overlay).
        osc_host: the address OSC input listens on, overriding every preset's (None: the preset's).
        synchronous: offline rendering (:class:`~livevis.show.scene.OfflineScene`): the latent image
            stream decodes each hop in the calling thread and glides by the frame clock, so the
            video is deterministic; the preset file is not watched for changes.
        av_offset: delay the picture by ``output.av_offset_ms`` (the live output's latency
            compensation); False offline, where the picture and the sound are muxed in sync.
        camera: a :class:`~livevis.camera.CameraEmotion` (anything with ``latest()`` returning a
            :class:`~livevis.camera.CameraState`) whose faces steer the face, the MIDI out or
            both as the preset's ``[camera]`` says, and go out over OSC; None: no camera.
        link: the :class:`~livevis.control.link.LinkSession` whose tempo ``get_state`` already
            follows, for the overlay's Link line; None: no Link.

    The host supplies the clock: :meth:`frame` takes the time ``t``, which drives the scene, the
    A/V-offset history and the offline latent glide, so the live show (``t`` from the window loop)
    and an offline render (``t = i / fps``) are the same code (ARCHITECTURE.md, after projectM).
    Only operator-driven timing (preset crossfades, overlay messages) runs on the wall clock.
    """

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], preset: Preset, get_state,
                 analyzer=None, control: bool = True, say=print, osc_host: str | None = None,
                 synchronous: bool = False, av_offset: bool = True, camera=None, link=None) -> None:
        from livevis.control import ControlHub
        from livevis.overlay import ShowUI

        self.ctx, self.size, self.get_state, self.analyzer, self.say = ctx, tuple(size), get_state, analyzer, say
        self.synchronous, self.av_offset = synchronous, av_offset
        self.preset = preset
        self.camera = camera
        self.link = link
        self.hub = ControlHub(preset, self._control_state if camera is not None else get_state, log=say,
                              osc_host=osc_host, get_camera=camera.latest if camera is not None else None)
        if control:
            self.hub.start()
        self.registry = self.hub.registry
        self._analysis_key: tuple | None = None  # what the analyser was last configured with
        self.ui = ShowUI()
        self.error: str | None = None
        self.switches = 0  # scenes built by preset switches and reloads
        self.watcher = PresetWatcher(preset.source) if preset.source is not None and not synchronous else None
        self.compositor = make_compositor(ctx, *self.size, preset)
        self.drivers = self._drivers(preset, self.compositor)
        self._old = None  # compositor being faded out
        self._old_drivers: list = []
        self.fade: Crossfade | None = None
        self._program = load_program(ctx, "fullscreen.vert", "mix.frag")
        self._program["u_a"].value = 0
        self._program["u_b"].value = 1
        self._vao = ctx.vertex_array(self._program, [])
        self._out_tex = ctx.texture(self.size, 4)
        self._out = ctx.framebuffer(color_attachments=[self._out_tex])
        self._history: collections.deque[tuple[float, AnalysisState]] = collections.deque(maxlen=512)
        self._have_frame = False
        self._apply_analysis_settings(preset)

    # ------------------------------------------------------------------ presets

    def _drivers(self, preset: Preset, compositor) -> list:
        """Latent image stream drivers for the preset's ``latent``/``image`` layers."""
        from livevis.render.latent.layer import LatentLayerDriver

        return [LatentLayerDriver(preset, layer, say=self.say, synchronous=self.synchronous)
                for layer in latent_layers(preset, compositor)]

    def _release_old(self) -> None:
        if self._old is not None:
            self._old.release()
        for driver in self._old_drivers:
            driver.close()
        self._old, self._old_drivers, self.fade = None, [], None

    def switch_to(self, preset: Preset) -> None:
        """Crossfade to ``preset`` over its ``crossfade_s`` (the master.crossfade_s parameter).

        If its scene cannot be built (e.g. its shader does not compile), the error is reported
        (overlay, log) and the running preset stays.
        """
        try:
            compositor = make_compositor(self.ctx, *self.size, preset)
        except LivevisError as err:
            self._report(PresetError([f"{preset.source or preset.name}: {err}"], preset.source))
            return
        self.switches += 1
        self.hub.apply(preset)
        self._release_old()
        self._old, self._old_drivers = self.compositor, self.drivers
        self.compositor = compositor
        self.drivers = self._drivers(preset, self.compositor)
        self.fade = Crossfade(self.registry.get("master.crossfade_s") if "master.crossfade_s" in self.registry
                              else preset.crossfade_s)
        self.preset = preset
        self.error = None
        if preset.source is not None and not self.synchronous:
            if self.watcher is None:
                self.watcher = PresetWatcher(preset.source)
            else:
                self.watcher.path = preset.source
        self._apply_analysis_settings(preset)
        log.info("preset %s (%s)", preset.name, preset.source)
        self.ui.say(f"preset {preset.name}")

    def load(self, name_or_path: str) -> None:
        """Load and switch to a preset; an invalid one is reported and the show goes on."""
        try:
            self.switch_to(load_preset(name_or_path))
        except PresetError as err:
            self._report(err)

    def step_preset(self, step: int) -> None:
        """Switch to the next (+1) or previous (-1) preset in ``presets/``."""
        names = preset_names()
        if not names:
            return
        current = self.preset.source.stem if self.preset.source is not None else self.preset.name
        i = names.index(current) if current in names else -1
        self.load(names[(i + step) % len(names)])

    def _report(self, err: PresetError) -> None:
        self.error = str(err)
        log.error("%s", err)
        self.say(f"preset error: {err}")

    def configure_analyzer(self, analyzer) -> None:
        """Make ``analyzer`` the one feeding this show: its smoothing and input conditioning
        follow the current preset and its live parameters now, on every preset switch and on
        every change of :data:`~livevis.show.scene.ANALYSIS_PARAMS`."""
        self.analyzer = analyzer
        self._analysis_key = None
        self._apply_analysis_settings(self.preset)

    def _apply_analysis_settings(self, preset: Preset, params: dict[str, float] | None = None) -> None:
        """Send the preset's smoothing and conditioning, with the live parameters that the
        analyser acts on (:data:`ANALYSIS_PARAMS`), to the analyser; again only when they change."""
        if self.analyzer is None:
            return
        params = self.registry.snapshot() if params is None else params
        key = (preset,) + tuple(params.get(name) for name in ANALYSIS_PARAMS)
        if key != self._analysis_key:
            self._analysis_key = key
            configure_analyzer(self.analyzer, preset, params)

    # ------------------------------------------------------------------ per frame

    def _poll(self) -> None:
        if self.watcher is not None:
            result = self.watcher.poll()
            if isinstance(result, PresetError):
                self._report(result)  # keep the running preset
            elif result is not None:
                self.switch_to(result)
        target = None  # coalesced: however many preset changes were queued, one load per frame
        for event in self.hub.events.drain():
            target = self._event(event, target)
        if target is not None:
            self._load_target(*target)

    def _event(self, event, target):
        """Act on one control event; preset changes only update and return ``target``
        (``(name, by_name_only)``, the latest wins; next/previous step from it)."""
        from livevis.overlay import apply_action
        from livevis.control.presets import save_learned_mapping

        if event.kind == "preset":
            return str(event.value), event.source == "osc"
        if event.kind in ("preset_next", "preset_prev"):
            return self._nav_target(event.kind, target)
        if event.kind == "preset_index":
            count = len(preset_names())
            return self._nav_target(f"preset:{int(event.value) % count + 1}", target) if count else target
        if event.kind == "learned" and hasattr(event.value, "cc") and self.preset.source is not None:
            try:
                save_learned_mapping(self.preset.source, event.value)
                self.ui.say(f"learned {event.value.param} ← CC {event.value.cc}")
            except PresetError as err:
                self._report(err)
        elif event.kind == "action":
            nav = apply_action(str(event.value), self.ui, self.registry, self.hub.learn, self.hub.tapper)
            return self._nav_target(nav, target)
        return target

    def _step_name(self, names: list[str], target, step: int) -> str:
        if target is not None:
            current = Path(target[0]).stem
        else:
            current = self.preset.source.stem if self.preset.source is not None else self.preset.name
        i = names.index(current) if current in names else -1
        return names[(i + step) % len(names)]

    def _nav_target(self, nav: str | None, target):
        if nav in ("preset_next", "preset_prev"):
            names = preset_names()
            return (self._step_name(names, target, 1 if nav == "preset_next" else -1), True) if names else target
        if nav and nav.startswith("preset:"):
            names = preset_names()
            index = int(nav.split(":", 1)[1]) - 1
            return (names[index], True) if 0 <= index < len(names) else target
        return target

    def _load_target(self, name: str, by_name_only: bool) -> None:
        """Load a preset chosen by a control: by name only (presets/ or the running preset's
        folder; a path is refused, logged and never opened) when it came from the network."""
        if not by_name_only:
            self.load(name)
            return
        folders = [PRESETS_DIR] + ([self.preset.source.parent] if self.preset.source is not None else [])
        try:
            self.switch_to(load_preset(preset_by_name(name, folders)))
        except PresetError as err:
            self._report(err)

    def navigate(self, nav: str | None) -> None:
        """Carry out a preset navigation returned by :func:`livevis.overlay.apply_action`."""
        target = self._nav_target(nav, None)
        if target is not None:
            self._load_target(*target)

    def key(self, symbol_string: str, modifiers: int = 0) -> None:
        """Handle a keyboard shortcut by pyglet symbol string (``"B"``, ``"RIGHT"``, ``"_1"``)."""
        from livevis.overlay import action_for_key, apply_action

        action = action_for_key(symbol_string, modifiers)
        if action:
            self.navigate(apply_action(action, self.ui, self.registry, self.hub.learn, self.hub.tapper))

    def _state(self, now: float, p: dict[str, float]) -> AnalysisState:
        """The state to show at host time ``now``: delayed by the A/V offset (live only),
        scaled by the sensitivities (:func:`~livevis.show.scene.shown_state`)."""
        self._history.append((now, self.get_state()))
        offset = float(np.clip(p.get("output.av_offset_ms", 0.0) / 1000.0, 0.0, MAX_AV_OFFSET_S))
        state = self._history[-1][1]
        if offset > 0 and self.av_offset:
            for stamp, past in reversed(self._history):
                state = past
                if stamp <= now - offset:
                    break
        state = shown_state(state, p)
        if self.camera is not None:
            state = mix_state(state, self.camera.latest(), self.preset.camera, "face")
        return state

    def _control_state(self) -> AnalysisState:
        """What the MIDI and OSC outputs see: the analysis, with the camera's faces mixed in as
        the preset's ``[camera] drives`` says (:func:`~livevis.camera.mix.mix_state`)."""
        return mix_state(self.get_state(), self.camera.latest(), self.preset.camera, "midi")

    def frame(self, t: float) -> moderngl.Texture:
        """Render one frame at host clock time ``t`` (seconds, non-decreasing); returns the
        picture (RGBA8, ``size``)."""
        self._poll()
        p = self.registry.snapshot()
        self._apply_analysis_settings(self.preset, p)
        if p.get("master.freeze", 0.0) >= 0.5 and self._have_frame:
            return self._out_tex
        state = self._state(t, p)
        t_scene = scene_time(t, p)
        t_latent = t if self.synchronous else None
        apply_layer_params(self.compositor, self.preset, p)
        for driver in self.drivers:
            driver.update(state, t_latent)
        self.compositor.render(state, t_scene)
        mix_t = 1.0
        if self.fade is not None:
            if self.fade.done:
                self._release_old()
            else:
                for driver in self._old_drivers:
                    driver.update(state, t_latent)
                self._old.render(state, t_scene)
                mix_t = self.fade.alpha()
        gain = 0.0 if p.get("master.blackout", 0.0) >= 0.5 else p.get("master.brightness", 1.0)
        self._out.use()
        self._out.viewport = (0, 0, *self.size)
        self.ctx.disable(moderngl.BLEND)
        (self._old or self.compositor).texture.use(0)
        self.compositor.texture.use(1)
        self._program["u_t"].value = mix_t
        self._program["u_gain"].value = gain
        self._vao.render(moderngl.TRIANGLES, vertices=3)
        self._have_frame = True
        return self._out_tex

    @property
    def last_texture(self) -> moderngl.Texture:
        """The last frame rendered (black before the first)."""
        return self._out_tex

    def read_rgb(self) -> np.ndarray:
        """The last frame as (height, width, 3) uint8, top row first."""
        data = self._out.read(components=3, alignment=1)
        return np.frombuffer(data, np.uint8).reshape(self.size[1], self.size[0], 3)[::-1].copy()

    def read_into(self, buffer) -> None:
        """Queue a copy of the last frame into ``buffer`` (a pixel-pack buffer of at least
        width × height × 3 bytes): RGB uint8, rows bottom first, no padding; ``buffer.read()``
        waits for it (see :meth:`~livevis.render.Compositor.read_into`)."""
        self._out.read_into(buffer, components=3, alignment=1)

    def overlay_lines(self, fps: float) -> list[str]:
        from livevis.overlay import overlay_lines

        names = self.registry.names()
        state = self.get_state()
        load = f"analysis: {state.skipped_hops} hops skipped, {state.overflows} input overflows"
        source_status = getattr(self.analyzer, "status", None)  # a render node's hop stream
        if callable(source_status):
            load += " · " + source_status()
        if self.link is not None:
            load += " · " + self.link.status()
        return [load] + overlay_lines(
            self.get_state(), fps=fps, preset=self.preset.name,
            fade=self.fade.alpha() if self.fade is not None else None, params=self.registry.snapshot(),
            activity=self.hub.activity(), learn_armed=self.hub.learn.armed,
            selected=names[self.ui.selected % len(names)] if names else None, error=self.error,
            message=self.ui.message if time.monotonic() < self.ui.message_until else None)

    def resize(self, size: tuple[int, int]) -> None:
        """Rebuild the render targets for a new picture size."""
        size = (max(2, int(size[0])), max(2, int(size[1])))
        if size == self.size:
            return
        self.size = size
        self.compositor.release()
        self.compositor = make_compositor(self.ctx, *size, self.preset)
        for driver, layer in zip(self.drivers, latent_layers(self.preset, self.compositor)):
            driver.attach(layer)
        self._release_old()
        self._out.release()
        self._out_tex.release()
        self._out_tex = self.ctx.texture(size, 4)
        self._out = self.ctx.framebuffer(color_attachments=[self._out_tex])
        self._have_frame = False

    def close(self) -> None:
        self.hub.close()
        for driver in self.drivers:
            driver.close()
        self.compositor.release()
        self._release_old()
        self._vao.release()
        self._program.release()
        self._out.release()
        self._out_tex.release()
