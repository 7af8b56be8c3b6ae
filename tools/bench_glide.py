#!/usr/bin/env python3
"""What the latent glide costs the render loop: a 512² picture gliding to the next decode, drawn
through the real compositor at 1280x720 on the offscreen context.

Two ways, one per run (``--mode``), so farm-bench can time them side by side:

* ``gpu`` (livevis today): each decoded picture is uploaded once
  (:meth:`~livevis.render.ImageLayer.glide_to`) and every frame moves a cross-fade on the GPU
  (:meth:`~livevis.render.ImageLayer.set_mix`, a pass at the picture's size);
* ``cpu`` (before): every frame blends the two pictures in numpy (float32), converts to uint8 and
  uploads the result (:meth:`~livevis.render.ImageLayer.set_image`).

A new picture arrives every 6 frames (10 decodes a second at 60 fps). Prints the median wall and
CPU milliseconds per frame (``ctx.finish()`` included)::

    farm-bench -n 5 -- python tools/bench_glide.py --mode gpu --vs 'python tools/bench_glide.py --mode cpu'
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("gpu", "cpu"), default="gpu")
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--picture", type=int, default=512, help="decoded picture size, pixels (square)")
    ap.add_argument("--size", default="1280x720")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))

    from livevis.analysis.state import AnalysisState
    from livevis.render import Compositor, ImageLayer
    from livevis.show.scene import offscreen_context

    ctx = offscreen_context()
    layer = ImageLayer(ctx)
    comp = Compositor(ctx, width, height, [layer])
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (args.picture, args.picture, 3), dtype=np.uint8) for _ in range(8)]
    state = AnalysisState()
    previous = current = pictures[0]
    layer.set_image(current)
    walls, cpus = [], []
    for i in range(args.frames):
        t0, c0 = time.perf_counter(), time.process_time()
        if i % 6 == 0:  # a new decode
            previous, current = current, pictures[(i // 6) % len(pictures)]
            if args.mode == "gpu":
                layer.glide_to(current)
        mix = (i % 6 + 1) / 6
        if args.mode == "gpu":
            layer.set_mix(mix)
        else:
            blended = previous.astype(np.float32) + mix * (current.astype(np.float32) - previous.astype(np.float32))
            layer.set_image(blended.astype(np.uint8))
        comp.render(state, i / 60)
        ctx.finish()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    print(f"{args.mode}: {statistics.median(walls) * 1000:.2f} ms wall, {statistics.median(cpus) * 1000:.2f} ms CPU "
          f"per frame ({args.picture}² picture, {width}x{height}, {args.frames} frames)")
    comp.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
