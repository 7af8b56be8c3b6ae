"""NDI video out with a real NDI receiver (cyndilib, the library livevis sends with) on loopback.

NDI finds sources by mDNS, which this machine's network does not carry; the NDI runtime's own
configuration file can name the hosts to ask directly instead ("ips", its documented discovery
setting), so the tests point both ends at 127.0.0.1 through ``NDI_CONFIG_DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from livevis import ROOT
from tests.conftest import wait_for
from tests.test_live_capture import _pulse_ready

cyndilib = pytest.importorskip("cyndilib", reason="NDI tests need the optional cyndilib (pip install 'livevis[ndi]')")


@pytest.fixture(scope="module")
def ndi_config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ndi")
    (folder / "ndi-config.v1.json").write_text(json.dumps({"ndi": {"networks": {"ips": "127.0.0.1", "discovery": ""}}}))
    old = os.environ.get("NDI_CONFIG_DIR")
    os.environ["NDI_CONFIG_DIR"] = str(folder)
    yield str(folder)
    if old is None:
        os.environ.pop("NDI_CONFIG_DIR", None)
    else:
        os.environ["NDI_CONFIG_DIR"] = old


class _Receiver:
    """A real NDI receiver of the source whose name contains ``name``."""

    def __init__(self, name: str, timeout: float = 60.0) -> None:
        from cyndilib.finder import Finder
        from cyndilib.receiver import Receiver
        from cyndilib.audio_frame import AudioFrameSync
        from cyndilib.video_frame import VideoFrameSync
        from cyndilib.wrapper.ndi_recv import RecvBandwidth, RecvColorFormat

        self.finder = Finder()
        self.finder.open()
        found = wait_for(lambda: (self.finder.update_sources() or True)
                         and any(name in n for n in self.finder.get_source_names()), timeout=timeout, interval=0.2)
        if not found:
            self.close()
            raise AssertionError(f"no NDI source {name!r}; sources: {self.finder.get_source_names()}")
        source = self.finder.get_source(next(n for n in self.finder.get_source_names() if name in n))
        self.receiver = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
        self.frame = VideoFrameSync()
        self.sound = AudioFrameSync()
        self.receiver.frame_sync.set_video_frame(self.frame)
        self.receiver.frame_sync.set_audio_frame(self.sound)
        self.receiver.set_source(source)

    def grab(self) -> np.ndarray | None:
        """The newest frame as (H, W, 4) uint8, or None before the first."""
        self.receiver.frame_sync.capture_video()
        w, h = self.frame.get_resolution()
        data = self.frame.get_array()
        return data.reshape(h, w, 4).copy() if w and h and data.size == w * h * 4 else None

    def grab_audio(self, samples: int) -> tuple[np.ndarray, int]:
        """The next ``samples`` of sound as (channels, samples) float32 and their rate. Pulled at
        playback pace, as an NDI frame-sync receiver (OBS, vMix) does; silence where none arrived.
        (cyndilib's receiver always runs a frame sync, which would race a direct ``receive``.)"""
        self.receiver.frame_sync.capture_audio(samples)
        return self.sound.get_array(), int(self.sound.sample_rate)

    def close(self) -> None:
        if getattr(self, "receiver", None) is not None:
            self.receiver.disconnect()
        self.finder.close()


def test_ndi_output_publishes_the_shows_frames(ndi_config, ctx, demo_track):
    """The real show renders real music; a receiver gets its frames the right way up."""
    from livevis.analysis.analyzer import Analyzer
    from livevis.analysis.emotion import EmotionModel
    from livevis.audio.decode import load_audio
    from livevis.control.presets import default_preset
    from livevis.show.ndi import NdiOutput
    from livevis.show.show import Show

    audio, rate = load_audio(demo_track)
    states = Analyzer(rate, EmotionModel()).feed(audio.mean(axis=1)[: 8 * rate].astype(np.float32), last=True)
    current = {"state": states[0]}
    show = Show(ctx, (320, 180), default_preset(), lambda: current["state"], control=False, say=lambda *_: None,
                synchronous=True, av_offset=False)
    name = f"livevis-test-{uuid.uuid4().hex[:6]}"
    out = NdiOutput(ctx, name, show.size, 30)
    rx = _Receiver(name)
    try:
        got = []
        for i, state in enumerate(states[::2]):
            current["state"] = state
            texture = show.frame(state.time)
            out.send(texture)
            time.sleep(0.03)
            frame = rx.grab()
            if frame is not None and i % 4 == 0:
                got.append((frame, np.frombuffer(texture.read(), np.uint8).reshape(180, 320, 4)[::-1]))
        assert out.connections() >= 1
        assert len(got) >= 5
        sent_last = got[-1][1]
        frames = np.stack([g[0] for g in got]).astype(np.float32)
        assert frames.shape[1:] == (180, 320, 4)
        assert np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3)).max() > 2  # it moves with the music
        # the received picture is the rendered one (one frame later, through NDI's 4:2:2 coding): same layout
        received, sent = got[-1][0][..., :3].mean(axis=2), sent_last[..., :3].mean(axis=2)
        corr = np.corrcoef(received.ravel(), sent.ravel())[0, 1]
        flipped = np.corrcoef(received[::-1].ravel(), sent.ravel())[0, 1]
        assert corr > 0.8 and corr > flipped + 0.1, (corr, flipped)
    finally:
        rx.close()
        out.close()
        show.close()


