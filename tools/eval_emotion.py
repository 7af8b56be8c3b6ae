#!/usr/bin/env python3
"""Print the emotion model's quality metrics (the numbers kept in ``models/emotion.md``).

Usage::

    python tools/eval_emotion.py [--model models/emotion.onnx] [--no-teacher] [--skip-loco]

1. Leave-one-clip-out on the 6 annotated emoMusic clips: for each clip, train a model on the
   other 5 (plus the teacher-labelled music unless ``--no-teacher``) with
   ``tools/train_emotion.py``'s recipe, run it causally from 0 s through the clip, and compare
   at 2 Hz (15…45 s) with the raters' mean: Pearson r and RMSE for valence and arousal, pooled
   over all held-out clips, and the mean of the within-clip r.
2. Teacher agreement of the shipped model on tracks held out of training (Pearson r of
   per-window means against vibenet's valence/energy).
3. immich-memories-music mood check with the shipped model: mean arousal of energetic/happy vs
   calm/tender, mean valence of happy vs nostalgic.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _emotion_data as data  # noqa: E402
import train_emotion as trainer  # noqa: E402

from livevis.emotion import EmotionModel  # noqa: E402


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.std() < 1e-12 or b.std() < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def run_model(model: EmotionModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stream a (n, 128) feature sequence through ``model`` from zero state: va (n, 2), aus (n, 17)."""
    model.reset()
    va, aus = np.zeros((len(x), 2), np.float32), np.zeros((len(x), 17), np.float32)
    for k, v in enumerate(x):
        va[k, 0], va[k, 1], aus[k] = model.step(v)
    return va, aus


def loco(use_teacher: bool, steps: int, seeds: tuple[int, ...] = (0,)) -> dict:
    """Leave-one-clip-out predictions and metrics (see module docstring)."""
    human = trainer.human_sequences()
    extra = trainer.teacher_sequences() if use_teacher else []
    truth, pred, per_clip = [], [], []
    for i, held in enumerate(human):
        train = [s for j, s in enumerate(human) if j != i] + extra
        p = np.mean([trainer.predict_sequence(trainer.train(train, steps=steps, seed=s), held["x"])
                     for s in seeds], axis=0)[held["label_hops"]]
        truth.append(held["y"]), pred.append(p)
        per_clip.append((pearson(p[:, 0], held["y"][:, 0]), pearson(p[:, 1], held["y"][:, 1])))
        print(f"  held out {held['name']:12s} valence r {per_clip[-1][0]:+.2f} mean {p[:, 0].mean():+.2f} "
              f"(true {held['y'][:, 0].mean():+.2f}) | arousal r {per_clip[-1][1]:+.2f} "
              f"mean {p[:, 1].mean():+.2f} (true {held['y'][:, 1].mean():+.2f})", flush=True)
    t, p = np.concatenate(truth), np.concatenate(pred)
    pc = np.array(per_clip)
    return {"valence_r": pearson(p[:, 0], t[:, 0]), "valence_rmse": rmse(p[:, 0], t[:, 0]),
            "arousal_r": pearson(p[:, 1], t[:, 1]), "arousal_rmse": rmse(p[:, 1], t[:, 1]),
            "valence_r_within": float(np.nanmean(pc[:, 0])), "arousal_r_within": float(np.nanmean(pc[:, 1]))}


def mood_check(model: EmotionModel) -> dict[str, tuple[float, float]]:
    """Mean (valence, arousal) of the shipped model per immich mood folder."""
    out = {}
    for mood, paths in data.immich_tracks().items():
        vals = [run_model(model, data.track_features(p))[0][30:].mean(0) for p in paths]
        out[mood] = tuple(np.mean(vals, 0))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=data.ROOT / "models" / "emotion.onnx")
    ap.add_argument("--no-teacher", action="store_true")
    ap.add_argument("--skip-loco", action="store_true")
    ap.add_argument("--steps", type=int, default=600)
    args = ap.parse_args(argv)
    if not args.skip_loco:
        print(f"leave-one-clip-out on emoMusic ({'no teacher' if args.no_teacher else 'with teacher data'}):")
        m = loco(not args.no_teacher, args.steps)
        print(f"LOCO pooled 2 Hz: arousal r {m['arousal_r']:.3f} RMSE {m['arousal_rmse']:.3f} | "
              f"valence r {m['valence_r']:.3f} RMSE {m['valence_rmse']:.3f}")
        print(f"LOCO mean within-clip r: arousal {m['arousal_r_within']:.3f} valence {m['valence_r_within']:.3f}")
    model = EmotionModel(args.model)
    print(f"shipped model {args.model} on {model.provider}")
    if hasattr(data, "teacher_holdout_agreement"):
        agree = data.teacher_holdout_agreement(lambda x: run_model(model, x)[0])
        for k, v in agree.items():
            print(f"teacher agreement (held-out tracks) {k}: {v}")
    moods = mood_check(model)
    for mood, (v, a) in moods.items():
        print(f"immich {mood:10s} valence {v:+.3f} arousal {a:+.3f}")
    hi = np.mean([moods["energetic"][1], moods["happy"][1]])
    lo = np.mean([moods["calm"][1], moods["tender"][1]])
    print(f"mood check: arousal energetic/happy {hi:+.3f} > calm/tender {lo:+.3f}: {'PASS' if hi > lo else 'FAIL'}; "
          f"valence happy {moods['happy'][0]:+.3f} > nostalgic {moods['nostalgic'][0]:+.3f}: "
          f"{'PASS' if moods['happy'][0] > moods['nostalgic'][0] else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
