"""478 MediaPipe face landmarks of one photo, from MediaPipe's own TFLite models.

``mediapipe==0.10.14`` cannot be installed beside livevis (it pins numpy < 2 and protobuf
< 5), and its ``face_landmark_with_attention.tflite`` needs MediaPipe's custom operators
(``Landmarks2TransformMatrix``, ``TransformTensorBilinear``) that no stand-alone runtime has.
So this module runs MediaPipe's classic pipeline with plain-operator models taken from the
same pinned wheel (see :mod:`livevis.face3d.assets`) on the ``ai-edge-litert`` runtime
(Google's TFLite successor; ``tflite-runtime`` is used if that is what is installed):

1. ``face_detection_short_range.tflite`` (BlazeFace, 128×128, input in [-1, 1]): boxes and six
   keypoints; 896 SSD anchors, sigmoid scores, weighted non-maximum suppression.
2. ``face_landmark.tflite`` (192×192, input in [0, 1]) on a square crop 1.5× the face box,
   rotated so the eyes are level: 468 landmarks. Run twice, the second time on the crop
   derived from the first landmarks (MediaPipe's tracking ROI), which is tighter.
3. ``iris_landmark.tflite`` (64×64, [0, 1]) on each eye (crop 2.3× the eye-corner distance;
   the subject's left eye mirrored): 5 iris points per eye → indices 468–477.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from livevis.errors import LivevisError


class PortraitError(LivevisError):
    """A portrait photo cannot be read, or has no face / several faces."""


def tflite_interpreter(path: Path, what: str = "landmark model", user: str = "portrait mode",
                       error: type[LivevisError] = LivevisError, num_threads: int | None = None):
    """A TFLite interpreter (ai-edge-litert, or tflite-runtime) for the model file ``path``.

    Args:
        what: the model's name in messages ("landmark model"). user: what needs it ("portrait mode").
        error: the :class:`LivevisError` subclass to raise. num_threads: interpreter threads.

    Raises:
        ``error``: no TFLite runtime is installed, or the file cannot be loaded (one line).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise error(f"{user} needs a TFLite runtime: pip install ai-edge-litert") from None
    try:
        it = Interpreter(model_path=str(path), num_threads=num_threads)
        it.allocate_tensors()
    except Exception as err:  # corrupt model / unsupported op
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise error(f"cannot load {what} {path}: {reason}") from None
    return it


