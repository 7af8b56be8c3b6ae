"""Offline rendering of real music to mp4: frames, duration, audio, motion, AUs that move."""

import av
import numpy as np
import pytest

from livevis.show.offline import render_file
from livevis.show.scene import make_compositor

from conftest import require_keyframe_library
from tests.conftest import run_cli




def _render(ctx, track, out, seconds=10.0, size=(320, 180), fps=30, frames=None):
    from livevis.analysis.emotion import load_emotion_model

    states = []
    on_frame = None if frames is None else (lambda i, rgb: frames.append(rgb.copy()))
    n = render_file(track, out, load_emotion_model(), lambda w, h: make_compositor(ctx, w, h), size=size, fps=fps,
                    duration=seconds, progress=False, on_state=lambda i, s: states.append(s), on_frame=on_frame)
    return n, states


def _read_video(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video)]
        info = dict(width=video.width, height=video.height, rate=float(video.average_rate),
                    duration=float(container.duration / av.time_base), n_audio=len(audio),
                    audio_codec=audio[0].codec_context.name if audio else None)
    return frames, info


@pytest.mark.parametrize("track_fixture", ["vibe_ace", "demo_track"])
def test_render_ten_seconds_of_real_music(ctx, tmp_path, request, track_fixture):
    track = request.getfixturevalue(track_fixture)
    out = tmp_path / "out.mp4"
    n, states = _render(ctx, track, out)
    assert n == 300
    frames, info = _read_video(out)
    assert len(frames) == 300
    assert (info["width"], info["height"]) == (320, 180)
    assert info["rate"] == pytest.approx(30.0)
    assert info["duration"] == pytest.approx(10.0, abs=0.15)
    assert info["n_audio"] == 1 and info["audio_codec"] == "aac"
    # the picture moves: consecutive seconds differ clearly
    second_means = [np.abs(frames[i].astype(int) - frames[i + 30].astype(int)).mean() for i in range(0, 270, 30)]
    assert min(second_means) > 1.0
    # the AUs follow the music: they vary over the clip, and differ between its halves
    aus = np.stack([s.aus for s in states[30:]])
    assert aus.std(axis=0).max() > 0.02
    assert np.abs(aus[:135].mean(axis=0) - aus[135:].mean(axis=0)).max() > 0.005
    arousal = np.array([s.arousal for s in states[30:]])
    assert arousal.std() > 0.01


def test_render_is_deterministic(ctx, tmp_path, trumpet):
    """Same file, same settings: the same states and the same rendered frames."""
    frames_a, frames_b = [], []
    _, states_a = _render(ctx, trumpet, tmp_path / "a.mp4", seconds=3.0, frames=frames_a)
    _, states_b = _render(ctx, trumpet, tmp_path / "b.mp4", seconds=3.0, frames=frames_b)
    assert len(frames_a) == len(frames_b) == 90
    for a, b in zip(states_a, states_b):
        assert (a.time, a.rms, a.energy, a.valence, a.arousal, a.tempo) == (b.time, b.rms, b.energy, b.valence, b.arousal, b.tempo)
        assert np.array_equal(a.aus, b.aus)
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b))


def test_render_cli(tmp_path, trumpet):
    out = tmp_path / "cli.mp4"
    proc = run_cli("render", str(trumpet), "-o", str(out), "--size", "256x144", "--fps", "24", "--duration", "2")
    assert proc.returncode == 0, proc.stderr
    frames, info = _read_video(out)
    assert len(frames) == 48 and (info["width"], info["height"]) == (256, 144)
    assert "render" in proc.stderr  # the progress bar


def test_render_keyframes_preset_with_latent_stream_and_no_torch(tmp_path, demo_track):
    """The keyframes preset offline: the latent image stream is decoded synchronously by the
    shipped ONNX graphs, and nothing in the app imports torch (checked in the same process)."""
    import subprocess
    import sys

    require_keyframe_library()
    out = tmp_path / "k.mp4"
    code = ("import sys; from livevis.cli import main; rc = main(sys.argv[1:]); "
            "print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "render", str(demo_track), "-o", str(out), "--preset",
                           "keyframes", "--size", "160x90", "--duration", "4", "--no-progress"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)  # 512² CPU decodes
    assert proc.returncode == 0, proc.stderr
    assert "no torch" in proc.stderr.splitlines()[-1], proc.stderr
    assert "disabled" not in proc.stderr
    frames, _ = _read_video(out)
    assert len(frames) == 120
    # the picture is the slerped keyframe stream: colourful, not the black of an empty layer
    assert frames[60].mean() > 40
    assert np.abs(frames[110].astype(int) - frames[20].astype(int)).mean() > 2.0


def test_render_pipeline_frames_match_the_compositor_and_an_interruption_leaves_nothing(ctx, tmp_path, trumpet):
    """The pipelined render (analysis and encoding threads, double-buffered read-back) hands the
    encoder exactly the frame the compositor drew for each state; an interruption in the render
    thread stops the other stages, raises, and leaves no file and no thread behind."""
    import threading

    from livevis.render import Compositor

    drawn = {}

    class Checked(Compositor):
        def render(self, state, t):
            super().render(state, t)
            if int(round(t * 30)) % 7 == 0:
                drawn[int(round(t * 30))] = self.read_rgb()

    frames = []
    out = tmp_path / "a.mp4"
    n = render_file(trumpet, out, _emotion(), lambda w, h: Checked(ctx, w, h, make_compositor(ctx, w, h).layers),
                    size=(160, 90), duration=2.0, progress=False, on_frame=lambda i, rgb: frames.append(rgb))
    assert n == 60 and len(frames) == 60 and len(drawn) == 9
    for i, rgb in drawn.items():
        assert np.array_equal(frames[i], rgb), i
    decoded, _ = _read_video(out)
    assert len(decoded) == 60
    # each encoded frame is the one rendered for its index (H.264 yuv420p at 160x90): close to it, and
    # over frames 10–49 closer than the frames 5 or 10 before or after (summed: the picture rests
    # between the music's hits, where neighbouring frames differ less than the codec's error)
    def error(i, j):
        return np.abs(decoded[i].astype(int) - frames[j]).mean()

    own = [error(i, i) for i in range(10, 50)]
    assert max(own) < 8.0, own
    shifted = {k: sum(error(i, i + k) for i in range(10, 50)) for k in (-10, -5, 5, 10)}
    assert min(shifted.values()) > sum(own), (sum(own), shifted)

    def interrupt(i, rgb):
        if i == 20:
            raise KeyboardInterrupt

    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        render_file(trumpet, tmp_path / "b.mp4", _emotion(), lambda w, h: make_compositor(ctx, w, h),
                    size=(160, 90), duration=2.0, progress=False, on_frame=interrupt)
    assert not (tmp_path / "b.mp4").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("livevis-render")]


def _emotion():
    from livevis.analysis.emotion import load_emotion_model

    return load_emotion_model()
