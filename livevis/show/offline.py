"""Offline rendering: an audio file → an H.264 mp4 with the original audio muxed in.

The clock is simulated: video frame ``i`` shows the newest analysis state whose hop ended at
or before ``i / fps`` seconds, computed by the same :class:`~livevis.analysis.analyzer.Analyzer` as a
live show, configured from the preset and shown by the same
:class:`~livevis.show.show.Show` (:class:`~livevis.show.scene.OfflineScene`). The result is
deterministic for a given file, size and fps.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from livevis.analysis.analyzer import Analyzer
from livevis.audio.decode import AudioFile, open_audio
from livevis.errors import LivevisError
from livevis.outfile import atomic_output
from livevis.analysis.state import AnalysisState


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``WIDTHxHEIGHT`` (e.g. ``1280x720``) into even pixel sizes.

    Raises:
        LivevisError: if the text is not two positive even integers joined by 'x'.
    """
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise LivevisError(f"--size must look like 1280x720, got '{text}'") from None
    if w <= 0 or h <= 0 or w % 2 or h % 2 or w > 7680 or h > 4320:
        raise LivevisError(f"--size must be even width and height up to 7680x4320, got '{text}'")
    return w, h


def render_file(audio_path: str | Path | AudioFile, out_path: str | Path, emotion, make_compositor,
                size: tuple[int, int] = (1280, 720), fps: int = 30, duration: float | None = None,
                progress: bool = True, on_state=None, on_frame=None) -> int:
    """Render ``audio_path`` to ``out_path`` (mp4: H.264 yuv420p video + AAC audio).

    The audio is decoded once, block by block, and only its first ``duration`` seconds, so
    memory does not grow with the file's length. The video is written to a temporary file
    beside ``out_path`` and renamed to it only when complete: if the render fails or is
    interrupted (KeyboardInterrupt), nothing is left under either name.

    Args:
        audio_path: input audio file, or one already opened with :func:`open_audio`.
        out_path: output video file (.mp4); should be checked first with
            :func:`livevis.outfile.check_output`.
        emotion: emotion predictor for the :class:`Analyzer`.
        make_compositor: callable ``(width, height) -> compositor`` with ``render(state, t)``,
            ``read_rgb() -> (H, W, 3) uint8`` and ``release()``; if it also has
            ``configure_analyzer(analyzer)`` (an :class:`~livevis.show.scene.OfflineScene`: the
            preset's smoothing and input conditioning), that is called on the analyser first.
        size: (width, height) in pixels, even numbers.
        fps: frames per second (1–240).
        duration: render only the first ``duration`` seconds, > 0 (None: the whole file).
        progress: show a tqdm progress bar with ETA on stderr.
        on_state: optional callback ``(frame_index, AnalysisState)`` (tests, metrics).
        on_frame: optional callback ``(frame_index, rgb (H, W, 3) uint8)`` with each rendered
            frame before encoding. The frames are deterministic; the H.264 bytes may differ in
            rare macroblocks between runs (libx264 in this FFmpeg build).

    Returns:
        The number of video frames written: ``floor(seconds * fps)`` for the seconds rendered.

    Raises:
        InputFileError: unreadable audio. LivevisError: bad size/fps, audio shorter than one
        frame, or unwritable output.
    """
    if not 1 <= fps <= 240:
        raise LivevisError(f"--fps must be between 1 and 240, got {fps}")
    audio = audio_path if isinstance(audio_path, AudioFile) else open_audio(audio_path)
    rate = audio.rate
    source = _Source(audio.blocks(duration), min(audio.channels, 2))
    if not source.fill(-(-rate // fps)):  # one frame's audio, ceil(rate / fps) samples
        raise LivevisError(f"{audio.path}: too short to render (under one frame at {fps} fps)")
    expected = audio.frames if duration is None else int(round(duration * rate))
    if audio.frames is not None:
        expected = min(expected, audio.frames)
    with atomic_output(out_path) as tmp:
        try:
            container = av.open(str(tmp), mode="w")
        except Exception as err:
            raise LivevisError(f"cannot write {out_path}: {err}") from None
        try:
            return _encode(container, source, rate, emotion, make_compositor, size, fps,
                           total=None if expected is None else expected * fps // rate,
                           desc=f"render {audio.path.name}", progress=progress, on_state=on_state, on_frame=on_frame)
        finally:
            container.close()


def _encode(container, source: _Source, rate: int, emotion, make_compositor, size, fps, total, desc, progress,
            on_state, on_frame) -> int:
    width, height = size
    analyzer = Analyzer(rate, emotion)
    compositor = make_compositor(width, height)
    try:
        configure = getattr(compositor, "configure_analyzer", None)
        if configure is not None:  # the preset's analyser settings, as in the live show
            configure(analyzer)
        vstream = container.add_stream("libx264", rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"crf": "20", "preset": "veryfast"}
        astream = container.add_stream("aac", rate=rate, layout="stereo" if source.channels == 2 else "mono")
        audio_out = _AudioMuxer(container, astream, source.audio, rate, source.channels)

        state = AnalysisState()
        fed = 0
        i = 0
        with tqdm(total=total, unit="frame", desc=desc, disable=not progress, dynamic_ncols=True) as bar:
            while source.fill(-(-(i + 1) * rate // fps)):  # frame i needs (i + 1) / fps seconds of audio
                t = i / fps
                upto = int(round(t * rate))
                if upto > fed:
                    states = analyzer.feed(source.mono.take(upto))
                    fed = upto
                    if states:
                        state = states[-1]
                if on_state is not None:
                    on_state(i, state)
                compositor.render(state, t)
                rgb = compositor.read_rgb()
                if on_frame is not None:
                    on_frame(i, rgb)
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                for packet in vstream.encode(frame):
                    container.mux(packet)
                audio_out.encode_until(int(round((i + 1) / fps * rate)))  # interleave audio with video
                bar.update(1)
                i += 1
        for packet in vstream.encode():
            container.mux(packet)
        audio_out.finish()
    finally:
        compositor.release()
    return i


class _Pending:
    """Samples read but not yet consumed, as a queue of blocks; positions count from the
    start of the file (sample frames)."""

    def __init__(self) -> None:
        self.blocks: deque[np.ndarray] = deque()
        self.start = 0  # position of the first pending sample
        self.end = 0  # position after the last pending sample

    def push(self, block: np.ndarray) -> None:
        self.blocks.append(block)
        self.end += len(block)

    def take(self, upto: int) -> np.ndarray:
        """Remove and return the samples from ``start`` to ``min(upto, end)``; needs
        ``start < upto`` and ``start < end`` (never returns an empty array)."""
        want = max(0, min(upto, self.end) - self.start)
        parts = []
        while want > 0:
            block = self.blocks[0]
            if len(block) <= want:
                parts.append(self.blocks.popleft())
            else:
                parts.append(block[:want])
                self.blocks[0] = block[want:]
            want -= len(parts[-1])
            self.start += len(parts[-1])
        return np.concatenate(parts) if len(parts) != 1 else parts[0]


class _Source:
    """The file's blocks, read on demand into two queues: mono float32 (n,) for the analysis
    and float32 (n, channels ≤ 2) for the AAC track."""

    def __init__(self, blocks, channels: int) -> None:
        self.blocks, self.channels = blocks, channels
        self.mono, self.audio = _Pending(), _Pending()

    def fill(self, end: int) -> bool:
        """Read until ``end`` samples have been read in all; False if the audio ends first."""
        while self.audio.end < end:
            block = next(self.blocks, None)
            if block is None:
                return False
            self.mono.push(block.mean(axis=1, dtype=np.float32))
            self.audio.push(np.ascontiguousarray(block[:, : self.channels]))
        return True


class _AudioMuxer:
    """Encodes float32 (n, channels) audio from a :class:`_Pending` queue into an AAC stream
    in 1024-sample frames, on demand."""

    def __init__(self, container, stream, pending: _Pending, rate: int, channels: int) -> None:
        self.container, self.stream, self.rate, self.pending = container, stream, rate, pending
        self.layout = "stereo" if channels == 2 else "mono"

    def encode_until(self, sample: int, final: bool = False) -> None:
        """Encode the whole 1024-sample frames read so far that start before ``sample``
        (``final``: also the shorter last one)."""
        while self.pending.start < sample and (final or self.pending.end - self.pending.start >= 1024):
            pos = self.pending.start
            chunk = self.pending.take(pos + 1024)
            if not len(chunk):
                return
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.T), format="fltp", layout=self.layout)
            frame.sample_rate = self.rate
            frame.pts = pos
            frame.time_base = Fraction(1, self.rate)
            for packet in self.stream.encode(frame):
                self.container.mux(packet)

    def finish(self) -> None:
        self.encode_until(self.pending.end, final=True)
        for packet in self.stream.encode(None):
            self.container.mux(packet)
