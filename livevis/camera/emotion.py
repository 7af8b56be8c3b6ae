"""The emotion on the faces a camera sees (the first half of Emotion2Music: face → FER2013 CNN).

Each new camera frame (at most ``rate_hz`` a second) goes through the same FER2013 reader the
face-legibility measure uses (:class:`~livevis.face3d.reader.FaceReader`: Haar face detection,
fer's mini-Xception), on the largest face or, with ``faces="mean"``, on every face (at most
:data:`MAX_FACES`, the largest), whose probabilities are averaged: a room's mean mood. The 7
class probabilities become valence and arousal by the fixed circumplex mapping of
:func:`~livevis.face3d.reader.circumplex` (linear, so the mean face's valence/arousal is the mean
of the faces'), smoothed with attack/release time constants. When no face has been seen for ``lost_s`` seconds the state
eases back to a neutral face at rest (valence 0, arousal −0.5, what "neutral" reads as).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from livevis.analysis.emotion import Smoother
from livevis.face3d.reader import EMOTIONS, FaceReader, circumplex

#: Faces read per frame with ``faces="mean"`` (the largest ones): each costs one classification.
MAX_FACES = 8
#: What the circumplex mapping gives for a face read 100 % neutral: the camera's rest point.
REST_VALENCE, REST_AROUSAL = circumplex(np.eye(len(EMOTIONS))[EMOTIONS.index("neutral")])


@dataclass(frozen=True)
class CameraState:
    """What the camera's faces show.

    Attributes:
        time: host clock time of the frame read, seconds.
        valence: smoothed valence in [−1, 1].
        arousal: smoothed arousal in [−0.5, 1].
        probs: float32 (7,) the newest reading's class probabilities (:data:`EMOTIONS` order),
            zeros when no face was found.
        face: a face was found within the last ``lost_s`` seconds.
        status: the camera's (``"starting"``, ``"ok"``, ``"no camera"``).
        faces: faces read in the newest frame read (0 when none).
    """

    time: float = 0.0
    valence: float = float(REST_VALENCE)
    arousal: float = float(REST_AROUSAL)
    probs: np.ndarray = field(default_factory=lambda: np.zeros(len(EMOTIONS), np.float32))
    face: bool = False
    status: str = "starting"
    faces: int = 0


class CameraEmotion:
    """Reads the emotion on a :class:`~livevis.camera.source.CameraSource`'s frames on its own thread.

    Args:
        source: anything with ``latest() -> (rgb, t, n) | None`` and a ``status`` attribute.
        reader: a :class:`FaceReader` (default: a new one).
        rate_hz: at most this many frames read a second (> 0).
        attack_s, release_s: smoothing time constants, seconds (>= 0).
        lost_s: after this many seconds without a face, ease back to rest.
        clock: the host clock, seconds.
        faces: ``"largest"``: the largest face's emotion; ``"mean"``: the mean over the faces.
        dump: a :class:`~livevis.camera.debug.FrameDump` that saves each frame read with its
            readings drawn on it (a debug aid); None (the default): frames are never written.

    Raises:
        FaceReaderError: OpenCV or the FER model is missing.
        ValueError: ``rate_hz`` <= 0 or another ``faces``.
    """

    def __init__(self, source, reader: FaceReader | None = None, rate_hz: float = 10.0, attack_s: float = 0.3,
                 release_s: float = 1.0, lost_s: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 faces: str = "largest", dump=None) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        if faces not in ("largest", "mean"):
            raise ValueError(f"faces must be 'largest' or 'mean', got {faces!r}")
        self.faces, self.dump = faces, dump
        self.source, self.reader = source, reader or FaceReader()
        self.period, self.lost_s, self.clock = 1.0 / float(rate_hz), float(lost_s), clock
        self.smoother = Smoother(attack_s, release_s, self.period)
        self.read_s: list[float] = []  #: seconds per frame spent in detection + classification (last 1000)
        self._state = CameraState()
        self._last_frame, self._last_face = 0, -np.inf
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livevis-camera-emotion", daemon=True)

    def start(self) -> CameraEmotion:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def latest(self) -> CameraState:
        """The newest :class:`CameraState` (never blocks)."""
        return self._state

    def step(self) -> CameraState:
        """Read the newest frame if there is a new one, and update the state (the thread's body;
        call it directly with a host clock to run without a thread)."""
        now = self.clock()
        got = self.source.latest()
        status = getattr(self.source, "status", "ok")
        probs, count = self._state.probs, self._state.faces
        if got is not None and got[2] != self._last_frame:
            self._last_frame = got[2]
            t0 = time.perf_counter()
            readings = self.reader.read_all(got[0], MAX_FACES if self.faces == "mean" else 1)
            self.read_s = (self.read_s + [time.perf_counter() - t0])[-1000:]
            if self.dump is not None:
                self.dump.write(got[0], readings, got[2])
            count = len(readings)
            if readings:
                self._last_face = now
                probs = np.mean([r.probs for r in readings], axis=0).astype(np.float32)
        face = now - self._last_face <= self.lost_s and status == "ok"
        if face:
            target = circumplex(probs)
        else:
            target, probs = (REST_VALENCE, REST_AROUSAL), np.zeros(len(EMOTIONS), np.float32)
        v, a = self.smoother(np.asarray(target, np.float32))
        self._state = CameraState(now, float(v), float(a), probs, bool(face), status, count if face else 0)
        return self._state

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = self.clock()
            self.step()
            self._stop.wait(max(0.0, self.period - (self.clock() - t0)))

    def __enter__(self) -> CameraEmotion:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
