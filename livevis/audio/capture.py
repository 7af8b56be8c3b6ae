"""Live capture: a ``sounddevice.InputStream`` callback writing into a :class:`RingBuffer`."""

from __future__ import annotations

import time

import numpy as np
import sounddevice as sd

from livevis.audio import devices
from livevis.audio.xruns import XrunCounter
from livevis.errors import DeviceError
from livevis.audio.ringbuffer import RingBuffer

#: Seconds without a callback after which the input counts as stalled ("no input").
STALL_S = 1.0


class StreamClock:
    """Where the newest samples came from and when: used for liveness and latency.

    ``last_callback`` is the ``time.monotonic()`` of the newest callback (0 before the first);
    ``arrivals`` maps the ring buffer's total sample count after a callback to that time.
    Written by the audio thread, read by others; each attribute assignment is atomic.
    """

    def __init__(self) -> None:
        self.last_callback = 0.0
        self.last_arrival: tuple[int, float] = (0, 0.0)
        self.errors = 0

    def stamp(self, total_written: int) -> None:
        now = time.monotonic()
        self.last_callback = now
        self.last_arrival = (total_written, now)

    def alive(self, now: float | None = None) -> bool:
        """True if a callback arrived within :data:`STALL_S` seconds."""
        now = time.monotonic() if now is None else now
        return self.last_callback > 0 and now - self.last_callback < STALL_S


class AudioCapture:
    """Captures mono float32 audio from an input device into a ring buffer.

    Args:
        device: None for the default input, an index, or a unique name substring.
        ring_seconds: ring buffer capacity in seconds.
        blocksize: frames per callback (0 lets PortAudio choose).
        xruns: where to count the stream's underruns/overflows (a new counter if None; a
            reopened device passes the old one on so totals survive).

    Attributes:
        sample_rate: capture rate in Hz (the device's default rate).
        ring: the :class:`RingBuffer` the callback fills (mono, ``sample_rate``).
        clock: the :class:`StreamClock` stamped by each callback.
        xruns: the :class:`~livevis.audio.xruns.XrunCounter` of what PortAudio reports.

    Raises:
        DeviceError: on an unknown device or one that cannot be opened; the message lists
            the inputs there are.
    """

    def __init__(self, device: str | int | None = None, ring_seconds: float = 4.0, blocksize: int = 512,
                 xruns: XrunCounter | None = None) -> None:
        self.device = devices.resolve(device, "input")
        info = sd.query_devices(self.device)
        self.device_name = info["name"]
        self.sample_rate = int(info["default_samplerate"])
        self.ring = RingBuffer(int(ring_seconds * self.sample_rate))
        self.clock = StreamClock()
        self.xruns = xruns if xruns is not None else XrunCounter("capture")
        try:
            self._stream = sd.InputStream(
                device=self.device, channels=1, samplerate=self.sample_rate, dtype="float32",
                blocksize=blocksize, callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as err:
            raise DeviceError(
                f"cannot open audio input {self.device}: {self.device_name} ({err}); "
                f"inputs available: {devices.describe('input')}"
            ) from None

    def _callback(self, indata: np.ndarray, frames: int, time_info, status) -> None:
        self.xruns.note(status)
        if status.input_overflow:
            self.ring.overflows += 1
        self.ring.write(indata[:, 0])
        self.clock.stamp(self.ring.total_written)

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()
        self._stream.close()

    def wait_first_callback(self, timeout: float = 5.0) -> bool:
        """Block until the first callback (PulseAudio can take ~2 s); True if it came."""
        deadline = time.monotonic() + timeout
        while self.clock.last_callback == 0.0 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.clock.last_callback > 0.0
