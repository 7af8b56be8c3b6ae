"""Decoding audio files of any common format (soundfile, falling back to PyAV/FFmpeg)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from livevis.errors import InputFileError


def _decode_pyav(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise InputFileError(f"{path}: contains no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        resampler = av.AudioResampler(format="flt", layout="stereo" if (stream.channels or 1) > 1 else "mono")
        chunks = []
        for frame in [*container.decode(stream), None]:  # None flushes the resampler
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1, len(out.layout.channels)))
    if not chunks:
        raise InputFileError(f"{path}: the audio stream is empty")
    return np.concatenate(chunks).astype(np.float32), int(rate)


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a whole audio file.

    Args:
        path: any format libsndfile (WAV, FLAC, OGG/Vorbis, Opus, MP3…) or FFmpeg reads.
        sample_rate: resample to this rate in Hz with soxr; None keeps the file's rate.

    Returns:
        ``(samples, rate)``: float32 array of shape (n_samples, n_channels) in [-1, 1], rate in Hz.

    Raises:
        InputFileError: the file is missing, unreadable, empty, or not audio.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"audio file not found: {path}")
    if not path.is_file():
        raise InputFileError(f"not a file: {path}")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:
        try:
            data, rate = _decode_pyav(path)
        except InputFileError:
            raise
        except Exception as err:
            raise InputFileError(
                f"cannot decode {path}: not a supported audio file "
                f"(WAV, FLAC, OGG, Opus, MP3, M4A/AAC and other FFmpeg formats are supported; {err.__class__.__name__})"
            ) from None
    if data.shape[0] == 0:
        raise InputFileError(f"{path}: the audio stream is empty")
    data = np.nan_to_num(data)
    if sample_rate is not None and sample_rate != rate:
        data = soxr.resample(data, rate, sample_rate).astype(np.float32)
        rate = sample_rate
    return np.ascontiguousarray(data, dtype=np.float32), int(rate)
