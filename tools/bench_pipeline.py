#!/usr/bin/env python3
"""Benchmarks of the main pipeline (issue "The main job end to end").

Prints:
  - analysis cost per hop (features + emotion model) and the real-time factor;
  - compositor render fps at 1280x720 (llvmpipe on machines without a GPU);
  - offline render speed as a multiple of real time;
  - latency from a sample's arrival in the audio callback to the first frame that uses it, with the
    real render loop (the live show's default scene) drawing every frame; analysis in the audio engine
    process and, for comparison, in a thread of the render process (live capture through the default
    input; needs a sound server, e.g. the PulseAudio null sink of tools/start-audio-server.sh, with
    music played into it by this script).

Usage: python tools/bench_pipeline.py [--track FILE] [--seconds 20] [--only latency] [--engine both]
       [--load 2] [--size 640x360]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livevis.analysis.analyzer import Analyzer, AnalysisThread  # noqa: E402
from livevis.audio.decode import load_audio  # noqa: E402
from livevis.show.demo import demo_track  # noqa: E402
from livevis.analysis.emotion import load_emotion_model  # noqa: E402
from livevis.analysis.state import LatestState  # noqa: E402


def bench_analysis(track: Path, seconds: float) -> None:
    audio, rate = load_audio(track)
    mono = audio.mean(axis=1)[: int(seconds * rate)]
    analyzer = Analyzer(rate, load_emotion_model())
    analyzer.features.warm_up()
    t0 = time.perf_counter()
    states = analyzer.feed(mono)
    elapsed = time.perf_counter() - t0
    per_hop = elapsed / len(states)
    print(f"analysis: {len(states)} hops, {per_hop * 1000:.1f} ms/hop, "
          f"real-time factor {elapsed / (len(mono) / rate):.3f} (hop {analyzer.hop_s * 1000:.0f} ms)")


def bench_render(width: int = 1280, height: int = 720, frames: int = 120) -> None:
    from livevis.show.scene import make_compositor, offscreen_context
    from livevis.analysis.state import AnalysisState

    ctx = offscreen_context()
    comp = make_compositor(ctx, width, height)
    state = AnalysisState(rms=0.3, bass=0.7, mid=0.5, high=0.4, onset=0.5, valence=0.4, arousal=0.6)
    comp.render(state, 0.0)
    ctx.finish()
    t0 = time.perf_counter()
    for i in range(frames):
        comp.render(state, i / 60)
    ctx.finish()
    gpu = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(frames // 4):
        comp.render(state, i / 60)
        comp.read_rgb()
    readback = time.perf_counter() - t0
    print(f"render {width}x{height} on {ctx.info['GL_RENDERER']}: {frames / gpu:.1f} fps "
          f"({gpu / frames * 1000:.1f} ms/frame); with read-back {frames // 4 / readback:.1f} fps")
    comp.release()


def bench_offline(track: Path, seconds: float) -> None:
    from livevis.show.offline import render_file
    from livevis.show.scene import make_compositor, offscreen_context

    ctx = offscreen_context()
    emotion = load_emotion_model()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.mp4"
        t0 = time.perf_counter()
        n = render_file(track, out, emotion, lambda w, h: make_compositor(ctx, w, h), size=(1280, 720),
                        fps=30, duration=seconds, progress=False)
        elapsed = time.perf_counter() - t0
    print(f"offline render 1280x720@30: {n} frames in {elapsed:.1f} s = {seconds / elapsed:.2f}x real time")


def _busy() -> None:
    while True:
        pass


def bench_latency(track: Path, seconds: float, engine: str = "process", size: tuple[int, int] = (640, 360),
                  load: int = 0) -> None:
    """Arrival in the capture callback → first frame that uses it, with the real render loop.

    The loop is the live show's: :class:`~livevis.show.Show` with the default preset drawing every
    frame at ``size`` (the live window's picture size on llvmpipe) at up to 60 fps, ``ctx.finish()`` after
    each, and the frame's latency taken when it has been drawn with a state it had not used before.
    ``engine="process"`` runs capture and analysis in the audio engine process (as ``livevis run`` does);
    ``"thread"`` in an analysis thread of this process (the design before issue 15), for comparison.
    ``load`` busy processes run meanwhile (goal 1's load).
    """
    import multiprocessing

    from livevis.control.presets import default_preset
    from livevis.show.scene import offscreen_context
    from livevis.show.show import Show

    if shutil.which("paplay") is None:
        print("latency: skipped (paplay not found)")
        return
    if engine == "process":
        from livevis.audio.engine import AudioEngine
        from livevis.audio.engine_process import EngineConfig

        source = AudioEngine(EngineConfig(), say=lambda line: None)
        source.start()
        source.wait_ready()
        newest, version = source.newest, lambda: source.slot.version
        source.play()
        overflows = lambda: source.stats()["overflows"]  # noqa: E731
    else:
        from livevis.audio.capture import AudioCapture

        capture = AudioCapture()
        analyzer = Analyzer(capture.sample_rate, load_emotion_model())
        analyzer.features.warm_up()
        latest = LatestState()
        worker = AnalysisThread(capture, analyzer, latest)
        newest, version = (lambda: (latest.get(), worker.published_arrival)), (lambda: latest.version)
        capture.start()
        capture.wait_first_callback()
        worker.start()
        overflows = lambda: capture.ring.overflows  # noqa: E731
    ctx = offscreen_context()
    show = Show(ctx, size, default_preset(), lambda: newest()[0], control=False, say=lambda line: None)
    busy = [multiprocessing.get_context("spawn").Process(target=_busy, daemon=True) for _ in range(load)]
    for b in busy:
        b.start()
    player = subprocess.Popen(["paplay", str(track)])
    latencies, frame_times, seen = [], [], version()
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        start = time.monotonic()
        v = version()
        _, arrival = newest()
        show.frame(start - t0)
        ctx.finish()
        done = time.monotonic()
        frame_times.append(done - start)
        if v != seen and arrival > 0:
            seen = v
            latencies.append(done - arrival)
        time.sleep(max(0.0, 1 / 60 - (done - start)))
    player.kill()
    for b in busy:
        b.kill()
    hops = version()
    engines = [d.engine for d in show.drivers if getattr(d, "engine", None) is not None]
    decoded = sum(e.stats.decoded for e in engines)
    show.close()
    if engine == "process":
        source.stop()
    else:
        worker.stop()
        worker.join()
        capture.stop()
    lat = np.array(latencies) * 1000
    print(f"latency ({engine}, {size[0]}x{size[1]} default scene, load {load}): arrival→frame median "
          f"{np.median(lat):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms over {len(lat)} new states; frame "
          f"median {np.median(frame_times) * 1000:.1f} ms; {hops} state versions, {overflows()} overflows; "
          f"image stream: {decoded} pictures decoded ({decoded / seconds:.1f}/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--track", type=Path, default=None, help="audio file (default: the demo track)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--only", choices=["analysis", "render", "offline", "latency"], default=None,
                        help="run one benchmark only")
    parser.add_argument("--engine", choices=["process", "thread", "both"], default="both",
                        help="latency: analysis in the audio engine process, in a thread, or both in turn")
    parser.add_argument("--load", type=int, default=0, help="latency: busy processes running meanwhile")
    parser.add_argument("--size", default="640x360", help="latency: picture size of the render loop")
    args = parser.parse_args()
    track = args.track or demo_track()
    print(f"track: {track.name}")
    if args.only in (None, "analysis"):
        bench_analysis(track, args.seconds)
    if args.only in (None, "render"):
        bench_render()
    if args.only in (None, "offline"):
        bench_offline(track, min(args.seconds, 10.0))
    if args.only in (None, "latency"):
        size = tuple(int(v) for v in args.size.split("x"))
        for engine in (["process", "thread"] if args.engine == "both" else [args.engine]):
            bench_latency(track, min(args.seconds, 20.0), engine, size, args.load)


if __name__ == "__main__":
    main()
