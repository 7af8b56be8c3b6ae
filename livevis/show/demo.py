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


#: Without a window or a sound device, the demo's first seconds are rendered to this file in the
#: current directory, at this size and rate (small enough to render in a few minutes on a CPU).
DEMO_SECONDS = 30.0
DEMO_VIDEO = "livevis-demo.mp4"
DEMO_VIDEO_SIZE = (640, 360)
DEMO_VIDEO_FPS = 30


def live_show_problem(output_device: str | int | None = None) -> str | None:
    """Why the demo cannot play live here, checked before any audio plays, or None.

    Args:
        output_device: the ``--output-device`` choice (None: the system default).

    Returns:
        None when a window can open (:func:`livevis.display.display_problem`) and the audio
        output resolves and accepts a stream's settings; else a one-line reason that names the
        fix (``tools/start-audio-server.sh`` for a missing sound device).
    """
    from livevis.audio import devices
    from livevis.display import display_problem
    from livevis.errors import DeviceError

    problem = display_problem()
    if problem is not None:
        return problem
    try:
        import sounddevice as sd

        index = devices.resolve(output_device, "output")
        info = sd.query_devices(index)
        sd.check_output_settings(device=index, samplerate=info["default_samplerate"],
                                 channels=min(2, int(info["max_output_channels"])))
    except DeviceError as err:
        return str(err)
    except Exception as err:  # PortAudio refuses the device's own default settings
        return f"the audio output cannot be opened ({err})"
    return None
