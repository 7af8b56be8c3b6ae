"""`livevis demo` works on every machine: live with a display and a sound device, else it renders
its start to an mp4 in the current directory and says where and why. Real X server (Xvfb from
tools/test.sh), real PulseAudio, real renders."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import av
import pytest

from livevis import ROOT

#: The sound servers made unreachable for real (as in test_cli_errors): PortAudio sees no device.
NO_SOUND = {"PULSE_SERVER": "unix:/nonexistent/livevis-test", "JACK_DEFAULT_SERVER": "livevis-no-such-server",
            "JACK_NO_START_SERVER": "1"}


def _demo(cwd, *args, env=None, timeout=300) -> subprocess.CompletedProcess:
    full = dict(os.environ, PYTHONPATH=str(ROOT))
    full.pop("LIVEVIS_DEBUG", None)
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    return subprocess.run([sys.executable, "-m", "livevis", "demo", *args], capture_output=True, text=True,
                          timeout=timeout, env=full, cwd=cwd)


def _frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_display_probe_reads_the_real_x_server(monkeypatch):
    from livevis.display import display_problem

    if sys.platform in ("win32", "darwin"):
        pytest.skip("the probe assumes a display on Windows and macOS")
    if os.environ.get("DISPLAY"):
        assert display_problem() is None  # tools/test.sh runs the suite under Xvfb
    monkeypatch.delenv("DISPLAY", raising=False)
    assert display_problem() == "no display (DISPLAY is not set)"
    monkeypatch.setenv("DISPLAY", ":4711")  # no X server there
    assert display_problem() == "cannot connect to the X display :4711"
    t0 = time.monotonic()  # a refused connection is tried again before the show gives up
    assert display_problem(tries=3, wait_s=0.2) == "cannot connect to the X display :4711"
    assert time.monotonic() - t0 >= 0.4


def test_demo_without_a_display_renders_an_mp4_here_and_says_why(tmp_path):
    proc = _demo(tmp_path, "--duration", "1", env={"DISPLAY": None})
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "livevis-demo.mp4"
    assert "DISPLAY is not set" in proc.stdout and str(out) in proc.stdout, proc.stdout
    assert "no window" in proc.stdout and "the first 1 s" in proc.stdout
    assert "render energetic_electronic_2.opus" in proc.stderr  # the progress bar
    assert "Traceback" not in proc.stderr
    assert _frames(out) == 30


def test_demo_without_a_sound_device_renders_and_names_the_fix(tmp_path):
    """No sound server: nothing is played; the reason names tools/start-audio-server.sh."""
    proc = _demo(tmp_path, "--duration", "1", env=NO_SOUND)
    assert proc.returncode == 0, proc.stderr
    assert "no default audio output device" in proc.stdout, proc.stdout
    assert "tools/start-audio-server.sh" in proc.stdout
    assert "playing" not in proc.stdout  # the live path (FilePlayer) never started
    assert _frames(tmp_path / "livevis-demo.mp4") == 30


def test_demo_with_an_unknown_output_device_renders_instead(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display (tools/test.sh runs the suite under Xvfb)")
    proc = _demo(tmp_path, "--duration", "1", "--output-device", "no-such-speaker")
    assert proc.returncode == 0, proc.stderr
    assert "no audio output device named 'no-such-speaker'" in proc.stdout, proc.stdout
    assert (tmp_path / "livevis-demo.mp4").is_file()


def test_run_without_a_display_fails_at_once_with_the_fix(tmp_path):
    from livevis.show.demo import demo_track

    proc = subprocess.run([sys.executable, "-m", "livevis", "run", "--input", str(demo_track())],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={k: v for k, v in dict(os.environ, PYTHONPATH=str(ROOT)).items() if k != "DISPLAY"})
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("livevis: error:")]
    assert len(lines) == 1 and "DISPLAY is not set" in lines[0] and "livevis render" in lines[0], proc.stderr
    assert "playing" not in proc.stdout
