"""Command line: ``livevis run | render | devices | presets | demo``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
import threading

from livevis import __version__
from livevis.errors import LivevisError


def _size(text: str) -> tuple[int, int]:
    from livevis.show.offline import parse_size

    try:
        return parse_size(text)
    except LivevisError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _ip(text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IP address such as 127.0.0.1, 0.0.0.0 or 192.168.1.20, "
                                         f"got {text!r}") from None


def _host_port(text: str) -> str:
    """argparse type: ``HOST:PORT``."""
    from livevis.control.hops import parse_address

    try:
        parse_address(text)
    except LivevisError as err:
        raise argparse.ArgumentTypeError(str(err).split(": ", 1)[-1]) from None
    return text


def _seconds(text: str) -> float:
    """argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got '{text}'")
    return value


def _add_window_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", metavar="NAME|PATH", help="preset from presets/ or a .toml file (default: built-in)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fullscreen", action="store_true", default=None, help="open fullscreen")
    mode.add_argument("--windowed", dest="fullscreen", action="store_false", help="open a window even if the preset says fullscreen")
    p.add_argument("--screen", type=int, help="screen (monitor) index for the window (default: the preset's, 0)")
    p.add_argument("--size", type=_size, help="window size WxH when not fullscreen (default: the preset's, 1280x720)")
    p.add_argument("--output-device", metavar="NAME|INDEX", help="audio output for file playback (default: system default)")
    p.add_argument("--model", metavar="PATH", help="emotion model (.onnx); default: the built-in models/emotion.onnx")
    p.add_argument("--duration", type=_seconds, metavar="SECONDS", help="stop after this many seconds (> 0)")
    p.add_argument("--render-scale", type=float, metavar="S",
                   help="render at S x the window size, 0 < S <= 1 (default: 1 on a GPU, at most 640x360 on software OpenGL)")
    p.add_argument("--osc-host", type=_ip, metavar="ADDRESS",
                   help="address OSC input listens on when the preset listens (default: the preset's, 127.0.0.1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livevis", description="Real-time music visualizer: emotion → face, energy → images.")
    parser.add_argument("--version", action="version", version=f"livevis {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="level of the log file in the user state dir (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="visualize live input (or a file played in real time) in a window")
    run.add_argument("--input", metavar="FILE", help="play this audio file and visualize it in sync")
    run.add_argument("--device", metavar="NAME|INDEX", help="audio input device (default: system default)")
    run.add_argument("--camera", metavar="DEVICE|FILE",
                     help="a camera (index, /dev/videoN or name, see 'livevis devices') or a video file played as "
                          "one, whose faces steer the show as the preset's [camera] says")
    run.add_argument("--camera-debug", metavar="DIR",
                     help="save the frames the camera's face reader reads, with the faces it found and their "
                          "emotions drawn on them, to DIR (the newest 200); without it frames never leave memory")
    run.add_argument("--follow", type=_host_port, metavar="HOST:PORT",
                     help="render node: render the hop stream another livevis sends to this address "
                          "(0.0.0.0:PORT: every interface) instead of analysing audio here")
    run.add_argument("--link", action="store_true", default=None,
                     help="join the Ableton Link session: tempo and beat phase follow its peers (also [link] in a preset)")
    run.add_argument("--ndi", metavar="NAME", help="also publish the picture as the NDI source NAME "
                     "(needs the optional cyndilib: pip install 'livevis[ndi]')")
    _add_window_options(run)

    analyze = sub.add_parser("analyze", help="analysis node, no window: analyse live input (or a file played in "
                             "real time) and send each hop to render nodes ('livevis run --follow')")
    analyze.add_argument("--send", type=_host_port, action="append", required=True, metavar="HOST:PORT",
                         help="a render node's address (repeat for each node)")
    analyze.add_argument("--input", metavar="FILE", help="play this audio file and analyse it in real time")
    analyze.add_argument("--device", metavar="NAME|INDEX", help="audio input device (default: system default)")
    analyze.add_argument("--output-device", metavar="NAME|INDEX", help="output device a file plays on")
    analyze.add_argument("--preset", metavar="NAME|PATH", help="preset whose audio and emotion settings to use")
    analyze.add_argument("--model", metavar="PATH", help="emotion model (.onnx); default: the built-in one")
    analyze.add_argument("--duration", type=_seconds, metavar="SECONDS", help="stop after SECONDS")
    analyze.add_argument("--link", action="store_true", help="join the Ableton Link session: the hops carry its "
                         "tempo and beat phase")

    render = sub.add_parser("render", help="render an audio file offline to an mp4 video")
    render.add_argument("input", metavar="FILE", help="audio file")
    render.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="video file to write")
    render.add_argument("--size", type=_size, default=(1280, 720), help="video size WxH (default 1280x720)")
    render.add_argument("--fps", type=int, default=30, help="frames per second (default 30)")
    render.add_argument("--duration", type=_seconds, metavar="SECONDS", help="render only the first SECONDS (> 0)")
    render.add_argument("--model", metavar="PATH", help="emotion model (.onnx); default: the built-in models/emotion.onnx")
    render.add_argument("--no-progress", action="store_true", help="no progress bar")
    render.add_argument("--preset", metavar="NAME|PATH", help="preset whose layers to render (default: built-in)")

    sub.add_parser("presets", help="list the presets in presets/ and validate them")

    sub.add_parser("devices", help="list audio inputs and outputs, MIDI ports and cameras")

    demo = sub.add_parser("demo", help="play and visualize the built-in demo track (without a display or sound "
                          "device: render its first 30 s to livevis-demo.mp4)")
    _add_window_options(demo)
    return parser


