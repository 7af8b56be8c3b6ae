"""TAEF2 in PyTorch: the Tiny AutoEncoder for the FLUX.2 latent space, rebuilt from its README.

A tool, not part of the livevis package: only ``tools/export_taef2.py`` and the ONNX-vs-torch
test import it. torch is an optional dependency (the ``train`` extra); a show runs the
shipped ONNX graphs (``models/taef2_*.onnx``) in onnxruntime.

Architecture (``../shared/assets/taef2/README.md``; the public TAESD project by
Ollin Boer Bohan, MIT): plain ``nn.Sequential`` stacks whose indices match the state-dict keys.

* Encoder: RGB float32 (N, 3, H, W) in [0, 1], H and W multiples of 8 → latent
  float32 (N, 32, H/8, W/8), roughly in [-3, 3] (display mapping ``x / 6 + 0.5``).
* Decoder: latent (N, 32, h, w) → RGB float32 (N, 3, 8h, 8w) clamped to [0, 1].
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

LATENT_CHANNELS = 32
SCALE_FACTOR = 8


def _conv(n_in: int, n_out: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    """Soft clamp ``tanh(x / 3) * 3`` (decoder input)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """Residual block on 64 channels, optionally with the global-norm ("pool") branch."""

    def __init__(self, n: int = 64, global_norm: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(n, n), nn.ReLU(), _conv(n, n), nn.ReLU(), _conv(n, n))
        self.fuse = nn.ReLU()
        self.pool = None
        if global_norm:
            g = 4 * n
            self.pool = nn.Sequential(nn.Conv2d(n, g, 1, bias=False), nn.GroupNorm(4, g), nn.ReLU(),
                                      nn.Conv2d(g, n, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


def build_encoder() -> nn.Sequential:
    """The TAEF2 encoder: (N, 3, H, W) in [0, 1] → (N, 32, H/8, W/8)."""
    return nn.Sequential(
        _conv(3, 64), Block(),
        _conv(64, 64, stride=2, bias=False), Block(), Block(), Block(),
        _conv(64, 64, stride=2, bias=False), Block(), Block(), Block(),
        _conv(64, 64, stride=2, bias=False), Block(global_norm=True), Block(global_norm=True),
        Block(global_norm=True),
        _conv(64, LATENT_CHANNELS),
    )


class _Decode(nn.Sequential):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # the README: clamp the result to [0, 1]
        return super().forward(x).clamp(0, 1)


def build_decoder() -> nn.Sequential:
    """The TAEF2 decoder: (N, 32, h, w) → (N, 3, 8h, 8w) in [0, 1]."""
    up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
    return _Decode(
        Clamp(), _conv(LATENT_CHANNELS, 64), nn.ReLU(),
        Block(global_norm=True), Block(global_norm=True), Block(global_norm=True),
        up(), _conv(64, 64, bias=False), Block(), Block(), Block(),
        up(), _conv(64, 64, bias=False), Block(), Block(), Block(),
        up(), _conv(64, 64, bias=False), Block(),
        _conv(64, 3),
    )


def load_module(kind: str, weights: str | Path) -> nn.Module:
    """Build the encoder or decoder and load a state dict.

    Args:
        kind: ``"encoder"`` or ``"decoder"``.
        weights: path of the PyTorch state dict (``taef2_encoder.pth`` / ``taef2_decoder.pth``).

    Raises:
        ModelError: unreadable file or keys/shapes that do not match the architecture
            (the message names the file).
    """
    from livevis.errors import ModelError

    module = {"encoder": build_encoder, "decoder": build_decoder}[kind]()
    try:
        state = torch.load(str(weights), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelError(f"{weights}: not a readable PyTorch state dict ({type(err).__name__}: {err})") from None
    try:
        module.load_state_dict(state, strict=True)
    except Exception as err:
        first = str(err).strip().splitlines()
        raise ModelError(f"{weights}: does not match the TAEF2 {kind} architecture "
                         f"({' '.join(line.strip() for line in first[:3])})") from None
    return module.eval()


def export_onnx(kind: str, weights: str | Path, out_path: str | Path, fp16: bool = False,
                opset: int = 17, metadata: dict[str, str] | None = None) -> Path:
    """Export the encoder or decoder to ONNX with dynamic batch, height and width.

    Inputs/outputs: encoder ``image`` float (N, 3, H, W) in [0, 1] → ``latent`` (N, 32, H/8, W/8);
    decoder ``latent`` → ``image`` in [0, 1]. ``fp16=False`` writes a float32 graph whose weights
    are stored as float16 (the published weights are float16, so this is exact) and cast to
    float32 when the session loads: half the file size, the same numbers. ``fp16=True`` writes a
    float16 graph (float16 inputs and outputs, for the CUDA provider). ``metadata`` is stored in
    the model's metadata_props. The file is written beside ``out_path`` and renamed into place.

    Raises:
        ModelError: unreadable or mismatched weights (see :func:`load_module`).
    """
    import onnx

    module = load_module(kind, weights)
    dtype = torch.float16 if fp16 else torch.float32
    module = module.to(dtype)
    if kind == "encoder":
        dummy, names = torch.rand(1, 3, 64, 64, dtype=dtype), (["image"], ["latent"])
    else:
        dummy, names = torch.randn(1, LATENT_CHANNELS, 8, 8, dtype=dtype), (["latent"], ["image"])
    axes = {0: "batch", 2: "height", 3: "width"}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out_path.name + ".", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer notes
            torch.onnx.export(module, (dummy,), tmp, input_names=names[0], output_names=names[1],
                              dynamic_axes={names[0][0]: axes, names[1][0]: axes}, opset_version=opset,
                              dynamo=False)
        model = onnx.load(tmp)
        if not fp16:
            _store_weights_as_float16(model)
        for key, value in (metadata or {}).items():
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model)
        onnx.save(model, tmp)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path


def _store_weights_as_float16(model) -> None:
    """Replace every float32 initializer that float16 holds exactly by a float16 initializer and
    a Cast back to float32 (folded by onnxruntime when the session loads)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    casts, keep = [], []
    for init in graph.initializer:
        values = numpy_helper.to_array(init)
        half = values.astype(np.float16)
        if values.dtype != np.float32 or values.size < 16 or not np.array_equal(half.astype(np.float32), values):
            keep.append(init)
            continue
        keep.append(numpy_helper.from_array(half, init.name + "_fp16"))
        casts.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], to=TensorProto.FLOAT,
                                      name=init.name + "_cast"))
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
