"""Keyframe images: loading, latent cache, colour → valence/arousal, next-keyframe choice.

* Images are read with Pillow, converted to RGB and cover-fit (scaled to fill, centre-cropped)
  to the engine's size.
* Latents are encoded once and cached on disk, keyed by the image file's sha256, the model
  card name and the size, so a second load (or a renamed copy) costs no encoder run.
* Each keyframe carries a (valence, arousal) attribute in [-1, 1]: given by the preset, or
  estimated from colour statistics in HSI space (hue, saturation, intensity; the
  video-emotion ANFIS/LSTM paper, ``video-emotion-to-audio-ANFIS-LSTM.txt``, uses HSI as its
  visual emotion features) through the Valdez & Mehrabian (1994) colour–emotion relations
  (pleasure ≈ 0.69·brightness + 0.22·saturation, arousal ≈ −0.31·brightness + 0.60·saturation)
  plus a hue-warmth and contrast term for arousal.
* :class:`KeyframeChooser` picks the next keyframe near the music's current valence/arousal
  (deepsing's attribute view: images are indexed by the attribute they induce), with variety
  (recently shown keyframes are penalised, the pick is sampled among the close ones) and
  never the keyframe that is showing now.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from livevis.errors import LivevisError

#: File suffixes treated as images when a folder is listed.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class KeyframeError(LivevisError):
    """A keyframe file or folder is missing, unreadable or not an image."""


@dataclass
class Keyframe:
    """One keyframe.

    Attributes:
        path: the image file.
        sha256: hex digest of the file's bytes (latent cache key).
        image: uint8 (H, W, 3), the cover-fit image at the engine size.
        latent: float32 (C, H/s, W/s), its encoding.
        valence, arousal: attribute in [-1, 1].
        estimated: True when the attribute came from the colour estimate.
    """

    path: Path
    sha256: str
    image: np.ndarray
    latent: np.ndarray
    valence: float
    arousal: float
    estimated: bool


# -- files ------------------------------------------------------------------------------------
def keyframe_sources(spec) -> list[tuple[Path, float | None, float | None]]:
    """Expand a preset's keyframe list into ``(path, valence, arousal)`` entries.

    Args:
        spec: a folder (its image files, sorted by name), one file, or a sequence whose items
            are paths or mappings ``{"path": ..., "valence": v, "arousal": a}`` (attributes
            optional, in [-1, 1]).

    Raises:
        KeyframeError: a missing path, an empty folder (no image files), or an empty list.
    """
    items = [spec] if isinstance(spec, (str, os.PathLike, Mapping)) else list(spec)
    out: list[tuple[Path, float | None, float | None]] = []
    for item in items:
        v = a = None
        if isinstance(item, Mapping):
            if "path" not in item:
                raise KeyframeError(f"keyframe entry {dict(item)} has no 'path'")
            v, a = item.get("valence"), item.get("arousal")
            item = item["path"]
        path = Path(item).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise KeyframeError(f"{path}: keyframe folder contains no image files ({', '.join(IMAGE_SUFFIXES)})")
            out.extend((f, v, a) for f in files)
        elif path.is_file():
            out.append((path, v, a))
        else:
            raise KeyframeError(f"{path}: keyframe file or folder not found")
    if not out:
        raise KeyframeError("no keyframe images given")
    for path, v, a in out:
        for name, val in (("valence", v), ("arousal", a)):
            if val is not None and not -1.0 <= float(val) <= 1.0:
                raise KeyframeError(f"{path}: {name} {val} is outside [-1, 1]")
    return out


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3).

    Raises:
        KeyframeError: unreadable or not an image (the message names the file).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            rgb = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise KeyframeError(f"{path}: not a readable image ({type(err).__name__}: {err})") from None
    if rgb.ndim != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise KeyframeError(f"{path}: empty image")
    return rgb


def cover_fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` (uint8 (H, W, 3)) to fill ``size`` = (width, height), centre-cropping the rest."""
    from PIL import Image

    w, h = size
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    nw, nh = max(w, round(iw * scale)), max(h, round(ih * scale))
    # reducing_gap: a large picture (a 4096² wallpaper) is first box-reduced to within 3× of the
    # target, then Lanczos-filtered: the same look, a fraction of the time
    im = Image.fromarray(image).resize((nw, nh), Image.Resampling.LANCZOS, reducing_gap=3.0)
    left, top = (nw - w) // 2, (nh - h) // 2
    return np.asarray(im.crop((left, top, left + w, top + h)))


