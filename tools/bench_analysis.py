#!/usr/bin/env python3
"""Analysis cost per hop: the whole analysis stage (:class:`Analyzer`: resampling, features, emotion
model, tempo, expression) and the feature extractor alone, on a real track.

Prints the wall and CPU (``time.process_time``, all threads) milliseconds per hop after a warm-up (numba JIT,
ONNX session); on a loaded machine the CPU figure is the steadier one. The audio is fed one hop at a time, as
live, and the distribution of the wall time per hop is printed too (median, p90, p99, max): the eGeMAPS
functionals run on every fifth hop only, so the mean hides a slower hop.
``--root`` imports livevis from another checkout (e.g. a ``git worktree`` of an older commit), so
two builds can be timed side by side with farm-bench::

    git worktree add --detach /tmp/wt15-old 7d39c2b
    farm-bench -n 5 -- python tools/bench_analysis.py --vs 'python tools/bench_analysis.py --root /tmp/wt15-old'

Usage: python tools/bench_analysis.py [--root DIR] [--track FILE] [--seconds 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="livevis checkout to import (default: this one)")
    ap.add_argument("--track", type=Path, default=None, help="audio file (default: the demo track)")
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds of the track to analyse")
    args = ap.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    import numpy as np

    try:  # the stage packages (issue 15) or the old top-level modules
        from livevis.analysis.analyzer import Analyzer
        from livevis.analysis.emotion import load_emotion_model
    except ImportError:
        from livevis.analysis import Analyzer
        from livevis.emotion import load_emotion_model
    from livevis.audio.decode import load_audio
    try:  # show/ (the layout of ../shared/ARCHITECTURE.md) or the old top-level module
        from livevis.show.demo import demo_track
    except ImportError:
        from livevis.demo import demo_track

    audio, rate = load_audio(args.track or demo_track())
    mono = audio.mean(axis=1)[: int(args.seconds * rate)].astype(np.float32)
    analyzer = Analyzer(rate, load_emotion_model())
    analyzer.features.warm_up()
    Analyzer(rate, analyzer.emotion).feed(mono[: rate])  # warm the ONNX session and the resampler
    block = int(round(rate * analyzer.hop_s))  # one hop of source samples per call, as live
    states, per_hop = [], []
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(mono), block):
        t = time.perf_counter()
        new = analyzer.feed(mono[start:start + block])
        if new:
            per_hop.append((time.perf_counter() - t) / len(new))
        states += new
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    fe = analyzer.features
    window = np.ascontiguousarray(analyzer._window)
    n = min(len(states), 100)
    t1, c1 = time.perf_counter(), time.process_time()
    for _ in range(n):
        fe.process(window)
    features, features_cpu = (time.perf_counter() - t1) / n, (time.process_time() - c1) / n
    print(f"analysis ({args.root}): {len(states)} hops, {elapsed / len(states) * 1000:.2f} ms/hop wall, "
          f"{cpu / len(states) * 1000:.2f} ms/hop CPU (features {features * 1000:.2f} ms/hop wall, "
          f"{features_cpu * 1000:.2f} CPU), real-time factor {elapsed / (len(mono) / rate):.3f}")
    ms = np.array(per_hop) * 1000
    print(f"per hop wall ms: median {np.median(ms):.2f}, p90 {np.percentile(ms, 90):.2f}, "
          f"p99 {np.percentile(ms, 99):.2f}, max {ms.max():.2f}")


if __name__ == "__main__":
    main()
