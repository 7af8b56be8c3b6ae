"""One truth for live and offline: a preset rendered by the live show's path, fed from a file
with a simulated clock, equals ``livevis render``'s path, state for state and frame for frame.

Real parts: the demo track (an energetic electronic piece) written as a WAV at the sound
device's rate, a real :class:`~livevis.audio.playback.FilePlayer` on the PulseAudio null sink
(its stream is not started: the test calls its output callback as PortAudio would, 512 frames at
a time, paced by the simulated clock), the real :class:`~livevis.analysis.AnalysisThread` step,
:class:`~livevis.analysis.state.LatestState` and :class:`~livevis.show.show.Show`, the shipped ONNX
emotion model, EGL OpenGL.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from livevis.analysis.analyzer import Analyzer, AnalysisThread
from livevis.control.presets import load_preset
from livevis.analysis.emotion import load_emotion_model
from livevis.show.offline import render_file
from livevis.show.scene import OfflineScene
from livevis.analysis.state import LatestState

SIZE = (320, 180)
FPS = 30
START_S, SECONDS = 10.0, 6.0  # a lively stretch of the demo track


def _pulse_ready() -> bool:
    if shutil.which("pactl") is None:
        return False
    return subprocess.run(["pactl", "info"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _pulse_ready(), reason="needs a PulseAudio server (tools/start-audio-server.sh)")


def _excerpt_wav(track, rate: int, path):
    """``SECONDS`` of ``track`` from ``START_S``, stereo float, resampled to ``rate`` Hz."""
    from livevis.audio.decode import open_audio

    audio = np.concatenate(list(open_audio(track).blocks(START_S + SECONDS, sample_rate=rate)))
    sf.write(str(path), audio[int(START_S * rate):], rate, subtype="FLOAT")
    return path


def _live(ctx, wav, preset, frames: int):
    """The live path with a simulated clock: FilePlayer callback → ring buffer → analysis step
    → LatestState → Show.frame(t), one video frame at a time."""
    import sounddevice as sd

    from livevis.audio.playback import FilePlayer
    from livevis.show.show import Show

    player = FilePlayer(wav)
    analyzer = Analyzer(player.sample_rate, load_emotion_model())
    analyzer.features.warm_up()  # as run_live does
    latest = LatestState()
    show = Show(ctx, SIZE, preset, latest.get, analyzer=analyzer, control=False, say=lambda *_: None)
    worker = AnalysisThread(player, analyzer, latest)  # not started: stepped by the simulated clock
    out = np.zeros((512, 2), np.float32)
    states, rgbs = [], []
    try:
        for i in range(frames):
            upto = int(round(i / FPS * player.sample_rate))
            while player.position < upto:
                n = min(512, upto - player.position)
                if player.reader.available() < n:  # decoding runs ahead in its own thread
                    player.reader.wait_filled(timeout=5.0)
                player._callback(out[:n, :player.reader.channels], n, None, sd.CallbackFlags())
            worker._step()
            states.append(latest.get())
            show.frame(i / FPS)
            rgbs.append(show.read_rgb())
    finally:
        show.close()
        player.reader.close()
    return states, rgbs, player.sample_rate


def _offline(ctx, wav, preset, tmp_path):
    states, rgbs = [], []
    n = render_file(wav, tmp_path / "offline.mp4", load_emotion_model(),
                    lambda w, h: OfflineScene(ctx, w, h, preset, say=lambda *_: None), size=SIZE, fps=FPS,
                    progress=False, on_state=lambda i, s: states.append(s), on_frame=lambda i, rgb: rgbs.append(rgb.copy()))
    return n, states, rgbs


def test_accessibility_preset_live_equals_offline(ctx, tmp_path, demo_track):
    """accessibility sets everything at once: long smoothing, AGC and noise gate, audio
    sensitivity 0.4, master.speed 0.5 and background speed 0.2, a palette, a solid layer and a
    translucent background layer, the bold face."""
    import sounddevice as sd

    from livevis.audio import devices

    preset = load_preset("accessibility")
    rate = int(sd.query_devices(devices.resolve(None, "output"))["default_samplerate"])
    wav = _excerpt_wav(demo_track, rate, tmp_path / "excerpt.wav")

    n, off_states, off_rgbs = _offline(ctx, wav, preset, tmp_path)
    assert n == int(SECONDS * FPS)
    live_states, live_rgbs, live_rate = _live(ctx, wav, preset, n)
    assert live_rate == rate

    # the same analysis states, frame by frame: the same hops at the same times
    for i, (a, b) in enumerate(zip(live_states, off_states)):
        assert a.time == b.time, f"frame {i}: live shows the hop at {a.time} s, offline at {b.time} s"
        for field in ("rms", "energy", "onset", "valence", "arousal", "tempo"):
            assert getattr(a, field) == pytest.approx(getattr(b, field), abs=1e-5), f"frame {i}: {field}"
        np.testing.assert_allclose(a.aus, b.aus, atol=1e-5, err_msg=f"frame {i}: AUs")
    # ... and the same pictures
    diffs = [np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(live_rgbs, off_rgbs)]
    assert max(diffs) <= 1, f"largest pixel difference {max(diffs)} (frame {int(np.argmax(diffs))})"
    # the picture is not trivially equal: it moves, and the face is on it
    assert np.abs(off_rgbs[-1].astype(int) - off_rgbs[len(off_rgbs) // 2].astype(int)).mean() > 0.5
    assert off_rgbs[-1].mean() > 10


def test_offline_applies_the_presets_smoothing_and_conditioning(ctx, tmp_path, demo_track):
    """``livevis render``'s analyser follows the preset: its states are those of an analyser set
    up by :func:`~livevis.show.scene.configure_analyzer` (accessibility: attack 1.5 s, release
    3 s, a slow AGC to -24 dBFS), and clearly not those of an analyser left at its defaults (no
    smoothing, no AGC): the AGC turns this loud track down more and more, the smoothing moves
    the arousal."""
    from livevis.audio.decode import open_audio
    from livevis.show.scene import configure_analyzer

    preset = load_preset("accessibility")
    wav = _excerpt_wav(demo_track, 48000, tmp_path / "excerpt.wav")
    _, states, _ = _offline(ctx, wav, preset, tmp_path)
    rendered = {s.time: s for s in states}
    audio = np.concatenate(list(open_audio(wav).blocks())).mean(axis=1, dtype=np.float32)
    configured, plain = Analyzer(48000, load_emotion_model()), Analyzer(48000, load_emotion_model())
    configure_analyzer(configured, preset)
    hops = {s.time: s for s in configured.feed(audio)}
    plain_hops = {s.time: s for s in plain.feed(audio)}
    times = sorted(t for t in rendered if t in hops and t > 0)
    assert len(times) >= 50
    for t in times:
        assert (rendered[t].rms, rendered[t].valence, rendered[t].arousal) == pytest.approx(
            (hops[t].rms, hops[t].valence, hops[t].arousal), abs=1e-6)
    rms = np.array([[rendered[t].rms, plain_hops[t].rms] for t in times])
    ratio = rms[:, 0] / rms[:, 1]
    assert ratio[-10:].mean() < 0.97 and ratio[-10:].mean() < ratio[:10].mean() - 0.02
    arousal = np.array([[rendered[t].arousal, plain_hops[t].arousal] for t in times])
    assert np.abs(arousal[:, 0] - arousal[:, 1]).max() > 0.05
