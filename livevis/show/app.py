"""The live show: audio engine process (source + analysis) → compositor → pyglet window.

Capture or file playback and the analysis run in a supervised child process
(:class:`~livevis.audio.engine.AudioEngine`), so rendering and its GIL never stall the audio. The render
loop runs at the display rate, takes the newest :class:`AnalysisState` from the engine's shared-memory
slot and never waits on analysis. If the audio stalls or the engine restarts, the last picture keeps
animating and a "NO INPUT" banner appears until sound returns.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from livevis.errors import LivevisError
from livevis.render.shaders import is_software_renderer


@dataclass
class RunOptions:
    """Options of ``livevis run``.

    Attributes:
        input_path: audio file to play and visualise (None: listen to an input device).
        device: input device (name substring or index; None: default).
        output_device: output device for file playback (None: default).
        fullscreen: open the window fullscreen on ``screen`` (None: as the preset says).
        screen: index of the screen (monitor) for the window (None: the preset's).
        size: window size in pixels when not fullscreen (None: the preset's resolution).
        model: path of an emotion model (None: the built-in one).
        duration: stop after this many seconds (None: until closed / end of file).
        render_scale: compositor resolution relative to the window, (0, 1]; None picks 1.0 on a
            GPU and at most 640x360 pixels on a software renderer (llvmpipe), so that rendering
            leaves the CPU (and Python's GIL) to the audio callback and the analysis.
        preset: preset name (in presets/) or path; None: the default preset. Its audio and
            output sections give defaults that the options above override.
        osc_host: the address OSC input listens on (None: the preset's ``osc.listen_host``,
            127.0.0.1 unless it says otherwise); only used when the preset has ``osc.listen``.
        camera: a camera or a video file whose faces steer the show (see
            :func:`~livevis.camera.resolve_camera`; the preset's ``[camera]`` says what they
            steer); None: no camera.
        camera_debug: a directory to save the frames the camera's face reader reads, with the
            faces it found drawn on them (the newest 200; see :mod:`livevis.camera.debug`);
            None (the default): camera frames never leave memory.
        follow: ``HOST:PORT`` to receive another livevis's hop stream on and render it (a render
            node: no audio, no analysis here; see :mod:`livevis.control.hops`); None: the
            preset's ``osc.follow``, and if that is unset, analyse the audio here.
        link: join the Ableton Link session (tempo and beat phase follow its peers); None: as the
            preset's ``[link] enabled`` says.
        ndi: publish the composited picture as the NDI source of this name
            (:class:`~livevis.show.ndi.NdiOutput`); None: no NDI.
    """

    input_path: str | None = None
    device: str | None = None
    output_device: str | None = None
    fullscreen: bool | None = None
    screen: int | None = None
    size: tuple[int, int] | None = None
    model: str | None = None
    duration: float | None = None
    render_scale: float | None = None
    preset: str | None = None
    osc_host: str | None = None
    camera: str | None = None
    camera_debug: str | None = None
    follow: str | None = None
    link: bool | None = None
    ndi: str | None = None


#: Pixels a software renderer can composite per frame while leaving the GIL and the CPU to
#: audio and analysis (640x360): GL calls hold the GIL while llvmpipe rasterises.
SOFTWARE_PIXEL_BUDGET = 640 * 360


def pick_render_scale(renderer: str, requested: float | None, window: tuple[int, int] = (1280, 720)) -> float:
    """The compositor scale: ``requested`` if given; 1.0 on a GPU; on software GL the scale
    that keeps the picture within :data:`SOFTWARE_PIXEL_BUDGET` pixels.

    Raises:
        LivevisError: ``requested`` outside (0, 1].
    """
    if requested is not None:
        if not 0.0 < requested <= 1.0:
            raise LivevisError(f"--render-scale must be in (0, 1], got {requested}")
        return requested
    if not is_software_renderer(renderer):
        return 1.0
    return min(1.0, (SOFTWARE_PIXEL_BUDGET / max(1, window[0] * window[1])) ** 0.5)


def _open_window(opts: RunOptions):
    try:
        import pyglet

        display = pyglet.display.get_display()
        screens = display.get_screens()
    except Exception as err:
        raise LivevisError(
            f"cannot open a window: no display ({err.__class__.__name__}); run under a desktop session, "
            "use xvfb-run, or render to a file with 'livevis render'"
        ) from None
    if not 0 <= opts.screen < len(screens):
        listing = "; ".join(f"{i}: {s.width}x{s.height}" for i, s in enumerate(screens))
        raise LivevisError(f"no screen {opts.screen}; screens available: {listing}")
    config = pyglet.gl.Config(major_version=3, minor_version=3, forward_compatible=True, double_buffer=True)
    kwargs = dict(caption="livevis", vsync=True, config=config)
    if opts.fullscreen:
        window = pyglet.window.Window(fullscreen=True, screen=screens[opts.screen], **kwargs)
    else:
        window = pyglet.window.Window(width=opts.size[0], height=opts.size[1], resizable=True, **kwargs)
    return pyglet, window


def run_live(opts: RunOptions, log=print) -> dict:
    """Run the live show until the window is closed, the file ends or ``duration`` passes.

    Returns:
        Run statistics: frames drawn, analysis hops, ``played_s`` (seconds from the first analysed hop
        to the show's end, before tear-down), mean fps over it, skipped samples, overflows, device
        underruns, errors.

    Raises:
        LivevisError: unreadable file or preset, unknown/unopenable device, no display.
    """
    from livevis.audio.decode import open_audio
    from livevis.display import display_problem
    from livevis.control.presets import default_preset, load_preset

    problem = display_problem()  # before any device opens or audio plays
    if problem is not None:
        raise LivevisError(f"{problem}: no window can open here; render to a video instead "
                           "(livevis render FILE -o out.mp4) or run under xvfb-run")
    if opts.input_path is not None and opts.follow is not None:
        raise LivevisError("--input and --follow exclude each other: a render node plays no audio of its own")
    if opts.camera_debug is not None and opts.camera is None:
        raise LivevisError(f"--camera-debug {opts.camera_debug} saves a camera's frames: add --camera DEVICE|FILE")
    if opts.input_path is not None:
        open_audio(opts.input_path)  # a missing or undecodable file is named before any device is looked for
    preset = load_preset(opts.preset) if opts.preset else default_preset()
    if opts.follow is None and preset.osc.follow is not None:
        own_audio = ("--input " + opts.input_path if opts.input_path is not None
                     else "--device " + opts.device if opts.device is not None else None)
        if own_audio is not None:
            raise LivevisError(f"preset {preset.name or opts.preset}: [osc] follow = \"{preset.osc.follow}\" makes "
                               f"this a render node, which plays no audio of its own; drop {own_audio} or use a "
                               "preset without [osc] follow")
    opts = replace(
        opts,
        fullscreen=preset.output.fullscreen if opts.fullscreen is None else opts.fullscreen,
        screen=preset.output.screen if opts.screen is None else opts.screen,
        size=tuple(preset.output.resolution) if opts.size is None else opts.size,
    )
    follow = opts.follow or preset.osc.follow
    if follow is not None:
        engine = _follower(follow, preset)
        return _run(opts, preset, engine, log)
    from livevis.show.scene import audio_engine

    engine = audio_engine(preset, opts.input_path, opts.device, opts.output_device, opts.model, say=log)
    return _run(opts, preset, engine, log)


def _follower(address: str, preset):
    """The hop-stream receiver a render node uses in place of the audio engine."""
    from livevis.control.hops import HopFollower, parse_address
    from livevis.control.osc_receiver import parse_allow_list

    host, port = parse_address(address, "--follow")
    return HopFollower(host, port, parse_allow_list(preset.osc.allow_from))


def _run(opts: RunOptions, preset, engine, log) -> dict:
    """The window loop around ``engine`` (an AudioEngine, or a HopFollower on a render node)."""
    import moderngl

    from livevis.overlay import OverlayView
    from livevis.render import ScreenBlitter
    from livevis.show.show import Show

    show = camera = link = ndi = sound = None
    get_state = engine.get
    try:
        if opts.link or (opts.link is None and preset.link.enabled):
            from livevis.control.link import join_link

            link = join_link(preset.link, log)
        if link is not None:
            get_state = lambda: link.apply(engine.get())  # noqa: E731  tempo and beat phase: the session's
        if opts.camera is not None:
            # a bad camera is one line, before the engine starts
            camera = _start_camera(opts.camera, preset, log, opts.camera_debug)
        info = engine.start()  # opens the file or device in the engine process; raises its one-line errors
        if info["kind"] == "follow":
            log(f"render node: following the hop stream on {info['address']}")
        elif opts.input_path is not None:
            duration = info["duration"] if info["duration"] is not None else float("nan")
            log(f"playing {opts.input_path} ({duration:.1f} s) at {info['sample_rate']} Hz, "
                f"output latency {info['output_latency'] * 1000:.0f} ms")
        else:
            log(f"listening to input {info['device']}: {info['device_name']} at {info['sample_rate']} Hz")
        if info["kind"] != "follow":
            log(f"audio engine: process {info['pid']}, scheduling {info['scheduling']}")

        pyglet, window = _open_window(opts)  # while the engine loads the emotion model
        ctx = moderngl.create_context()
        scale = pick_render_scale(ctx.info["GL_RENDERER"], opts.render_scale, window.get_framebuffer_size())
        log(f"OpenGL: {ctx.info['GL_RENDERER']}, rendering at {scale:.2g}x the window size")

        def scaled(size):
            return max(2, int(size[0] * scale)), max(2, int(size[1] * scale))

        show = Show(ctx, scaled(window.get_framebuffer_size()), preset, get_state, analyzer=engine, say=log,
                    osc_host=opts.osc_host, camera=camera, link=link)
        log(f"preset: {preset.name or 'default'}")
        if opts.ndi is not None:
            from livevis.show.ndi import FileAudioFeed, NdiOutput

            if opts.input_path is not None:  # the file's sound goes out with the picture
                sound = FileAudioFeed(opts.input_path)
            audio = None if sound is None else (sound.rate, sound.channels, sound.block)
            ndi = NdiOutput(ctx, opts.ndi, show.size, preset.output.fps, audio=audio)
            log(f"NDI source: {opts.ndi} ({show.size[0]}x{show.size[1]}"
                + (f", with the file's sound at {sound.rate} Hz)" if sound is not None else ")"))
        blitter = ScreenBlitter(ctx)
        banner = pyglet.text.Label("NO INPUT", font_size=36, weight="bold", color=(255, 80, 80, 255),
                                   x=20, y=20, anchor_x="left", anchor_y="bottom")
        camera_label = pyglet.text.Label("", font_size=14, weight="bold", anchor_x="right", anchor_y="top")
        overlay = OverlayView()
        log(f"emotion model on {engine.wait_ready()['provider']}")

        stats = {"frames": 0, "render_errors": 0}
        t0 = time.monotonic()
        fps_clock = {"last": t0, "fps": 0.0}

        @window.event
        def on_draw():
            size = window.get_framebuffer_size()
            if min(size) > 0:
                show.resize(scaled(size))
            now = time.monotonic()
            try:
                texture = show.frame(now - t0)
            except Exception:  # never end the show on a rendering error: log it, show the last frame
                stats["render_errors"] += 1
                if stats["render_errors"] <= 3 or stats["render_errors"] % 600 == 0:
                    logging.getLogger("livevis.app").exception("render error %d", stats["render_errors"])
                texture = show.last_texture
            if ndi is not None:
                ndi.send(texture)
                if sound is not None:
                    ndi.send_audio(sound.take(engine.position_s, now))
            ctx.screen.use()
            blitter.draw(texture, size)
            if not engine.get().input_ok:
                banner.draw()
            if camera is not None:  # whoever is filmed can see that a camera is on
                cam = camera.latest()
                on = cam.status == "ok"
                seen = "" if not cam.face else " · face" if cam.faces <= 1 else f" · {cam.faces} faces"
                saving = " · saving frames" if camera.dump is not None else ""
                camera_label.text = ("● CAMERA" + seen + saving) if on else "NO CAMERA" + saving
                camera_label.color = (255, 60, 60, 255) if on else (255, 160, 60, 255)
                camera_label.x, camera_label.y = window.width - 16, window.height - 12
                camera_label.draw()
            dt = now - fps_clock["last"]
            fps_clock["last"] = now
            if dt > 0:
                fps_clock["fps"] = 0.9 * fps_clock["fps"] + 0.1 / dt
            if show.ui.overlay:
                overlay.update(show.overlay_lines(fps_clock["fps"]), window.height)
                overlay.draw()
            stats["frames"] += 1

        def tick(_dt):
            engine.supervise()
            elapsed = time.monotonic() - t0
            done_file = opts.input_path is not None and engine.finished
            if done_file or (opts.duration is not None and elapsed >= opts.duration):
                window.close()
                pyglet.app.exit()

        @window.event
        def on_key_press(symbol, modifiers):
            if symbol in (pyglet.window.key.ESCAPE, pyglet.window.key.Q):
                window.close()
                pyglet.app.exit()
            elif symbol == pyglet.window.key.F:
                window.set_fullscreen(not window.fullscreen)
            else:
                show.key(pyglet.window.key.symbol_string(symbol), modifiers)

        engine.play()
        _wait_first(engine)
        t0 = time.monotonic()
        fps_clock["last"] = t0
        pyglet.clock.schedule_interval(tick, 0.1)
        pyglet.app.run(1 / preset.output.fps)
    finally:
        ended = time.monotonic()  # the show's end, before the engine and the window are torn down
        engine.stop()
        if show is not None:
            show.close()
        if camera is not None:
            camera.stop()
            camera.source.stop()
        if link is not None:
            link.close()
        if ndi is not None:
            ndi.close()
        if sound is not None:
            sound.close()
    elapsed = ended - t0
    totals = engine.stats()
    stats.update(hops=totals["hops"], played_s=elapsed, fps=stats["frames"] / max(elapsed, 1e-9),
                 skipped_samples=totals["skipped_samples"], overflows=totals["overflows"],
                 underruns=totals["underruns"], errors=totals["errors"], engine_restarts=totals["restarts"])
    if _kind(engine) == "follow":
        delays = engine.delays() * 1000
        if len(delays):
            log(f"hop stream: {totals['hops']} hops, sender → here median {np.median(delays):.1f} ms, "
                f"p99 {np.percentile(delays, 99):.1f} ms; {totals['restarts']} sender restarts; dropped "
                + ", ".join(f"{totals['dropped_' + k]} {k}" for k in ("old", "malformed", "refused", "foreign")))
    elif totals["errors"]:
        log(f"{totals['errors']} analysis errors (see the log file)")
    return stats


def _kind(engine) -> str:
    """``follow`` for a render node's hop-stream receiver, else what the audio engine opened."""
    return engine.info.get("kind", "")


def _start_camera(spec: str, preset, log, debug_dir: str | None = None):
    """Open the camera (or video file) and start reading the faces on it; with ``debug_dir``,
    save the frames read there.

    Raises:
        CameraError: unknown camera, missing or unreadable video file, unwritable ``debug_dir``.
        FaceReaderError: OpenCV or the FER model is missing.
    """
    from livevis.camera import CameraEmotion, CameraSource
    from livevis.camera.debug import FrameDump

    source = CameraSource(spec)
    dump = FrameDump(debug_dir) if debug_dir is not None else None
    c = preset.camera
    emotion = CameraEmotion(source, rate_hz=c.rate_hz, attack_s=c.attack_s, release_s=c.release_s, faces=c.faces,
                            dump=dump)
    source.start()
    emotion.start()
    log(f"camera: {source.path} ({'device' if source.is_device else 'video file'}); its faces drive: {c.drives}")
    if dump is not None:
        log(f"camera debug: saving the frames read, with the faces found, to {dump.directory} (the newest {dump.keep})")
    return emotion


def _wait_first(engine, timeout: float = 3.0) -> None:
    """Wait for the engine's first analysed hop (PulseAudio may take ~2 s to start); the show starts anyway.

    The engine publishes a state at stream time 0 as soon as it is playing, before any sound has
    gone out: the first hop is the first state with a time above 0."""
    deadline = time.monotonic() + timeout
    while engine.get().time <= 0.0 and time.monotonic() < deadline:
        time.sleep(0.01)
