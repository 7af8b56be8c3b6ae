"""Presets designed to be seen: each shipped preset shows every layer it lists, its background
uses its palette, and its face stands out from its surroundings at least as well as the default
preset's (tools/face_contrast.py: WCAG contrast ratio across the face's silhouette).

Real parts: the demo track's liveliest seconds through ``livevis render``'s path (the shipped
emotion model, the preset's analyser settings, EGL OpenGL, the latent image stream decoded by
the shipped TAEF2 decoder).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from livevis.control.presets import default_preset, load_preset, preset_names

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import face_contrast  # noqa: E402
import preset_stills  # noqa: E402

SIZE = (320, 180)
SHIPPED = preset_names()
#: The portrait preset's face layer is a full-frame photo: the face's surroundings are the
#: photo's own, so the silhouette measure does not apply; its background is a frame around the
#: photo that must leave the face untouched (test_portrait_frame_leaves_the_face_alone).
FULL_FRAME_FACE = {"portrait"}


def _preset(name):
    return default_preset() if name == "default" else load_preset(name)


@pytest.fixture(scope="module")
def lively(demo_track_module):
    """(track, start, seconds): the 4 s of the demo track up to its liveliest moment."""
    moment = preset_stills.lively_moment(demo_track_module)
    return demo_track_module, moment - 4.0, 4.0


@pytest.fixture(scope="module")
def demo_track_module():
    from livevis.show.demo import demo_track

    return demo_track()


@pytest.fixture(scope="module")
def measures(ctx, lively):
    from livevis.analysis.emotion import load_emotion_model

    track, start, seconds = lively
    emotion = load_emotion_model()
    out = {}
    for name in ["default", *sorted(set(SHIPPED) - FULL_FRAME_FACE)]:
        out[name], _ = face_contrast.render_and_measure(track, _preset(name), seconds, SIZE, start=start,
                                                        ctx=ctx, emotion=emotion)
    return out


def test_shipped_presets_are_the_ones_checked():
    assert {"accessibility", "ambient", "club", "keyframes", "portrait"} <= set(SHIPPED)


@pytest.mark.parametrize("name", sorted(set(SHIPPED) - FULL_FRAME_FACE))
def test_face_contrast_at_least_the_defaults(measures, name):
    default, m = measures["default"], measures[name]
    assert m["area"] > 0.05, f"{name}: the face is not seen ({m})"
    assert m["ratio"] >= default["ratio"], (
        f"{name}: face contrast {m['ratio']:.2f}:1 below the default preset's {default['ratio']:.2f}:1 ({m})")


def test_contrast_measure_sees_a_face_lost_in_its_background():
    """The measure itself: a grey disc on black scores high; on a grey of its own luminance ~1."""
    h, w = 180, 320
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - 90) ** 2 + (xx - 160) ** 2 < 50 ** 2
    for bg, expect_high in ((0, True), (128, False)):
        without = np.full((h, w, 3), bg, np.uint8)
        without[..., 0] = np.clip(bg + 20 * np.sin(xx / 9.0), 0, 255)  # some texture
        with_face = without.copy()
        with_face[disc] = (128, 128, 128) if bg == 0 else (120, 135, 128)
        m = face_contrast.face_contrast(with_face, without)
        assert m["area"] == pytest.approx(disc.mean(), rel=0.1)
        assert (m["ratio"] > 5) if expect_high else (m["ratio"] < 1.3), m


def _render(scene, state, t):
    scene.render(state, t)
    return scene.read_rgb().astype(int)


@pytest.mark.parametrize("name", ["default", *SHIPPED])
def test_every_listed_layer_is_seen(ctx, name, demo_track_module):
    """Hiding any one of the preset's layers (its ``layer.N.enabled`` parameter) changes the
    picture visibly, over a second of real music."""
    from livevis.analysis.analyzer import Analyzer
    from livevis.audio.decode import open_audio
    from livevis.analysis.emotion import load_emotion_model
    from livevis.show.scene import OfflineScene, configure_analyzer

    preset = _preset(name)
    audio = open_audio(demo_track_module)
    mono = np.concatenate([b.mean(axis=1) for b in audio.blocks(12.0)])
    analyzer = Analyzer(audio.rate, load_emotion_model())
    configure_analyzer(analyzer, preset)
    states = analyzer.feed(mono)[-10:]
    scene = OfflineScene(ctx, *SIZE, preset, say=lambda *_: None)
    try:
        for state in states:  # a second of the stream: the latent glide has pictures
            shown = _render(scene, state, state.time)
        t, state = states[-1].time, states[-1]
        for i, spec in enumerate(preset.layers, start=1):
            scene.show.registry.set(f"layer.{i}.enabled", 0.0)
            hidden = _render(scene, state, t)
            scene.show.registry.set(f"layer.{i}.enabled", 1.0)
            change = np.abs(shown - hidden).mean()
            assert change > 3.0, f"{name}: layer {i} ({spec.kind}) changes the picture by only {change:.2f}/255"
    finally:
        scene.release()


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """Chromaticity (r, g, b) / (r + g + b) of (n, 3) colours: the hue and saturation, not the
    brightness (the shader modulates brightness with the music)."""
    rgb = np.asarray(rgb, float)
    return rgb / (rgb.sum(axis=1, keepdims=True) + 1e-3)


def _distance_to_gradient(pixels: np.ndarray, palette) -> float:
    """Mean chromaticity distance of (n, 3) pixels in [0, 255] to the nearest colour of the
    palette's gradient (the palette's colours joined in order)."""
    pal = np.array(palette, float) * 255
    f = np.linspace(0, len(pal) - 1, 40 * len(pal))
    k = np.minimum(f.astype(int), len(pal) - 2)
    gradient = _chroma(pal[k] + (f - k)[:, None] * (pal[k + 1] - pal[k]))
    px = _chroma(pixels[:: 7])
    return float(np.linalg.norm(px[:, None, :] - gradient[None], axis=2).min(axis=1).mean())


@pytest.mark.parametrize("name", [n for n in SHIPPED if _preset(n).palette
                                  and any(s.kind == "background" for s in _preset(n).layers)])
def test_background_uses_the_palette(ctx, name):
    """The background shader draws in the preset's colours: the hues of its picture lie nearer
    the palette's gradient than those of the same frame drawn without a palette."""
    from livevis.render import BackgroundLayer, Compositor
    from livevis.analysis.state import AnalysisState

    preset = _preset(name)
    state = AnalysisState(valence=0.2, arousal=0.5, rms=0.3, bass=0.5, mid=0.4, high=0.3, onset=0.5)
    pictures = {}
    for key, palette in (("preset", preset.palette), ("none", ())):
        layer = BackgroundLayer(ctx, fragment=str(preset.shader_path()), params=preset.background.params,
                                palette=palette)
        comp = Compositor(ctx, *SIZE, [layer])
        comp.render(state, 3.0)
        pictures[key] = comp.read_rgb().reshape(-1, 3).astype(float)
        comp.release()
    near = {k: _distance_to_gradient(p, preset.palette) for k, p in pictures.items()}
    assert np.abs(pictures["preset"] - pictures["none"]).mean() > 10
    assert near["preset"] < 0.8 * near["none"], near


def test_portrait_frame_leaves_the_face_alone(ctx):
    """portrait's background is a frame over the photo: hiding it changes the edges of the
    picture, not its centre where the face is."""
    from livevis.show.scene import OfflineScene
    from livevis.analysis.state import AnalysisState

    preset = load_preset("portrait")
    bg = 1 + [s.kind for s in preset.layers].index("background")
    assert bg > 1 + [s.kind for s in preset.layers].index("face"), "the frame must be above the photo"
    scene = OfflineScene(ctx, *SIZE, preset, say=lambda *_: None)
    try:
        state = AnalysisState(time=1.0, valence=0.3, arousal=0.4, rms=0.3, bass=0.4, onset=0.3)
        shown = _render(scene, state, 1.0)
        scene.show.registry.set(f"layer.{bg}.enabled", 0.0)
        hidden = _render(scene, state, 1.0)
    finally:
        scene.release()
    h, w = SIZE[1], SIZE[0]
    centre = (slice(int(0.3 * h), int(0.7 * h)), slice(int(0.4 * w), int(0.6 * w)))
    assert np.abs(shown - hidden)[centre].max() <= 2
    assert np.abs(shown - hidden)[:, : w // 8].mean() > 10
