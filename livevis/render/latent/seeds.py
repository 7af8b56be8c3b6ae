"""Generated keyframes: a preset may name a keyframe by an integer seed instead of an image.

A seed becomes a smooth, colourful abstract picture (a few random low-frequency waves,
coloured by a palette that follows the keyframe's valence and arousal: warm and bright for
positive valence, cold and dark for negative; more contrast and finer detail with arousal).
The picture is written once as a PNG in the user cache, so the rest of the pipeline treats it
like any keyframe image (encoded once, latent cached by its hash).
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image

from livevis.render.latent.weights import cache_dir

SIZE = 512


def seed_image(seed: int, valence: float = 0.0, arousal: float = 0.0, size: int = SIZE) -> np.ndarray:
    """The generated keyframe picture of ``seed``.

    Args:
        seed: integer >= 0; the same seed and attributes always give the same picture.
        valence, arousal: [-1, 1]; steer the palette and the amount of detail.
        size: width and height in pixels.

    Returns:
        uint8 RGB array of shape (size, size, 3).
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    field = np.zeros((size, size), np.float32)
    waves = 5 + int(3 * (arousal + 1))
    for _ in range(waves):
        fx, fy = rng.normal(0, 2.0 + 3.0 * (arousal + 1), 2)
        phase = rng.uniform(0, 2 * np.pi)
        field += np.sin(2 * np.pi * (fx * x + fy * y) + phase)
    field = (field - field.min()) / (np.ptp(field) + 1e-6)
    hue0 = 0.62 - 0.55 * (valence + 1) / 2 + rng.uniform(-0.05, 0.05)  # blue → orange
    light = 0.35 + 0.25 * (valence + 1) / 2
    sat = 0.45 + 0.25 * (arousal + 1) / 2
    stops = [colorsys.hls_to_rgb((hue0 + k * 0.08) % 1.0, np.clip(light + (k - 1) * 0.18 * (1 + arousal / 2), 0.05, 0.95), sat)
             for k in range(3)]
    stops = np.array(stops, np.float32)
    t = field * 2
    lo = np.clip(t, 0, 1)[..., None]
    hi = np.clip(t - 1, 0, 1)[..., None]
    rgb = np.where(t[..., None] < 1, stops[0] * (1 - lo) + stops[1] * lo, stops[1] * (1 - hi) + stops[2] * hi)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def seed_keyframe_path(seed: int, valence: float | None, arousal: float | None) -> Path:
    """Write (once) and return the PNG of a generated keyframe in the user cache."""
    v = 0.0 if valence is None else float(valence)
    a = 0.0 if arousal is None else float(arousal)
    folder = cache_dir() / "seed-keyframes"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"seed{seed}_v{v:+.2f}_a{a:+.2f}.png"
    if not path.exists():
        Image.fromarray(seed_image(seed, v, a)).save(path)
    return path
