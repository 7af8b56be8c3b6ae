#!/usr/bin/env python3
"""Print the emotion model's quality metrics (the numbers kept in ``models/emotion.md``).

Usage::

    python tools/eval_emotion.py [--model models/emotion.onnx] [--retrain] [--human] [--skip-heldout]

1. The 6 annotated emoMusic clips as a test set: ``tools/train_emotion.py``'s recipe trains on
   teacher-labelled music only (its calibration uses no label or audio of these clips), and the
   model records that in its ONNX metadata, so the shipped model itself is evaluated on all 6
   clips (``--retrain`` reruns the recipe instead). With ``--human`` the recipe also trains on
   human labels and each clip is predicted by an ensemble retrained without it
   (leave-one-clip-out). Each clip is streamed causally from 0 s and compared at 2 Hz
   (15…45 s) with the raters' mean: Pearson r and RMSE for valence and arousal, pooled over
   the 6 clips, and the mean of the within-clip r.
2. Teacher agreement of the shipped model on the immich tracks, never used in training
   (Pearson r and RMSE against the calibrated vibenet valence/energy at 1 Hz, and of per-track
   means); and, for reference, the calibrated teacher itself against the raters.
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

from livevis.analysis.emotion import EmotionModel  # noqa: E402


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.std() < 1e-12 or b.std() < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


run_model = trainer.run_model


def clips_in_training(path: Path) -> str | None:
    """The shipped model's record of the annotated clips it was trained on ("none", a list, or
    None when the file does not say)."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return meta.get(trainer.CLIPS_KEY)


def _metrics(truth: list[np.ndarray], pred: list[np.ndarray], names: list[str]) -> dict:
    per_clip = []
    for name, t, p in zip(names, truth, pred):
        per_clip.append((pearson(p[:, 0], t[:, 0]), pearson(p[:, 1], t[:, 1])))
        print(f"  held out {name:12s} valence r {per_clip[-1][0]:+.2f} mean {p[:, 0].mean():+.2f} "
              f"(true {t[:, 0].mean():+.2f}) | arousal r {per_clip[-1][1]:+.2f} "
              f"mean {p[:, 1].mean():+.2f} (true {t[:, 1].mean():+.2f})", flush=True)
    t, p = np.concatenate(truth), np.concatenate(pred)
    pc = np.array(per_clip)
    return {"valence_r": pearson(p[:, 0], t[:, 0]), "valence_rmse": rmse(p[:, 0], t[:, 0]),
            "arousal_r": pearson(p[:, 1], t[:, 1]), "arousal_rmse": rmse(p[:, 1], t[:, 1]),
            "valence_r_within": float(np.nanmean(pc[:, 0])), "arousal_r_within": float(np.nanmean(pc[:, 1]))}


def shipped_on_clips(model: EmotionModel) -> dict:
    """The shipped model (trained on none of the 6 annotated clips) streamed through each clip."""
    human = trainer.human_sequences()
    pred = [run_model(model, h["x"])[0][h["label_hops"]] for h in human]
    return _metrics([h["y"] for h in human], pred, [h["name"] for h in human])


def held_out_eval(human: bool, steps: int, members: int) -> dict:
    """Retrain with the recipe and predict the 6 annotated clips with models that never saw them.

    Without ``human`` the recipe uses no human label at all, so one ensemble is trained once and
    every clip is held out; with ``human`` each clip is predicted by an ensemble retrained on the
    teacher data plus the other 5 clips (leave-one-clip-out).
    """
    human_seqs = trainer.human_sequences()
    teacher = trainer.training_sequences(human=False, log=lambda *_: None)
    shared = None if human else trainer.train_ensemble(teacher, members, steps)
    pred = []
    for i, held in enumerate(human_seqs):
        nets = shared or trainer.train_ensemble(teacher + [s for j, s in enumerate(human_seqs) if j != i],
                                                members, steps)
        pred.append(trainer.predict_ensemble(nets, held["x"])[held["label_hops"]])
    return _metrics([h["y"] for h in human_seqs], pred, [h["name"] for h in human_seqs])