# -- colour → emotion -------------------------------------------------------------------------
def hsi_stats(image: np.ndarray) -> dict[str, float]:
    """HSI colour statistics of a uint8 RGB image (Gonzalez & Woods HSI conversion).

    Returns:
        ``intensity`` mean I = (R+G+B)/3 in [0, 1]; ``saturation`` mean S = 1 − min/I in [0, 1];
        ``contrast`` std of I; ``hue`` saturation-weighted circular mean hue in degrees [0, 360);
        ``hue_concentration`` length of that mean vector in [0, 1]; ``warmth`` saturation-weighted
        mean of cos(hue − 30°) in [-1, 1] (reds/oranges +, blues −).
    """
    x = np.asarray(image, dtype=np.float32) / 255.0
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"image must be (H, W, 3), got {x.shape}")
    if x.shape[0] * x.shape[1] > 256 * 256:  # statistics do not need every pixel
        step = int(np.ceil(np.sqrt(x.shape[0] * x.shape[1] / (256 * 256))))
        x = x[::step, ::step]
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    i = (r + g + b) / 3.0
    s = np.where(i > 1e-6, 1.0 - np.minimum(np.minimum(r, g), b) / np.maximum(i, 1e-6), 0.0)
    num = 0.5 * ((r - g) + (r - b))
    den = np.sqrt((r - g) ** 2 + (r - b) * (g - b)) + 1e-8
    theta = np.degrees(np.arccos(np.clip(num / den, -1.0, 1.0)))
    hue = np.where(b > g, 360.0 - theta, theta)
    w = s + 1e-8
    rad = np.radians(hue)
    cx, cy = float((w * np.cos(rad)).sum() / w.sum()), float((w * np.sin(rad)).sum() / w.sum())
    warmth = float((w * np.cos(rad - np.radians(30.0))).sum() / w.sum())
    return {
        "intensity": float(i.mean()), "saturation": float(s.mean()), "contrast": float(i.std()),
        "hue": float(np.degrees(np.arctan2(cy, cx)) % 360.0),
        "hue_concentration": float(np.hypot(cx, cy)), "warmth": warmth,
    }


def estimate_valence_arousal(image: np.ndarray) -> tuple[float, float]:
    """Estimate the (valence, arousal) an image induces from its HSI colour statistics.

    A heuristic, not a trained model: Valdez & Mehrabian (1994) pleasure/arousal from
    brightness and saturation, plus warm hues and contrast raising arousal, centred so a
    typical photograph maps near (0, 0) and linearly scaled into [-1, 1].

    Args:
        image: uint8 RGB (H, W, 3).

    Returns:
        (valence, arousal), floats in [-1, 1].
    """
    st = hsi_stats(image)
    bright, sat, contrast = st["intensity"], st["saturation"], st["contrast"]
    warm = st["warmth"] * min(1.0, 2.0 * sat)
    pleasure = 0.69 * bright + 0.22 * sat            # Valdez & Mehrabian (1994)
    arousal = -0.31 * bright + 0.60 * sat            # Valdez & Mehrabian (1994)
    valence = (pleasure - 0.36) / 0.15 + 0.2 * warm
    arousal = (arousal - 0.05) / 0.15 + 0.3 * warm + 1.5 * (contrast - 0.18)
    return float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1))


