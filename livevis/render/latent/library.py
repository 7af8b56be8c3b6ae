"""The shipped keyframe library: freely licensed artwork and photographs, grouped into themes.

The pictures come from Debian 12 packages (``mate-backgrounds``, ``gnome-backgrounds``), listed
with their authors and licences (from each package's ``debian/copyright``) in the manifest
``library.toml`` beside this module. They are never committed to the repository: at set-up
(``python -m livevis.render.latent.library``, run by ``tools/setup.sh``) each ``.deb`` is
downloaded from the Debian archive, checked against its pinned sha256, and the listed pictures
are extracted (python-debian's :class:`debian.debfile.DebFile`), checked against their own pinned
sha256 and written to ``<cache>/<theme>/<file name>``, ``<cache>`` being :func:`library_dir`
(``~/.cache/livevis/keyframes``, or ``$LIVEVIS_KEYFRAMES_DIR``). The ``.deb`` is deleted after
extraction.

A preset picks themes (``[latent] themes = ["nature", "night"]``); :func:`theme_paths` gives the
installed pictures of those themes. Without the library (the fetch failed, or set-up has not
run) it returns none and :func:`missing_note` gives the one-line note the show prints.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tomllib

from livevis.errors import LivevisError

#: The manifest: packages (url, sha256, size) and pictures (theme, member, sha256, author, licence).
MANIFEST = Path(__file__).with_name("library.toml")
#: Seconds before a stalled download is abandoned.
TIMEOUT_S = 60.0


class LibraryError(LivevisError):
    """The keyframe library cannot be fetched: network, checksum, or a picture missing from its package."""


@dataclass(frozen=True)
class Package:
    """A pinned Debian package: ``name``, ``version``, ``url`` of the .deb, its ``sha256`` and ``size`` (bytes)."""

    name: str
    version: str
    url: str
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Picture:
    """A picture of the library.

    Attributes:
        theme: its theme (folder under :func:`library_dir`).
        package: the :class:`Package` name it comes from.
        member: its path inside the package's data archive (no leading ``./``).
        sha256: hex digest of the picture file.
        author, licence: from the package's ``debian/copyright`` (SPDX-style licence id).
    """

    theme: str
    package: str
    member: str
    sha256: str
    author: str
    licence: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


@lru_cache(maxsize=4)
def manifest(path: Path = MANIFEST) -> tuple[dict[str, Package], tuple[Picture, ...]]:
    """The manifest's packages (by name) and pictures (in manifest order).

    Raises:
        LibraryError: the manifest is unreadable, or a picture names an unknown package.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        packages = {p["name"]: Package(**p) for p in data.get("package", [])}
        pictures = tuple(Picture(**p) for p in data.get("picture", []))
    except (OSError, tomllib.TOMLDecodeError, TypeError, KeyError) as err:
        raise LibraryError(f"{path}: unreadable keyframe library manifest ({err})") from None
    for pic in pictures:
        if pic.package not in packages:
            raise LibraryError(f"{path}: picture {pic.member} names unknown package {pic.package!r}")
    return packages, pictures


def themes() -> list[str]:
    """The theme names of the manifest, in first-seen order."""
    return list(dict.fromkeys(p.theme for p in manifest()[1]))


def library_dir() -> Path:
    """Where the pictures are installed: ``$LIVEVIS_KEYFRAMES_DIR`` or ``<user cache>/keyframes``."""
    override = os.environ.get("LIVEVIS_KEYFRAMES_DIR")
    if override:
        return Path(override)
    from livevis.render.latent.weights import cache_dir

    return cache_dir() / "keyframes"


