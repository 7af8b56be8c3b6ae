"""Soak: one hour of real music through the live pipeline (ring buffer → analysis thread →
features → emotion model), pushed faster than real time. Memory must stay flat, no hop may be
lost, and every state must be valid. LIVEVIS_SOAK_SECONDS overrides the length (default 3600).
"""

import os
import resource
import threading
import time

import numpy as np
import pytest

from livevis.analysis.analyzer import Analyzer, AnalysisThread
from livevis.audio.capture import StreamClock
from livevis.audio.decode import load_audio
from livevis.analysis.features import SAMPLE_RATE
from livevis.audio.ringbuffer import RingBuffer
from livevis.analysis.state import LatestState
from tests.conftest import LIBROSA_DATA, shared_file

RATE = 22050  # the tracks' own rate; the analysis resamples to 16 kHz as it does live
SOAK_SECONDS = float(os.environ.get("LIVEVIS_SOAK_SECONDS", "3600"))


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class FeedingSource:
    """A producer thread writing real music into a ring buffer as fast as it is drained,
    waiting (never dropping) when the ring is full — the analysis thread sets the pace."""

    def __init__(self, tracks, seconds):
        self.sample_rate = RATE
        self.ring = RingBuffer(4 * RATE)
        self.clock = StreamClock()
        self.tracks = tracks
        self.total = int(seconds * RATE)
        self.written = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        block = 1024
        i = 0
        while self.written < self.total:
            track = self.tracks[i % len(self.tracks)]
            i += 1
            for start in range(0, len(track), block):
                chunk = track[start:start + block][: self.total - self.written]
                if chunk.size == 0:
                    return
                while self.ring.capacity - self.ring.available() < chunk.size:
                    time.sleep(0.001)
                    self.clock.stamp(self.ring.total_written)  # the producer is alive, just waiting
                self.ring.write(chunk)
                self.written += chunk.size
                self.clock.stamp(self.ring.total_written)


@pytest.mark.timeout(2400)  # about 10 min on 2 idle cores; generous for a loaded machine
def test_one_hour_of_music(record_property):
    from livevis.analysis.emotion import load_emotion_model

    shared_file("audio/librosa-data")
    tracks = [load_audio(p, RATE)[0].mean(axis=1) for p in sorted(LIBROSA_DATA.glob("*.ogg"))]
    source = FeedingSource(tracks, SOAK_SECONDS)
    analyzer = Analyzer(RATE, load_emotion_model())
    analyzer.features.warm_up()
    latest = LatestState()
    # a generous backlog bound: this test checks that nothing is lost when analysis keeps up
    worker = AnalysisThread(source, analyzer, latest, max_backlog_s=5.0)

    rss = []
    invalid = 0
    t0 = time.monotonic()
    source.thread.start()
    worker.start()
    last_version = 0
    while source.thread.is_alive() or source.ring.available() > 0:
        time.sleep(0.5)
        state = latest.get()
        if latest.version != last_version:
            last_version = latest.version
            values = np.array([state.rms, state.energy, state.valence, state.arousal, *state.aus])
            if not (np.all(np.isfinite(values)) and -1 <= state.valence <= 1 and -1 <= state.arousal <= 1
                    and np.all((state.aus >= 0) & (state.aus <= 1))):
                invalid += 1
        rss.append(_rss_mib())
    time.sleep(0.5)
    worker.stop()
    worker.join(timeout=5)
    elapsed = time.monotonic() - t0

    expected_hops = int(source.total * SAMPLE_RATE / RATE) // analyzer.features.hop_samples
    record_property("soak_audio_s", SOAK_SECONDS)
    record_property("soak_wall_s", round(elapsed, 1))
    record_property("soak_rss_mib", (round(rss[len(rss) // 10], 1), round(max(rss), 1)))
    print(f"soak: {SOAK_SECONDS:.0f} s of music in {elapsed:.0f} s ({SOAK_SECONDS / elapsed:.1f}x real time), "
          f"{worker.stats.hops} hops, RSS {rss[len(rss) // 10]:.0f} → {max(rss):.0f} MiB")
    assert elapsed < SOAK_SECONDS, "slower than real time"
    assert worker.stats.errors == 0
    assert worker.stats.skipped_samples == 0 and source.ring.overflows == 0
    # the resampler holds back a few ms at the very end of the stream: at most one hop
    assert expected_hops - 1 <= worker.stats.hops <= expected_hops
    assert invalid == 0
    # flat memory: after warm-up (first 10 %), growth stays under 20 MiB
    assert max(rss[len(rss) // 10:]) - rss[len(rss) // 10] < 20.0
