#!/usr/bin/env python3
"""Train the streaming emotion model and write ``models/emotion.onnx``.

Usage::

    python tools/train_emotion.py [--out models/emotion.onnx] [--human] [--members 5] [--steps N] [--seed S]

Pipeline (CPU, minutes; features are cached by ``tools/_emotion_data.py``):

1. Per-hop features (128 = 88 eGeMAPSv02 functionals + 40 log-mel means, 0.5 s windows every
   0.1 s, exactly :class:`livevis.analysis.features.FeatureExtractor`) of real music pseudo-labelled by
   the vibenet teacher (:func:`_emotion_data.teacher_raw`), mapped to the emoMusic scale by
   :func:`fit_calibration` (distribution matching against the ratings of the emoMusic songs
   without audio, so no label of the 6 annotated clips is used and they stay a test set);
   ``--human`` adds those 6 clips' human labels.
2. An ensemble of small causal networks, trained with torch (seeds ``seed … seed+members−1``):
   z-score (mean/std of the training hops) → Linear(128→E) + tanh → GRU cell (hidden H) →
   Linear(H→2) + tanh = (valence, arousal). Loss: MSE at the labelled hops, after a burn-in,
   on random crops.
3. Export: the trained weights are written into an ONNX graph built node by node with
   ``onnx.helper`` (opset 17), one GRU step per ``session.run`` with the state as explicit
   input/output, the members' mean, plus the fixed FACS action-unit layer
   (:func:`au_layer_tables`); checked against torch by streaming 600 hops through both.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _emotion_data as data  # noqa: E402

from livevis.analysis.emotion import EmotionModel  # noqa: E402
from livevis.analysis.state import AU_NAMES  # noqa: E402

OPSET = 17
EMBED = 32
HIDDEN = 32
BURN_IN = 20  # hops without loss at the start of each training crop
CROP = 300  # hops per training crop (30 s)
MEMBERS = 5  # ensemble size (seeds 0..4)
#: ONNX metadata key listing the annotated emoMusic clips a model was trained on ("none": all
#: 6 are a clean test set for that very model).
CLIPS_KEY = "livevis.emomusic_clips_in_training"
HUMAN_WEIGHT = 1.0  # loss weight of a human label relative to a teacher label
TEACHER_WEIGHT = 1.0

# ---------------------------------------------------------------- FACS action-unit layer
#: Emotion prototypes: (angle on Russell's circumplex in degrees, valence axis = 0°, arousal
#: axis = 90°; AU → intensity). AU sets: EMFACS (Friesen & Ekman 1983) as listed in the FACS
#: Investigator's Guide (Ekman, Friesen & Hager 2002). Angles: Russell (1980), "A circumplex
#: model of affect", positions of the nearest affect words (happy 8°/delighted 25°,
#: astonished 70°, angry 99°, afraid 117°, distressed 138°, sad 208°, relaxed/content ~320°).
PROTOTYPES: dict[str, tuple[float, dict[str, float]]] = {
    "happiness": (20.0, {"AU06": 1.0, "AU12": 1.0}),
    "surprise": (70.0, {"AU01": 1.0, "AU02": 1.0, "AU05": 1.0, "AU26": 1.0}),
    "anger": (100.0, {"AU04": 1.0, "AU05": 1.0, "AU07": 1.0, "AU23": 1.0}),
    "fear": (120.0, {"AU01": 1.0, "AU02": 1.0, "AU04": 1.0, "AU05": 1.0, "AU20": 1.0, "AU26": 1.0}),
    "disgust": (145.0, {"AU09": 1.0, "AU15": 1.0}),
    "sadness": (210.0, {"AU01": 1.0, "AU04": 1.0, "AU15": 1.0}),
    # Not an EMFACS prototype: a faint smile for calm/content music (low arousal, positive
    # valence), so that quadrant is not a blend of happiness and sadness. Our choice.
    "contentment": (320.0, {"AU12": 0.4}),
}
#: Sharpness of the angular softmax: weight_k ∝ exp(KAPPA · cos(θ − θ_k)).
KAPPA = 6.0
#: Radius in the valence/arousal plane at which expressions reach full intensity
#: (intensity = clip(|p| / FULL_RADIUS, 0, 1); neutral = the origin, all AUs 0).
FULL_RADIUS = 0.5
#: Mouth opening with arousal: AU += gain · clip(arousal / FULL_RADIUS, 0, 1).
AROUSAL_MOUTH = {"AU25": 0.5, "AU26": 0.3}


def au_layer_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed AU layer's tables: unit directions (2, K), prototype AUs (K, 17), mouth (1, 17)."""
    idx = {n: i for i, n in enumerate(AU_NAMES)}
    dirs = np.zeros((2, len(PROTOTYPES)), np.float32)
    protos = np.zeros((len(PROTOTYPES), len(AU_NAMES)), np.float32)
    for k, (angle, aus) in enumerate(PROTOTYPES.values()):
        dirs[:, k] = (math.cos(math.radians(angle)), math.sin(math.radians(angle)))
        for au, w in aus.items():
            protos[k, idx[au]] = w
    mouth = np.zeros((1, len(AU_NAMES)), np.float32)
    for au, w in AROUSAL_MOUTH.items():
        mouth[0, idx[au]] = w
    return dirs, protos, mouth


