"""What NDI output costs the render loop: the default scene at 1280x720, with and without --ndi.

Renders the same analysis states (the demo track) through the real :class:`~livevis.show.show.Show`
on the offscreen OpenGL context, alternating blocks of frames without and with
:meth:`~livevis.show.ndi.NdiOutput.send` (read-back into a pixel-pack buffer, flip, asynchronous NDI
send), and reports the median frame time of each and their ratio, measured side by side in one run.

    python tools/bench_ndi.py [--frames 120] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", default="1280x720")
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))

    from livevis.analysis.analyzer import Analyzer
    from livevis.analysis.emotion import EmotionModel
    from livevis.audio.decode import load_audio
    from livevis.control.presets import default_preset
    from livevis.show.demo import demo_track
    from livevis.show.ndi import NdiOutput
    from livevis.show.scene import offscreen_context
    from livevis.show.show import Show

    audio, rate = load_audio(demo_track())
    states = Analyzer(rate, EmotionModel()).feed(audio.mean(axis=1)[: 20 * rate].astype(np.float32), last=True)
    ctx = offscreen_context()
    current = {"state": states[0]}
    # as live: the latent image stream decodes on its own thread, the render loop never waits for it
    show = Show(ctx, size, default_preset(), lambda: current["state"], control=False, say=lambda *_: None,
                av_offset=False)
    ndi = NdiOutput(ctx, "livevis-bench", size, 30)
    times = {"render": [], "render+ndi": []}
    readback = []
    for i in range(args.frames):
        current["state"] = states[i % len(states)]
        with_ndi = (i // 10) % 2 == 1  # blocks of 10 frames, alternating
        t0 = time.perf_counter()
        texture = show.frame(i / 30)
        ctx.finish()
        t1 = time.perf_counter()
        if with_ndi:
            ndi.send(texture)
            ctx.finish()
            readback.append(time.perf_counter() - t1)
        times["render+ndi" if with_ndi else "render"].append(time.perf_counter() - t0)
    ndi.close()
    show.close()
    med = {k: float(np.median(v[2:])) * 1000 for k, v in times.items()}
    print(json.dumps({"size": list(size), "frames": args.frames, "renderer": ctx.info["GL_RENDERER"],
                      "median_frame_ms": {k: round(v, 2) for k, v in med.items()},
                      "ndi_send_ms": {"median": round(float(np.median(readback)) * 1000, 2),
                                      "p95": round(float(np.percentile(readback, 95)) * 1000, 2)},
                      "ratio": round(med["render+ndi"] / med["render"], 3)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
