"""The GANimation generator (Pumarola et al., ECCV 2018) in torch, and its ONNX export.

Imported only by tools (needs ``torch==2.13.0``, the ``train`` extra). The generator takes a
face crop and target AU intensities and returns the animated face:

    x = concat(image, AUs broadcast to H×W)          # (B, 3 + n_aus, H, W)
    features = conv7×7-64 → down 128 → down 256 → 6 residual blocks → up 128 → up 64
    C = tanh(conv7×7(features) → 3)                  # colour mask, [-1, 1]
    A = sigmoid(conv7×7(features) → 1)               # attention mask, [0, 1]
    out = A * image + (1 - A) * C                    # A = 1 keeps the input pixel

Instance norm + ReLU throughout, as in the paper. Images are RGB in [-1, 1], (B, 3, H, W), H
and W multiples of 4 (128×128 in the paper); AUs are (B, 17) in [0, 1] in
:data:`livevis.analysis.state.AU_NAMES` order.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from livevis.analysis.state import AU_NAMES


class _Residual(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.InstanceNorm2d(ch, affine=True), nn.ReLU(inplace=True),
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.InstanceNorm2d(ch, affine=True))

    def forward(self, x):
        return x + self.body(x)


class Generator(nn.Module):
    """GANimation generator; ``width`` scales the channel counts (64 in the paper).

    ``forward(image, aus) -> (out, colour, attention)``, shapes (B,3,H,W), (B,3,H,W), (B,1,H,W).
    """

    def __init__(self, n_aus: int = len(AU_NAMES), width: int = 64, n_res: int = 6) -> None:
        super().__init__()
        w = width

        def block(cin, cout, k, s, p, transpose=False):
            conv = (nn.ConvTranspose2d(cin, cout, k, s, p, bias=False) if transpose
                    else nn.Conv2d(cin, cout, k, s, p, bias=False))
            return [conv, nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True)]

        layers = block(3 + n_aus, w, 7, 1, 3) + block(w, 2 * w, 4, 2, 1) + block(2 * w, 4 * w, 4, 2, 1)
        layers += [_Residual(4 * w) for _ in range(n_res)]
        layers += block(4 * w, 2 * w, 4, 2, 1, transpose=True) + block(2 * w, w, 4, 2, 1, transpose=True)
        self.features = nn.Sequential(*layers)
        self.colour = nn.Sequential(nn.Conv2d(w, 3, 7, 1, 3, bias=False), nn.Tanh())
        self.attention = nn.Sequential(nn.Conv2d(w, 1, 7, 1, 3, bias=False), nn.Sigmoid())
        self.n_aus = n_aus

    def forward(self, image: torch.Tensor, aus: torch.Tensor):
        b, _, h, w = image.shape
        maps = aus.view(b, self.n_aus, 1, 1).expand(b, self.n_aus, h, w)
        f = self.features(torch.cat([image, maps], dim=1))
        colour, attention = self.colour(f), self.attention(f)
        out = attention * image + (1.0 - attention) * colour
        return out, colour, attention


def attention_loss(attention: torch.Tensor) -> torch.Tensor:
    """The paper's attention regulariser: total variation + mean (keeps A smooth and not all 0)."""
    tv = (attention[:, :, 1:, :] - attention[:, :, :-1, :]).abs().mean() + \
         (attention[:, :, :, 1:] - attention[:, :, :, :-1]).abs().mean()
    return tv + (1.0 - attention).mean() * 0.1


def export_onnx(generator: Generator, path: str | Path, size: int = 128) -> Path:
    """Export to ONNX (opset 17): inputs ``image`` (1, 3, size, size) float32 in [-1, 1] and
    ``aus`` (1, 17) float32; outputs ``out``, ``colour``, ``attention``. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = generator.eval()
    image = torch.zeros(1, 3, size, size)
    aus = torch.zeros(1, generator.n_aus)
    torch.onnx.export(generator, (image, aus), str(path), input_names=["image", "aus"],
                      output_names=["out", "colour", "attention"], opset_version=17, dynamo=False)
    return path
