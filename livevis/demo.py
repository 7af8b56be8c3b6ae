"""The built-in demo track, from the ``immich-memories-music`` package (MIT licence)."""

from __future__ import annotations

from pathlib import Path

from livevis.errors import InputFileError

#: Path of the demo track inside the package, relative to its ``tracks/`` folder.
DEMO_TRACK = "energetic/energetic_electronic_2.opus"


def tracks_dir() -> Path:
    """The ``tracks/`` folder of the installed immich-memories-music package.

    Raises:
        InputFileError: the package is not installed.
    """
    try:
        import immich_memories_music
    except ImportError:
        raise InputFileError(
            "the demo needs the 'immich-memories-music' package: pip install immich-memories-music"
        ) from None
    return Path(immich_memories_music.__file__).parent / "tracks"


def demo_track() -> Path:
    """Path of the demo track (an energetic electronic piece, about a minute long)."""
    path = tracks_dir() / DEMO_TRACK
    if not path.exists():
        raise InputFileError(f"demo track missing from immich-memories-music: {path}")
    return path
