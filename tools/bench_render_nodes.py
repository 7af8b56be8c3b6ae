"""Two render nodes following one headless analysis node: how far apart are their pictures?

Starts three processes on loopback: ``livevis analyze`` playing a track in real time (through the
default audio output: the PulseAudio null sink on a headless machine) and sending its hop stream to
two render nodes; each node (this script with ``--node``) follows the stream with the real
:class:`~livevis.control.hops.HopFollower` and renders the default preset with the real
:class:`~livevis.show.show.Show` on an offscreen OpenGL context at up to 60 fps, logging for every
frame the host time (``time.monotonic()``, one clock for all processes on a machine) and the stream
time of the hop it drew.

Reported: the spread between the nodes (at each frame of node A, the stream time node B was
drawing at that moment, minus A's: 0 when both show the same hop), the follower's added latency in
two parts (the sender's sending → the hop's arrival, and the arrival → the end of the first frame
that drew it), and the frame rates.

    python tools/bench_render_nodes.py [--seconds 60] [--track FILE] [--size 320x180]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def node(port: int, seconds: float, size: tuple[int, int], out: str) -> None:
    from livevis.control.hops import HopFollower
    from livevis.control.presets import default_preset
    from livevis.show.scene import offscreen_context
    from livevis.show.show import Show

    ctx = offscreen_context()
    with HopFollower("127.0.0.1", port) as follower:
        show = Show(ctx, size, default_preset(), follower.get, analyzer=follower, say=lambda *_: None)
        frames = []
        t0 = time.monotonic()
        while follower.version == 0 and time.monotonic() - t0 < 120:
            time.sleep(0.01)
        t0 = time.monotonic()
        next_frame = t0
        while time.monotonic() - t0 < seconds:
            now = time.monotonic()
            state, arrived = follower.newest()  # the hop this frame draws (Show reads the same newest hop)
            show.frame(now - t0)
            ctx.finish()
            frames.append((time.monotonic(), state.time, arrived))
            next_frame = max(next_frame + 1 / 60, time.monotonic())
            time.sleep(max(0.0, next_frame - time.monotonic()))
        show.close()
        np.savez(out, frames=np.array(frames), delays=follower.delays())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--track", help="audio file (default: the built-in demo track)")
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--node", nargs=3, metavar=("PORT", "SECONDS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    if args.node:
        node(int(args.node[0]), float(args.node[1]), size, args.node[2])
        return 0
    if args.track is None:
        from livevis.show.demo import demo_track

        args.track = str(demo_track())
    ports = [_free_port(), _free_port()]
    with tempfile.TemporaryDirectory() as tmp:
        outs = [str(Path(tmp) / f"node{k}.npz") for k in range(2)]
        nodes = [subprocess.Popen([sys.executable, __file__, "--size", args.size, "--node", str(p),
                                   str(args.seconds), o]) for p, o in zip(ports, outs)]
        sender = subprocess.Popen([sys.executable, "-m", "livevis", "analyze", "--input", args.track,
                                   "--duration", str(args.seconds + 60), "--send", f"127.0.0.1:{ports[0]}",
                                   "--send", f"127.0.0.1:{ports[1]}"], cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            for p in nodes:
                p.wait(args.seconds + 240)
        finally:
            sender.terminate()  # SIGTERM: it stops its engine cleanly
            sender.wait(10)
        a, b = (np.load(o) for o in outs)
    fa, fb = a["frames"], b["frames"]
    # at each frame of A, what B was drawing at that host time (its latest frame at or before)
    idx = np.searchsorted(fb[:, 0], fa[:, 0], side="right") - 1
    ok = idx >= 0
    spread = np.abs(fb[idx[ok], 1] - fa[ok, 1])
    hop = float(np.median(np.diff(np.unique(fa[:, 1])))) if len(np.unique(fa[:, 1])) > 2 else float("nan")
    delays = np.concatenate([a["delays"], b["delays"]]) * 1000
    # hop arrival → the end of the first frame that drew it (per node)
    to_frame = []
    for f in (fa, fb):
        _, first = np.unique(f[:, 1], return_index=True)
        to_frame.append((f[first, 0] - f[first, 2])[1:])
    to_frame = np.concatenate(to_frame) * 1000
    report = {
        "seconds": args.seconds, "frames": [len(fa), len(fb)],
        "fps": [round(len(f) / (f[-1, 0] - f[0, 0]), 1) for f in (fa, fb)],
        "hop_s": round(hop, 4),
        "spread_ms": {"median": round(float(np.median(spread)) * 1000, 1),
                      "p99": round(float(np.percentile(spread, 99)) * 1000, 1),
                      "max": round(float(spread.max()) * 1000, 1),
                      "same_hop_fraction": round(float(np.mean(spread < 1e-9)), 3),
                      "within_one_hop_fraction": round(float(np.mean(spread <= hop + 1e-9)), 4)},
        "sender_to_node_ms": {"median": round(float(np.median(delays)), 1),
                              "p99": round(float(np.percentile(delays, 99)), 1)},
        "arrival_to_frame_ms": {"median": round(float(np.median(to_frame)), 1),
                                "p99": round(float(np.percentile(to_frame, 99)), 1)},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
