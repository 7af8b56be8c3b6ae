"""Decoding audio files of any common format (soundfile, falling back to PyAV/FFmpeg).

Files are read in blocks (:meth:`AudioFile.blocks`), so memory stays bounded for long files
and decoding stops as soon as the wanted part has been read. Every block is cleaned: NaN
becomes 0 and samples are clipped to [-1, 1], so a float file with NaN or ±inf can neither
poison the analysis nor make the AAC encoder fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from livevis.errors import InputFileError

#: Frames per block read from the file (about 1.5 s at 44.1 kHz).
BLOCK_FRAMES = 65536

_FORMATS = "WAV, FLAC, OGG, Opus, MP3, M4A/AAC and other FFmpeg formats are supported"


def clean(block: np.ndarray) -> np.ndarray:
    """Replace NaN by 0 and clip to [-1, 1] (±inf becomes ±1), in place.

    Args:
        block: float32 samples of any shape; modified in place.

    Returns:
        ``block``.
    """
    np.nan_to_num(block, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(block, -1.0, 1.0, out=block)
    return block


def _cannot_decode(path: Path, err: Exception) -> InputFileError:
    return InputFileError(f"cannot decode {path}: not a supported audio file ({_FORMATS}; {err.__class__.__name__})")


def _sf_blocks(path: Path, size: int) -> Iterator[np.ndarray]:
    with sf.SoundFile(str(path)) as f:
        while True:
            data = f.read(size, dtype="float32", always_2d=True)
            if not len(data):
                return
            yield data


def _av_blocks(path: Path, skip: int) -> Iterator[np.ndarray]:
    """Decode with PyAV from the start, dropping the first ``skip`` frames."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="stereo" if (stream.channels or 1) > 1 else "mono")
        for frame in _with_flush(container.decode(stream)):
            for out in resampler.resample(frame):
                data = np.array(out.to_ndarray(), dtype=np.float32).reshape(-1, len(out.layout.channels))
                if skip >= len(data):
                    skip -= len(data)
                    continue
                yield data[skip:]
                skip = 0


def _with_flush(frames):
    yield from frames
    yield None  # None flushes the resampler


class AudioFile:
    """An audio file opened for reading in blocks; nothing is decoded until :meth:`blocks`.

    Args:
        path: any format libsndfile (WAV, FLAC, OGG/Vorbis, Opus, MP3…) or FFmpeg reads.

    Attributes:
        path: the file.
        rate: sample rate of the file in Hz.
        channels: channels the blocks have (PyAV-decoded files: 1 or 2, more are downmixed).
        frames: length in sample frames if the container says (may be an estimate), else None.

    Raises:
        InputFileError: the file is missing, not a file, not audio, or has no samples.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = path = Path(path)
        if not path.exists():
            raise InputFileError(f"audio file not found: {path}")
        if not path.is_file():
            raise InputFileError(f"not a file: {path}")
        try:
            info = sf.info(str(path))
            self._backend = "soundfile"
            self.rate, self.channels = int(info.samplerate), int(info.channels)
            self.frames: int | None = int(info.frames)
        except Exception:
            self._backend = "pyav"
            self._probe_pyav()
        if self.rate <= 0 or self.frames == 0:
            raise InputFileError(f"{path}: the audio stream is empty")

    def _probe_pyav(self) -> None:
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.audio:
                    raise InputFileError(f"{self.path}: contains no audio stream")
                stream = container.streams.audio[0]
                self.rate = int(stream.codec_context.sample_rate or stream.rate or 0)
                self.channels = 2 if (stream.channels or 1) > 1 else 1
                seconds = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                           else container.duration / av.time_base if container.duration else None)
                self.frames = None if seconds is None else int(round(seconds * self.rate))
        except InputFileError:
            raise
        except Exception as err:
            raise _cannot_decode(self.path, err) from None

    @property
    def duration(self) -> float | None:
        """Length in seconds if known (see ``frames``), else None."""
        return None if self.frames is None else self.frames / self.rate

    def blocks(self, seconds: float | None = None, sample_rate: int | None = None,
               block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        """Decode the file from its start, block by block, stopping after ``seconds``.

        Args:
            seconds: decode only the first ``seconds`` (> 0) of the file; None: all of it.
            sample_rate: resample to this rate in Hz with soxr (streaming); None keeps ``rate``.
            block_frames: frames read from libsndfile at a time (PyAV yields its own frames).

        Yields:
            float32 arrays of shape (n, channels), n > 0, in [-1, 1], at ``sample_rate`` (or
            ``rate``); together the first ``round(seconds * rate)`` frames (or all), resampled.

        Raises:
            InputFileError: the file cannot be decoded (on the first block or later).
        """
        limit = None if seconds is None else int(round(seconds * self.rate))
        resampler = None
        if sample_rate is not None and sample_rate != self.rate:
            resampler = soxr.ResampleStream(self.rate, sample_rate, self.channels, dtype="float32")
        done = 0
        for block in self._raw_blocks(block_frames):
            if limit is not None and done + len(block) >= limit:
                block = block[: limit - done]
            done += len(block)
            last = limit is not None and done >= limit
            block = clean(np.ascontiguousarray(block, dtype=np.float32))
            if resampler is not None:
                block = clean(resampler.resample_chunk(block, last=last))
            if len(block):
                yield block
            if last:
                return
        if resampler is not None:
            tail = clean(resampler.resample_chunk(np.zeros((0, self.channels), np.float32), last=True))
            if len(tail):
                yield tail

    def _raw_blocks(self, size: int) -> Iterator[np.ndarray]:
        """Blocks as decoded; a soundfile read error continues with PyAV where it stopped."""
        done = 0
        if self._backend == "soundfile":
            try:
                for block in _sf_blocks(self.path, size):
                    done += len(block)
                    yield block
                return
            except Exception:
                pass  # libsndfile gave up part way (a damaged file): FFmpeg may read on
        try:
            for block in _av_blocks(self.path, done):
                if block.shape[1] != self.channels:
                    raise ValueError(f"{block.shape[1]} channels after {done} frames, not {self.channels}")
                done += len(block)
                yield block
        except InputFileError:
            raise
        except Exception as err:
            raise _cannot_decode(self.path, err) from None


def skip_frames(blocks: Iterator[np.ndarray], n: int) -> Iterator[np.ndarray]:
    """The blocks of ``blocks`` (arrays of shape (frames, channels)) without their first ``n`` frames."""
    for block in blocks:
        if n >= len(block):
            n -= len(block)
            continue
        yield block[n:]
        n = 0


def open_audio(path: str | Path) -> AudioFile:
    """Open ``path`` for block-wise decoding (reads only its header). See :class:`AudioFile`.

    Raises:
        InputFileError: the file is missing, not a file, not audio, or has no samples.
    """
    return AudioFile(path)


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a whole audio file into memory (for short files; stream long ones with
    :meth:`AudioFile.blocks`).

    Args:
        path: any format libsndfile (WAV, FLAC, OGG/Vorbis, Opus, MP3…) or FFmpeg reads.
        sample_rate: resample to this rate in Hz with soxr; None keeps the file's rate.

    Returns:
        ``(samples, rate)``: float32 array of shape (n_samples, n_channels) in [-1, 1] (NaN
        read as 0, ±inf as ±1), rate in Hz.

    Raises:
        InputFileError: the file is missing, unreadable, empty, or not audio.
    """
    audio = open_audio(path)
    chunks = list(audio.blocks(sample_rate=sample_rate))
    if not chunks:
        raise InputFileError(f"{audio.path}: the audio stream is empty")
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32), sample_rate or audio.rate
