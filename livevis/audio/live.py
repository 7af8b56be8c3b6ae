"""A live input that survives device loss.

:class:`LiveInput` wraps an :class:`~livevis.audio.capture.AudioCapture`. When the stream
errors or delivers no callback for :data:`~livevis.audio.capture.STALL_S` (1 s), the
analysis shows "no input" and :meth:`LiveInput.supervise` retries with exponential backoff
(0.5 s doubling to 10 s): it re-initialises PortAudio (python-sounddevice reads the device
list only at initialisation) and reopens the same device by name when it is back.
"""

from __future__ import annotations

import logging
import time

import sounddevice as sd

from livevis.audio.capture import AudioCapture
from livevis.errors import DeviceError

log = logging.getLogger("livevis.audio")

#: Grace period after opening a stream before a missing first callback counts as a stall (s).
FIRST_CALLBACK_GRACE_S = 3.0
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 10.0


class LiveInput:
    """A supervised live input: same interface as :class:`AudioCapture` plus :meth:`supervise`.

    Args:
        device: None (default input), an index, or a unique name substring.

    Raises:
        DeviceError: at start only, if the device does not exist or cannot be opened.
    """

    def __init__(self, device: str | int | None = None) -> None:
        self.capture = AudioCapture(device)
        self.device_name = self.capture.device_name
        self.host_api = sd.query_hostapis(sd.query_devices(self.capture.device)["hostapi"])["name"]
        self.reopens = 0
        self._opened_at = 0.0
        self._backoff = BACKOFF_MIN_S
        self._next_retry = 0.0
        self._lost = False

    # the analysis thread reads these each loop, so a reopen swaps them under it
    @property
    def ring(self):
        return self.capture.ring

    @property
    def clock(self):
        return self.capture.clock

    @property
    def xruns(self):
        """Underruns/overflows of the input, counted across reopens."""
        return self.capture.xruns

    @property
    def device(self) -> int:
        """PortAudio index of the open device (it may change when the device is reopened)."""
        return self.capture.device

    @property
    def sample_rate(self) -> int:
        return self.capture.sample_rate

    def start(self) -> None:
        self.capture.start()
        self._opened_at = time.monotonic()

    def stop(self) -> None:
        try:
            self.capture.stop()
        except sd.PortAudioError:
            pass

    def supervise(self, now: float | None = None) -> bool:
        """Check liveness; reopen the device when it stalled. Call often (analysis thread).

        Returns:
            True while audio is arriving.
        """
        now = time.monotonic() if now is None else now
        if self.clock.alive(now):
            if self._lost:
                log.info("audio input %r is back", self.device_name)
            self._lost = False
            self._backoff = BACKOFF_MIN_S
            return True
        if not self.clock.last_callback and now - self._opened_at < FIRST_CALLBACK_GRACE_S:
            return False  # still waiting for the first callback
        if not self._lost:
            log.warning("audio input %r stalled: no callback for 1 s; retrying", self.device_name)
            self._lost = True
            self._next_retry = now
        if now >= self._next_retry:
            self._reopen()
            self._next_retry = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
        return False

    def _reopen(self) -> None:
        try:
            self.capture._stream.abort()
            self.capture._stream.close()
        except Exception:  # the stream is already dead
            pass
        try:
            if "jack" not in self.host_api.lower():
                # PortAudio's JACK host API asserts (aborts the process) when terminated while
                # its client is in trouble; JACK ports persist anyway, so only re-scan others.
                sd._terminate()
                sd._initialize()
            capture = AudioCapture(self.device_name, xruns=self.capture.xruns)
            capture.start()
        except (DeviceError, sd.PortAudioError) as err:
            log.info("audio input %r not available yet (%s); next try in %.1f s", self.device_name, err, self._backoff)
            return
        self.capture = capture
        self._opened_at = time.monotonic()
        self.reopens += 1
        log.info("reopened audio input %r at %d Hz", self.device_name, capture.sample_rate)