def run_tflite(it, x: np.ndarray) -> list[np.ndarray]:
    """Run interpreter ``it`` on one input ``x`` (without the batch axis); returns its outputs."""
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], x.astype(np.float32)[None])
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _anchors() -> np.ndarray:
    """BlazeFace short-range SSD anchor centres (896, 2) in [0, 1]."""
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        n = 128 // stride
        ys, xs = np.mgrid[0:n, 0:n]
        c = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], -1).reshape(-1, 1, 2)
        out.append(np.repeat(c, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


_ANCHORS = _anchors()


def _crop(image: np.ndarray, center, size: float, angle: float, out: int, flip: bool = False):
    """Rotated square crop: returns (crop float32 [0,1] out×out×3, 2×3 matrix crop px → image px)."""
    from PIL import Image

    c, s = math.cos(angle), math.sin(angle)
    k = size / out
    fx = -1.0 if flip else 1.0
    # image = center + R @ ((u - out/2) * k * fx, (v - out/2) * k)
    a = np.array([[c * k * fx, -s * k], [s * k * fx, c * k]])
    t = np.asarray(center, float) - a @ np.array([out / 2, out / 2])
    m = np.hstack([a, t[:, None]])
    pil = Image.fromarray(image)
    crop = pil.transform((out, out), Image.AFFINE, data=tuple(m.ravel()), resample=Image.BILINEAR)
    return np.asarray(crop, np.float32) / 255.0, m


class FaceLandmarker:
    """Finds the 478 MediaPipe face landmarks in a photo.

    Args:
        models: (detector, face landmark, iris landmark) ``.tflite`` paths; default:
            :func:`livevis.face3d.assets.landmark_model_paths` (fetches mediapipe's wheel).
        min_score: detection threshold in (0, 1).

    Raises:
        LivevisError: no TFLite runtime, or a model cannot be loaded; AssetError when the
            models cannot be fetched.
    """

    def __init__(self, models: tuple[Path, Path, Path] | None = None, min_score: float = 0.5) -> None:
        if models is None:
            from livevis.face3d.assets import landmark_model_paths

            models = landmark_model_paths()
        self._det, self._mesh, self._iris_model = (tflite_interpreter(Path(p)) for p in models)
        self.min_score = float(min_score)

    def detect(self, image: np.ndarray) -> list[dict]:
        """Faces in ``image`` (uint8 H×W×3 RGB): list of {"score", "box" (x0, y0, x1, y1) px,
        "keypoints" (6, 2) px: right eye, left eye, nose, mouth, right ear, left ear}, best first."""
        from PIL import Image

        h, w = image.shape[:2]
        side = max(h, w)
        pad = np.zeros((side, side, 3), np.uint8)
        oy, ox = (side - h) // 2, (side - w) // 2
        pad[oy:oy + h, ox:ox + w] = image
        x = np.asarray(Image.fromarray(pad).resize((128, 128), Image.BILINEAR), np.float32) / 127.5 - 1.0
        reg, cls = run_tflite(self._det, x)
        reg, cls = reg[0], cls[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(cls.astype(np.float64), -100, 100)))
        keep = np.nonzero(scores >= self.min_score)[0]
        if len(keep) == 0:
            return []
        a = _ANCHORS[keep]
        r = reg[keep] / 128.0
        centre = a + r[:, :2]
        half = r[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], 1)
        kps = a[:, None, :] + r[:, 4:16].reshape(-1, 6, 2)
        order = np.argsort(-scores[keep])
        faces, used = [], np.zeros(len(keep), bool)
        for i in order:  # weighted NMS (IoU > 0.3 merges)
            if used[i]:
                continue
            iou = _iou(boxes[i], boxes)
            group = (~used) & (iou > 0.3)
            used |= group
            wgt = scores[keep][group][:, None]
            box = (boxes[group] * wgt).sum(0) / wgt.sum()
            kp = (kps[group] * wgt[:, :, None]).sum(0) / wgt.sum()
            to_px = lambda p: p * side - np.array([ox, oy])  # noqa: E731
            faces.append({"score": float(scores[keep][i]),
                          "box": np.concatenate([to_px(box[:2]), to_px(box[2:])]),
                          "keypoints": to_px(kp)})
        return faces

    def _mesh_from_roi(self, image, center, size, angle):
        crop, m = _crop(image, center, size, angle, 192)
        out = run_tflite(self._mesh, crop)
        pts = out[0].reshape(468, 3)
        presence = 1.0 / (1.0 + math.exp(-float(out[1].ravel()[0])))
        xy = pts[:, :2] @ m[:, :2].T + m[:, 2]
        z = pts[:, 2] * size / 192
        return np.column_stack([xy, z]).astype(np.float32), presence

    def _iris(self, image, lm, corners, flip):
        p0, p1 = lm[corners[0], :2], lm[corners[1], :2]
        center = (p0 + p1) / 2
        size = 2.3 * float(np.linalg.norm(p1 - p0))
        angle = math.atan2(p1[1] - p0[1], p1[0] - p0[0])
        if flip:
            angle = math.atan2(p0[1] - p1[1], p0[0] - p1[0]) + math.pi
        crop, m = _crop(image, center, size, angle, 64, flip=flip)
        out = run_tflite(self._iris_model, crop)
        iris = out[1].reshape(5, 3)
        xy = iris[:, :2] @ m[:, :2].T + m[:, 2]
        return np.column_stack([xy, iris[:, 2] * size / 64])

    def landmarks(self, image: np.ndarray, name: str = "photo") -> np.ndarray:
        """The 478 landmarks of the single face in ``image``.

        Args:
            image: uint8 H×W×3 RGB.
            name: how messages refer to the photo (e.g. its path).

        Returns:
            float32 (478, 3): x, y in image pixels (x right, y down), z in pixels (relative
            depth, smaller = closer to the camera, MediaPipe convention).

        Raises:
            PortraitError: no face, or more than one face.
        """
        faces = self.detect(image)
        if not faces:
            raise PortraitError(f"no face found in {name}; use a photo with one clearly visible, roughly frontal face")
        if len(faces) > 1:
            raise PortraitError(f"{name} shows {len(faces)} faces; use a photo with exactly one face")
        f = faces[0]
        x0, y0, x1, y1 = f["box"]
        kp = f["keypoints"]
        angle = math.atan2(kp[1, 1] - kp[0, 1], kp[1, 0] - kp[0, 0])
        lm, _ = self._mesh_from_roi(image, ((x0 + x1) / 2, (y0 + y1) / 2), 1.5 * max(x1 - x0, y1 - y0), angle)
        # second pass on the landmark-derived ROI (MediaPipe's tracking ROI)
        e0, e1 = lm[33, :2], lm[263, :2]
        angle = math.atan2(e1[1] - e0[1], e1[0] - e0[0])
        c, s = math.cos(-angle), math.sin(-angle)
        rot = lm[:, :2] @ np.array([[c, s], [-s, c]])
        lo, hi = rot.min(0), rot.max(0)
        mid = (lo + hi) / 2
        center = mid @ np.array([[c, -s], [s, c]])
        lm, presence = self._mesh_from_roi(image, center, 1.5 * float((hi - lo).max()), angle)
        if presence < 0.5:
            raise PortraitError(f"no face found in {name} (landmark confidence {presence:.2f}); "
                                f"use a photo with one clearly visible, roughly frontal face")
        iris_r = self._iris(image, lm, (33, 133), flip=False)
        iris_l = self._iris(image, lm, (362, 263), flip=True)
        return np.concatenate([lm, iris_r, iris_l]).astype(np.float32)


def _iou(b, boxes):
    x0 = np.maximum(b[0], boxes[:, 0])
    y0 = np.maximum(b[1], boxes[:, 1])
    x1 = np.minimum(b[2], boxes[:, 2])
    y1 = np.minimum(b[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda q: (q[..., 2] - q[..., 0]) * (q[..., 3] - q[..., 1])  # noqa: E731
    return inter / np.maximum(area(b) + area(boxes) - inter, 1e-9)
