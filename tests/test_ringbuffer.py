import threading

import numpy as np

from livevis.audio.ringbuffer import RingBuffer


def test_wraparound_keeps_order():
    ring = RingBuffer(16)
    out = []
    data = np.arange(37, dtype=np.float32)
    for start in range(0, 37, 3):
        assert ring.write(data[start:start + 3])
        out.append(ring.read(2))
    out.append(ring.read())
    assert np.array_equal(np.concatenate(out), data)


def test_overflow_is_counted_not_fatal():
    ring = RingBuffer(8)
    assert ring.write(np.ones(6, np.float32))
    assert not ring.write(np.ones(3, np.float32))  # would not fit: dropped
    assert ring.overflows == 1
    assert ring.available() == 6
    assert ring.read().shape == (6,)
    assert ring.write(np.ones(8, np.float32))


def test_concurrent_producer_consumer_loses_nothing_unless_counted():
    ring = RingBuffer(4096)
    total = 256 * 800
    block = 256
    received = []

    def produce():
        for start in range(0, total, block):
            chunk = np.arange(start, start + block, dtype=np.float32)
            while not ring.write(chunk):
                pass  # spin until the consumer frees space (test only)

    producer = threading.Thread(target=produce)
    producer.start()
    got = 0
    while got < total:
        part = ring.read()
        got += part.size
        received.append(part)
    producer.join()
    samples = np.concatenate(received)
    assert np.array_equal(samples, np.arange(total, dtype=np.float32))
