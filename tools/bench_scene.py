#!/usr/bin/env python3
"""Frame time of a preset's whole scene, rendered offscreen (EGL) as ``livevis render`` does.

    python tools/bench_scene.py [--preset default] [--size 1280x720] [--frames 120]

Prints the median and p90 wall time of a composited frame including ``ctx.finish()`` (on a
software renderer such as llvmpipe all of it is CPU). States cycle through happy, sad and
surprised music every 10 frames, with the clock at 30 fps. Compare two trees side by side with
farm-bench, e.g. ``farm-bench --vs 'env PYTHONPATH=/tmp/base python tools/bench_scene.py' --
python tools/bench_scene.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=120)
    args = ap.parse_args(argv)

    from livevis.control.presets import default_preset, load_preset
    from livevis.show.scene import OfflineScene, offscreen_context
    from livevis.analysis.state import AnalysisState

    w, h = (int(v) for v in args.size.lower().split("x"))
    ctx = offscreen_context()
    preset = default_preset() if args.preset == "default" else load_preset(args.preset)
    scene = OfflineScene(ctx, w, h, preset, say=lambda *_: None)
    aus = np.zeros(17, np.float32)
    states = []
    for v, a, on in ((0.7, 0.5, (8, 4)), (-0.6, -0.5, (0, 2, 10)), (0.2, 0.9, (0, 1, 3, 14, 15))):
        x = aus.copy()
        x[list(on)] = 0.8
        states.append(AnalysisState(valence=v, arousal=a, aus=x, tempo=120.0, rms=0.3, bass=0.5, onset=0.4))
    times = []
    for i in range(args.frames + 5):
        ctx.finish()
        t0 = time.perf_counter()
        scene.render(states[(i // 10) % 3], i / 30.0)
        ctx.finish()
        if i >= 5:
            times.append(time.perf_counter() - t0)
    scene.release()
    print(f"{args.preset} {w}x{h}: frame {statistics.median(times) * 1e3:.1f} ms median, "
          f"p90 {np.percentile(times, 90) * 1e3:.1f} ms ({args.frames} frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
