"""Offline rendering: an audio file → an H.264 mp4 with the original audio muxed in.

The clock is simulated: video frame ``i`` shows the newest analysis state whose hop ended at
or before ``i / fps`` seconds, computed by the same :class:`~livevis.analysis.Analyzer` as a
live show. The result is deterministic for a given file, size and fps.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from livevis.analysis import Analyzer
from livevis.audio.decode import load_audio
from livevis.errors import LivevisError
from livevis.state import AnalysisState


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


def render_file(audio_path: str | Path, out_path: str | Path, emotion, make_compositor,
                size: tuple[int, int] = (1280, 720), fps: int = 30, duration: float | None = None,
                progress: bool = True, on_state=None, on_frame=None) -> int:
    """Render ``audio_path`` to ``out_path`` (mp4: H.264 yuv420p video + AAC audio).

    Args:
        audio_path: input audio file.
        out_path: output video file (.mp4).
        emotion: emotion predictor for the :class:`Analyzer`.
        make_compositor: callable ``(width, height) -> compositor`` with ``render(state, t)``,
            ``read_rgb() -> (H, W, 3) uint8`` and ``release()``.
        size: (width, height) in pixels, even numbers.
        fps: frames per second (1–240).
        duration: render only the first ``duration`` seconds (None: the whole file).
        progress: show a tqdm progress bar with ETA on stderr.
        on_state: optional callback ``(frame_index, AnalysisState)`` (tests, metrics).
        on_frame: optional callback ``(frame_index, rgb (H, W, 3) uint8)`` with each rendered
            frame before encoding. The frames are deterministic; the H.264 bytes may differ in
            rare macroblocks between runs (libx264 in this FFmpeg build).

    Returns:
        The number of video frames written.

    Raises:
        InputFileError: unreadable audio. LivevisError: bad size/fps or unwritable output.
    """
    if not 1 <= fps <= 240:
        raise LivevisError(f"--fps must be between 1 and 240, got {fps}")
    audio, rate = load_audio(audio_path)
    if duration is not None:
        audio = audio[: int(round(duration * rate))]
    mono = audio.mean(axis=1).astype(np.float32)
    n_frames = int(np.floor(len(mono) / rate * fps))
    if n_frames < 1:
        raise LivevisError(f"{audio_path}: too short to render (under one frame at {fps} fps)")
    out_path = Path(out_path)
    try:
        container = av.open(str(out_path), mode="w")
    except Exception as err:
        raise LivevisError(f"cannot write {out_path}: {err}") from None

    width, height = size
    analyzer = Analyzer(rate, emotion)
    compositor = make_compositor(width, height)
    try:
        vstream = container.add_stream("libx264", rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"crf": "20", "preset": "veryfast"}
        channels = min(audio.shape[1], 2)
        astream = container.add_stream("aac", rate=rate, layout="stereo" if channels == 2 else "mono")
        audio_out = _AudioMuxer(container, astream, audio[:, :channels], rate)

        state = AnalysisState()
        fed = 0
        bar = tqdm(total=n_frames, unit="frame", desc=f"render {Path(audio_path).name}",
                   disable=not progress, dynamic_ncols=True)
        for i in range(n_frames):
            t = i / fps
            upto = int(round(t * rate))
            if upto > fed:
                states = analyzer.feed(mono[fed:upto])
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
        bar.close()
        for packet in vstream.encode():
            container.mux(packet)
        audio_out.finish()
    finally:
        compositor.release()
        container.close()
    return n_frames


class _AudioMuxer:
    """Encodes float32 (n, channels) audio into an AAC stream in 1024-sample frames, on demand."""

    def __init__(self, container, stream, audio: np.ndarray, rate: int) -> None:
        self.container, self.stream, self.rate = container, stream, rate
        self.layout = "stereo" if audio.shape[1] == 2 else "mono"
        self.planar = np.ascontiguousarray(audio.T)
        self.pos = 0

    def encode_until(self, sample: int) -> None:
        """Encode all whole 1024-sample frames that start before ``sample``."""
        while self.pos < min(sample, self.planar.shape[1]):
            chunk = np.ascontiguousarray(self.planar[:, self.pos:self.pos + 1024])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=self.layout)
            frame.sample_rate = self.rate
            frame.pts = self.pos
            frame.time_base = Fraction(1, self.rate)
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self.pos += chunk.shape[1]

    def finish(self) -> None:
        self.encode_until(self.planar.shape[1])
        for packet in self.stream.encode(None):
            self.container.mux(packet)
