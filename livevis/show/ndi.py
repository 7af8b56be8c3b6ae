"""NDI video out: the composited picture as an NDI source on the network (Resolume, OBS, vMix…).

Uses ``cyndilib`` (MIT; its wheels bundle NewTek/Vizrt's NDI runtime, which is proprietary: see
README). It is an optional extra (``pip install 'livevis[ndi]'``); without it ``--ndi`` is a one-line
error and everything else works.

Read-back: each frame's texture is copied into one of two OpenGL pixel-pack buffers, and the copy
made one frame earlier is the one mapped and sent, so on a GPU the render loop never waits for the
transfer (one frame of latency). On a software renderer (llvmpipe) the copy is a memcpy either way.
The frame goes to NDI with the asynchronous send, which returns at once.

Sound: when the show plays a file, :class:`FileAudioFeed` decodes the same file a few seconds ahead
on a thread and hands the render loop the samples up to the playback position, in blocks of 20 ms,
which :meth:`NdiOutput.send_audio` sends beside the frame that shows them. NDI stamps both as they
are sent, so a receiver plays them together. Audio is not clocked by NDI (the playback position is
the clock), so sending never waits. The engine's position moves in bursts (the sound server takes
audio in chunks); the feed runs a steady playhead over it (:class:`Playhead`), so every frame sends
its share and a receiver pulling at playback pace (an NDI frame sync) is not starved between bursts.
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
        from cyndilib.audio_frame import AudioSendFrame
        from cyndilib.sender import Sender
        from cyndilib.video_frame import VideoSendFrame
        from cyndilib.wrapper.ndi_structs import FourCC
    except ImportError as err:
        raise NdiError(f"NDI output needs the optional cyndilib package (pip install 'livevis[ndi]'; it bundles "
                       f"the NDI runtime, see README): {err}") from None
    return Sender, VideoSendFrame, AudioSendFrame, FourCC


class NdiOutput:
    """Publishes frames as the NDI source ``name`` (seen on the network as ``HOST (name)``).

    Args:
        ctx: the OpenGL context the frames are rendered in.
        name: the NDI source name, 1..63 printable characters.
        size: (width, height) of the frames in pixels; :meth:`send` follows a texture of another
            size by re-creating the stream.
        fps: the frame rate announced to receivers.
        audio: ``(sample_rate, channels, block)`` of the sound :meth:`send_audio` sends (Hz, 1 or 2,
            samples per NDI audio frame); None: video only.

    Raises:
        NdiError: cyndilib (or its runtime) is missing, or the name is empty or too long.
    """

    def __init__(self, ctx, name: str, size: tuple[int, int], fps: float = 60.0,
                 audio: tuple[int, int, int] | None = None) -> None:
        name = str(name).strip()
        if not 1 <= len(name) <= 63 or not name.isprintable():
            raise NdiError(f"--ndi: a source name of 1 to 63 printable characters, got {name!r}")
        self.ctx, self.name, self.fps, self.audio = ctx, name, fps, audio
        self._Sender, self._VideoSendFrame, self._AudioSendFrame, self._FourCC = _cyndilib()
        self.sender = None
        self.size: tuple[int, int] = (0, 0)
        self._pbos: list = []
        self._slot = 0
        self._pending = False
        self.sent = 0
        self.sent_samples = 0
        self._open(tuple(size))

    def _open(self, size: tuple[int, int]) -> None:
        self._close_stream()
        frame = self._VideoSendFrame()
        frame.set_resolution(*size)
        frame.set_frame_rate(Fraction(self.fps).limit_denominator(1001))
        frame.set_fourcc(self._FourCC.RGBA)
        try:
            sender = self._Sender(self.name, clock_audio=False)
            sender.set_video_frame(frame)
            if self.audio is not None:
                rate, channels, block = self.audio
                sound = self._AudioSendFrame(max_num_samples=block)
                sound.sample_rate, sound.num_channels = rate, channels
                sender.set_audio_frame(sound)
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

    def send_audio(self, blocks) -> None:
        """Send sound blocks, each float32 of shape (channels, block) at the rate given as ``audio``."""
        if self.sender is None or self.audio is None:
            return
        for block in blocks:
            try:
                self.sender.write_audio(block)
                self.sent_samples += block.shape[1]
            except Exception as err:  # never stop the show for the network
                log.warning("NDI audio not sent: %s", err)
                return

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


class Playhead:
    """A steady playback clock over a position that advances in bursts.

    Between reports the playhead runs on at 1 s per second from the last forward jump; it never
    runs more than ``lead_s`` ahead of the reported position (then it waits for it), and never
    behind it, nor backwards.

    Args:
        lead_s: how far (seconds) the playhead may run ahead of the reported position.
    """

    def __init__(self, lead_s: float = 0.1) -> None:
        self.lead_s = lead_s
        self._anchor: tuple[float, float] | None = None  # (position, monotonic time)
        self._last = 0.0

    def __call__(self, position_s: float, now: float) -> float:
        """The playhead (seconds) at ``now`` (``time.monotonic()``) given the reported position."""
        predicted = -1.0 if self._anchor is None else self._anchor[0] + (now - self._anchor[1])
        if position_s >= predicted:  # a burst (or the first report): run on from here
            self._anchor = (position_s, now)
            predicted = position_s
        self._last = max(self._last, min(predicted, position_s + self.lead_s))
        return self._last


class FileAudioFeed:
    """The show's audio file, decoded ahead on a thread, handed out up to the playback position.

    Args:
        path: the file the audio engine plays.
        start_s: where in the file playback starts, seconds.
        block_s: length of each block handed out, seconds (NDI audio frame).
        ahead_s: how far ahead the thread decodes, seconds.

    Attributes:
        rate: sample rate in Hz (the file's own); channels: 1 or 2; block: samples per block.
        skipped: samples dropped to catch up after a stall longer than ``CATCH_UP_S``.

    Raises:
        InputFileError: the file is missing or cannot be decoded.
    """

    #: Further behind the playback position than this (seconds), the feed jumps to it.
    CATCH_UP_S = 0.5

    def __init__(self, path, start_s: float = 0.0, block_s: float = 0.02, ahead_s: float = 4.0) -> None:
        from livevis.audio.decode import open_audio, skip_frames
        from livevis.audio.readahead import ReadAhead

        file = open_audio(path)
        self.rate, self.channels = file.rate, min(file.channels, 2)
        self.block = max(1, int(round(self.rate * block_s)))
        self.handed = int(round(start_s * self.rate))  # file frames handed out or skipped
        blocks = skip_frames(file.blocks(block_frames=4096), self.handed)  # on the decoder thread
        self.reader = ReadAhead(blocks, self.channels, int(ahead_s * self.rate))
        self._buf = np.zeros((self.block, self.channels), dtype=np.float32)
        self._fill = 0
        self.skipped = 0
        self.playhead = Playhead()

    def take(self, position_s: float, now: float) -> list[np.ndarray]:
        """The blocks between the last call and the playhead (:class:`Playhead` over ``position_s``,
        the engine's playback position in seconds into the file, at ``now``, ``time.monotonic()``):
        float32 arrays of shape (channels, block); none while the decoder is behind; the last one of
        the file zero-padded."""
        target = int(self.playhead(position_s, now) * self.rate)
        if target - self.handed > self.CATCH_UP_S * self.rate:  # a stall: jump, do not send a backlog
            self.handed += self._fill  # a part-filled block is dropped too
            self.skipped += self._fill
            self._fill = 0
            drop = target - self.handed - self.block
            while drop > 0:
                view, _ = self.reader.peek(drop)
                if not len(view):
                    break
                self.reader.advance(len(view))
                drop -= len(view)
                self.handed += len(view)
                self.skipped += len(view)
        out = []
        while target - self.handed >= self.block:
            n = self.reader.read_into(self._buf[self._fill:])
            self._fill += n
            if self._fill < self.block:
                if not self.reader.finished or self._fill == 0:
                    break  # the decoder is behind (the rest next frame), or the file has ended
                self._buf[self._fill:] = 0.0  # the file's last samples
                self._fill = self.block
            out.append(np.ascontiguousarray(self._buf.T))
            self.handed += self.block
            self._fill = 0
        return out

    def close(self) -> None:
        self.reader.close()


__all__ = ["FileAudioFeed", "NdiError", "NdiOutput", "Playhead"]
