#!/usr/bin/env python3
"""Offline render speed: ``livevis render`` vs real time, vs ffmpeg's showcqt, vs a baseline tree.

    python tools/bench_render.py [--track FILE] [--seconds 30] [--sizes 1280x720,640x360]
                                 [--rounds 2] [--baseline /path/to/old/tree] [--no-ffmpeg]

Issue 15, goal 4. For each size, in ``--rounds`` interleaved rounds, runs in fresh processes,
one after the other: ``livevis render`` of the first ``--seconds`` of the track at 30 fps in this
tree, the same in the baseline tree if given (same interpreter, ``PYTHONPATH`` = that tree), and
``ffmpeg -filter_complex showcqt`` (the same seconds, same size and fps, H.264 veryfast crf 20 +
AAC, as livevis writes). Wall seconds are a monotonic clock around each process, CPU seconds its
user + system time (``getrusage`` of the child). Prints each run, then per size the medians,
the real-time factor (audio seconds / wall seconds; ≥ 1 is faster than real time) and the
ratios to ffmpeg and to the baseline. Without ffmpeg on PATH its column says skipped.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRACK = ROOT.parent / "shared" / "audio" / "librosa-data" / "Kevin_MacLeod_-_Vibe_Ace.ogg"


def timed(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """(wall s, CPU s) of running ``cmd`` in ``cwd`` to completion; raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--track", type=Path, default=DEFAULT_TRACK)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--sizes", default="1280x720,640x360")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline", type=Path, help="another livevis tree (e.g. a git worktree of main)")
    ap.add_argument("--no-ffmpeg", action="store_true", help="leave out ffmpeg showcqt")
    args = ap.parse_args(argv)
    args.track = args.track.resolve()
    if not args.track.is_file():
        print(f"bench_render: no track at {args.track} (give --track)", file=sys.stderr)
        return 2
    ffmpeg = None if args.no_ffmpeg else shutil.which("ffmpeg")
    with tempfile.TemporaryDirectory(prefix="livevis-bench-render-") as tmp:
        out = Path(tmp) / "out.mp4"

        def livevis(tree: Path, size: str) -> list[str]:
            return [sys.executable, "-m", "livevis", "render", str(args.track), "-o", str(out), "--size", size,
                    "--fps", str(args.fps), "--duration", str(args.seconds), "--no-progress"]

        def showcqt(size: str) -> list[str]:
            return [ffmpeg, "-y", "-v", "error", "-t", str(args.seconds), "-i", str(args.track), "-filter_complex",
                    f"showcqt=s={size}:r={args.fps}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)]

        for size in args.sizes.split(","):
            runs: dict[str, list[tuple[float, float]]] = {"livevis": []}
            trees = {"livevis": ROOT}
            if args.baseline is not None:
                runs["baseline"], trees["baseline"] = [], args.baseline.resolve()
            if ffmpeg:
                runs["ffmpeg showcqt"] = []
            for r in range(args.rounds):
                for name in runs:
                    out.unlink(missing_ok=True)
                    if name in trees:
                        # in the tree itself: ``python -m`` puts the working directory first on
                        # sys.path, so run from another tree it would import that one
                        env = dict(os.environ, PYTHONPATH=str(trees[name]))
                        wall, cpu = timed(livevis(trees[name], size), env, cwd=trees[name])
                    else:
                        wall, cpu = timed(showcqt(size))
                    runs[name].append((wall, cpu))
                    print(f"{size} round {r + 1} {name}: wall {wall:.1f} s, cpu {cpu:.1f} s, "
                          f"{args.seconds / wall:.2f}x real time", flush=True)
            med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}
            lv_wall, lv_cpu = med["livevis"]
            line = [f"livevis wall {lv_wall:.1f} s ({args.seconds / lv_wall:.2f}x real time), cpu {lv_cpu:.1f} s"]
            for k, (w, c) in med.items():
                if k != "livevis":
                    line.append(f"{k} wall {w:.1f} s, cpu {c:.1f} s: livevis/{k} wall {lv_wall / w:.2f}, "
                                f"cpu {lv_cpu / c:.2f}")
            if not ffmpeg:
                line.append("ffmpeg showcqt skipped (no ffmpeg on PATH)")
            print(f"{size} median of {args.rounds} rounds: " + "; ".join(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
