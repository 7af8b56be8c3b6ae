"""Data for the emotion-model tools: real music, human labels, cached per-hop features.

Shared by ``tools/train_emotion.py``, ``tools/eval_emotion.py`` and ``tools/bench_emotion.py``.

Sources (read from ``ROOT/../shared`` and the installed ``immich-memories-music`` package,
never copied into the repository):

- emoMusic ("1000 songs", MediaEval 2013; Soleymani et al. 2013): 6 clips with audio
  (``data/emomusic/audio/{2,3,4,5,7,8}.flac``, 45 s each) and dynamic valence/arousal at 2 Hz
  from 15 s to 45 s (``valence_cont_average.csv``, ``arousal_cont_average.csv``, mean of raters,
  scale -1…1) — the test set; the labels of the other 734 songs (no audio) set the scale.
- Teacher-labelled music for training: ``audio/librosa-data/*.ogg`` (CC-BY 3.0 / public domain)
  and 60 s from each track of the Debian packages in :data:`DEBIAN_MUSIC` (singularity-music,
  Creative Commons; warzone2100-music, nexuiz-music, hyperrogue-music, asc-music, GPL-2+;
  planetblupi-music-ogg, GPL-3+), fetched with ``apt-get download`` into the cache (not
  installed).
- Held out of training (teacher agreement, mood check): the ``immich-memories-music`` tracks
  (MIT; mood folders calm/energetic/happy/nostalgic/tender).

Teacher: vibenet 0.1.0 (PyPI, GPL-3.0-or-later, Jaeheon Shim; an EfficientNet student distilled
on the Free Music Archive) on causal 10 s windows ending every 1 s: its ``energy`` and
``valence`` in [0, 1], mapped to the emoMusic scale by ``train_emotion.fit_calibration``.
The teacher is a training-time tool only.

Per-hop features are exactly the runtime's: :class:`livevis.analysis.features.FeatureExtractor` on the
last 0.5 s of 16 kHz mono audio every 0.1 s; hop ``k``'s window ends at ``0.5 + 0.1 k`` s.
They are cached as ``.npz`` under the user cache dir (``~/.cache/livevis/emotion``), keyed by
file path, size, mtime and segment, so reruns skip the (~17 ms/hop) extraction.
"""

from __future__ import annotations

import csv
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livevis.audio.decode import load_audio  # noqa: E402
from livevis.analysis.features import HOP_S, SAMPLE_RATE, WINDOW_S, FeatureExtractor  # noqa: E402

SHARED = ROOT.parent / "shared"
EMOMUSIC = SHARED / "data" / "emomusic"
EMOMUSIC_IDS = (2, 3, 4, 5, 7, 8)
LIBROSA_DIR = SHARED / "audio" / "librosa-data"
MOODS = ("calm", "energetic", "happy", "nostalgic", "tender")
#: Bump when the feature extractor changes, to invalidate the cache.
FEATURE_VERSION = "v2"  # v2: eGeMAPS functionals every fifth hop, held between


def cache_dir() -> Path:
    """Feature cache folder (created on demand); ``LIVEVIS_CACHE`` overrides it."""
    base = os.environ.get("LIVEVIS_CACHE")
    if base is None:
        import platformdirs

        base = platformdirs.user_cache_dir("livevis")
    path = Path(base) / "emotion"
    path.mkdir(parents=True, exist_ok=True)
    return path


def hop_end_time(k: np.ndarray | int) -> np.ndarray | float:
    """End time in seconds of hop ``k``'s 0.5 s window (hop 0 covers 0…0.5 s)."""
    return WINDOW_S + HOP_S * np.asarray(k)


def hop_for_time(t: np.ndarray | float) -> np.ndarray:
    """Index of the hop whose window ends at time ``t`` (seconds), rounded to the nearest hop."""
    return np.rint((np.asarray(t, dtype=np.float64) - WINDOW_S) / HOP_S).astype(np.int64)


def load_mono16k(path: Path, start_s: float = 0.0, dur_s: float | None = None) -> np.ndarray:
    """Decode ``path`` to float32 mono at 16 kHz, optionally cut to ``[start_s, start_s + dur_s)``."""
    data, _ = load_audio(path, SAMPLE_RATE)
    x = data.mean(axis=1).astype(np.float32)
    a = int(round(start_s * SAMPLE_RATE))
    b = len(x) if dur_s is None else min(len(x), a + int(round(dur_s * SAMPLE_RATE)))
    return x[a:b]


