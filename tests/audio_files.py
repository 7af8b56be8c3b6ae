"""Real audio files written for tests: music-like WAVs of any length (written block by block,
so a 2-hour file costs no memory) and an AAC .m4a read through the PyAV fallback."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf


def music(seconds: float, rate: int = 22050, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A chord with a beat and some noise: float32 (n, channels) in [-0.8, 0.8]."""
    t = np.arange(int(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    beat = 0.5 + 0.5 * (np.sin(2 * np.pi * 2.0 * t) > 0)
    noise = np.random.default_rng(seed).normal(0, 0.05, t.shape)
    mono = (0.7 * chord * beat + noise).clip(-0.8, 0.8).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1)


def write_wav(path: Path, seconds: float, rate: int = 22050, channels: int = 1, subtype: str = "PCM_16") -> Path:
    """Write ``seconds`` of :func:`music` to a WAV, 60 s at a time."""
    block = music(min(seconds, 60.0), rate, channels)
    left = int(seconds * rate)
    with sf.SoundFile(str(path), "w", rate, channels, subtype) as f:
        while left > 0:
            f.write(block[:left])
            left -= len(block)
    return path


def write_m4a(path: Path, seconds: float, rate: int = 44100) -> Path:
    """Write ``seconds`` of stereo :func:`music` as AAC in an MP4 container (libsndfile can't
    read it, so it goes through PyAV)."""
    audio = music(seconds, rate, 2)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate, layout="stereo")
        for pos in range(0, len(audio), 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[pos:pos + 1024].T), format="fltp",
                                               layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, pos, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
