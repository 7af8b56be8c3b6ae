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
        self.receiver.frame_sync.set_video_frame(self.frame)
        self.receiver.set_source(source)

    def grab(self) -> np.ndarray | None:
        """The newest frame as (H, W, 4) uint8, or None before the first."""
        self.receiver.frame_sync.capture_video()
        w, h = self.frame.get_resolution()
        data = self.frame.get_array()
        return data.reshape(h, w, 4).copy() if w and h and data.size == w * h * 4 else None

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
    name = f"livevis-run-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen([sys.executable, "-m", "livevis", "run", "--input", str(demo_track), "--ndi", name,
                             "--duration", "25", "--size", "320x180"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, NDI_CONFIG_DIR=ndi_config))
    rx = None
    try:
        rx = _Receiver(name, timeout=90)
        frames = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            frame = rx.grab()
            if frame is not None:
                frames.append(frame.astype(np.float32))
            time.sleep(0.25)
    finally:
        if rx is not None:
            rx.close()
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert f"NDI source: {name} (320x180)" in out, (out, err)
    assert len(frames) >= 10 and frames[0].shape == (180, 320, 4)
    assert max(np.abs(b - a).mean() for a, b in zip(frames, frames[1:])) > 1  # the show moves
