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
    """Single-producer/single-consumer buffer of float32 (n, channels) audio filled from
    ``blocks`` by a daemon thread.

    Args:
        blocks: iterator of float32 arrays of shape (n, channels), e.g.
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
        self._write_pos = 0  # frames ever written (producer thread only)
        self._read_pos = 0  # frames ever read (consumer only)
        self._space = threading.Event()
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
        """Wait up to ``timeout`` seconds until the buffer is full or decoding has ended."""
        deadline = time.monotonic() + timeout
        while self.available() < self.capacity and not self.done.is_set() and time.monotonic() < deadline:
            time.sleep(0.005)

    def read_into(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` frames into ``out[:n]`` without waiting; returns ``n``
        (fewer than asked when decoding is behind or the file has ended). Consumer only.

        Args:
            out: float32 array of shape (frames, channels).
        """
        n = min(len(out), self.available())
        start = self._read_pos % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start:start + first]
        out[first:n] = self._buf[: n - first]
        self._read_pos += n
        self._space.set()
        return n

    def close(self) -> None:
        """Stop the thread (it ends within one block)."""
        self._stop = True
        self._space.set()

    def _run(self) -> None:
        try:
            for block in self._blocks:
                block = block[:, : self.channels]
                while len(block) and not self._stop:
                    block = block[self._write(block):]
                    if len(block):
                        self._space.wait(0.05)
                        self._space.clear()
                if self._stop:
                    return
        except BaseException as err:  # noqa: BLE001 - kept for the owner to report
            self.error = err
            logging.getLogger("livevis.audio").warning("decoding stopped early: %s", err)
        finally:
            self.done.set()

    def _write(self, block: np.ndarray) -> int:
        n = min(len(block), self.capacity - self.available())
        start = self._write_pos % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start:start + first] = block[:first]
        self._buf[: n - first] = block[first:n]
        self._write_pos += n
        return n
