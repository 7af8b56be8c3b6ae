#!/usr/bin/env python3
"""Benchmark the 3D face layer: CPU cost per frame of the layer's Python side, and whole frames.

    python tools/bench_face3d.py [--sizes 1280x720,1920x1080] [--frames 60] [--samples 4]

Prints, per size: the layer's CPU work per frame (AU smoothing, mesh prediction, normals,
uniforms, GL calls issued; excluding the GPU's work) and the wall time of a full composited
frame including ``ctx.finish()`` (on a software renderer such as llvmpipe that is all CPU;
on a GPU it is the number to compare with 16.7 ms for 60 fps).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--samples", type=int, default=4, help="MSAA samples of the face layer")
    args = parser.parse_args(argv)

    import moderngl

    from livevis.face3d.aumesh import AUMeshModel, prototype
    from livevis.face3d.mesh_layer import FaceMeshLayer
    from livevis.render import Compositor, SolidLayer
    from livevis.analysis.state import AnalysisState

    ctx = moderngl.create_standalone_context(backend="egl")
    print(f"renderer: {ctx.info['GL_RENDERER']}")
    model = AUMeshModel.load()
    states = [AnalysisState(aus=prototype(p), valence=v, arousal=a)
              for p, v, a in (("happy", 0.8, 0.6), ("sad", -0.7, -0.5), ("surprised", 0.2, 0.9))]
    for spec in args.sizes.split(","):
        w, h = (int(v) for v in spec.lower().split("x"))
        layer = FaceMeshLayer(ctx, model, samples=args.samples)
        comp = Compositor(ctx, w, h, [SolidLayer(ctx, (0.1, 0.1, 0.12)), layer])
        cpu, full = [], []
        for i in range(args.frames + 5):
            st = states[(i // 10) % len(states)]
            t = i / 60.0
            ctx.finish()
            t0 = time.perf_counter()
            comp.render(st, t)
            t1 = time.perf_counter()
            ctx.finish()
            t2 = time.perf_counter()
            if i >= 5:
                cpu.append(t1 - t0)
                full.append(t2 - t0)
        # CPU-only part of the layer (no GL): smoothing + prediction + normals
        from livevis.face3d.aumesh import vertex_normals
        t0 = time.perf_counter()
        for i in range(200):
            a = layer.frame_aus(states[i % 3], i / 60.0)
            v = model.predict(a)
            vertex_normals(v, model.triangles)
        mesh_ms = (time.perf_counter() - t0) / 200 * 1e3
        print(f"{w}x{h} samples={layer.samples}: mesh+normals {mesh_ms:.2f} ms; render() returns after "
              f"{statistics.median(cpu) * 1e3:.1f} ms; full frame incl. finish {statistics.median(full) * 1e3:.1f} ms "
              f"(median of {args.frames}; p90 {np.percentile(full, 90) * 1e3:.1f} ms)")
        comp.release()
    ctx.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