def picture_path(picture: Picture, directory: Path | None = None) -> Path:
    """The installed file of ``picture`` (may not exist)."""
    return (directory or library_dir()) / picture.theme / picture.filename


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def theme_paths(names: Sequence[str], directory: Path | None = None, verify: bool = False) -> list[Path]:
    """The installed pictures of the themes ``names``, theme by theme in manifest order.

    Args:
        names: theme names (see :func:`themes`).
        directory: library folder (default :func:`library_dir`).
        verify: also check each file's sha256 (set-up does; a show trusts its own cache).

    Returns:
        Existing picture files; empty when the library is not installed.

    Raises:
        LibraryError: an unknown theme name (the message lists the known ones).
    """
    known = themes()
    for name in names:
        if name not in known:
            raise LibraryError(f"unknown keyframe theme {name!r}; themes: {', '.join(known)}")
    out = []
    for name in names:
        for pic in manifest()[1]:
            if pic.theme != name:
                continue
            path = picture_path(pic, directory)
            if path.is_file() and (not verify or _sha256(path) == pic.sha256):
                out.append(path)
    return out


def missing_note(names: Sequence[str]) -> str:
    """The one-line note shown when the themes ``names`` have no installed picture."""
    return (f"latent image layer disabled: keyframe library not installed (themes {', '.join(names)}; "
            f"looked in {library_dir()}); fetch it with: python -m livevis.render.latent.library")


def _download(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, open(dest, "wb") as f:
        while chunk := resp.read(1 << 20):
            f.write(chunk)


def _write_atomic(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def extract(deb: Path, pictures: Iterable[Picture], directory: Path) -> None:
    """Extract ``pictures`` from the package file ``deb`` into ``directory/<theme>/``, each checked by sha256.

    Raises:
        LibraryError: an unreadable package, a missing member, or a checksum mismatch.
    """
    from debian.debfile import DebError, DebFile

    try:
        archive = DebFile(str(deb)).data.tgz()
        for pic in pictures:
            member = archive.extractfile("./" + pic.member)
            if member is None:
                raise KeyError(pic.member)
            data = member.read()
            if hashlib.sha256(data).hexdigest() != pic.sha256:
                raise LibraryError(f"{deb.name}: {pic.member}: sha256 mismatch (expected {pic.sha256})")
            _write_atomic(picture_path(pic, directory), data)
    except KeyError as err:
        raise LibraryError(f"{deb.name}: {err.args[0]} is not in the package") from None
    except (DebError, OSError, EOFError) as err:
        raise LibraryError(f"{deb.name}: unreadable package ({err})") from None


def fetch_library(directory: Path | None = None, download: Callable[[str, Path], None] = _download,
                  say: Callable[[str], None] = print) -> Path:
    """Install every picture of the manifest into ``directory`` (default :func:`library_dir`).

    Packages whose pictures are all installed and intact are skipped (no network). Otherwise the
    .deb is downloaded next to the pictures, checked by sha256, extracted and deleted.

    Args:
        directory: library folder.
        download: ``(url, destination file)``; the default uses urllib with :data:`TIMEOUT_S`.
        say: one line per package fetched.

    Returns:
        The library folder.

    Raises:
        LibraryError: one line naming the package, the URL or file, and the cause.
    """
    directory = Path(directory or library_dir())
    packages, pictures = manifest()
    for name, pkg in packages.items():
        wanted = [p for p in pictures if p.package == name]
        if all(_sha256(picture_path(p, directory)) == p.sha256 for p in wanted):
            continue
        directory.mkdir(parents=True, exist_ok=True)
        deb = directory / (pkg.filename + ".part")
        say(f"fetching {pkg.filename} ({pkg.size / 1e6:.0f} MB) for {len(wanted)} keyframe pictures")
        try:
            try:
                download(pkg.url, deb)
            except OSError as err:  # URLError, timeouts and disk errors are OSErrors
                raise LibraryError(f"{pkg.name}: cannot download {pkg.url}: {getattr(err, 'reason', err)}") from None
            got = _sha256(deb)
            if got != pkg.sha256:
                raise LibraryError(f"{pkg.name}: {pkg.url}: sha256 {got} does not match the pinned {pkg.sha256}")
            extract(deb, wanted, directory)
        finally:
            deb.unlink(missing_ok=True)
    return directory


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m livevis.render.latent.library``: install the library; one line on failure, exit 1."""
    try:
        path = fetch_library()
    except LivevisError as err:
        print(f"error: keyframe library: {err}", file=sys.stderr)
        return 1
    n = len(manifest()[1])
    print(f"keyframe library: {n} pictures in {len(themes())} themes ({', '.join(themes())}) in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
