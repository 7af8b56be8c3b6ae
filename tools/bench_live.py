#!/usr/bin/env python3
"""``livevis run --input`` of a real track under CPU load: how long it takes to play, device underruns,
hops analysed (issue 15, goal 1: plays in the track's length ± 0.3 s, 0 underruns, every hop).

Starts ``--load`` busy processes, runs the live show of the build at ``--root`` (a window on the X
display: run under ``xvfb-run``; audio to the default output: the PulseAudio null sink of
tools/start-audio-server.sh) until the file ends, stops the load and prints one line, e.g.
``live (ROOT): played 31.7 s track in 31.8 s (wall 38.2 s with start-up), 0 underruns, 317/317 hops,
412 frames (13.0 fps)``. To compare two builds side by side (a ``git worktree`` of an older commit)::

    git worktree add --detach /tmp/wt15-old 7d39c2b
    farm-bench -n 2 --timeout 1200 -- sh -c 'exec python tools/bench_live.py >>/tmp/new.txt 2>&1' \\
        --vs "sh -c 'exec python tools/bench_live.py --root /tmp/wt15-old >>/tmp/old.txt 2>&1'"

Usage: xvfb-run -a python tools/bench_live.py [--root DIR] [--track FILE] [--load 2] [--size 640x360]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# run in a fresh interpreter with the build under test first on sys.path (spawned engine processes inherit it)
_DRIVER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from livevis.show.app import RunOptions, run_live
w, h = (int(v) for v in sys.argv[3].split("x"))
stats = run_live(RunOptions(input_path=sys.argv[2], size=(w, h)), log=lambda line: None)
print("BENCH " + json.dumps({k: v for k, v in stats.items() if isinstance(v, (int, float))}), flush=True)
"""


# plain PortAudio playback of the same track (the reference: the PulseAudio null sink stalls for
# a second or two after it starts, whoever plays): seconds from 0.1 s of audio taken (when the show
# has its first state) to the end of playback
_PLAIN = """
import sys, threading, time
import numpy as np, sounddevice as sd
sys.path.insert(0, sys.argv[1])
from livevis.audio.decode import open_audio
f = open_audio(sys.argv[2])
x = np.ascontiguousarray(np.concatenate(list(f.blocks())), np.float32)
pos, marks, done = [0], {}, threading.Event()
def callback(out, frames, time_info, status):
    k = min(frames, len(x) - pos[0])
    out[:k] = x[pos[0]:pos[0] + k]
    out[k:] = 0.0
    pos[0] += k
    if "first" not in marks and pos[0] >= 0.1 * f.rate:
        marks["first"] = time.monotonic()
    if k < frames:
        raise sd.CallbackStop
stream = sd.OutputStream(channels=x.shape[1], samplerate=f.rate, dtype="float32", blocksize=512,
                         callback=callback, finished_callback=done.set)
stream.start()
done.wait(4 * len(x) / f.rate + 30)
print("PLAIN %.3f" % (time.monotonic() - marks["first"]), flush=True)
"""


def _busy() -> None:
    while True:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="livevis checkout to run (default: this one)")
    ap.add_argument("--track", type=Path, default=None, help="audio file (default: the demo track, 31.7 s)")
    ap.add_argument("--load", type=int, default=2, help="busy processes meanwhile (default 2)")
    ap.add_argument("--size", default="640x360", help="window size (default 640x360)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from livevis.audio.decode import open_audio
    from livevis.show.demo import demo_track

    track = args.track or demo_track()
    duration = open_audio(track).duration
    busy = [multiprocessing.get_context("spawn").Process(target=_busy, daemon=True) for _ in range(args.load)]
    for b in busy:
        b.start()
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", _DRIVER, str(args.root.resolve()), str(track), args.size],
                              capture_output=True, text=True, cwd=args.root)
        wall = time.monotonic() - t0
        plain = subprocess.run([sys.executable, "-c", _PLAIN, str(ROOT), str(track)], capture_output=True, text=True)
    finally:
        for b in busy:
            b.kill()
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if proc.returncode != 0 or line is None:
        print(f"live ({args.root}): failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-3:]}")
        sys.exit(1)
    stats = json.loads(line[6:])
    # from the first analysed hop to the end of the file, before tear-down (an older build without
    # played_s: frames / fps, which there included stopping the engine and closing the window)
    played = stats.get("played_s", stats["frames"] / stats["fps"])
    expected_hops = int(duration / 0.1)
    print(f"live ({args.root}): played {duration:.1f} s track in {played:.1f} s (wall {wall:.1f} s with start-up), "
          f"{stats.get('underruns', 'n/a')} underruns, {stats['hops']}/{expected_hops} hops, "
          f"{stats['skipped_samples']} samples skipped, {stats['frames']} frames ({stats['fps']:.1f} fps), "
          f"load {args.load}", flush=True)
    ref = next((ln for ln in plain.stdout.splitlines() if ln.startswith("PLAIN ")), None)
    if ref is None:
        print(f"plain PortAudio playback failed (exit {plain.returncode}): {plain.stderr.strip().splitlines()[-3:]}")
    else:
        print(f"plain PortAudio playback of the same track under the same load: {float(ref[6:]):.1f} s; "
              f"livevis took {played - float(ref[6:]):+.1f} s more", flush=True)


if __name__ == "__main__":
    main()
