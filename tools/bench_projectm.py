#!/usr/bin/env python3
"""projectM's frame time on this machine, rendered offscreen (EGL pbuffer) while fed a real track.

    python tools/bench_projectm.py [--size 1280x720] [--frames 120] [--track FILE] [--presets 6]

The yardstick for livevis's frame time (issue 15, goal 3): projectM 3.x (libprojectM, the
reference open-source music visualizer) renders ``--frames`` frames into an EGL pbuffer while
fed the track's PCM at 44.1 kHz, ``44100 / fps`` samples per frame; the timed part is
``renderFrame()`` + ``glFinish()``. The presets are a fixed sample of Debian's ``projectm-data``
(every n-th of ``presets_milkdrop`` in name order), cycled in order. Prints
``projectM WxH: frame X ms median, p90 Y ms (N frames, P presets)``.

Needs Debian's ``libprojectm-dev`` and ``projectm-data`` (``apt-get install libprojectm-dev
projectm-data``) and g++; without them it says so and exits 77 (skipped). The C++ program
(``tools/projectm/projectm_bench.cpp``) is built once into ``~/.cache/livevis/projectm_bench``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tools" / "projectm" / "projectm_bench.cpp"
PRESETS = Path("/usr/share/projectM/presets/presets_milkdrop")
DEFAULT_TRACK = ROOT.parent / "shared" / "audio" / "librosa-data" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
SKIP = 77


def build() -> Path | str:
    """The benchmark binary (built if needed), or why it cannot be built."""
    if shutil.which("pkg-config") is None or shutil.which("g++") is None:
        return "needs pkg-config and g++"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libprojectM"], capture_output=True, text=True)
    if flags.returncode != 0:
        return "libprojectM is not installed (Debian: apt-get install libprojectm-dev projectm-data)"
    if not PRESETS.is_dir():
        return f"no presets in {PRESETS} (Debian: apt-get install projectm-data)"
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "livevis"
    binary = cache / f"projectm_bench-{digest}"
    if not binary.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = ["g++", "-O2", "-o", str(binary) + ".tmp", str(SOURCE), *flags.stdout.split(), "-lEGL", "-lGL"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            return f"building {SOURCE.name} failed: {proc.stderr.strip()[-500:]}"
        os.replace(str(binary) + ".tmp", binary)
    return binary


def write_pcm(track: Path, path: Path) -> None:
    """The track as raw float32 stereo interleaved at 44.1 kHz."""
    sys.path.insert(0, str(ROOT))
    from livevis.audio.decode import load_audio

    samples, _ = load_audio(track, sample_rate=44100)
    stereo = samples[:, :2] if samples.shape[1] >= 2 else np.repeat(samples[:, :1], 2, axis=1)
    path.write_bytes(np.ascontiguousarray(stereo, np.float32).tobytes())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--track", type=Path, default=DEFAULT_TRACK)
    ap.add_argument("--presets", type=int, default=6, help="how many presets of presets_milkdrop to cycle")
    ap.add_argument("--save", type=Path, help="write the last frame to this PNG file (to look at)")
    args = ap.parse_args(argv)
    binary = build()
    if isinstance(binary, str):
        print(f"projectM benchmark skipped: {binary}", file=sys.stderr)
        return SKIP
    if not args.track.is_file():
        print(f"projectM benchmark: no track at {args.track} (give --track)", file=sys.stderr)
        return 2
    w, h = (int(v) for v in args.size.lower().split("x"))
    names = sorted(p.name for p in PRESETS.glob("*.milk"))
    chosen = names[:: max(1, len(names) // args.presets)][: args.presets]
    with tempfile.TemporaryDirectory(prefix="livevis-projectm-") as tmp:
        presets = Path(tmp) / "presets"
        presets.mkdir()
        for name in chosen:
            (presets / name).symlink_to(PRESETS / name)
        pcm = Path(tmp) / "track.f32"
        write_pcm(args.track, pcm)
        ppm = Path(tmp) / "last.ppm"
        proc = subprocess.run([str(binary), str(w), str(h), str(args.frames + 5), str(args.fps), str(pcm),
                               str(presets), "1024", str(ppm)], capture_output=True, text=True)
        if args.save is not None and ppm.is_file():
            from PIL import Image

            Image.open(ppm).save(args.save)
    if proc.returncode != 0:
        print(f"projectM benchmark failed: {proc.stderr.strip()[-500:]}", file=sys.stderr)
        return 1
    times = [float(line.split()[2]) for line in proc.stdout.splitlines() if line.startswith("frame ")][5:]
    print(f"projectM {w}x{h}: frame {statistics.median(times):.1f} ms median, "
          f"p90 {np.percentile(times, 90):.1f} ms ({len(times)} frames, {len(chosen)} presets)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
