#!/usr/bin/env python3
"""livevis's default scene vs projectM (and vs a baseline tree), frame time side by side.

    python tools/bench_vs_projectm.py [--sizes 1280x720,640x360] [--rounds 3] [--frames 60]
                                      [--baseline /path/to/old/tree]

Issue 15, goal 3 (and issue 11: the default scene must not get slower): for each size, in
``--rounds`` interleaved rounds, runs ``tools/bench_scene.py`` in this tree, in the baseline tree
if given (same interpreter, ``PYTHONPATH`` = that tree), and ``tools/bench_projectm.py``, each a
fresh process, one after the other; prints each round's medians and, per size, the median over
rounds and the ratios livevis / projectM and livevis / baseline. projectM missing: its column
says skipped.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIAN = re.compile(r"frame ([0-9.]+) ms median")


def run(cmd: list[str], tree: Path) -> float | None:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree)
    m = MEDIAN.search(proc.stdout)
    if m is None:
        print(f"  {' '.join(cmd[1:3])}: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}", file=sys.stderr)
        return None
    return float(m.group(1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1280x720,640x360")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--baseline", type=Path, help="another livevis tree (e.g. a git worktree of main)")
    ap.add_argument("--track", type=Path, help="the track fed to projectM (default: bench_projectm.py's)")
    args = ap.parse_args(argv)
    py = sys.executable
    columns = {"livevis": (ROOT, "bench_scene.py")}
    if args.baseline is not None:
        columns["baseline"] = (args.baseline.resolve(), "bench_scene.py")
    columns["projectM"] = (ROOT, "bench_projectm.py")
    for size in args.sizes.split(","):
        got: dict[str, list[float]] = {name: [] for name in columns}
        for r in range(args.rounds):
            line = []
            for name, (tree, tool) in columns.items():
                extra = ["--preset", args.preset] if tool == "bench_scene.py" else \
                    (["--track", str(args.track)] if args.track else [])
                ms = run([py, str(ROOT / "tools" / tool) if name != "baseline" else str(tree / "tools" / tool),
                          "--size", size, "--frames", str(args.frames), *extra], tree)
                if ms is not None:
                    got[name].append(ms)
                line.append(f"{name} {ms if ms is not None else float('nan'):.1f} ms")
            print(f"{size} round {r + 1}: " + ", ".join(line), flush=True)
        med = {name: statistics.median(v) if v else None for name, v in got.items()}
        summary = ", ".join(f"{k} {v:.1f} ms" if v else f"{k} skipped" for k, v in med.items())
        ratios = [f"livevis/{k} {med['livevis'] / v:.2f}" for k, v in med.items()
                  if k != "livevis" and v and med["livevis"]]
        print(f"{size} median of {args.rounds} rounds: {summary}; {', '.join(ratios)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
