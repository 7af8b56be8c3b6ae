"""Logging: a rotating log file in the user state directory, warnings also on stderr.

The log records what an operator needs after an unattended night: device changes, preset
reloads, skipped hops and errors. It never grows without bound (5 files of 1 MiB).
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import platformdirs

LOG_MAX_BYTES = 1 << 20
#: ``extra=`` for records that go to the log file only (already shown to the operator).
FILE_ONLY = {"file_only": True}
LOG_BACKUPS = 4


def log_path() -> Path:
    """``<user state dir>/livevis/livevis.log`` (e.g. ~/.local/state/livevis/livevis.log)."""
    return Path(platformdirs.user_state_dir("livevis")) / "livevis.log"


def setup_logging(level: str = "INFO", path: Path | None = None) -> Path:
    """Configure the ``livevis`` logger: rotating file at ``level``, stderr at WARNING+.

    Args:
        level: DEBUG, INFO, WARNING or ERROR (case-insensitive).
        path: log file (default :func:`log_path`).

    Returns:
        The log file path.

    Raises:
        ValueError: unknown level.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level '{level}'; choose DEBUG, INFO, WARNING or ERROR")
    path = path or log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("livevis")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(numeric)
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS,
                                                        encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler()
    console.setLevel(max(numeric, logging.WARNING))
    console.setFormatter(logging.Formatter("livevis: %(levelname)s: %(message)s"))
    console.addFilter(lambda record: not getattr(record, "file_only", False))
    logger.addHandler(file_handler)
    logger.addHandler(console)
    logger.propagate = False
    return path
