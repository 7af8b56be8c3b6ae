"""The sound that goes out with the NDI picture: the show's file, decoded ahead and handed out up to
the playback position, which the audio engine reports in bursts. Real music (the demo track); no NDI
runtime needed (the NDI send itself is tested in test_ndi.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from livevis.audio.decode import load_audio
from livevis.show.ndi import FileAudioFeed, Playhead


@pytest.fixture(scope="module")
def music(demo_track_path):
    audio, rate = load_audio(demo_track_path)
    return audio[:, :2], rate


@pytest.fixture(scope="module")
def demo_track_path():
    from livevis.show.demo import demo_track

    return demo_track()


def _play(feed: FileAudioFeed, positions, times) -> np.ndarray:
    blocks = []
    for position, now in zip(positions, times):
        time.sleep(0.002)  # the decoder thread runs in real time beside this simulated clock
        for block in feed.take(position, now):
            assert block.shape == (feed.channels, feed.block) and block.dtype == np.float32
            blocks.append(block)
    return np.concatenate(blocks, axis=1).T if blocks else np.zeros((0, feed.channels), np.float32)


def _bursty(start: float, seconds: float, burst: float = 0.08, frame: float = 1 / 30):
    """Positions as the engine reports them (a burst of ``burst`` s of audio at a time) at a render
    loop's frame times; the decoder thread gets time to keep ahead."""
    times = np.arange(0.0, seconds, frame)
    positions = start + np.floor(times / burst) * burst
    return positions, times


def test_the_feed_hands_out_the_files_samples_in_order_at_the_playback_pace(demo_track_path, music):
    audio, rate = music
    feed = FileAudioFeed(demo_track_path)
    try:
        feed.reader.wait_filled(5.0)
        positions, times = _bursty(0.0, 3.0)
        sent = _play(feed, positions, times)
    finally:
        feed.close()
    assert feed.rate == rate and feed.block == round(0.02 * rate)
    # every sample of the file, in order, none twice, none skipped; no further than the playhead
    assert np.array_equal(sent, audio[: len(sent)])
    assert 2.9 * rate <= len(sent) <= (positions[-1] + 0.1) * rate + feed.block
    assert feed.skipped == 0


def test_the_feed_starts_where_playback_starts_and_jumps_after_a_stall(demo_track_path, music):
    audio, rate = music
    feed = FileAudioFeed(demo_track_path, start_s=5.0)
    try:
        feed.reader.wait_filled(5.0)
        positions, times = _bursty(5.0, 1.0)
        first = _play(feed, positions, times)
        # the render loop stalls for 2 s: the feed jumps to the playback position, no backlog
        positions, times = _bursty(positions[-1] + 2.0, 1.0)
        after = _play(feed, positions, times + 3.0)
    finally:
        feed.close()
    start = 5 * rate
    assert len(first) > 0.8 * rate and np.array_equal(first, audio[start: start + len(first)])
    assert 1.8 * rate < feed.skipped < 2.2 * rate
    resume = start + len(first) + feed.skipped
    assert np.array_equal(after, audio[resume: resume + len(after)])


def test_the_last_block_is_padded_and_then_nothing_more(tmp_path, music):
    import soundfile as sf

    audio, rate = music
    path = tmp_path / "short.wav"
    sf.write(path, audio[: rate // 2 + 123], rate, subtype="FLOAT")  # 0.5 s and a bit: not a whole number of blocks
    feed = FileAudioFeed(path)
    try:
        feed.reader.wait_filled(5.0)
        sent = _play(feed, *_bursty(0.0, 1.5))
        assert feed.take(2.0, 2.0) == []
    finally:
        feed.close()
    assert len(sent) % feed.block == 0 and len(sent) == -(-(rate // 2 + 123) // feed.block) * feed.block
    assert np.array_equal(sent[: rate // 2 + 123], audio[: rate // 2 + 123].astype(np.float32))
    assert not sent[rate // 2 + 123:].any()


def test_playhead_runs_steadily_over_bursts_never_behind_nor_too_far_ahead():
    head = Playhead(lead_s=0.1)
    positions, times = _bursty(0.0, 5.0, burst=0.08, frame=1 / 60)
    heads = np.array([head(p, t) for p, t in zip(positions, times)])
    assert np.all(np.diff(heads) >= 0)
    assert np.all(heads >= positions) and np.all(heads <= positions + 0.1 + 1e-9)
    # it moves on every frame, where the reported position moves only every 80 ms
    assert np.mean(np.diff(heads) > 0) > 0.9 > np.mean(np.diff(positions) > 0) + 0.5
    # a restart: the position stands still for a second; the playhead waits at most lead_s ahead
    assert head(positions[-1], times[-1] + 1.0) == pytest.approx(positions[-1] + 0.1)