def au_layer_numpy(va: np.ndarray) -> np.ndarray:
    """Reference of the ONNX AU layer: (N, 2) valence/arousal → (N, 17) AUs in [0, 1]."""
    dirs, protos, mouth = au_layer_tables()
    va = np.asarray(va, np.float32).reshape(-1, 2)
    norm = np.sqrt((va**2).sum(1, keepdims=True))
    logits = KAPPA * (va / (norm + 1e-6)) @ dirs
    w = np.exp(logits - logits.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    aus = (w @ protos) * np.clip(norm / FULL_RADIUS, 0, 1)
    aus += np.clip(va[:, 1:2] / FULL_RADIUS, 0, 1) * mouth
    return np.clip(aus, 0, 1)


# ---------------------------------------------------------------- training data
def human_sequences() -> list[dict]:
    """The 6 emoMusic clips as training sequences (x, label_hops, y (n, 2), weight 1)."""
    out = []
    for sid in data.EMOMUSIC_IDS:
        c = data.emomusic_clip(sid)
        y = np.stack([c["valence"], c["arousal"]], 1)
        out.append({"name": f"emomusic/{sid}", "x": c["x"], "label_hops": c["label_hops"], "y": y,
                    "weight": HUMAN_WEIGHT})
    return out


def label_statistics() -> np.ndarray:
    """Mean and std of the emoMusic dynamic labels of the songs *without* audio here (all but the
    6 annotated clips, 734 songs × 61 labels): rows (valence, arousal), columns (mean, std)."""
    out = []
    for name in ("valence", "arousal"):
        _, values = data._read_cont(f"{name}_cont_average.csv")
        v = np.concatenate([a[np.isfinite(a)] for sid, a in values.items() if sid not in data.EMOMUSIC_IDS])
        out.append((v.mean(), v.std()))
    return np.array(out, np.float64)


def fit_calibration(items=None) -> np.ndarray:
    """Map from the teacher to the emoMusic scale by matching distributions: the teacher's
    valence and energy over the training music (``items``, default the training corpus) get the
    mean and std of the raters' dynamic valence and arousal over the 734 emoMusic songs whose
    audio we do not have (:func:`label_statistics`).

    No label or audio of the 6 annotated clips is used, so those clips stay a held-out test set.
    Returns rows (valence, arousal), columns (slope, intercept), float32.
    """
    raw = np.concatenate([data.teacher_raw(path, start, dur)[1]
                          for _, path, start, dur in (items if items is not None else data.train_corpus())])
    tv = raw[:, ::-1].astype(np.float64)  # (valence, energy)
    stats = label_statistics()
    slope = stats[:, 1] / np.maximum(tv.std(0), 1e-6)
    return np.stack([slope, stats[:, 0] - slope * tv.mean(0)], 1).astype(np.float32)


def apply_calibration(calib: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Teacher (n, 2) [energy, valence] in [0, 1] → (n, 2) [valence, arousal] on the emoMusic scale."""
    tv = raw[:, ::-1]
    return np.clip(tv * calib[:, 0] + calib[:, 1], -0.95, 0.95).astype(np.float32)


def teacher_sequences(calib: np.ndarray, items=None) -> list[dict]:
    """Training music (default :func:`_emotion_data.train_corpus`) with calibrated teacher labels."""
    out = []
    for name, path, start, dur in items if items is not None else data.train_corpus():
        x = data.track_features(path, start, dur)
        hops, raw = data.teacher_raw(path, start, dur)
        if len(hops):
            out.append({"name": name, "x": x, "label_hops": hops, "y": apply_calibration(calib, raw),
                        "weight": TEACHER_WEIGHT})
    return out


# ---------------------------------------------------------------- model
def make_net(mean: np.ndarray, std: np.ndarray, embed: int | None = None, hidden: int | None = None):
    import torch
    from torch import nn

    class EmotionNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
            e, h = embed or EMBED, hidden or HIDDEN
            self.inp = nn.Linear(128, e)
            self.gru = nn.GRU(e, h, batch_first=True)
            self.out = nn.Linear(h, 2)
            self.drop = nn.Dropout(0.2)

        def forward(self, x, noise: float = 0.0):
            z = ((x - self.mean) / self.std).clamp(-6, 6)
            if noise > 0:
                z = z + noise * torch.randn_like(z)
            e = torch.tanh(self.inp(self.drop(z)))
            h, _ = self.gru(e)
            return torch.tanh(self.out(self.drop(h)))

    return EmotionNet()


def norm_stats(seqs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (floored) of all training hops, float32 (128,)."""
    x = np.concatenate([s["x"] for s in seqs]).astype(np.float64)
    mean = x.mean(0)
    std = np.maximum(x.std(0), 1e-3 * (np.abs(mean) + 1e-3))
    return mean.astype(np.float32), std.astype(np.float32)


def train(seqs: list[dict], steps: int = 1000, seed: int = 0, batch: int = 16, log=None):
    """Train on random crops of ``seqs``; returns the torch module (eval mode)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.set_num_threads(1)
    mean, std = norm_stats(seqs)
    net = make_net(mean, std)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    # Dense per-hop targets with a mask, built once per sequence.
    dense = []
    for s in seqs:
        n = len(s["x"])
        y = np.zeros((n, 2), np.float32)
        m = np.zeros((n, 2), np.float32)
        y[s["label_hops"]] = s["y"]
        m[s["label_hops"]] = s.get("mask", np.ones_like(s["y"]))
        dense.append((s["x"], y, m * s["weight"]))
    # Sample sequences in proportion to their labelled weight.
    p = np.array([d[2].sum() for d in dense], np.float64)
    p /= p.sum()
    net.train()
    for step in range(steps):
        xs, ys, ms = [], [], []
        for i in rng.choice(len(dense), batch, p=p):
            x, y, m = dense[i]
            L = min(CROP, len(x))
            a = int(rng.integers(0, len(x) - L + 1))
            xs.append(x[a:a + L]), ys.append(y[a:a + L]), ms.append(m[a:a + L].copy())
            ms[-1][:BURN_IN] = 0
        L = min(len(v) for v in xs)
        xb = torch.tensor(np.stack([v[:L] for v in xs]))
        yb = torch.tensor(np.stack([v[:L] for v in ys]))
        mb = torch.tensor(np.stack([v[:L] for v in ms]))
        pred = net(xb, noise=0.3)
        loss = ((pred - yb) ** 2 * mb).sum() / mb.sum().clamp(min=1)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if log and (step % 100 == 0 or step == steps - 1):
            log(f"  step {step:4d} loss {loss.item():.4f}")
    net.eval()
    return net


def predict_sequence(net, x: np.ndarray) -> np.ndarray:
    """Run the torch model over a whole sequence from zero state: (n, 128) → (n, 2)."""
    import torch

    with torch.no_grad():
        return net(torch.tensor(x[None]))[0].numpy()


# ---------------------------------------------------------------- ONNX export
def export_onnx(nets, path: Path, doc: str = "", metadata: dict[str, str] | None = None) -> None:
    """Write ``nets`` (one model or an ensemble of K trained with the same normalisation) + the
    AU layer as a single-step ONNX graph (see module docstring).

    An ensemble runs as one wider network: the K embeddings side by side ([1, K·E]), and the
    GRU and output matrices as stacks of K per-member matrices applied by one batched MatMul
    (activations reshaped to [K, 1, ·]), so the members stay independent; valence/arousal is
    the mean of the K heads' tanh outputs. State: [1, K·H], member k at columns k·H…(k+1)·H. ``metadata`` goes into the
    model's metadata_props (e.g. which annotated clips were trained on).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nets = nets if isinstance(nets, (list, tuple)) else [nets]
    sds = [{k: v.detach().numpy().astype(np.float32) for k, v in n.state_dict().items()} for n in nets]
    for sd in sds[1:]:
        if not (np.allclose(sd["mean"], sds[0]["mean"]) and np.allclose(sd["std"], sds[0]["std"])):
            raise ValueError("ensemble members must share the feature normalisation")
    K = len(sds)
    Hm = sds[0]["gru.weight_hh_l0"].shape[1]
    H = K * Hm
    sd = {"mean": sds[0]["mean"], "std": sds[0]["std"]}
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    def node(op, ins, out, **kw):
        nodes.append(helper.make_node(op, ins, [out], name=out, **kw))
        return out

    const("mean", sd["mean"][None])
    const("inv_std", 1.0 / sd["std"][None])
    const("lo", np.float32(-6)), const("hi", np.float32(6))
    const("zero", np.float32(0)), const("one", np.float32(1))
    z = node("Mul", [node("Sub", ["features", "mean"], "centred"), "inv_std"], "z0")
    z = node("Clip", [z, "lo", "hi"], "z")
    w_in = np.concatenate([m["inp.weight"].T for m in sds], 1)
    b_in = np.concatenate([m["inp.bias"] for m in sds])[None]
    e = node("Tanh", [node("Add", [node("MatMul", [z, const("W_in", w_in)], "e_mm"),
                                   const("b_in", b_in)], "e_lin")], "embed")
    inits.append(numpy_helper.from_array(np.array([K, 1, -1], np.int64), "members_rows"))
    inits.append(numpy_helper.from_array(np.array([1, -1], np.int64), "one_row"))

    def per_member(x, weight, bias, name):
        """[1, K·n] → per member x_k @ weight[k] + bias[k] → [1, K·m] (batched MatMul)."""
        xk = node("Reshape", [x, "members_rows"], f"{name}_in")
        y = node("MatMul", [xk, const(f"W{name}", weight)], f"{name}_mm")
        y = node("Add", [y, const(f"b{name}", bias)], f"{name}_k")
        return node("Reshape", [y, "one_row"], name)

    g = {}
    for j, gate in enumerate("rzn"):  # torch gate order r, z, n
        sl = slice(j * Hm, (j + 1) * Hm)
        wi = np.stack([m["gru.weight_ih_l0"][sl].T for m in sds])        # (K, E, H)
        wh = np.stack([m["gru.weight_hh_l0"][sl].T for m in sds])        # (K, H, H)
        bi = np.stack([m["gru.bias_ih_l0"][sl][None] for m in sds])      # (K, 1, H)
        bh = np.stack([m["gru.bias_hh_l0"][sl][None] for m in sds])
        g[gate] = (per_member(e, wi, bi, f"xi{gate}"), per_member("state_in", wh, bh, f"hh{gate}"))
    r = node("Sigmoid", [node("Add", list(g["r"]), "r_pre")], "r")
    zg = node("Sigmoid", [node("Add", list(g["z"]), "z_pre")], "zgate")
    n = node("Tanh", [node("Add", [g["n"][0], node("Mul", [r, g["n"][1]], "rh")], "n_pre")], "n")
    # h' = n + z * (h - n)  ==  (1 - z) * n + z * h
    node("Add", [n, node("Mul", [zg, node("Sub", ["state_in", n], "h_minus_n")], "z_hn")], "state_out")
    w_out = np.stack([m["out.weight"].T for m in sds])                   # (K, H, 2)
    b_out = np.stack([m["out.bias"][None] for m in sds])                 # (K, 1, 2)
    heads = node("Reshape", ["state_out", "members_rows"], "out_in")
    heads = node("Tanh", [node("Add", [node("MatMul", [heads, const("W_out", w_out)], "va_mm"),
                                       const("b_out", b_out)], "va_lin")], "va_members")  # (K, 1, 2)
    va = node("ReduceMean", [heads], "valence_arousal", axes=[0], keepdims=0)       # (1, 2)
    # Fixed FACS AU layer (au_layer_numpy is the reference).
    dirs, protos, mouth = au_layer_tables()
    sq = node("Mul", [va, va], "va_sq")
    norm = node("Sqrt", [node("MatMul", [sq, const("ones21", np.ones((2, 1)))], "va_norm2")], "va_norm")
    unit = node("Div", [va, node("Add", [norm, const("eps", np.float32(1e-6))], "va_norm_eps")], "va_dir")
    logits = node("Mul", [node("MatMul", [unit, const("proto_dirs", dirs)], "cosines"),
                          const("kappa", np.float32(KAPPA))], "proto_logits")
    w = node("Softmax", [logits], "proto_weights", axis=-1)
    blend = node("MatMul", [w, const("proto_aus", protos)], "proto_blend")
    inten = node("Clip", [node("Mul", [norm, const("inv_radius", np.float32(1 / FULL_RADIUS))], "inten_raw"),
                          "zero", "one"], "intensity")
    aro = node("Clip", [node("MatMul", [va, const("arousal_sel", [[0.0], [1 / FULL_RADIUS]])], "aro_raw"),
                        "zero", "one"], "arousal01")
    mouth_aus = node("Mul", [aro, const("mouth", mouth)], "mouth_aus")
    raw = node("Add", [node("Mul", [blend, inten], "scaled_blend"), mouth_aus], "aus_raw")
    node("Clip", [raw, "zero", "one"], "aus")

    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, "livevis_emotion",
        [helper.make_tensor_value_info("features", f32, [1, 128]),
         helper.make_tensor_value_info("state_in", f32, [1, H])],
        [helper.make_tensor_value_info("valence_arousal", f32, [1, 2]),
         helper.make_tensor_value_info("aus", f32, [1, len(AU_NAMES)]),
         helper.make_tensor_value_info("state_out", f32, [1, H])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="livevis tools/train_emotion.py", doc_string=doc)
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=str(value)))
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def train_ensemble(seqs: list[dict], members: int = MEMBERS, steps: int = 1000, seed: int = 0, log=None) -> list:
    """Train ``members`` models on the same data with seeds ``seed … seed + members − 1``."""
    nets = []
    for k in range(members):
        if log:
            log(f"member {k + 1}/{members} (seed {seed + k})")
        nets.append(train(seqs, steps=steps, seed=seed + k, log=log))
    return nets


