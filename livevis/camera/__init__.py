"""Camera in: frames from a camera or a video file (:mod:`.source`) and the emotion on the
faces in them (:mod:`.emotion`), beside the audio input, steering the show."""

from livevis.camera.emotion import CameraEmotion, CameraState
from livevis.camera.source import (
    CameraError,
    CameraSource,
    list_cameras,
    resolve_camera,
)

__all__ = ["CameraEmotion", "CameraError", "CameraSource", "CameraState", "list_cameras", "resolve_camera"]
