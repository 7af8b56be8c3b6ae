"""Locating model weights: a local file, or a public URL downloaded once into the user cache.

Every downloaded file is checked against a pinned sha256 before it is used; a mismatch is
refused (the partial download is deleted) so a corrupted or substituted file never loads.
The show itself loads the TAEF2 ONNX graphs shipped in ``models/``; the PyTorch weights located
here are only read by ``tools/export_taef2.py``, which rebuilds those graphs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from livevis.errors import ModelError


def cache_dir() -> Path:
    """The livevis user cache directory (``platformdirs.user_cache_dir("livevis")``).

    ``LIVEVIS_CACHE_DIR`` overrides it (tests, read-only homes).
    """
    override = os.environ.get("LIVEVIS_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("livevis"))


@dataclass(frozen=True)
class WeightFile:
    """A published weight file.

    Attributes:
        name: file name in the cache (e.g. ``taef2_decoder.pth``).
        url: official public URL.
        sha256: lowercase hex digest the file must have.
    """

    name: str
    url: str
    sha256: str


#: The official TAEF2 files (the public TAESD project, MIT). The digests are those of the
#: copies in ``../shared/assets/taef2`` (the same published files).
TAEF2_FILES: dict[str, WeightFile] = {
    "encoder": WeightFile(
        "taef2_encoder.pth", "https://github.com/madebyollin/taesd/raw/main/taef2_encoder.pth",
        "10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6"),
    "decoder": WeightFile(
        "taef2_decoder.pth", "https://github.com/madebyollin/taesd/raw/main/taef2_decoder.pth",
        "0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5"),
}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Lowercase hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https", "file")


def fetch(source: str | Path, expected_sha256: str | None, name: str | None = None,
          directory: Path | None = None, timeout: float = 60.0) -> Path:
    """Return a local path for ``source``, downloading it once if it is a URL.

    Args:
        source: a local file path, or an ``http(s)://`` / ``file://`` URL.
        expected_sha256: required digest (hex); None skips the check (local files only).
        name: cache file name for a URL (default: the URL's last path component).
        directory: cache directory (default ``cache_dir() / "weights"``).
        timeout: network timeout in seconds.

    Returns:
        Path of the verified file (a local path is returned as is).

    Raises:
        ModelError: missing local file, download failure, or sha256 mismatch (the message
            names the file or URL and both digests).
    """
    source = str(source)
    if not _is_url(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ModelError(f"{path}: weight file not found")
        if expected_sha256 is not None:
            actual = sha256_file(path)
            if actual != expected_sha256.lower():
                raise ModelError(f"{path}: sha256 mismatch (expected {expected_sha256}, got {actual}); refusing to load it")
        return path
    if expected_sha256 is None:
        raise ModelError(f"{source}: a downloaded weight file needs a pinned sha256")
    directory = directory or cache_dir() / "weights"
    name = name or Path(urllib.parse.urlparse(source).path).name or "weights.bin"
    target = directory / name
    if target.is_file() and sha256_file(target) == expected_sha256.lower():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    fd, name_tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=directory)
    tmp = Path(name_tmp)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source, timeout=timeout) as response:
            shutil.copyfileobj(response, out, 1 << 20)
    except Exception as err:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{source}: download failed ({type(err).__name__}: {err})") from None
    actual = sha256_file(tmp)
    if actual != expected_sha256.lower():
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{source}: sha256 mismatch (expected {expected_sha256}, got {actual}); "
                         "the download was deleted")
    tmp.replace(target)
    return target


def taef2_weights(source: str | Path | None = None) -> dict[str, Path]:
    """Paths of the TAEF2 encoder and decoder state dicts, verified by sha256.

    Args:
        source: a directory holding ``taef2_encoder.pth`` and ``taef2_decoder.pth``; a base URL
            (``https://…/`` or ``file:///…/``) under which both names are fetched; or None for
            the official URLs (:data:`TAEF2_FILES`), downloaded once into the user cache.

    Returns:
        ``{"encoder": Path, "decoder": Path}``.

    Raises:
        ModelError: as :func:`fetch`.
    """
    out = {}
    for kind, spec in TAEF2_FILES.items():
        if source is None:
            out[kind] = fetch(spec.url, spec.sha256, spec.name)
        elif _is_url(str(source)):
            out[kind] = fetch(str(source).rstrip("/") + "/" + spec.name, spec.sha256, spec.name)
        else:
            out[kind] = fetch(Path(source) / spec.name, spec.sha256)
    return out
