"""Playing a decoded file to an output device in real time while feeding the analysis.

The output stream's callback is the clock: each block it hands PortAudio is also written
(as mono) into the ring buffer, so analysis follows what is being played, at the pace
the sound card consumes it. The file is decoded and resampled a few seconds ahead on a
thread (:class:`~livevis.audio.readahead.ReadAhead`), so memory does not grow with its length.
"""

from __future__ import annotations

import threading

import numpy as np
import sounddevice as sd

from livevis.audio import devices
from livevis.audio.capture import StreamClock
from livevis.audio.decode import open_audio, skip_frames
from livevis.audio.readahead import ReadAhead
from livevis.audio.xruns import XrunCounter
from livevis.errors import DeviceError
from livevis.audio.ringbuffer import RingBuffer


class FilePlayer:
    """Plays an audio file and mirrors what it plays into a ring buffer.

    Args:
        path: audio file (any format :func:`~livevis.audio.decode.open_audio` reads).
        device: output device: None (default), index, or unique name substring.
        ring_seconds: ring buffer capacity in seconds.
        ahead_seconds: how far ahead of playback the file is decoded, in seconds.
        start_s: play from this many seconds into the file (the audio engine resumes there after a
            restart); the part before it is decoded and dropped.

    Attributes:
        sample_rate: playback rate in Hz (the output device's default rate).
        ring: mono float32 copy of the played samples, at ``sample_rate``.
        clock: stamped once per output callback.
        xruns: the :class:`~livevis.audio.xruns.XrunCounter` of the underruns PortAudio reports.
        output_latency: output latency in seconds reported by PortAudio.
        finished: event set when the whole file has been played.
        starved: output blocks partly filled with silence because decoding fell behind.

    Raises:
        InputFileError: the file cannot be read (its first seconds, checked before playing).
        DeviceError: no usable output device.
    """

    def __init__(self, path, device: str | int | None = None, ring_seconds: float = 4.0,
                 ahead_seconds: float = 4.0, start_s: float = 0.0) -> None:
        self.device = devices.resolve(device, "output")
        info = sd.query_devices(self.device)
        self.sample_rate = int(info["default_samplerate"])
        self.file = open_audio(path)
        channels = min(self.file.channels, 2, int(info["max_output_channels"]))
        # small blocks: the decode thread holds the GIL only briefly at a time
        blocks = self.file.blocks(sample_rate=self.sample_rate, block_frames=4096)
        self.start_s = max(0.0, float(start_s))
        if self.start_s > 0:
            blocks = skip_frames(blocks, int(round(self.start_s * self.sample_rate)))
        self.reader = ReadAhead(blocks, channels,
                                int(ahead_seconds * self.sample_rate))
        self.reader.wait_filled(timeout=5.0)
        if self.reader.error is not None and not self.reader.available():
            raise self.reader.error
        self.starved = 0
        self.ring = RingBuffer(int(ring_seconds * self.sample_rate))
        self.clock = StreamClock()
        self.xruns = XrunCounter("playback")
        self.finished = threading.Event()
        self.position = 0  # frames played so far
        try:
            self._stream = sd.OutputStream(
                device=self.device, channels=channels, samplerate=self.sample_rate, dtype="float32",
                blocksize=512, callback=self._callback, finished_callback=self.finished.set,
            )
        except (sd.PortAudioError, ValueError) as err:
            self.reader.close()
            raise DeviceError(
                f"cannot open audio output {self.device}: {info['name']} ({err}); "
                f"outputs available: {devices.describe('output')}"
            ) from None
        self.output_latency = float(self._stream.latency)

    @property
    def duration(self) -> float:
        """Length of the file in seconds as its header says (NaN if it does not say)."""
        return self.file.duration if self.file.duration is not None else float("nan")

    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        self.xruns.note(status)
        n = 0
        while n < frames:  # twice at most: where the read-ahead buffer wraps
            view, mono = self.reader.peek(frames - n)
            if not len(view):
                break
            outdata[n:n + len(view)] = view
            self.ring.write(mono)
            self.reader.advance(len(view))
            n += len(view)
        if n < frames:
            outdata[n:] = 0.0
        self.position += n
        self.clock.stamp(self.ring.total_written)
        if n < frames:
            if self.reader.finished:
                raise sd.CallbackStop
            self.starved += 1

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()
        self._stream.close()
        self.reader.close()

