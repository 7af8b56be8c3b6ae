"""A portrait animated by the GANimation generator (Pumarola et al., ECCV 2018) in ONNX.

When ``models/ganimation.onnx`` (or another file) is present, :class:`GanimationLayer` shows
the user's photo with its face crop re-synthesised by the AU-conditioned generator: the
generator's attention mask keeps unchanged pixels, its colour mask paints the expression.
The generator runs on its own thread, at most once per new AU vector, so the render loop
never waits for it; the newest result is uploaded each frame.

Model contract (``livevis.face3d.ganimation.export_onnx``): inputs ``image`` float32
(1, 3, S, S) RGB in [-1, 1] and ``aus`` float32 (1, 17) in [0, 1]; first output the animated
crop (1, 3, S, S) in [-1, 1].
"""

from __future__ import annotations

import threading
from pathlib import Path

import moderngl
import numpy as np
import onnxruntime as ort
from PIL import Image

from livevis import MODELS_DIR
from livevis.errors import ModelError
from livevis.render.layers import ImageLayer
from livevis.analysis.state import AU_NAMES, AnalysisState

DEFAULT_MODEL = MODELS_DIR / "ganimation.onnx"


def load_generator(path: str | Path = DEFAULT_MODEL) -> tuple[ort.InferenceSession, int]:
    """Open a GANimation ONNX file and check it against the contract.

    Returns:
        ``(session, crop_size)``.

    Raises:
        ModelError: missing, unreadable, or wrong inputs (the message names the file and the
            expected shapes).
    """
    path = Path(path)
    expected = f"expected inputs image [1, 3, S, S] and aus [1, {len(AU_NAMES)}]"
    if not path.is_file():
        raise ModelError(f"GANimation model not found: {path}")
    try:
        session = ort.InferenceSession(str(path), providers=[p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                                                             if p in ort.get_available_providers()])
    except Exception as err:
        raise ModelError(f"{path}: not a readable ONNX model ({err.__class__.__name__}); {expected}") from None
    inputs = {i.name: i.shape for i in session.get_inputs()}
    image, aus = inputs.get("image"), inputs.get("aus")
    if (image is None or aus is None or len(image) != 4 or image[1] != 3 or image[2] != image[3]
            or not isinstance(image[2], int) or list(aus)[1:] != [len(AU_NAMES)]):
        raise ModelError(f"{path}: inputs {inputs}; {expected}")
    return session, int(image[2])


def face_box(landmarks: np.ndarray, shape: tuple[int, int], margin: float = 1.35) -> tuple[int, int, int]:
    """A square crop around the face landmarks: ``(x0, y0, side)`` in photo pixels, inside it."""
    pts = np.asarray(landmarks)[:, :2]
    centre = (pts.min(0) + pts.max(0)) / 2
    side = int(min(max(np.ptp(pts, axis=0)) * margin, shape[0], shape[1]))
    x0 = int(np.clip(centre[0] - side / 2, 0, shape[1] - side))
    y0 = int(np.clip(centre[1] - side / 2, 0, shape[0] - side))
    return x0, y0, side


class GanimationLayer(ImageLayer):
    """The photo, its face re-synthesised by the generator from the current AUs.

    Args:
        ctx: GL context.
        photo: uint8 (H, W, 3) RGB.
        landmarks: float (n, 2+) face landmarks in photo pixels (e.g. MediaPipe's 478).
        model: the ONNX generator (default ``models/ganimation.onnx``).
        opacity, blend: see :class:`~livevis.render.Layer`. expressiveness: AU gain, [0, 3].

    Raises:
        ModelError: see :func:`load_generator`.
    """

    def __init__(self, ctx: moderngl.Context, photo: np.ndarray, landmarks: np.ndarray,
                 model: str | Path = DEFAULT_MODEL, *, opacity: float = 1.0, blend: str = "normal",
                 expressiveness: float = 1.0) -> None:
        super().__init__(ctx, opacity, blend)
        self.session, self.crop_size = load_generator(model)
        self.photo = np.ascontiguousarray(photo[..., :3], dtype=np.uint8)
        self.expressiveness = float(expressiveness)
        self.box = face_box(landmarks, self.photo.shape[:2])
        x0, y0, side = self.box
        crop = Image.fromarray(self.photo[y0:y0 + side, x0:x0 + side]).resize((self.crop_size,) * 2, Image.BILINEAR)
        self._crop = (np.asarray(crop, np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0).astype(np.float32)
        ramp = np.minimum(np.arange(side), np.arange(side)[::-1]) / max(1.0, side * 0.12)
        self._feather = np.clip(np.minimum.outer(ramp, ramp), 0, 1)[..., None].astype(np.float32)
        self._wanted: np.ndarray | None = None
        self._done: np.ndarray | None = None  # newest composited photo
        self.generated = 0
        self._uploaded = -1
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="livevis-ganimation", daemon=True)
        self._thread.start()
        self.set_image(self.photo)

    def animate(self, aus: np.ndarray) -> np.ndarray:
        """Synchronously: the photo with its face generated for ``aus`` (17,) → uint8 (H, W, 3)."""
        out = self.session.run(None, {"image": self._crop, "aus": aus.reshape(1, -1).astype(np.float32)})[0][0]
        x0, y0, side = self.box
        face = ((np.clip(out, -1, 1).transpose(1, 2, 0) + 1.0) * 127.5).astype(np.uint8)
        face = np.asarray(Image.fromarray(face).resize((side, side), Image.BILINEAR), np.float32)
        result = self.photo.copy()
        region = result[y0:y0 + side, x0:x0 + side].astype(np.float32)
        result[y0:y0 + side, x0:x0 + side] = (region + self._feather * (face - region)).astype(np.uint8)
        return result

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._wanted is None and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                aus, self._wanted = self._wanted, None
            self._done = self.animate(aus)
            self.generated += 1

    def draw(self, state: AnalysisState, t: float, size: tuple[int, int]) -> None:
        aus = np.clip(np.asarray(state.aus, np.float32) * self.expressiveness, 0.0, 1.0)
        with self._wake:
            self._wanted = aus  # only the newest AU vector is kept: stale ones are dropped
            self._wake.notify()
        if self._done is not None and self.generated != self._uploaded:
            self._uploaded = self.generated
            self.set_image(self._done)
        super().draw(state, t, size)

    def release(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout=2)
        super().release()