def predict_ensemble(nets, x: np.ndarray) -> np.ndarray:
    """Mean of :func:`predict_sequence` over the members, as the exported graph computes it."""
    return np.mean([predict_sequence(n, x) for n in nets], axis=0)


def training_sequences(human: bool, log=print, jobs: int = 1) -> list[dict]:
    """The recipe's training data: teacher-labelled music (+ the 6 human-labelled clips if ``human``)."""
    items = data.train_corpus()
    data.prepare(items, jobs=jobs, log=log)
    calib = fit_calibration(items)
    log(f"teacher calibration (slope, intercept): valence {calib[0]}, arousal {calib[1]}")
    return (human_sequences() if human else []) + teacher_sequences(calib, items)


def run_model(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stream a (n, 128) feature sequence through an :class:`~livevis.analysis.emotion.EmotionModel` from
    zero state, one ``session.run`` per hop as at run time: va (n, 2), aus (n, 17)."""
    model.reset()
    va, aus = np.zeros((len(x), 2), np.float32), np.zeros((len(x), 17), np.float32)
    for k, v in enumerate(x):
        va[k, 0], va[k, 1], aus[k] = model.step(v)
    return va, aus


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=data.ROOT / "models" / "emotion.onnx")
    ap.add_argument("--human", action="store_true",
                    help="also train on the 6 human-labelled emoMusic clips (then they are no test set)")
    ap.add_argument("--members", type=int, default=MEMBERS, help="ensemble size")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="processes for feature extraction (first run only)")
    args = ap.parse_args(argv)
    t0 = time.time()
    seqs = training_sequences(args.human, jobs=args.jobs)
    print(f"training on {len(seqs)} sequences, {sum(len(s['x']) for s in seqs)} hops "
          f"({time.time() - t0:.0f} s to load features)")
    nets = train_ensemble(seqs, args.members, args.steps, args.seed, log=print)
    export_onnx(nets, args.out, doc=f"livevis emotion model; {args.members} members trained on {len(seqs)} "
                                     f"sequences, seeds {args.seed}..{args.seed + args.members - 1}",
                metadata={CLIPS_KEY: ",".join(map(str, data.EMOMUSIC_IDS)) if args.human else "none"})
    check = max(seqs, key=lambda s: len(s["x"]))["x"][:600]
    err = np.abs(run_model(EmotionModel(args.out), check)[0] - predict_ensemble(nets, check)).max()
    if err > 1e-4:
        raise SystemExit(f"{args.out}: the exported graph differs from the torch ensemble by {err:.2e}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) in {time.time() - t0:.0f} s; "
          f"ONNX vs torch over {len(check)} streamed hops: max |diff| {err:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
