"""Offline rendering: an audio file → an H.264 mp4 with the original audio muxed in.

The clock is simulated: video frame ``i`` shows the newest analysis state whose hop ended at
or before ``i / fps`` seconds, computed by the same :class:`~livevis.analysis.analyzer.Analyzer` as a
live show, configured from the preset and shown by the same
:class:`~livevis.show.show.Show` (:class:`~livevis.show.scene.OfflineScene`). The result is
deterministic for a given file, size and fps.
"""

from __future__ import annotations

import queue
import threading
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
            preset's smoothing and input conditioning), that is called on the analyser first;
            with ``ctx`` and ``read_into(buffer)`` too, frames are read back double-buffered.
            It is called and used in the calling thread only (the GL context's); the analysis
            and the encoding run in two threads beside it.
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
    """The render pipeline: an analysis thread (decode + :class:`Analyzer`, one state per video
    frame) → GL rendering in the calling thread (the context's thread), read back through two
    pixel buffers (frame ``i``'s read is queued before frame ``i - 1``'s pixels are taken) → an
    encoding thread (PyAV converts, encodes and muxes without holding the GIL). Bounded queues
    keep a few frames in flight; the output is the same as rendering one step after the other.
    An error in any stage stops the others and is raised here."""
    width, height = size
    analyzer = Analyzer(rate, emotion)
    compositor = make_compositor(width, height)
    stop = threading.Event()
    states: queue.Queue = queue.Queue(4)
    frames: queue.Queue = queue.Queue(3)
    readback = analysis = encoder = None
    try:
        configure = getattr(compositor, "configure_analyzer", None)
        if configure is not None:  # the preset's analyser settings, as in the live show
            configure(analyzer)
        readback = _ReadBack(compositor, width, height)
        vstream = container.add_stream("libx264", rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"crf": "20", "preset": "veryfast"}
        astream = container.add_stream("aac", rate=rate, layout="stereo" if source.channels == 2 else "mono")
        audio_out = _AudioMuxer(container, astream, _Pending(), rate, source.channels)
        analysis = _Worker(stop, "livevis-render-analysis", _analyse, source, analyzer, rate, fps, states, stop)
        encoder = _Worker(stop, "livevis-render-encode", _encode_frames, container, vstream, audio_out, fps, rate,
                          frames, stop)
        pending = None  # (i, audio) of the frame whose read-back is in flight
        tail = None  # the audio read after the last frame's
        with tqdm(total=total, unit="frame", desc=desc, disable=not progress, dynamic_ncols=True) as bar:
            for i, t, state, audio in _items(states, stop):
                if i is None:
                    tail = audio
                    continue
                if on_state is not None:
                    on_state(i, state)
                compositor.render(state, t)
                readback.start(i)
                if pending is not None:
                    _deliver(readback, pending, on_frame, frames, stop)
                    bar.update(1)
                pending = (i, audio)
            if pending is not None:
                _deliver(readback, pending, on_frame, frames, stop)
                bar.update(1)
        _put(frames, (None, tail), stop)
        _put(frames, _END, stop)
        encoder.thread.join()
    except _Stopped:
        pass  # a stage failed: its error is raised below
    finally:
        stop.set()
        for worker in (analysis, encoder):
            if worker is not None:
                worker.thread.join()
        if readback is not None:
            readback.release()
        compositor.release()
    for worker in (analysis, encoder):
        if worker.error is not None and not isinstance(worker.error, _Stopped):
            raise worker.error
    return 0 if pending is None else pending[0] + 1


def _deliver(readback: _ReadBack, pending, on_frame, frames: queue.Queue, stop: threading.Event) -> None:
    i, audio = pending
    rgb = readback.finish(i)
    if on_frame is not None:
        on_frame(i, rgb)
    _put(frames, (rgb, audio), stop)


def _analyse(source: _Source, analyzer: Analyzer, rate: int, fps: int, out: queue.Queue,
             stop: threading.Event) -> None:
    """Analysis thread: for each video frame ``i`` (while the audio lasts), ``(i, t, newest
    state at t = i / fps s, audio read since the previous frame)`` → ``out``; then the rest of
    the audio read, then :data:`_END`."""
    state = AnalysisState()
    fed = 0
    i = 0
    while source.fill(-(-(i + 1) * rate // fps)):  # frame i needs (i + 1) / fps seconds of audio
        t = i / fps
        upto = int(round(t * rate))
        if upto > fed:
            states = analyzer.feed(source.mono.take(upto))
            fed = upto
            if states:
                state = states[-1]
        _put(out, (i, t, state, source.take_audio()), stop)
        i += 1
    _put(out, (None, None, None, source.take_audio()), stop)
    _put(out, _END, stop)


def _encode_frames(container, vstream, audio_out: _AudioMuxer, fps: int, rate: int, frames: queue.Queue,
                   stop: threading.Event) -> None:
    """Encoding thread: RGB frames (with the audio read for each) → H.264 + AAC, interleaved."""
    i = 0
    for rgb, audio in _items(frames, stop):
        if audio is not None:
            audio_out.pending.push(audio)
        if rgb is None:  # the audio after the last frame
            continue
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = i
        frame.time_base = Fraction(1, fps)
        for packet in vstream.encode(frame):
            container.mux(packet)
        audio_out.encode_until(int(round((i + 1) / fps * rate)))  # interleave audio with video
        i += 1
    for packet in vstream.encode():
        container.mux(packet)
    audio_out.finish()


#: The end of a pipeline queue.
_END = object()


class _Stopped(Exception):
    """Another pipeline stage failed, or the render was interrupted."""


def _put(q: queue.Queue, item, stop: threading.Event) -> None:
    """Put ``item`` into the bounded queue ``q``, waiting for room; raise :class:`_Stopped` once
    ``stop`` is set."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return
        except queue.Full:
            pass
    raise _Stopped


def _items(q: queue.Queue, stop: threading.Event):
    """The items of ``q`` up to :data:`_END`; raise :class:`_Stopped` once ``stop`` is set."""
    while True:
        try:
            item = q.get(timeout=0.05)
        except queue.Empty:
            if stop.is_set():
                raise _Stopped from None
            continue
        if item is _END:
            return
        yield item


class _Worker:
    """``target(*args)`` in a daemon thread; an error is kept in :attr:`error` and sets ``stop``."""

    def __init__(self, stop: threading.Event, name: str, target, *args) -> None:
        self.error: BaseException | None = None

        def run() -> None:
            try:
                target(*args)
            except BaseException as err:  # noqa: BLE001 - raised by the render thread
                self.error = err
                stop.set()

        self.thread = threading.Thread(target=run, name=name, daemon=True)
        self.thread.start()


class _ReadBack:
    """Double-buffered read-back of the rendered frames through two pixel-pack buffers (PBO):
    :meth:`start` queues the copy of the frame just rendered, :meth:`finish` returns a frame's
    RGB once it is needed, so the GPU copy overlaps the next frame's work. A compositor without
    ``read_into`` (see :meth:`Compositor.read_into`) is read with ``read_rgb`` instead."""

    def __init__(self, compositor, width: int, height: int) -> None:
        self.compositor, self.width, self.height = compositor, width, height
        ctx = getattr(compositor, "ctx", None)
        self.buffers = [ctx.buffer(reserve=width * height * 3) for _ in range(2)] \
            if ctx is not None and hasattr(compositor, "read_into") else None
        self.frames: dict[int, np.ndarray] = {}

    def start(self, i: int) -> None:
        if self.buffers is None:
            self.frames[i] = self.compositor.read_rgb()
        else:
            self.compositor.read_into(self.buffers[i % 2])

    def finish(self, i: int) -> np.ndarray:
        """Frame ``i`` as uint8 (height, width, 3), row 0 = top (needs ``start(i)`` and no
        ``start(i + 2)`` yet)."""
        if self.buffers is None:
            return self.frames.pop(i)
        data = np.frombuffer(self.buffers[i % 2].read(), np.uint8).reshape(self.height, self.width, 3)
        return np.ascontiguousarray(data[::-1])

    def release(self) -> None:
        for buf in self.buffers or ():
            buf.release()
        self.buffers = None


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

    def take_audio(self) -> np.ndarray | None:
        """All audio read and not yet taken, float32 (n, channels), or None."""
        return self.audio.take(self.audio.end) if self.audio.end > self.audio.start else None


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
