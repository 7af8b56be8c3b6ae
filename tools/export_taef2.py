#!/usr/bin/env python3
"""Export TAEF2 (Tiny AutoEncoder for FLUX.2, MIT) to the ONNX files shipped in models/.

    python tools/export_taef2.py --weights ../shared/assets/taef2      # into models/
    python tools/export_taef2.py                                       # official URLs (sha256-checked download)
    python tools/export_taef2.py --weights DIR --out DIR --no-fp16

Needs torch (the ``train`` extra; CPU build: ``pip install torch==2.13.0 --index-url
https://download.pytorch.org/whl/cpu``). The source weights are checked against the pinned
sha256 (livevis/render/latent/weights.py). Writes ``taef2_encoder.onnx`` and ``taef2_decoder.onnx``
(float32 graphs, float16-stored weights), ``taef2_decoder_fp16.onnx`` (float16, for the CUDA
provider), then checks each graph against torch and prints the max abs difference.
``models/taef2.md`` is the model card; ``models/taef2-LICENSE.txt`` the weights' licence.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from livevis import MODELS_DIR  # noqa: E402
from livevis.errors import LivevisError  # noqa: E402
from livevis.render.latent.runtime import TAEF2_FILE_NAMES  # noqa: E402
from livevis.render.latent.weights import TAEF2_FILES, taef2_weights  # noqa: E402


def compare_with_torch(kind: str, weights: Path, onnx_path: Path, size: int = 64) -> float:
    """Max abs difference between the torch module and the ONNX graph (CPU provider) on a
    random input of the graph's dtype: an image (1, 3, size, size) in [0, 1] for the encoder,
    a latent (1, 32, size/8, size/8) ~ N(0, 1.5²) for the decoder."""
    import onnxruntime as ort
    import torch

    import taef2_torch

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    half = "float16" in sess.get_inputs()[0].type
    rng = np.random.default_rng(0)
    if kind == "encoder":
        x = rng.random((1, 3, size, size), dtype=np.float32)
    else:
        x = (1.5 * rng.standard_normal((1, 32, size // 8, size // 8))).astype(np.float32)
    module = taef2_torch.load_module(kind, weights)
    with torch.no_grad():
        ref = module(torch.from_numpy(x)).numpy()
    got = sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float16 if half else np.float32)})[0]
    return float(np.abs(got.astype(np.float32) - ref).max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", help="folder or base URL with taef2_encoder.pth / taef2_decoder.pth "
                    "(default: the official URLs)")
    ap.add_argument("--out", type=Path, default=MODELS_DIR, help=f"output folder (default {MODELS_DIR})")
    ap.add_argument("--no-fp16", action="store_true", help="skip the float16 decoder")
    args = ap.parse_args(argv)
    try:
        import taef2_torch
    except ImportError as err:
        print(f"error: exporting TAEF2 needs torch ({err}): pip install torch==2.13.0 "
              "--index-url https://download.pytorch.org/whl/cpu", file=sys.stderr)
        return 2
    try:
        paths = taef2_weights(args.weights)
        jobs = [("encoder", False), ("decoder", False)] + ([] if args.no_fp16 else [("decoder", True)])
        for kind, fp16 in jobs:
            name = TAEF2_FILE_NAMES["decoder_fp16" if fp16 else kind]
            meta = {"source": f"TAEF2 {kind} ({TAEF2_FILES[kind].name}, the TAESD project by Ollin Boer Bohan)",
                    "source_sha256": TAEF2_FILES[kind].sha256, "license": "MIT (taef2-LICENSE.txt)"}
            out = taef2_torch.export_onnx(kind, paths[kind], args.out / name, fp16=fp16, metadata=meta)
            diff = compare_with_torch(kind, paths[kind], out)
            print(f"{out}  {out.stat().st_size / 2**20:.2f} MiB  max |onnx - torch| = {diff:.2e}")
    except LivevisError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
