#!/usr/bin/env python3
"""Export TAEF2 (Tiny AutoEncoder for FLUX.2) to ONNX in the livevis user cache.

    python tools/export_taef2.py                       # official URLs (sha256-checked download)
    python tools/export_taef2.py --weights ../shared/assets/taef2
    python tools/export_taef2.py --weights DIR --out DIR --no-fp16

Needs torch (``pip install torch==2.13.0``, the ``train`` extra). Writes encoder.onnx,
decoder.onnx, decoder_fp16.onnx (for the CUDA provider) and card.json; never into the repo.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from livevis.errors import LivevisError  # noqa: E402
from livevis.latent.runtime import export_taef2, load_taef2, taef2_onnx_dir  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", help="folder or base URL with taef2_encoder.pth / taef2_decoder.pth "
                    "(default: the official URLs)")
    ap.add_argument("--out", type=Path, default=None, help=f"output folder (default {taef2_onnx_dir()})")
    ap.add_argument("--no-fp16", action="store_true", help="skip the float16 decoder")
    args = ap.parse_args(argv)
    try:
        out = export_taef2(args.weights, args.out, fp16=not args.no_fp16)
        if args.out is None:
            codec = load_taef2()
            print(f"checked: provider {codec.provider}")
    except LivevisError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for p in sorted(out.iterdir()):
        print(f"{p}  {p.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
