"""A render never destroys or fakes a file: each fault of issue 13 with real files and a real
``python -m livevis render`` subprocess. After every failure the input is intact and neither
the output nor its temporary file is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest
import soundfile as sf

from livevis import ROOT
from tests.audio_files import digest, music, write_m4a, write_wav
from tests.conftest import run_cli


def _one_error(proc, *needles) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _files(folder) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("kind", ["wav", "m4a"])
@pytest.mark.parametrize("how", ["same path", "other spelling", "symlink", "hard link"])
def test_output_that_is_the_input_is_refused(tmp_path, kind, how):
    track = tmp_path / f"song.{kind}"
    (write_wav if kind == "wav" else write_m4a)(track, 3.0)
    before = digest(track)
    out = {"same path": track, "other spelling": tmp_path / "." / track.name,
           "symlink": tmp_path / f"link.{kind}", "hard link": tmp_path / f"hard.{kind}"}[how]
    if how == "symlink":
        out.symlink_to(track.name)
    elif how == "hard link":
        os.link(track, out)
    listing = _files(tmp_path)
    proc = run_cli("render", str(track), "-o", str(out), "--size", "160x90", "--no-progress")
    _one_error(proc, "is the input file", track.name, "another output path")
    assert "emotion model on" not in proc.stderr  # refused before any work
    assert digest(track) == before
    assert _files(tmp_path) == listing  # no temporary file either


def _wait_rendering(out, proc, timeout=90.0):
    """Wait until the render subprocess has muxed video into its temporary file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        temps = [p for p in out.parent.glob(f".{out.name}.*") if p.stat().st_size > 0]
        if temps:
            return temps[0]
        time.sleep(0.05)
    raise AssertionError("the render never started writing")


@pytest.mark.parametrize("signum, previous", [(signal.SIGINT, False), (signal.SIGTERM, True)],
                         ids=["SIGINT", "SIGTERM-keeps-old-output"])
def test_signal_mid_render_leaves_no_partial_output(tmp_path, signum, previous):
    track = write_wav(tmp_path / "long.wav", 120.0)
    before = digest(track)
    out = tmp_path / "out.mp4"
    if previous:
        out.write_bytes(b"an earlier render the operator wants to keep")
    err = open(tmp_path / "stderr.txt", "w+")  # noqa: SIM115 - read after the process ends
    proc = subprocess.Popen([sys.executable, "-m", "livevis", "render", str(track), "-o", str(out),
                             "--size", "160x90"], stderr=err, stdout=subprocess.DEVNULL, cwd=ROOT,
                            env={k: v for k, v in os.environ.items() if k != "LIVEVIS_DEBUG"})
    try:
        temp = _wait_rendering(out, proc)
        assert temp.suffix == ".mp4" and temp.parent == tmp_path
        time.sleep(0.5)
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 128 + signum
    finally:
        proc.kill()
        proc.wait()
    err.seek(0)
    stderr = err.read()
    name = signal.Signals(signum).name
    lines = [line for line in stderr.splitlines() if line.startswith("livevis:")]
    assert lines == [f"livevis: render stopped by {name}; nothing written to {out} (partial output removed)"], stderr
    assert "Traceback" not in stderr
    assert digest(track) == before
    assert not temp.exists()
    if previous:
        assert out.read_bytes() == b"an earlier render the operator wants to keep"
        assert _files(tmp_path) == {"long.wav", "out.mp4", "stderr.txt"}
    else:
        assert _files(tmp_path) == {"long.wav", "stderr.txt"}


