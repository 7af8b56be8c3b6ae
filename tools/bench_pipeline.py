#!/usr/bin/env python3
"""Benchmarks of the main pipeline (issue "The main job end to end").

Prints:
  - analysis cost per hop (features + emotion model) and the real-time factor;
  - compositor render fps at 1280x720 (llvmpipe on machines without a GPU);
  - offline render speed as a multiple of real time;
  - latency from a sample's arrival in the audio callback to the first frame that uses it
    (live capture through the default input; needs a sound server, e.g. the PulseAudio null
    sink of tools/start-audio-server.sh, with music played into it by this script).

Usage: python tools/bench_pipeline.py [--track FILE] [--seconds 20]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livevis.analysis import Analyzer, AnalysisThread  # noqa: E402
from livevis.audio.decode import load_audio  # noqa: E402
from livevis.show.demo import demo_track  # noqa: E402
from livevis.emotion import load_emotion_model  # noqa: E402
from livevis.state import LatestState  # noqa: E402


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
    from livevis.state import AnalysisState

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


def bench_latency(track: Path, seconds: float) -> None:
    """Arrival in the callback → state published → first frame (a 60 Hz loop) that reads it."""
    from livevis.audio.capture import AudioCapture

    if shutil.which("paplay") is None:
        print("latency: skipped (paplay not found)")
        return
    capture = AudioCapture()
    analyzer = Analyzer(capture.sample_rate, load_emotion_model())
    analyzer.features.warm_up()
    latest = LatestState()
    worker = AnalysisThread(capture, analyzer, latest,
                            record_latency=True)
    frame_latencies: list[float] = []
    stop = threading.Event()

    def render_loop():  # stands in for the 60 Hz display: notes when it first sees a new state
        seen = latest.version
        while not stop.is_set():
            version = latest.version
            if version != seen:
                seen = version
                if worker.published_arrival > 0:
                    frame_latencies.append(time.monotonic() - worker.published_arrival)
            time.sleep(1 / 60)

    capture.start()
    capture.wait_first_callback()
    worker.start()
    loop = threading.Thread(target=render_loop)
    loop.start()
    player = subprocess.Popen(["paplay", str(track)])
    time.sleep(seconds)
    player.kill()
    stop.set()
    loop.join()
    worker.stop()
    worker.join()
    capture.stop()
    analysis = np.array(worker.stats.latencies) * 1000
    frame = np.array(frame_latencies) * 1000
    print(f"latency arrival→state: median {np.median(analysis):.1f} ms, p99 {np.percentile(analysis, 99):.1f} ms; "
          f"arrival→frame (60 Hz loop): median {np.median(frame):.1f} ms, p99 {np.percentile(frame, 99):.1f} ms; "
          f"{worker.stats.hops} hops, {capture.ring.overflows} overflows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--track", type=Path, default=None, help="audio file (default: the demo track)")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    track = args.track or demo_track()
    print(f"track: {track.name}")
    bench_analysis(track, args.seconds)
    bench_render()
    bench_offline(track, min(args.seconds, 10.0))
    bench_latency(track, min(args.seconds, 10.0))


if __name__ == "__main__":
    main()
