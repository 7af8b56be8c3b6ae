"""Face legibility over its background: the luminance contrast between the face and its surroundings.

The face's footprint is found by rendering the same frame (same state, same time) twice, with
the preset's face layer shown and hidden (``layer.N.enabled``, the live parameter an operator
uses): the pixels that differ are the face. Two bands of equal width hug its silhouette, one
just inside and one just outside; the measure is the WCAG 2.x contrast ratio of their mean
relative luminances,

    ratio = (L_bright + 0.05) / (L_dark + 0.05)   ∈ [1, 21]

with L from linearised sRGB, L = 0.2126 R + 0.7152 G + 0.0722 B (WCAG 2.1, "relative luminance"
and "contrast ratio" definitions; ITU-R BT.709 coefficients). A face whose silhouette melts into
the background scores near 1; white on black scores 21. The worst of eight angular sectors
around the face's centre is reported too (one side of the face lost in a bright patch).

    python tools/face_contrast.py [--preset default] [--seconds 12] [--size 640x360]

prints the measure for one preset's scene at the end of the first ``--seconds`` of the demo
track, rendered by ``livevis render``'s path. ``tools/preset_stills.py`` uses it for every preset.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

#: Pixels whose largest channel changes by more than this (of 255) when the face is hidden
#: belong to the face.
CHANGE_THRESHOLD = 6
#: Width of the bands inside and outside the silhouette, as a fraction of the picture height.
BAND = 0.03
SECTORS = 8


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2.x relative luminance of sRGB pixels.

    Args:
        rgb: (..., 3) uint8 sRGB.

    Returns:
        (...) float64 in [0, 1].
    """
    c = rgb.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(a: float, b: float) -> float:
    """WCAG contrast ratio of two relative luminances, in [1, 21]."""
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


def face_mask(with_face: np.ndarray, without_face: np.ndarray) -> np.ndarray:
    """The face's footprint: (H, W) bool, the pixels the face layer changes (holes filled,
    specks removed), from two (H, W, 3) uint8 renders of the same frame."""
    changed = np.abs(with_face.astype(np.int16) - without_face.astype(np.int16)).max(axis=2) > CHANGE_THRESHOLD
    changed = ndimage.binary_opening(changed, iterations=2)
    labels, n = ndimage.label(changed)
    if n == 0:
        return changed
    sizes = ndimage.sum(changed, labels, range(1, n + 1))
    return ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))