def test_non_finite_samples_render_cleanly(tmp_path):
    audio = music(3.0, 22050, 2)
    audio[1000:1100] = np.inf
    audio[5000:5050, 0] = -np.inf
    audio[9000:9500] = np.nan
    audio[20000::7000, 1] = np.nan
    track = tmp_path / "broken.wav"
    sf.write(track, audio, 22050, subtype="FLOAT")
    assert not np.isfinite(sf.read(track)[0]).all()  # the file really holds inf and nan
    out = tmp_path / "out.mp4"
    proc = run_cli("render", str(track), "-o", str(out), "--size", "160x90", "--duration", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as container:
        assert len(list(container.decode(video=0))) == 60
        container.seek(0)
        sound = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    assert len(sound) >= 2 * 22050 * 2 and np.isfinite(sound).all()
    assert np.abs(sound).max() < 1.5  # the AAC of clipped input, not of ±3.4e38


def test_non_finite_samples_are_cleaned_by_the_decoder(tmp_path):
    from livevis.audio.decode import load_audio

    audio = np.zeros((8, 1), np.float32)
    audio[:, 0] = [np.nan, np.inf, -np.inf, 2.5, -7.0, 0.25, -0.5, 1.0]
    sf.write(tmp_path / "x.wav", audio, 8000, subtype="FLOAT")
    data, rate = load_audio(tmp_path / "x.wav")
    assert rate == 8000
    assert data[:, 0].tolist() == [0.0, 1.0, -1.0, 1.0, -1.0, 0.25, -0.5, 1.0]


@pytest.mark.parametrize("where", ["missing", "missing/deeper", "a file"])
def test_bad_output_directory_errors_before_work(tmp_path, where):
    track = write_wav(tmp_path / "song.wav", 2.0)
    if where == "a file":
        (tmp_path / "a file").write_text("not a folder")
    folder = tmp_path / where
    t0 = time.monotonic()
    proc = run_cli("render", str(track), "-o", str(folder / "out.mp4"), "--no-progress")
    line = _one_error(proc, str(folder), "out.mp4")
    assert ("does not exist" in line) if where != "a file" else ("not a directory" in line)
    assert "emotion model on" not in proc.stderr  # no model, GL or decoding work was done
    assert time.monotonic() - t0 < 20
    assert _files(tmp_path) == ({"song.wav", "a file"} if where == "a file" else {"song.wav"})


def test_output_that_is_a_directory_is_refused(tmp_path):
    track = write_wav(tmp_path / "song.wav", 2.0)
    (tmp_path / "videos").mkdir()
    proc = run_cli("render", str(track), "-o", str(tmp_path / "videos"), "--no-progress")
    _one_error(proc, "videos", "is a directory")
    assert list((tmp_path / "videos").iterdir()) == []


@pytest.mark.parametrize("value", ["-58", "nan", "0", "inf", "-inf", "five"])
@pytest.mark.parametrize("command", ["render", "run"])
def test_bad_duration_is_an_argument_error(tmp_path, value, command):
    track = write_wav(tmp_path / "song.wav", 2.0)
    args = ["render", str(track), "-o", str(tmp_path / "out.mp4")] if command == "render" else ["run", "--input", str(track)]
    proc = run_cli(*args, f"--duration={value}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"argument --duration: must be a positive number of seconds, got '{value}'" in proc.stderr
    assert _files(tmp_path) == {"song.wav"}


@pytest.mark.parametrize("model", ["missing.onnx", "garbage.onnx"])
def test_bad_model_is_an_error_not_a_fallback(tmp_path, model):
    track = write_wav(tmp_path / "song.wav", 2.0)
    (tmp_path / "garbage.onnx").write_bytes(b"not an onnx model" * 20)
    proc = run_cli("render", str(track), "-o", str(tmp_path / "out.mp4"), "--model", str(tmp_path / model),
                   "--size", "160x90", "--no-progress")
    _one_error(proc, str(tmp_path / model))
    assert "falling back" not in proc.stderr
    assert _files(tmp_path) == {"song.wav", "garbage.onnx"}


def test_successful_render_replaces_an_old_output_with_usual_permissions(tmp_path):
    track = write_wav(tmp_path / "song.wav", 2.0)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    proc = run_cli("render", str(track), "-o", str(out), "--size", "160x90", "--duration", "1", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as container:
        assert len(list(container.decode(video=0))) == 30
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    assert _files(tmp_path) == {"song.wav", "out.mp4"}  # the temporary file was renamed