def teacher_vs_human() -> dict:
    """Reference: the calibrated teacher itself at the human label times of the 6 clips (the
    calibration uses none of them), pooled Pearson r and RMSE per dimension."""
    calib = trainer.fit_calibration()
    truth, pred = [], []
    for sid in data.EMOMUSIC_IDS:
        c = data.emomusic_clip(sid)
        _, raw = data.teacher_raw(data.EMOMUSIC / "audio" / f"{sid}.flac", hops=c["label_hops"])
        pred.append(trainer.apply_calibration(calib, raw)), truth.append(np.stack([c["valence"], c["arousal"]], 1))
    t, p = np.concatenate(truth), np.concatenate(pred)
    return {"valence_r": pearson(p[:, 0], t[:, 0]), "arousal_r": pearson(p[:, 1], t[:, 1]),
            "valence_rmse": rmse(p[:, 0], t[:, 0]), "arousal_rmse": rmse(p[:, 1], t[:, 1])}


def teacher_agreement(model: EmotionModel) -> dict:
    """Shipped model vs the calibrated teacher on the held-out tracks (immich, never trained on):
    Pearson r over all 1 Hz labels, and over per-track means."""
    calib = trainer.fit_calibration()
    pred, ref, mp, mr = [], [], [], []
    for name, path, start, dur in data.holdout_corpus():
        hops, raw = data.teacher_raw(path, start, dur)
        va = run_model(model, data.track_features(path, start, dur))[0][hops]
        t = trainer.apply_calibration(calib, raw)
        pred.append(va), ref.append(t), mp.append(va.mean(0)), mr.append(t.mean(0))
    p, t, mp, mr = np.concatenate(pred), np.concatenate(ref), np.array(mp), np.array(mr)
    return {"valence_r": pearson(p[:, 0], t[:, 0]), "arousal_r": pearson(p[:, 1], t[:, 1]),
            "valence_rmse": rmse(p[:, 0], t[:, 0]), "arousal_rmse": rmse(p[:, 1], t[:, 1]),
            "track_mean_valence_r": pearson(mp[:, 0], mr[:, 0]), "track_mean_arousal_r": pearson(mp[:, 1], mr[:, 1]),
            "n_tracks": len(mp), "n_labels": len(p)}


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
    ap.add_argument("--human", action="store_true", help="evaluate the recipe that also trains on human labels "
                    "(leave-one-clip-out)")
    ap.add_argument("--retrain", action="store_true", help="retrain the recipe for the held-out test even if "
                    "the shipped model was trained on none of the clips")
    ap.add_argument("--skip-heldout", action="store_true", help="no retraining")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--members", type=int, default=trainer.MEMBERS)
    args = ap.parse_args(argv)
    r = teacher_vs_human()
    print(f"reference, calibrated teacher vs raters (2 Hz, pooled): arousal r {r['arousal_r']:.3f} "
          f"RMSE {r['arousal_rmse']:.3f} | valence r {r['valence_r']:.3f} RMSE {r['valence_rmse']:.3f}")
    model = EmotionModel(args.model)
    print(f"shipped model {args.model} on {model.provider}")
    clips = clips_in_training(args.model)
    m = None
    if clips == "none" and not (args.retrain or args.human):
        print("emoMusic clips, shipped model (trained on none of them: all 6 are held out):")
        m = shipped_on_clips(model)
    elif not args.skip_heldout:
        kind = "leave-one-clip-out, teacher data + 5 clips" if args.human else "all 6 clips held out, teacher data only"
        print(f"emoMusic clips never trained on, recipe retrained ({kind}; {args.members} members):")
        m = held_out_eval(args.human, args.steps, args.members)
    if m is not None:
        print(f"held-out pooled 2 Hz: arousal r {m['arousal_r']:.3f} RMSE {m['arousal_rmse']:.3f} | "
              f"valence r {m['valence_r']:.3f} RMSE {m['valence_rmse']:.3f}")
        print(f"held-out mean within-clip r: arousal {m['arousal_r_within']:.3f} valence {m['valence_r_within']:.3f}")
    a = teacher_agreement(model)
    print(f"teacher agreement on {a['n_tracks']} held-out immich tracks ({a['n_labels']} labels at 1 Hz): "
          f"arousal r {a['arousal_r']:.3f} RMSE {a['arousal_rmse']:.3f} | valence r {a['valence_r']:.3f} "
          f"RMSE {a['valence_rmse']:.3f}; per-track means: arousal r {a['track_mean_arousal_r']:.3f} "
          f"valence r {a['track_mean_valence_r']:.3f}")
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