def test_bad_ndi_name_is_one_line(ctx):
    from livevis.show.ndi import NdiError, NdiOutput

    with pytest.raises(NdiError, match="1 to 63 printable characters"):
        NdiOutput(ctx, "", (64, 36))


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (tools/test.sh runs Xvfb)")
@pytest.mark.skipif(not _pulse_ready(), reason="needs a PulseAudio server (tools/start-audio-server.sh)")
def test_livevis_run_ndi_is_received(ndi_config, demo_track):
    """``livevis run --input FILE --ndi NAME``: a receiver gets the moving picture and the file's sound."""
    from scipy.signal import correlate

    from livevis.audio.decode import load_audio

    name = f"livevis-run-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen([sys.executable, "-m", "livevis", "run", "--input", str(demo_track), "--ndi", name,
                             "--duration", "50", "--size", "320x180"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, NDI_CONFIG_DIR=ndi_config))
    rx = None
    frames, sound, rates = [], [], set()
    try:
        rx = _Receiver(name, timeout=90)
        deadline = time.monotonic() + 60
        start = pulled = None  # pulling 20 ms at a time, at playback pace, for 12 s from the first sound
        while time.monotonic() < deadline and (pulled is None or pulled < 600):
            block, rate = rx.grab_audio(960)
            if block.size and start is None:
                start, pulled = time.monotonic(), 0
            if start is None:
                time.sleep(0.02)
                continue
            if block.size:
                sound.append(block[0].copy())
                rates.add(rate)
            pulled += 1
            if pulled % 12 == 0:
                frame = rx.grab()
                if frame is not None:
                    frames.append(frame.astype(np.float32))
            time.sleep(max(0.0, start + pulled * 0.02 - time.monotonic()))
    finally:
        if rx is not None:
            rx.close()
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    audio, file_rate = load_audio(demo_track)
    assert f"NDI source: {name} (320x180, with the file's sound at {file_rate} Hz)" in out, (out, err)
    assert len(frames) >= 10 and frames[0].shape == (180, 320, 4)
    assert max(np.abs(b - a).mean() for a, b in zip(frames, frames[1:])) > 1  # the show moves
    # the sound: the file's own samples, in order. The frame sync pulling at playback pace inserts
    # silence where a burst arrived late (this 2-core machine renders in software beside the test), so
    # the sound is cut at silent runs and each 0.25 s piece is looked for in the file.
    assert rates == {file_rate}, rates
    heard = np.concatenate(sound)
    assert (np.abs(heard) > 1e-4).sum() > 4 * file_rate  # seconds of sound out of 12 s pulled (load-dependent)
    reference = audio[: 40 * file_rate, 0]
    found = []
    for piece in _pieces(heard, file_rate // 4):
        corr = correlate(reference, piece, "valid", method="fft")
        lag = int(np.argmax(corr))
        found.append((lag, np.corrcoef(reference[lag: lag + len(piece)], piece)[0, 1]))
    matched = [lag for lag, r in found if r > 0.8]  # 0.25 s of 4 other songs: best-lag r median 0.34, max 0.62
    assert len(found) >= 8 and len(matched) >= 0.75 * len(found), found
    assert np.mean(np.diff(matched) > 0) >= 0.75, matched  # in the file's order


def _pieces(sound: np.ndarray, length: int, gap: int = 32) -> list[np.ndarray]:
    """``sound`` cut at silent runs longer than ``gap`` samples into pieces of ``length`` samples."""
    silent = np.abs(sound) <= 1e-4
    edges = np.diff(np.concatenate([[0], silent.astype(np.int8), [0]]))
    runs = [(a, b) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)) if b - a > gap]
    bounds = [0] + [x for run in runs for x in run] + [len(sound)]
    return [sound[k: k + length] for a, b in zip(bounds[::2], bounds[1::2]) for k in range(a, b - length + 1, length)]
