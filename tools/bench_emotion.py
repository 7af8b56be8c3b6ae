#!/usr/bin/env python3
"""Benchmark the emotion model: milliseconds per hop (one ``EmotionModel.step``) on one CPU core.

Usage::

    python tools/bench_emotion.py [--model models/emotion.onnx] [--hops 3000]

The process is pinned to a single core (``os.sched_setaffinity``) and the session uses one
intra-op thread, as at run time. Input: real per-hop features of an annotated emoMusic clip
when ``../shared`` is present, otherwise random vectors. Goal: <= 1 ms per hop.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _emotion_data as data  # noqa: E402

from livevis.analysis.emotion import EmotionModel  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--hops", type=int, default=3000)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    model = EmotionModel(args.model, providers=["CPUExecutionProvider"])
    clip = data.EMOMUSIC / "audio" / "2.flac"
    if clip.exists():
        feats, source = data.track_features(clip), "emoMusic clip 2"
    else:
        feats, source = np.random.default_rng(0).normal(size=(400, 128)).astype(np.float32), "random vectors"
    for v in feats[:100]:  # warm-up
        model.step(v)
    times = np.empty(args.hops)
    for i in range(args.hops):
        v = feats[i % len(feats)]
        t = time.perf_counter()
        model.step(v)
        times[i] = time.perf_counter() - t
    ms = times * 1e3
    print(f"{model.path} on {model.provider}, 1 core, {args.hops} hops of {source}")
    print(f"ms per hop: mean {ms.mean():.4f} median {np.median(ms):.4f} p99 {np.percentile(ms, 99):.4f} "
          f"max {ms.max():.4f} (goal <= 1 ms): {'PASS' if np.median(ms) <= 1.0 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