def _cmd_run(args, input_path) -> int:
    from livevis.show.app import RunOptions, run_live

    opts = RunOptions(input_path=input_path, device=getattr(args, "device", None), output_device=args.output_device,
                      fullscreen=args.fullscreen, screen=args.screen, size=args.size, model=args.model,
                      duration=args.duration, render_scale=args.render_scale, preset=args.preset,
                      osc_host=args.osc_host, camera=getattr(args, "camera", None),
                      camera_debug=getattr(args, "camera_debug", None),
                      follow=getattr(args, "follow", None), link=getattr(args, "link", None),
                      ndi=getattr(args, "ndi", None))
    def say(message: str) -> None:
        print(message, flush=True)
        logging.getLogger("livevis").info("%s", message)

    stats = run_live(opts, log=say)
    print(f"drew {stats['frames']} frames ({stats['fps']:.1f} fps), {stats['hops']} analysis hops, "
          f"{stats['overflows']} input overflows, {stats['skipped_samples']} samples skipped, "
          f"{stats['underruns']} device underruns, {stats['engine_restarts']} audio engine restarts")
    return 0


class _Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _stop_on_signals():
    """Within the block, SIGINT and SIGTERM raise :class:`_Stopped` in the main thread, once:
    later ones are ignored so that the clean-up they interrupt can finish. The previous
    handlers are restored afterwards. Off the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _Stopped(signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _cmd_render(args) -> int:
    with _stop_on_signals():
        return _render(args)


def _render(args) -> int:
    from livevis.audio.decode import open_audio
    from livevis.control.presets import default_preset, load_preset
    from livevis.analysis.emotion import EmotionModel
    from livevis.logs import FILE_ONLY
    from livevis.show.offline import render_file
    from livevis.outfile import check_output
    from livevis.show.scene import OfflineScene, offscreen_context

    # everything an operator can get wrong fails here, before any decoding, GL or model work
    audio = open_audio(args.input)
    check_output(args.output, args.input)
    preset = load_preset(args.preset) if args.preset else default_preset()
    emotion = EmotionModel(args.model)  # a bad --model is an error, never a silent fallback
    print(f"emotion model on {emotion.provider}", file=sys.stderr)
    ctx = offscreen_context()
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    try:
        n = render_file(audio, args.output, emotion, lambda w, h: OfflineScene(ctx, w, h, preset, say),
                        size=args.size, fps=args.fps, duration=args.duration, progress=not args.no_progress)
    except _Stopped as stop:
        message = f"render stopped by {stop}; nothing written to {args.output} (partial output removed)"
        logging.getLogger("livevis").warning("%s", message, extra=FILE_ONLY)
        print(f"livevis: {message}", file=sys.stderr)
        return 128 + stop.signum
    except LivevisError as err:
        failed = LivevisError(f"{err}; nothing written to {args.output}")
        failed.exit_code = err.exit_code
        raise failed from None
    print(f"wrote {args.output}: {n} frames at {args.fps} fps, {args.size[0]}x{args.size[1]}")
    return 0


def _cmd_analyze(args) -> int:
    from livevis.control.hops import parse_address
    from livevis.show.analyze import run_analyze

    try:
        with _stop_on_signals():
            stats = run_analyze([parse_address(t) for t in args.send], input_path=args.input, device=args.device,
                                output_device=args.output_device, preset=args.preset, model=args.model,
                                duration=args.duration, link=args.link, log=lambda m: print(m, flush=True))
    except _Stopped as stop:
        print(f"livevis analyze: stopped by {stop}", flush=True)
        return 0
    print(f"sent {stats['hops']} hops in {stats['seconds']:.1f} s, {stats['restarts']} audio engine restarts")
    return 0


def _cmd_demo(args) -> int:
    """Play the demo live; without a window or a sound device, render its start to an mp4."""
    from pathlib import Path

    from livevis.show import demo

    track = str(demo.demo_track())
    problem = demo.live_show_problem(args.output_device)
    if problem is None:
        return _cmd_run(args, track)
    out = Path.cwd() / demo.DEMO_VIDEO
    seconds = args.duration or demo.DEMO_SECONDS
    print(f"livevis demo: {problem}.\nNo live show here, so no window: rendering the first "
          f"{seconds:g} s of the demo to {out} instead.", flush=True)
    render_args = argparse.Namespace(
        input=track, output=str(out), size=args.size or demo.DEMO_VIDEO_SIZE, fps=demo.DEMO_VIDEO_FPS,
        duration=seconds, model=args.model, no_progress=False, preset=args.preset)
    code = _cmd_render(render_args)
    if code == 0:
        print(f"the demo video is {out}: play it with any video player")
    return code


def _cmd_presets() -> int:
    from livevis.control.presets import list_presets

    bad = 0
    for name, path, error in list_presets():
        if error is None:
            print(f"{name:16s} {path}  OK")
        else:
            bad += 1
            print(f"{name:16s} {path}  INVALID")
            for line in error.lines:
                print(f"    {line}")
    return 2 if bad else 0


def _cmd_devices() -> int:
    from livevis.audio.devices import format_device_table
    from livevis.control.midi import list_ports

    from livevis.camera import list_cameras

    print(format_device_table())
    cameras = list_cameras()
    print("cameras:")
    print("\n".join(f"  {path}  {name}" for path, name in cameras) if cameras else "  (none)")
    try:
        inputs, outputs = list_ports()
    except LivevisError as err:
        print(f"MIDI: unavailable: {err}")
        return 0
    for kind, names in (("MIDI inputs", inputs), ("MIDI outputs", outputs)):
        print(f"{kind}:")
        print("\n".join(f"  {name}" for name in names) if names else "  (none)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from livevis.logs import FILE_ONLY, setup_logging

    log = logging.getLogger("livevis")
    try:
        log_file = setup_logging(args.log_level)
    except OSError as err:  # an unwritable state dir must not stop the show
        log_file = None
        print(f"livevis: warning: no log file ({err})", file=sys.stderr)
    try:
        log.info("livevis %s: %s", __version__, " ".join(sys.argv[1:] if argv is None else argv))
        if args.command == "run":
            return _cmd_run(args, args.input)
        if args.command == "render":
            return _cmd_render(args)
        if args.command == "analyze":
            return _cmd_analyze(args)
        if args.command == "presets":
            return _cmd_presets()
        if args.command == "devices":
            return _cmd_devices()
        if args.command == "demo":
            return _cmd_demo(args)
    except LivevisError as err:
        log.error("%s", err, extra=FILE_ONLY)
        print(f"livevis: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        print(f"livevis: stopped by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum
    except Exception as err:  # a bug: keep the operator's terminal readable, keep details on request
        if os.environ.get("LIVEVIS_DEBUG"):
            raise
        log.exception("internal error", extra=FILE_ONLY)
        where = f"details in {log_file}" if log_file else "set LIVEVIS_DEBUG=1 for details"
        print(f"livevis: internal error: {err.__class__.__name__}: {err} ({where})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
