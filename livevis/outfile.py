"""Writing an output file safely: checked before any work, written beside the target under a
temporary name, and renamed to the final name only when complete.

A render that fails or is interrupted leaves neither a file under the final name nor its
temporary file, and never touches the file that was there before (or the input).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from livevis.errors import LivevisError


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)  # follows symlinks
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino) or a.resolve() == b.resolve()


def check_output(out: str | Path, source: str | Path) -> None:
    """Check that ``out`` can be written and is not ``source``, before any work is done.

    Args:
        out: the file to write.
        source: the input file, which must never be overwritten.

    Raises:
        LivevisError: ``out`` is ``source`` (the same path, or the same file through a
            symlink or hard link), is a directory, or its directory is missing, not a
            directory or not writable.
    """
    out, source = Path(out), Path(source)
    if _same_file(out, source):
        raise LivevisError(f"output {out} is the input file {source}; choose another output path")
    if out.is_dir():
        raise LivevisError(f"output {out} is a directory; give a file name such as {out / 'out.mp4'}")
    folder = out.absolute().parent
    if not folder.exists():
        raise LivevisError(f"output directory does not exist: {folder} (for {out}); create it first")
    if not folder.is_dir():
        raise LivevisError(f"output directory is not a directory: {folder} (for {out})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LivevisError(f"output directory is not writable: {folder} (for {out})")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(out: str | Path) -> Iterator[Path]:
    """Yield a unique temporary path beside ``out`` (same directory, same suffix); when the
    block ends normally, rename it to ``out`` (replacing any file there) with the usual
    permissions; when the block raises anything, KeyboardInterrupt included, delete it.

    Raises:
        LivevisError: the temporary file cannot be created or renamed (names the directory).
    """
    out = Path(out)
    folder = out.absolute().parent
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".part{out.suffix}", dir=folder)
    except OSError as err:
        raise LivevisError(f"cannot write in {folder}: {err.strerror}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        try:
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, out)
        except OSError as err:
            raise LivevisError(f"cannot write {out}: {err.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
