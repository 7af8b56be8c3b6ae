"""Truncated and corrupt audio files (property-based): decoding returns finite audio or
raises InputFileError with the file's name — never another exception, never a hang."""

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livevis.audio.decode import load_audio
from livevis.errors import InputFileError
from tests.conftest import shared_file


def _check(path: Path) -> None:
    try:
        audio, rate = load_audio(path)
    except InputFileError as err:
        assert path.name in str(err)
        return
    assert audio.ndim == 2 and audio.shape[0] > 0 and rate > 0
    assert np.all(np.isfinite(audio))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_files(tmp_path, cut):
    for name in ("audio/librosa-data/sorohanro_-_solo-trumpet-06.ogg", "data/emomusic/audio/8.flac"):
        data = shared_file(name).read_bytes()
        path = tmp_path / f"truncated{Path(name).suffix}"
        path.write_bytes(data[: int(len(data) * cut)])
        _check(path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(positions=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=40),
       garbage=st.binary(min_size=1, max_size=64))
def test_corrupted_files(tmp_path, positions, garbage):
    data = bytearray(shared_file("audio/librosa-data/sorohanro_-_solo-trumpet-06.ogg").read_bytes())
    for p in positions:
        i = int(p * (len(data) - len(garbage)))
        data[i:i + len(garbage)] = garbage
    path = tmp_path / "corrupt.ogg"
    path.write_bytes(bytes(data))
    _check(path)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=2048), suffix=st.sampled_from([".wav", ".ogg", ".mp3", ".flac", ".m4a", ""]))
def test_arbitrary_bytes(tmp_path, payload, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(payload)
    _check(path)
