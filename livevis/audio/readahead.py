"""Reading a long file a few seconds ahead of playback, on a thread, into a bounded buffer.

The audio callback takes samples with :meth:`ReadAhead.read_into`, which never waits and
never decodes; a background thread decodes (and resamples) the next blocks into the space
freed. Memory is the buffer, a few seconds, whatever the file's length.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import numpy as np


class ReadAhead:
    """Single-producer/single-consumer buffer of float32 audio filled from ``blocks`` by a
    daemon thread; the mono mix of each frame is stored too, so the consumer (an audio
    callback) only copies contiguous slices.

    Args:
        blocks: iterator of float32 arrays of shape (n, channels) or more channels, e.g.
            :meth:`livevis.audio.decode.AudioFile.blocks`.
        channels: channels kept (the first ``channels`` of each block), >= 1.
        capacity: buffer size in sample frames (e.g. 4 s at the playback rate), > 0.

    Attributes:
        error: the exception that ended decoding early, or None.
        done: set when the thread has read the last block (or failed).
    """

    def __init__(self, blocks: Iterator[np.ndarray], channels: int, capacity: int) -> None:
        if capacity <= 0 or channels <= 0:
            raise ValueError(f"need capacity > 0 frames and channels > 0, got {capacity}, {channels}")
        self._blocks, self.channels, self.capacity = blocks, channels, capacity
        self._buf = np.zeros((capacity, channels), dtype=np.float32)
        self._mono = np.zeros(capacity, dtype=np.float32)  # the mean of the channels
        self._write_pos = 0  # frames ever written (producer thread only)
        self._read_pos = 0  # frames ever read (consumer only)
        self._stop = False
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livevis-read-ahead", daemon=True)
        self._thread.start()

    def available(self) -> int:
        """Frames decoded and not yet read."""
        return self._write_pos - self._read_pos

    @property
    def finished(self) -> bool:
        """True when the whole file has been decoded and read."""
        return self.done.is_set() and self.available() == 0

    def wait_filled(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds until the buffer is three quarters full (the thread
        then pauses until a quarter is free) or decoding has ended."""
        deadline = time.monotonic() + timeout
        while (self.available() < self.capacity - self.capacity // 4 and not self.done.is_set()
               and time.monotonic() < deadline):
            time.sleep(0.005)

    def peek(self, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Views of the next decoded frames, at most ``frames`` (fewer at the buffer's end or
        when decoding is behind; 0 when none is ready): float32 (n, channels) and their mono
        mix (n,). Valid until :meth:`advance`. Consumer only."""
        start = self._read_pos % self.capacity
        end = start + min(frames, self.available(), self.capacity - start)
        return self._buf[start:end], self._mono[start:end]

    def advance(self, frames: int) -> None:
        """Release ``frames`` frames seen with :meth:`peek`. Consumer only."""
        self._read_pos += frames

    def read_into(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` frames into ``out[:n]`` without waiting; returns ``n``
        (fewer than asked when decoding is behind or the file has ended). Consumer only.

        Args:
            out: float32 array of shape (frames, channels).
        """
        n = 0
        while n < len(out):
            view, _ = self.peek(len(out) - n)
            if not len(view):
                break
            out[n:n + len(view)] = view
            self.advance(len(view))
            n += len(view)
        return n

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread and wait up to ``timeout`` seconds for it to end (within one block)."""
        self._stop = True
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            for block in self._blocks:
                block = block[:, : self.channels]
                while len(block):
                    if self._stop:
                        return
                    # refill in large steps: the thread wakes a few times a second, not per callback
                    if self.capacity - self.available() < min(len(block), self.capacity // 4):
                        time.sleep(0.05)
                        continue
                    block = block[self._write(block):]
        except BaseException as err:  # noqa: BLE001 - kept for the owner to report
            self.error = err
            logging.getLogger("livevis.audio").warning("decoding stopped early: %s", err)
        finally:
            close = getattr(self._blocks, "close", None)
            if close is not None:
                close()  # a generator: frees the decoder and resampler in this thread
            self.done.set()

    def _write(self, block: np.ndarray) -> int:
        n = min(len(block), self.capacity - self.available())
        start = self._write_pos % self.capacity
        first = min(n, self.capacity - start)
        for at, part in ((start, block[:first]), (0, block[first:n])):
            self._buf[at:at + len(part)] = part
            part.mean(axis=1, out=self._mono[at:at + len(part)])
        self._write_pos += n
        return n
