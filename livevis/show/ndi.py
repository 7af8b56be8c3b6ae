"""NDI video out: the composited picture as an NDI source on the network (Resolume, OBS, vMix…).

Uses ``cyndilib`` (MIT; its wheels bundle NewTek/Vizrt's NDI runtime, which is proprietary: see
README). It is an optional extra (``pip install 'livevis[ndi]'``); without it ``--ndi`` is a one-line
error and everything else works.

Read-back: each frame's texture is copied into one of two OpenGL pixel-pack buffers, and the copy
made one frame earlier is the one mapped and sent, so on a GPU the render loop never waits for the
transfer (one frame of latency). On a software renderer (llvmpipe) the copy is a memcpy either way.
The frame goes to NDI with the asynchronous send, which returns at once.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

from livevis.errors import LivevisError

log = logging.getLogger("livevis.ndi")


class NdiError(LivevisError):
    """NDI output cannot start (cyndilib or the NDI runtime missing, bad source name)."""


def _cyndilib():
    try:
        from cyndilib.sender import Sender
        from cyndilib.video_frame import VideoSendFrame
        from cyndilib.wrapper.ndi_structs import FourCC
    except ImportError as err:
        raise NdiError(f"NDI output needs the optional cyndilib package (pip install 'livevis[ndi]'; it bundles "
                       f"the NDI runtime, see README): {err}") from None
    return Sender, VideoSendFrame, FourCC


class NdiOutput:
    """Publishes frames as the NDI source ``name`` (seen on the network as ``HOST (name)``).

    Args:
        ctx: the OpenGL context the frames are rendered in.
        name: the NDI source name, 1..63 printable characters.
        size: (width, height) of the frames in pixels; :meth:`send` follows a texture of another
            size by re-creating the stream.
        fps: the frame rate announced to receivers.

    Raises:
        NdiError: cyndilib (or its runtime) is missing, or the name is empty or too long.
    """

    def __init__(self, ctx, name: str, size: tuple[int, int], fps: float = 60.0) -> None:
        name = str(name).strip()
        if not 1 <= len(name) <= 63 or not name.isprintable():
            raise NdiError(f"--ndi: a source name of 1 to 63 printable characters, got {name!r}")
        self.ctx, self.name, self.fps = ctx, name, fps
        self._Sender, self._VideoSendFrame, self._FourCC = _cyndilib()
        self.sender = None
        self.size: tuple[int, int] = (0, 0)
        self._pbos: list = []
        self._slot = 0
        self._pending = False
        self.sent = 0
        self._open(tuple(size))

    def _open(self, size: tuple[int, int]) -> None:
        self._close_stream()
        frame = self._VideoSendFrame()
        frame.set_resolution(*size)
        frame.set_frame_rate(Fraction(self.fps).limit_denominator(1001))
        frame.set_fourcc(self._FourCC.RGBA)
        try:
            sender = self._Sender(self.name)
            sender.set_video_frame(frame)
            sender.open()
        except Exception as err:  # the runtime failing to load or start
            raise NdiError(f"cannot start the NDI source {self.name!r}: {err}") from None
        self.sender, self.size = sender, size
        self._pbos = [self.ctx.buffer(reserve=size[0] * size[1] * 4) for _ in range(2)]
        self._slot, self._pending = 0, False
        log.info("NDI source %r: %dx%d at %g fps", self.name, size[0], size[1], self.fps)

    def send(self, texture) -> None:
        """Queue ``texture`` (RGBA8, any size) for sending; sends the frame queued last time."""
        size = tuple(texture.size)
        if size != self.size:
            self._open(size)
        pbo = self._pbos[self._slot]
        texture.read_into(pbo, alignment=1)  # into GL memory: on a GPU this does not wait
        self._slot ^= 1
        if self._pending:
            self._write(self._pbos[self._slot])
        self._pending = True

    def _write(self, pbo) -> None:
        w, h = self.size
        rows = np.frombuffer(pbo.read(), dtype=np.uint8).reshape(h, w * 4)
        try:
            self.sender.write_video_async(np.ascontiguousarray(rows[::-1]).ravel())  # GL rows run bottom-up
            self.sent += 1
        except Exception as err:  # never stop the show for the network
            log.warning("NDI frame not sent: %s", err)

    def connections(self, timeout: float = 0.0) -> int:
        """How many NDI receivers are connected now."""
        return int(self.sender.get_num_connections(timeout)) if self.sender is not None else 0

    def _close_stream(self) -> None:
        if self.sender is not None:
            try:
                self.sender.close()
            except Exception:
                pass
            self.sender = None
        for pbo in self._pbos:
            pbo.release()
        self._pbos = []

    def close(self) -> None:
        self._close_stream()


__all__ = ["NdiError", "NdiOutput"]