# -- latent cache -----------------------------------------------------------------------------
def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class LatentCache:
    """Latents on disk, one ``.npy`` per (model, size, image hash).

    Args:
        directory: cache folder (created on first write), e.g.
            ``livevis.render.latent.weights.cache_dir() / "latents"``.

    Attributes:
        hits, misses: counters of :meth:`get`.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    def path(self, model: str, size: tuple[int, int], sha256: str) -> Path:
        return self.directory / f"{model}-{size[0]}x{size[1]}-{sha256}.npy"

    def get(self, model: str, size: tuple[int, int], sha256: str) -> np.ndarray | None:
        """The cached float32 latent, or None (a corrupt entry counts as a miss and is removed)."""
        p = self.path(model, size, sha256)
        if p.is_file():
            try:
                z = np.load(p, allow_pickle=False)
                self.hits += 1
                return z.astype(np.float32, copy=False)
            except Exception:
                p.unlink(missing_ok=True)
        self.misses += 1
        return None

    def image_path(self, size: tuple[int, int], sha256: str) -> Path:
        return self.directory / f"image-{size[0]}x{size[1]}-{sha256}.npy"

    def get_image(self, size: tuple[int, int], sha256: str) -> np.ndarray | None:
        """The cached cover-fit picture (uint8 (H, W, 3)) of an image file, or None: a 4096²
        wallpaper then costs no decode on the next load (a corrupt entry is removed)."""
        p = self.image_path(size, sha256)
        if p.is_file():
            try:
                image = np.load(p, allow_pickle=False)
                if image.dtype == np.uint8 and image.shape == (size[1], size[0], 3):
                    return image
            except Exception:
                pass
            p.unlink(missing_ok=True)
        return None

    def put_image(self, size: tuple[int, int], sha256: str, image: np.ndarray) -> None:
        """Store a cover-fit picture (see :meth:`put` for the atomic write)."""
        self._write(self.image_path(size, sha256), np.asarray(image, dtype=np.uint8))

    def put(self, model: str, size: tuple[int, int], sha256: str, latent: np.ndarray) -> None:
        """Store a latent: written to a uniquely named temporary file beside the entry and renamed
        into place, so writers in several threads or processes never collide.

        Raises:
            OSError: the cache folder cannot be created or written.
        """
        self._write(self.path(model, size, sha256), np.asarray(latent, dtype=np.float32))

    def _write(self, p: Path, array: np.ndarray) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=p.stem + ".", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, array)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def load_keyframes(spec, codec, size: tuple[int, int], cache: LatentCache | None = None,
                   skip_bad: bool = False, warn=None) -> list[Keyframe]:
    """Load, fit, encode (or fetch from the cache) and attribute the keyframes of a preset.

    Args:
        spec: as :func:`keyframe_sources`.
        codec: a :class:`~livevis.render.latent.runtime.LatentCodec`.
        size: (width, height) in pixels, multiples of ``codec.card.scale_factor``.
        cache: latent cache (None: always encode).
        skip_bad: skip unreadable files (reported through ``warn``) instead of raising;
            still raises if none is left.
        warn: callable ``(message)`` for skipped files (default: ignore).

    Returns:
        Keyframes in preset order.

    Raises:
        KeyframeError: see :func:`keyframe_sources` and :func:`load_image`.
        ValueError: a size that is not a multiple of the scale factor.
    """
    s = codec.card.scale_factor
    if size[0] % s or size[1] % s or min(size) < s:
        raise ValueError(f"keyframe size {size[0]}x{size[1]} must be positive multiples of {s}")
    out: list[Keyframe] = []
    bad: list[str] = []
    for path, v, a in keyframe_sources(spec):
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise KeyframeError(f"{path}: cannot read ({err.strerror or err})") from None
        digest = hashlib.sha256(raw).hexdigest()
        image = cache.get_image(size, digest) if cache else None
        if image is None:
            try:
                image = cover_fit(load_image(path), size)
            except KeyframeError as err:
                if not skip_bad:
                    raise
                bad.append(str(err))
                if warn:
                    warn(str(err))
                continue
            if cache:
                cache.put_image(size, digest, image)
        latent = cache.get(codec.card.name, size, digest) if cache else None
        if latent is None:
            latent = codec.encode(image)[0]
            if cache:
                cache.put(codec.card.name, size, digest, latent)
        estimated = v is None or a is None
        ev, ea = estimate_valence_arousal(image) if estimated else (0.0, 0.0)
        out.append(Keyframe(path, digest, image, latent,
                            float(ev if v is None else v), float(ea if a is None else a), estimated))
    if not out:
        raise KeyframeError("no usable keyframe images: " + "; ".join(bad))
    return out


# -- choice -----------------------------------------------------------------------------------
class KeyframeChooser:
    """Chooses the next keyframe near the music's (valence, arousal), with variety.

    Score of keyframe i: ``‖(v_i, a_i) − (v, a)‖₂ + recency_penalty · r_i`` where ``r_i`` is 1
    for the most recently shown keyframe, decaying linearly over the last ``memory`` choices.
    The current keyframe is excluded (no immediate repeat, when there are ≥ 2 keyframes).
    The pick is sampled with probability ∝ exp(−score / temperature) from a seeded generator,
    so the choice is deterministic for a given seed and sequence of calls; temperature 0 is
    a plain argmin.

    Args:
        attributes: (valence, arousal) per keyframe.
        seed: random seed.
        temperature: softness of the pick (in units of valence/arousal distance).
        recency_penalty: score added to the last shown keyframe.
        memory: how many past choices are penalised.
    """

    def __init__(self, attributes: Sequence[tuple[float, float]], seed: int = 0, temperature: float = 0.08,
                 recency_penalty: float = 0.3, memory: int = 3) -> None:
        if len(attributes) == 0:
            raise ValueError("KeyframeChooser needs at least one keyframe")
        self.attributes = np.asarray(attributes, dtype=np.float64).reshape(-1, 2)
        self.temperature = temperature
        self.recency_penalty = recency_penalty
        self.history: deque[int] = deque(maxlen=max(1, memory))
        self._rng = np.random.default_rng(seed)

    def choose(self, valence: float, arousal: float, current: int | None = None) -> int:
        """Index of the next keyframe for the music's (valence, arousal) in [-1, 1]."""
        n = len(self.attributes)
        if n == 1:
            return 0
        score = np.linalg.norm(self.attributes - np.array([valence, arousal]), axis=1)
        for age, idx in enumerate(reversed(self.history)):
            score[idx] += self.recency_penalty * (1.0 - age / len(self.history))
        if current is not None:
            score[current] = np.inf
        if self.temperature <= 0:
            pick = int(np.argmin(score))
        else:
            logits = -(score - score[np.isfinite(score)].min()) / self.temperature
            p = np.exp(logits)
            p /= p.sum()
            pick = int(self._rng.choice(n, p=p))
        self.history.append(pick)
        return pick


def iter_images(paths: Iterable[str | Path]) -> Iterable[np.ndarray]:
    """Load several images (helper for tools)."""
    for p in paths:
        yield load_image(p)