def face_contrast(with_face: np.ndarray, without_face: np.ndarray) -> dict:
    """The face's contrast with its surroundings in one frame.

    Args:
        with_face, without_face: (H, W, 3) uint8 renders of the same frame, the face layer shown
            and hidden.

    Returns:
        ``{"ratio": WCAG ratio between the bands inside and outside the silhouette (1–21),
        "worst_sector": the lowest of the 8 angular sectors' ratios, "inside", "outside": the
        bands' mean relative luminances, "area": the face's fraction of the picture}``; ratio 1
        and area 0 when the face is not seen at all.

    Raises:
        ValueError: the two frames differ in shape.
    """
    if with_face.shape != without_face.shape:
        raise ValueError(f"frames differ in shape: {with_face.shape} vs {without_face.shape}")
    mask = face_mask(with_face, without_face)
    h, w = mask.shape
    if mask.sum() < 0.002 * h * w:
        return {"ratio": 1.0, "worst_sector": 1.0, "inside": float("nan"), "outside": float("nan"), "area": 0.0}
    band = max(1, int(round(BAND * h)))
    inner = mask & ~ndimage.binary_erosion(mask, iterations=band)
    outer = ndimage.binary_dilation(mask, iterations=band) & ~mask
    lum = relative_luminance(with_face)
    yy, xx = np.nonzero(mask)
    angle = np.arctan2(*np.indices(mask.shape) - np.array([yy.mean(), xx.mean()])[:, None, None])
    sector = ((angle + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS
    ratios = [contrast_ratio(lum[inner & (sector == k)].mean(), lum[outer & (sector == k)].mean())
              for k in range(SECTORS) if (inner & (sector == k)).any() and (outer & (sector == k)).any()]
    li, lo = float(lum[inner].mean()), float(lum[outer].mean())
    return {"ratio": contrast_ratio(li, lo), "worst_sector": float(min(ratios)) if ratios else 1.0,
            "inside": li, "outside": lo, "area": float(mask.mean())}


def face_layers(preset) -> list[int]:
    """1-based indices of the preset's face layers (the ``layer.N.*`` parameters)."""
    return [i for i, spec in enumerate(preset.layers, start=1) if spec.kind == "face"]


def measure_scene(scene, state, t: float) -> tuple[dict, np.ndarray]:
    """Render ``state`` at ``t`` with an :class:`~livevis.show.scene.OfflineScene` twice, the
    preset's face layers shown and hidden (their ``layer.N.enabled`` parameters), and measure
    :func:`face_contrast`. Returns (the measure, the frame with the face (H, W, 3) uint8).
    The parameters are restored afterwards."""
    registry = scene.show.registry
    scene.render(state, t)
    with_face = scene.read_rgb()
    names = [f"layer.{i}.enabled" for i in face_layers(scene.show.preset)]
    saved = {name: registry.get(name) for name in names}
    for name in names:
        registry.set(name, 0.0)
    try:
        scene.render(state, t)
        without_face = scene.read_rgb()
    finally:
        registry.update(saved)
    return face_contrast(with_face, without_face), with_face


def render_and_measure(track, preset, seconds: float, size=(640, 360), fps: int = 10, start: float = 0.0,
                       ctx=None, emotion=None) -> tuple[dict, np.ndarray]:
    """Render ``track`` from ``start`` for ``seconds`` with ``preset`` by ``livevis render``'s path
    (:func:`~livevis.show.offline.render_file`, :class:`~livevis.show.scene.OfflineScene`) and
    measure the last frame. ``ctx`` (a GL context) and ``emotion`` (an
    :class:`~livevis.analysis.emotion.EmotionModel`, reset first) may be shared between calls.
    Returns (the :func:`face_contrast` measure, the frame (H, W, 3) uint8)."""
    import tempfile
    from pathlib import Path

    import soundfile as sf

    from livevis.audio.decode import open_audio
    from livevis.analysis.emotion import load_emotion_model
    from livevis.show.offline import render_file
    from livevis.show.scene import OfflineScene, offscreen_context

    ctx = ctx if ctx is not None else offscreen_context()
    if emotion is None:
        emotion = load_emotion_model()
    emotion.reset()  # recurrent: each render starts from the model's initial state
    audio = open_audio(track)
    result = {}
    scenes = []
    states = {}
    n_frames = int(seconds * fps)

    def make(w, h):
        scenes.append(OfflineScene(ctx, w, h, preset, say=lambda *_: None))
        return scenes[-1]

    def on_frame(i, rgb):
        if i == n_frames - 1:
            result["measure"], result["frame"] = measure_scene(scenes[-1], states[i], i / fps)

    with tempfile.TemporaryDirectory() as tmp:
        source = track
        if start > 0:  # the excerpt as a file: render_file starts at the file's beginning
            data = np.concatenate(list(audio.blocks(start + seconds)))[int(round(start * audio.rate)):]
            source = Path(tmp) / "excerpt.wav"
            sf.write(str(source), data, audio.rate, subtype="FLOAT")
        render_file(source, Path(tmp) / "out.mp4", emotion, make, size=size, fps=fps, duration=seconds,
                    progress=False, on_state=lambda i, s: states.__setitem__(i, s), on_frame=on_frame)
    return result["measure"], result["frame"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="default", help="preset name or path ('default': the built-in one)")
    ap.add_argument("--track", default=None, help="audio file (default: the demo track)")
    ap.add_argument("--start", type=float, default=0.0, help="seconds into the track to start at")
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--size", default="640x360")
    args = ap.parse_args(argv)

    from livevis.control.presets import default_preset, load_preset
    from livevis.show.demo import demo_track

    preset = default_preset() if args.preset == "default" else load_preset(args.preset)
    w, h = (int(v) for v in args.size.lower().split("x"))
    m, _ = render_and_measure(args.track or demo_track(), preset, args.seconds, (w, h), start=args.start)
    print(f"{args.preset}: face contrast {m['ratio']:.2f}:1 (worst sector {m['worst_sector']:.2f}:1; "
          f"inside L={m['inside']:.3f}, outside L={m['outside']:.3f}; face {m['area'] * 100:.0f} % of the picture)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