def extract_hops(x: np.ndarray, extractor: FeatureExtractor | None = None) -> np.ndarray:
    """Per-hop feature vectors of a whole signal, float32 (n_hops, 128), hop k ends at 0.5 + 0.1 k s."""
    fe = extractor or FeatureExtractor()
    win, hop = fe.window_samples, fe.hop_samples
    n = 0 if len(x) < win else 1 + (len(x) - win) // hop
    out = np.empty((n, 128), dtype=np.float32)
    for k in range(n):
        out[k] = fe.process(x[k * hop:k * hop + win]).vector
    return out


_MEMO: dict[str, np.ndarray] = {}  # in-process copy of the cache (LOCO reloads it per fold)


def track_features(path: Path, start_s: float = 0.0, dur_s: float | None = None) -> np.ndarray:
    """Cached :func:`extract_hops` of a file segment: float32 (n_hops, 128)."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{FEATURE_VERSION}|{path}|{st.st_size}|{int(st.st_mtime)}|{start_s}|{dur_s}"
    if key in _MEMO:
        return _MEMO[key]
    f = cache_dir() / (hashlib.sha1(key.encode()).hexdigest()[:20] + ".npz")
    if f.exists():
        feats = np.load(f)["x"]
    else:
        feats = extract_hops(load_mono16k(path, start_s, dur_s))
        tmp = f.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, x=feats, key=key)
        tmp.replace(f)
    _MEMO[key] = feats
    return feats


def _read_cont(name: str) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    with open(EMOMUSIC / name, newline="") as fh:
        rows = list(csv.reader(fh))
    times = np.array([int(c.split("_")[1].rstrip("ms")) / 1000.0 for c in rows[0][1:]])
    values = {int(r[0]): np.array([float(v) if v else np.nan for v in r[1:]], dtype=np.float32) for r in rows[1:]}
    return times, values


def emomusic_clip(song_id: int) -> dict:
    """One annotated emoMusic clip: features and labels aligned at 2 Hz.

    Returns a dict with ``x`` (n_hops, 128) float32 features, ``label_hops`` int (n_labels,)
    hop indices, ``valence`` and ``arousal`` float32 (n_labels,) in [-1, 1], ``times`` (s).
    """
    times, val = _read_cont("valence_cont_average.csv")
    _, aro = _read_cont("arousal_cont_average.csv")
    x = track_features(EMOMUSIC / "audio" / f"{song_id}.flac")
    hops = hop_for_time(times)
    ok = (hops < len(x)) & np.isfinite(val[song_id]) & np.isfinite(aro[song_id])
    return {"id": song_id, "x": x, "label_hops": hops[ok], "times": times[ok],
            "valence": val[song_id][ok], "arousal": aro[song_id][ok]}


def immich_tracks() -> dict[str, list[Path]]:
    """Mood folder → sorted list of the ``immich-memories-music`` tracks (.opus)."""
    import immich_memories_music

    base = Path(immich_memories_music.__file__).parent / "tracks"
    return {m: sorted((base / m).glob("*.opus")) for m in MOODS}


def librosa_tracks() -> list[Path]:
    """The real recordings in ``../shared/audio/librosa-data``."""
    return sorted(LIBROSA_DIR.glob("*.ogg"))


# ---------------------------------------------------------------- more music + the teacher
DEBIAN_MUSIC = ("singularity-music", "warzone2100-music", "nexuiz-music", "hyperrogue-music",
                "planetblupi-music-ogg", "asc-music")
SEGMENT_S = 60.0  # seconds taken from each Debian track, starting at 30 % of its length
TEACHER_WINDOW_S = 10.0
TEACHER_STEP = 10  # hops between teacher labels (1 s)
TEACHER_MIN_S = 5.0  # first teacher label at this time into a segment


def debian_music_dir() -> Path:
    """Unpacked Debian game-music packages in the cache; each fetched with ``apt-get download`` once.

    Zip archives inside a package (Nexuiz keeps its music in ``music.pk3``) are unpacked beside
    themselves. Returns the root of the unpacked tree.
    """
    import subprocess
    import zipfile

    base = cache_dir().parent / "debian-music"
    out = base / "extracted"
    out.mkdir(parents=True, exist_ok=True)
    for package in DEBIAN_MUSIC:
        done = out / f".done-{package}"
        if done.exists():
            continue
        if not any(base.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", package], cwd=base, check=True)
        for deb in sorted(base.glob(f"{package}_*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(out)], check=True)
            for pk3 in [m.lstrip("./") for m in subprocess.run(["dpkg-deb", "-c", str(deb)], check=True,
                                                                 capture_output=True, text=True).stdout.split()
                        if m.endswith(".pk3")]:
                with zipfile.ZipFile(out / pk3) as z:
                    z.extractall(out / (pk3 + ".d"))
        done.touch()
    return out


_CORPUS: list = []


def train_corpus() -> list[tuple[str, Path, float, float | None]]:
    """Teacher-labelled training music: (name, path, start_s, dur_s or None for the whole file)."""
    import soundfile as sf

    if _CORPUS:
        return list(_CORPUS)

    items: list[tuple[str, Path, float, float | None]] = [(f"librosa/{p.stem}", p, 0.0, None) for p in librosa_tracks()]
    try:
        root = debian_music_dir()
    except Exception as err:  # no apt-get or no network: train without them
        print(f"Debian game music unavailable ({err}); training without it", file=sys.stderr)
        return items
    for p in sorted(root.rglob("*")):
        if p.suffix not in (".ogg", ".opus", ".mp3") or "sounds" in p.parts:  # music, not sound effects
            continue
        dur = sf.info(str(p)).duration
        if dur < 20:
            continue
        start = round(0.3 * dur, 1) if dur > SEGMENT_S + 10 else 0.0
        items.append((f"debian/{p.parent.name}/{p.stem}", p, start, min(SEGMENT_S, dur - start)))
    _CORPUS[:] = items
    return items


def holdout_corpus() -> list[tuple[str, Path, float, float | None]]:
    """Music never used in training: every immich-memories-music track, whole."""
    return [(f"immich/{m}/{p.stem}", p, 0.0, None) for m, ps in immich_tracks().items() for p in ps]


def teacher_hops(n_hops: int) -> np.ndarray:
    """Hop indices that get a teacher label in a segment of ``n_hops`` hops (every 1 s from 5 s)."""
    first = int(hop_for_time(TEACHER_MIN_S))
    return np.arange(first, n_hops, TEACHER_STEP)


_TEACHER = None


def teacher_raw(path: Path, start_s: float = 0.0, dur_s: float | None = None,
                hops: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cached vibenet (energy, valence) in [0, 1] at ``hops`` (default :func:`teacher_hops`).

    Each label uses the causal 10 s (or less, from the segment start) window ending where the
    hop's window ends. Returns ``(hops, (n, 2) float32 [energy, valence])``.
    """
    global _TEACHER
    path = Path(path).resolve()
    st = path.stat()
    x = None
    if hops is None:
        hops = teacher_hops(len(track_features(path, start_s, dur_s)))
    hops = np.asarray(hops, np.int64)
    key = (f"teacher-vibenet-0.1.0|{TEACHER_WINDOW_S}|{path}|{st.st_size}|{int(st.st_mtime)}|{start_s}|{dur_s}|"
           + hashlib.sha1(hops.tobytes()).hexdigest())
    if key in _MEMO:
        return hops, _MEMO[key]
    f = cache_dir() / ("t" + hashlib.sha1(key.encode()).hexdigest()[:20] + ".npz")
    if f.exists():
        _MEMO[key] = np.load(f)["y"]
        return hops, _MEMO[key]
    if _TEACHER is None:
        from vibenet.backends import EfficientNetModel

        _TEACHER = EfficientNetModel()
    from vibenet.core import extract_mel

    x = load_mono16k(path, start_s, dur_s)
    y = np.zeros((len(hops), 2), np.float32)
    for i, k in enumerate(hops):
        end = int(round(float(hop_end_time(k)) * SAMPLE_RATE))
        seg = x[max(0, end - int(TEACHER_WINDOW_S * SAMPLE_RATE)):end]
        out = _TEACHER.ort_sess.run(None, {"x": extract_mel(seg, SAMPLE_RATE)[None]})[0][0]
        y[i] = np.clip(out[2], 0, 1), np.clip(out[6], 0, 1)  # vibenet.labels: energy = 2, valence = 6
    tmp = f.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, y=y, key=key)
    tmp.replace(f)
    _MEMO[key] = y
    return hops, y


def _prepare_one(item) -> str:
    name, path, start, dur = item
    track_features(path, start, dur)
    teacher_raw(path, start, dur)
    return name


def prepare(items, jobs: int = 1, log=print) -> None:
    """Fill the feature and teacher caches for ``items`` (``jobs`` worker processes)."""
    if jobs <= 1:
        for it in items:
            log(f"  cached {_prepare_one(it)}")
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs) as ex:
        for name in ex.map(_prepare_one, items):
            log(f"  cached {name}")
