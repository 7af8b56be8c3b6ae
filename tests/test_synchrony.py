"""The synchrony measure (tools/synchrony.py) on constructed videos made from real music.

Each video is 30 s of a real track with a 64² picture of grey noise that is replaced by a new
one (a hard cut) at the first frame at or after chosen times: the audio's own onsets (in sync),
random times (as many, seeded), or never (still). A measure that can be believed must put the
in-sync video far above its null and nothing else.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import shared_file

from livevis.show.demo import tracks_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import avs  # noqa: E402
import synchrony  # noqa: E402

RATE = synchrony.RATE
SECONDS = 30
FPS = 30
#: Other real songs (installed with immich-memories-music) for the null and the wrong-song case.
OTHERS = ("calm/calm_acoustic_1.opus", "happy/happy_acoustic_1.opus", "energetic/energetic_acoustic_1.opus")


def write_video(path: Path, y: np.ndarray, cuts: np.ndarray, seed: int = 0, size: int = 64) -> Path:
    """Write an mp4: mono audio ``y`` (RATE Hz, AAC) and a grey-noise picture cut at ``cuts`` (s).

    The picture changes at the first frame whose time is ≥ each cut; one GOP, so a still picture
    decodes exactly still.
    """
    rng = np.random.default_rng(seed)
    n = int(len(y) / RATE * FPS)
    change = np.zeros(n, dtype=bool)
    idx = np.ceil(np.asarray(cuts) * FPS - 1e-9).astype(int)
    change[idx[(idx > 0) & (idx < n)]] = True
    with av.open(str(path), "w") as container:
        vs = container.add_stream("libx264", rate=FPS)
        vs.width = vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": "10", "preset": "veryfast", "g": "100000"}
        ast = container.add_stream("aac", rate=RATE, layout="mono")
        picture = rng.integers(0, 256, (size, size, 1), dtype=np.uint8)
        for i in range(n):
            if change[i]:
                picture = rng.integers(0, 256, (size, size, 1), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(picture, 3, axis=2), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            container.mux(vs.encode(frame))
        container.mux(vs.encode())
        sound = av.AudioFrame.from_ndarray(y[None, :].astype(np.float32), format="fltp", layout="mono")
        sound.sample_rate, sound.pts, sound.time_base = RATE, 0, Fraction(1, RATE)
        container.mux(ast.encode(sound))
        container.mux(ast.encode())
    return path


def clip(path: Path) -> np.ndarray:
    return synchrony.load_mono(path)[: SECONDS * RATE]


@pytest.fixture(scope="module")
def others() -> list[np.ndarray]:
    return [clip(tracks_dir() / name) for name in OTHERS]


@pytest.fixture(scope="module", params=["demo", "vibe_ace"])
def case(request, tmp_path_factory) -> dict:
    """The track's in-sync, random and still videos, with the audio decoded back from the mp4."""
    if request.param == "demo":
        track = tracks_dir() / "energetic/energetic_electronic_2.opus"
    else:
        track = shared_file("audio/librosa-data/Kevin_MacLeod_-_Vibe_Ace.ogg")
    y = clip(track)
    onsets = avs.onset_times(y, RATE)
    out = tmp_path_factory.mktemp(request.param)
    random_cuts = np.sort(np.random.default_rng(1).uniform(0, SECONDS, len(onsets)))
    videos = {"sync": write_video(out / "sync.mp4", y, onsets),
              "random": write_video(out / "random.mp4", y, random_cuts),
              "still": write_video(out / "still.mp4", y, np.zeros(0))}
    return {"videos": videos, "audio": synchrony.load_mono(videos["sync"]), "n_onsets": len(onsets)}


def measure(video: Path, y: np.ndarray, others: list[np.ndarray]) -> dict:
    times, d = avs.frame_differences(video)
    return synchrony.measure_signals(times, d, y, others)


def test_cuts_on_the_onsets_score_far_above_the_null(case, others):
    res = measure(case["videos"]["sync"], case["audio"], others)
    assert res["n_onsets"] >= 0.9 * case["n_onsets"]  # the AAC round trip keeps the onsets
    assert res["ratio"].own > 2.5, res
    assert res["ratio"].z > 5, res
    assert res["avs"].own > 0.8, res
    assert res["avs"].z > 5, res


def test_the_same_video_against_shifted_audio_does_not(case, others):
    shifted = np.roll(case["audio"], int(7.3 * RATE))
    res = measure(case["videos"]["sync"], shifted, others)
    assert res["ratio"].z < 2, res
    assert res["avs"].z < 2, res


def test_the_same_video_against_another_song_does_not(case, others):
    res = measure(case["videos"]["sync"], others[0], [case["audio"], *others[1:]])
    assert res["ratio"].z < 2, res
    assert res["avs"].z < 2, res


def test_a_randomly_cut_video_does_not(case, others):
    res = measure(case["videos"]["random"], case["audio"], others)
    assert abs(res["ratio"].z) < 2.5, res
    assert abs(res["avs"].z) < 2.5, res
    # raw AVS alone would call it synchronised: that is why it is reported with its null
    assert res["avs"].own > 0.3, res


def test_a_still_video_scores_no_synchrony(case, others):
    res = measure(case["videos"]["still"], case["audio"], others)
    assert res["ratio"].own == 1.0 and res["ratio"].z == 0.0, res
    assert res["avs"].own == 0.0 and res["avs"].z == 0.0, res


def test_the_cli_reads_the_video_with_its_audio_and_prints_the_table(case, capsys):
    null = [str(tracks_dir() / name) for name in OTHERS]
    assert synchrony.main([str(case["videos"]["sync"]), "--null-audio", *null, "--shifts", "10"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| video | onsets | onset-change ratio")
    assert len(lines) == 3, lines
    # columns: video, onsets, ratio, null mean ± std, z, AVS, null mean ± std, z
    cells = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert cells[0] == "sync.mp4"
    assert float(cells[4]) > 5 and float(cells[7]) > 5, cells
