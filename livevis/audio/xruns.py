"""Counting what PortAudio reports to a stream callback: underruns and overflows.

The callback calls :meth:`XrunCounter.note` with its ``status`` (a few integer additions, no
lock, no logging: it runs on the audio thread). Another thread calls :meth:`XrunCounter.report`
as often as it likes; it logs one line a second at most, only while new problems arrive.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("livevis.audio")

#: The ``sounddevice.CallbackFlags`` counted, as (attribute, words for the log).
KINDS: tuple[tuple[str, str], ...] = (
    ("output_underflow", "output underruns"),
    ("input_underflow", "input underruns"),
    ("output_overflow", "output overflows"),
    ("input_overflow", "input overflows"),
)


class XrunCounter:
    """Underruns and overflows of one audio stream.

    Args:
        stream: what the stream is, for the log (``"playback"``, ``"capture"``).
        every_s: seconds between two log lines, > 0.

    Attributes:
        counts: ``{flag: count}`` for each flag of :data:`KINDS` since the stream opened.
    """

    def __init__(self, stream: str, every_s: float = 1.0) -> None:
        self.stream = stream
        self.every_s = float(every_s)
        self.counts = {flag: 0 for flag, _ in KINDS}
        self._logged = dict(self.counts)
        self._next_log = 0.0

    def note(self, status: Any) -> None:
        """Count the flags set in a callback's ``status`` (``sounddevice.CallbackFlags``)."""
        if status:
            for flag, _ in KINDS:
                if getattr(status, flag, False):
                    self.counts[flag] += 1

    @property
    def underruns(self) -> int:
        """Output and input underruns so far."""
        return self.counts["output_underflow"] + self.counts["input_underflow"]

    @property
    def overflows(self) -> int:
        """Output and input overflows reported by the device so far."""
        return self.counts["output_overflow"] + self.counts["input_overflow"]

    def report(self, now: float | None = None) -> str | None:
        """Log the problems that arrived since the last line, at most once every ``every_s``.

        Args:
            now: ``time.monotonic()`` (None: now).

        Returns:
            The line logged (a warning on ``livevis.audio``), or None.
        """
        now = time.monotonic() if now is None else now
        if now < self._next_log:
            return None
        counts = dict(self.counts)
        new = [(counts[flag] - self._logged[flag], counts[flag], words) for flag, words in KINDS
               if counts[flag] != self._logged[flag]]
        if not new:
            return None
        self._logged = counts
        self._next_log = now + self.every_s
        line = f"audio {self.stream}: " + ", ".join(f"{n} {words} ({total} in all)" for n, total, words in new)
        log.warning("%s", line)
        return line


__all__ = ["KINDS", "XrunCounter"]
