#!/usr/bin/env python3
"""Benchmarks of the latent image stream: decode fps, and time from an onset to visible motion.

    python tools/bench_latent.py [--sizes 256,512] [--batch 1,4] [--threads N] [--seconds 4]

* decode fps: TAEF2 decoder in onnxruntime (provider reported), batch 1 and larger batches
  (frames per second counts every decoded image).
* onset → motion: a click track through the real :class:`~livevis.analysis.analyzer.Analyzer` and the
  causal engine: for every click, the audio time of the first hop whose picture moved
  (progress step) minus the click time (analysis latency, quantised to the 0.1 s hop), plus
  the measured decode time of one frame = the time until the new picture is ready for the
  GL texture (the render loop shows it on its next frame, ≤ 1/60 s more).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))




def decode_fps(codec, size: int, batch: int, seconds: float) -> float:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((batch, codec.card.latent_channels, size // 8, size // 8)).astype(np.float32)
    codec.decode(z)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2:
        codec.decode(z)
        n += 1
    return n * batch / (time.perf_counter() - t0)


def onset_to_motion(codec, decode_s: float) -> dict:
    from livevis.analysis.analyzer import Analyzer
    from livevis.render.latent.engine import LatentEngine
    from livevis.render.latent.keyframes import Keyframe

    rate = 22050
    clicks = np.arange(1.0, 9.0, 0.75)
    audio = 0.002 * np.random.default_rng(1).standard_normal(int(10 * rate)).astype(np.float32)
    for c in clicks:
        i = int(c * rate)
        n = int(0.03 * rate)
        audio[i:i + n] += (0.8 * np.exp(-np.arange(n) / (0.005 * rate)) * np.sign(np.sin(np.arange(n)))).astype(np.float32)

    class Null:
        def step(self, f):
            return 0.0, 0.0, np.zeros(17, np.float32)

    an = Analyzer(rate, Null())
    an.features.warm_up()
    states = an.feed(audio)
    lat = np.zeros((codec.card.latent_channels, 4, 4), np.float32)
    kfs = [Keyframe(Path(f"k{i}"), "", np.zeros((32, 32, 3), np.uint8), lat + i, 0.0, 0.0, True) for i in range(3)]
    eng = LatentEngine(codec, kfs, segment=8.0, policy="causal")
    times, steps = [], []
    prev = 0.0
    for s in states:
        seg = eng.segment_index
        eng.update(s)
        steps.append(eng.progress - prev if eng.segment_index == seg else eng.progress)
        prev = eng.progress
        times.append(s.time)
    times, steps = np.array(times), np.array(steps)
    big = steps > 5 * np.median(steps[steps > 0])
    delays = []
    for c in clicks:
        after = np.flatnonzero(big & (times >= c))
        if after.size:
            delays.append(times[after[0]] - c)
    d = np.array(delays)
    return {"clicks": len(clicks), "detected": len(d), "analysis_delay_ms_mean": 1e3 * d.mean(),
            "analysis_delay_ms_max": 1e3 * d.max(), "decode_ms": 1e3 * decode_s,
            "onset_to_frame_ready_ms_mean": 1e3 * (d.mean() + decode_s)}


def main(argv=None) -> int:
    from livevis.render.latent.runtime import load_taef2

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--batch", default="1,4")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args(argv)
    codec = load_taef2(threads=args.threads)
    print(f"provider {codec.provider}, decoder {codec.decoder_path.name}")
    first = None
    for size in (int(s) for s in args.sizes.split(",")):
        for b in (int(x) for x in args.batch.split(",")):
            fps = decode_fps(codec, size, b, args.seconds)
            first = first or 1.0 / fps
            print(f"decode {size}x{size} batch {b}: {fps:.2f} frames/s ({1e3 / fps:.0f} ms/frame)", flush=True)
    print("onset → motion:", onset_to_motion(codec, first))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
