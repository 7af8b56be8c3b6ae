"""A camera as a source of frames: a V4L2 device, or a video file played as a camera.

Frames are read with PyAV on a thread of their own and kept in a one-frame slot
(:meth:`CameraSource.latest`), so nothing downstream ever waits for the camera. A camera that
disappears (unplugged, or a file that can no longer be opened) sets :attr:`CameraSource.status`
to ``"no camera"``; the thread then tries to open it again every ``retry_s`` seconds and goes
on by itself when it comes back. Frames stay in memory: nothing is written anywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from livevis.errors import LivevisError

#: Where Linux lists its video devices (``/sys/class/video4linux/videoN/name``).
SYSFS_VIDEO = Path("/sys/class/video4linux")


class CameraError(LivevisError):
    """A camera device is unknown, or a video file is missing or not a video."""


def list_cameras(sysfs: Path = SYSFS_VIDEO) -> list[tuple[str, str]]:
    """The V4L2 video devices: ``[(device path, name)]``, e.g. ``("/dev/video0", "HD Webcam")``,
    sorted by device number; empty where there are none (or no Linux)."""
    out = []
    if sysfs.is_dir():
        for node in sysfs.iterdir():
            if not node.name.startswith("video"):
                continue
            try:
                name = (node / "name").read_text().strip()
            except OSError:
                name = node.name
            out.append((f"/dev/{node.name}", name))
    return sorted(out, key=lambda dn: int("".join(c for c in dn[0] if c.isdigit()) or 0))


def resolve_camera(spec: str | int, sysfs: Path = SYSFS_VIDEO) -> tuple[str, bool]:
    """Where ``spec`` points: ``(path, is_device)``.

    Args:
        spec: a device index (``0`` or ``"0"`` → ``/dev/video0``), a device path, a part of a
            device's name (case-insensitive, as ``livevis devices`` lists them), or a video file.

    Raises:
        CameraError: no such file or camera (the message lists the cameras there are).
    """
    text = str(spec).strip()
    cams = list_cameras(sysfs)
    if text.isdigit():
        path = f"/dev/video{int(text)}"
        if Path(path).exists():
            return path, True
    elif text.startswith("/dev/") and Path(text).exists():
        return text, True
    elif Path(text).expanduser().is_file():
        return str(Path(text).expanduser()), False
    else:
        hits = [path for path, name in cams if text.lower() in name.lower()]
        if hits:
            return hits[0], True
    choices = ", ".join(f"{p} ({n})" for p, n in cams) or "none found"
    raise CameraError(f"camera {text!r} is neither a video file nor a camera; cameras: {choices}")


class CameraSource:
    """Frames from a camera or a video file, read on a background thread.

    Args:
        spec: see :func:`resolve_camera`.
        max_width: frames wider than this are scaled down (aspect kept), pixels.
        retry_s: seconds between attempts to reopen a camera that disappeared.
        loop: a video file starts over at its end (it plays as an endless camera).
        clock: the host clock, seconds (monotonic); a file is paced by its timestamps on it.

    Raises:
        CameraError: ``spec`` names no camera or file, or the file is not a readable video
            (checked at once, so that a typo is one line at start-up, not a silent NO CAMERA).

    Attributes:
        status: ``"starting"``, ``"ok"`` or ``"no camera"``.
        message: why the camera is not delivering (empty while ``"ok"``).
        frames: frames delivered so far.
    """

    def __init__(self, spec: str | int, max_width: int = 640, retry_s: float = 1.0, loop: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.is_device = resolve_camera(spec)
        self.max_width, self.retry_s, self.loop, self.clock = int(max_width), float(retry_s), bool(loop), clock
        self.status, self.message, self.frames = "starting", "", 0
        self._lock = threading.Lock()
        self._latest: tuple[np.ndarray, float, int] | None = None
        self._stop = threading.Event()
        if not self.is_device:
            self._open().close()  # a missing or corrupt file fails here, in one line
        self._thread = threading.Thread(target=self._run, name="livevis-camera", daemon=True)

    # ------------------------------------------------------------------ public

    def start(self) -> CameraSource:
        """Start reading (returns self)."""
        self._thread.start()
        return self

    def latest(self) -> tuple[np.ndarray, float, int] | None:
        """The newest frame: ``(rgb uint8 (H, W, 3), clock time it arrived (s), frame number)``,
        or None before the first. Never blocks on the camera."""
        with self._lock:
            return self._latest

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and close the camera (waits up to ``timeout`` seconds)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> CameraSource:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ thread

    def _open(self):
        import av

        try:
            if self.is_device:
                return av.open(self.path, format="v4l2")
            container = av.open(self.path)
        except (av.error.FFmpegError, OSError) as err:
            kind = "camera" if self.is_device else "camera video file"
            raise CameraError(f"{kind} {self.path} cannot be opened ({err})") from None
        if not container.streams.video:
            container.close()
            raise CameraError(f"camera video file {self.path} has no video stream")
        return container

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                container = self._open()
            except CameraError as err:
                self._set_status("no camera", str(err))
                self._stop.wait(self.retry_s)
                continue
            try:
                ended = self._play(container)
            except Exception as err:  # noqa: BLE001 — a camera that fails mid-stream: report, retry
                ended = False
                self._set_status("no camera", f"camera {self.path} stopped ({err})")
            finally:
                container.close()
            if ended and not (self.loop and not self.is_device):
                self._set_status("no camera", f"camera {self.path} ended")
            if not ended:
                self._stop.wait(self.retry_s)

    def _play(self, container) -> bool:
        """Deliver frames until the end of the stream (True) or stop (False)."""
        import av

        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = None
        try:
            for frame in container.decode(stream):
                if self._stop.is_set():
                    return False
                if not self.is_device and frame.time is not None:  # a file plays in real time
                    if start is None:
                        start = self.clock() - frame.time
                    delay = start + frame.time - self.clock()
                    if delay > 0 and self._stop.wait(delay):
                        return False
                if frame.width > self.max_width:
                    h = int(round(frame.height * self.max_width / frame.width / 2)) * 2
                    frame = frame.reformat(width=self.max_width, height=max(h, 2))
                rgb = frame.to_ndarray(format="rgb24")
                with self._lock:
                    self.frames += 1
                    self._latest = (rgb, self.clock(), self.frames)
                if self.status != "ok":
                    self._set_status("ok", "")
        except av.error.FFmpegError as err:
            self._set_status("no camera", f"camera {self.path} stopped ({err})")
            return False
        return True

    def _set_status(self, status: str, message: str) -> None:
        self.status, self.message = status, message
