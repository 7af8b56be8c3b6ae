"""A single-producer/single-consumer ring buffer of float32 audio samples.

The audio callback thread is the only writer and the analysis thread the only reader.
Storage is preallocated; :meth:`RingBuffer.write` copies into it without allocating, so it
is safe to call from a PortAudio callback. The read and write positions are monotonically
increasing integers, each written by one thread only; under CPython assigning an int is
atomic, so no lock is needed (the GIL orders the sample copy before the index update).
When the buffer is full, the writer drops the block and counts an overflow, never blocks.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """Lock-free SPSC ring buffer of mono float32 samples.

    Args:
        capacity: number of samples it holds (e.g. 4 s at the capture rate).

    Attributes:
        overflows: number of blocks dropped because the reader fell behind.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be > 0 samples, got {capacity}")
        self._buf = np.zeros(capacity, dtype=np.float32)
        self.capacity = capacity
        self._write_pos = 0  # total samples ever written (writer thread only)
        self._read_pos = 0  # total samples ever read (reader thread only)
        self.overflows = 0

    def available(self) -> int:
        """Samples written but not yet read."""
        return self._write_pos - self._read_pos

    @property
    def total_written(self) -> int:
        """Total samples ever accepted by :meth:`write`."""
        return self._write_pos

    def write(self, block: np.ndarray) -> bool:
        """Append ``block`` (1-D float32, any length <= capacity). Producer thread only.

        Returns:
            True if written; False if it did not fit (the block is dropped, ``overflows`` += 1).
        """
        n = block.shape[0]
        if n > self.capacity - (self._write_pos - self._read_pos):
            self.overflows += 1
            return False
        start = self._write_pos % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start:start + first] = block[:first]
        if first < n:
            self._buf[: n - first] = block[first:]
        self._write_pos += n
        return True

    def read(self, max_samples: int | None = None) -> np.ndarray:
        """Remove and return up to ``max_samples`` samples (all available if None). Consumer only.

        Returns:
            A new float32 array of shape (n,), n <= max_samples; empty if nothing is available.
        """
        n = self.available()
        if max_samples is not None:
            n = min(n, max_samples)
        start = self._read_pos % self.capacity
        first = min(n, self.capacity - start)
        out = np.empty(n, dtype=np.float32)
        out[:first] = self._buf[start:start + first]
        if first < n:
            out[first:] = self._buf[: n - first]
        self._read_pos += n
        return out
