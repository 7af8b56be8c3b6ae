"""The camera's debug dump: the frames the face reader read, with what it saw, written to disk.

Off unless asked for (``livevis run --camera-debug DIR``): by default camera frames never leave
memory. When on, each frame read is saved as ``DIR/camera-NNNNNN.jpg`` with every face found
boxed and labelled with its top emotion and probability, so an installer can see why the room
reads as it does (a face not found, a lamp read as a face, a mood misread). Only the newest
``keep`` frames are kept on disk; older ones are deleted as new ones are written.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from livevis.camera.source import CameraError

#: Box colours (RGB): the face whose emotion is used first (the largest), the others after it.
FIRST, OTHERS = (255, 60, 60), (255, 200, 60)


class FrameDump:
    """Writes the frames the face reader read, with its readings drawn on them.

    Args:
        directory: where to write (created if missing).
        keep: how many of the newest frames stay on disk (>= 1).

    Raises:
        CameraError: ``directory`` cannot be created or written to (one line naming it).
        ValueError: ``keep`` < 1.
    """

    def __init__(self, directory: str | Path, keep: int = 200) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory, self.keep = Path(directory).expanduser(), int(keep)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / ".livevis-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise CameraError(f"camera debug directory {self.directory} is not writable ({err.strerror})") from None
        self._written: deque[Path] = deque()
        self.errors = 0  #: frames that could not be written (disk full …); the show goes on

    def write(self, rgb: np.ndarray, readings, number: int) -> Path | None:
        """Save frame ``number`` (uint8 (H, W, 3) RGB) with ``readings`` (the reader's
        :class:`~livevis.face3d.reader.FaceReading` list, largest first) drawn on it.

        Returns:
            the file written, or None when writing failed (counted in :attr:`errors`).
        """
        import cv2

        bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
        for k, reading in enumerate(readings):
            x, y, w, h = (int(v) for v in reading.box)
            colour = (FIRST if k == 0 else OTHERS)[::-1]
            cv2.rectangle(bgr, (x, y), (x + w, y + h), colour, 2)
            label = f"{reading.top} {float(np.max(reading.probs)):.2f}"
            cv2.putText(bgr, label, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
        path = self.directory / f"camera-{int(number):06d}.jpg"
        if not cv2.imwrite(str(path), bgr):
            self.errors += 1
            return None
        self._written.append(path)
        while len(self._written) > self.keep:
            self._written.popleft().unlink(missing_ok=True)
        return path
