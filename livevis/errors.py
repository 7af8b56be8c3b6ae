"""User-facing errors.

Anything an operator can cause (a missing file, an unknown device, a corrupt model) raises
:class:`LivevisError` with a one-line message that names the thing and the choices there are.
The CLI prints that line and exits non-zero, without a traceback.
"""


class LivevisError(Exception):
    """An error the operator can act on; ``str(err)`` is a complete one-line message."""

    exit_code = 2


class InputFileError(LivevisError):
    """An audio file is missing, unreadable or in an unsupported format."""


class DeviceError(LivevisError):
    """An audio device is missing, unknown, or cannot be opened."""


class ModelError(LivevisError):
    """A model file is missing, corrupt, or does not match the expected inputs/outputs."""
