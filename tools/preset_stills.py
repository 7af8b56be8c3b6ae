"""One still per preset, rendered by ``livevis render``'s path at a lively moment of the demo track.

    python tools/preset_stills.py [--out docs] [--size 640x360] [--lead 8] [PRESET ...]

For the built-in default and each ``presets/*.toml`` (or the presets named), the demo track is
rendered from ``--lead`` seconds before its liveliest moment (the loudest 3 s, by RMS) up to that
moment, at 10 fps (:func:`livevis.show.offline.render_file` with an
:class:`~livevis.show.scene.OfflineScene`: the preset's smoothing, conditioning, sensitivities,
speeds, palette and layers), and the last frame is saved as ``OUT/preset-NAME.png``. The face's
contrast with its surroundings (``tools/face_contrast.py``) is printed for each, beside the
default preset's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_contrast import render_and_measure  # noqa: E402


def lively_moment(track, window_s: float = 3.0, skip_s: float = 8.0) -> float:
    """The end time (seconds) of the loudest ``window_s`` stretch of ``track`` after ``skip_s``
    (RMS of the mono mix in 0.1 s steps)."""
    from livevis.audio.decode import open_audio

    audio = open_audio(track)
    mono = np.concatenate([b.mean(axis=1) for b in audio.blocks()])
    step = audio.rate // 10
    rms = np.sqrt(np.array([np.mean(mono[i:i + step] ** 2) for i in range(0, len(mono) - step + 1, step)]))
    k = int(round(window_s * 10))
    run = np.convolve(rms, np.ones(k) / k, mode="valid")  # run[j]: steps j .. j + k - 1
    first = int(skip_s * 10)
    j = first + int(np.argmax(run[first:]))
    return (j + k) / 10.0


def preset_list(names: list[str]):
    """(name, Preset) for the default and every shipped preset, or for ``names``."""
    from livevis.control.presets import default_preset, load_preset, preset_names

    names = names or ["default", *preset_names()]
    return [(Path(n).stem, default_preset() if n == "default" else load_preset(n)) for n in names]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("presets", nargs="*", help="preset names (default: 'default' and every presets/*.toml)")
    ap.add_argument("--out", default="docs", help="folder for preset-NAME.png")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--lead", type=float, default=8.0, help="seconds rendered before the still")
    ap.add_argument("--track", default=None, help="audio file (default: the demo track)")
    args = ap.parse_args(argv)

    from PIL import Image

    from livevis.analysis.emotion import load_emotion_model
    from livevis.show.demo import demo_track
    from livevis.show.scene import offscreen_context

    track = args.track or demo_track()
    moment = lively_moment(track)
    start = max(0.0, moment - args.lead)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx, emotion = offscreen_context(), load_emotion_model()
    print(f"{Path(track).name}: liveliest at {moment:.1f} s; rendering {start:.1f}–{moment:.1f} s at {size[0]}x{size[1]}")
    for name, preset in preset_list(args.presets):
        m, frame = render_and_measure(track, preset, moment - start, size, start=start, ctx=ctx, emotion=emotion)
        path = out / f"preset-{name}.png"
        Image.fromarray(frame).save(path)
        print(f"{name:14s} face contrast {m['ratio']:5.2f}:1  worst sector {m['worst_sector']:5.2f}:1  "
              f"inside L {m['inside']:.3f}  outside L {m['outside']:.3f}  face {m['area'] * 100:4.1f} %  → {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
