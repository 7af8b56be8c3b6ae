"""Playing a decoded file to an output device in real time while feeding the analysis.

The output stream's callback is the clock: each block it hands PortAudio is also written
(as mono) into the ring buffer, so analysis follows what is being played, at the pace
the sound card consumes it.
"""

from __future__ import annotations

import threading

import numpy as np
import sounddevice as sd

from livevis.audio import devices
from livevis.audio.capture import StreamClock
from livevis.audio.decode import load_audio
from livevis.audio.xruns import XrunCounter
from livevis.errors import DeviceError
from livevis.ringbuffer import RingBuffer


class FilePlayer:
    """Plays an audio file and mirrors what it plays into a ring buffer.

    Args:
        path: audio file (any format :func:`~livevis.audio.decode.load_audio` reads).
        device: output device: None (default), index, or unique name substring.
        ring_seconds: ring buffer capacity in seconds.

    Attributes:
        sample_rate: playback rate in Hz (the output device's default rate).
        ring: mono float32 copy of the played samples, at ``sample_rate``.
        clock: stamped once per output callback.
        xruns: the :class:`~livevis.audio.xruns.XrunCounter` of the underruns PortAudio reports.
        output_latency: output latency in seconds reported by PortAudio.
        finished: event set when the whole file has been played.

    Raises:
        InputFileError: the file cannot be read. DeviceError: no usable output device.
    """

    def __init__(self, path, device: str | int | None = None, ring_seconds: float = 4.0) -> None:
        self.device = devices.resolve(device, "output")
        info = sd.query_devices(self.device)
        self.sample_rate = int(info["default_samplerate"])
        self.audio, _ = load_audio(path, self.sample_rate)
        channels = min(self.audio.shape[1], 2, int(info["max_output_channels"]))
        self.audio = np.ascontiguousarray(self.audio[:, :channels])
        self.mono = np.ascontiguousarray(self.audio.mean(axis=1), dtype=np.float32)
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
            raise DeviceError(
                f"cannot open audio output {self.device}: {info['name']} ({err}); "
                f"outputs available: {devices.describe('output')}"
            ) from None
        self.output_latency = float(self._stream.latency)

    @property
    def duration(self) -> float:
        """Length of the file in seconds."""
        return self.audio.shape[0] / self.sample_rate

    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        self.xruns.note(status)
        start = self.position
        n = min(frames, self.audio.shape[0] - start)
        outdata[:n] = self.audio[start:start + n]
        if n < frames:
            outdata[n:] = 0.0
        self.ring.write(self.mono[start:start + n])
        self.position = start + n
        self.clock.stamp(self.ring.total_written)
        if n < frames:
            raise sd.CallbackStop

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()
        self._stream.close()
