"""The latent image stream (issue 5): TAEF2 in onnxruntime, slerp, energy pacing, keyframes,
the decode thread, bad input. Real ONNX sessions of the shipped models/taef2_*.onnx, real
photographs (scikit-image's bundled sample images), real music; the graphs are checked against
the torch model and the published weights in ../shared when both are there."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from livevis.errors import LivevisError, ModelError
from livevis.analysis.state import AnalysisState

from conftest import SHARED, shared_file

TAEF2_DIR = SHARED / "assets" / "taef2"
SIZE = (128, 128)


def _skimage_data() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        pytest.skip("needs scikit-image (its bundled sample photographs are the test keyframes)")
    return Path(spec.origin).parent / "data"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private user cache for the whole module (ONNX exports, latents, downloads)."""
    mp = pytest.MonkeyPatch()
    d = tmp_path_factory.mktemp("livevis-cache")
    mp.setenv("LIVEVIS_CACHE_DIR", str(d))
    yield d
    mp.undo()


@pytest.fixture(scope="module")
def codec(cache):
    from livevis.render.latent.runtime import load_taef2

    return load_taef2(threads=2)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A folder of five real photographs (copied from scikit-image's data)."""
    src = _skimage_data()
    d = tmp_path_factory.mktemp("keyframes")
    for name in ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"):
        shutil.copy(src / name, d / name)
    return d


@pytest.fixture(scope="module")
def keyframes(codec, photos, cache):
    from livevis.render.latent.keyframes import LatentCache, load_keyframes

    return load_keyframes(photos, codec, SIZE, LatentCache(cache / "latents"))


# -- model ----------------------------------------------------------------------------------
def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse))


def test_taef2_roundtrip_reconstructs_a_photo(codec, photos):
    from livevis.render.latent.keyframes import cover_fit, load_image

    img = cover_fit(load_image(photos / "astronaut.png"), SIZE)
    z = codec.encode(img)
    assert z.shape == (1, 32, SIZE[1] // 8, SIZE[0] // 8) and z.dtype == np.float32
    out = codec.decode(z)
    assert out.shape == (1, SIZE[1], SIZE[0], 3) and out.dtype == np.uint8
    err = np.abs(out[0].astype(np.float32) - img.astype(np.float32)).mean()
    assert err < 12.0, f"mean abs reconstruction error {err:.1f}/255"
    assert codec.provider in ("CPUExecutionProvider", "CUDAExecutionProvider")


def test_shipped_onnx_roundtrip_is_faithful_on_real_photos(codec, photos):
    """The shipped graphs alone (no ../shared, no torch): five photographs at 256² come back
    through encode → decode at PSNR ≥ 24 dB each (TAEF2 reaches ~27–32 dB on these), and a
    flipped latent decodes to a different picture (the decoder reads its input)."""
    from livevis import MODELS_DIR
    from livevis.render.latent.keyframes import cover_fit, load_image

    assert codec.encoder_path.parent == MODELS_DIR and codec.encoder_path.name == "taef2_encoder.onnx"
    images = np.stack([cover_fit(load_image(p), (256, 256)) for p in sorted(photos.iterdir())])
    out = codec.decode(codec.encode(images))
    scores = [_psnr(a, b) for a, b in zip(out, images)]
    assert min(scores) >= 24.0, f"PSNR per photo {[round(x, 1) for x in scores]} dB"
    wrong = codec.decode(codec.encode(images[:1])[:, :, ::-1])
    assert _psnr(wrong[0], images[0]) < min(scores) - 6


def test_shipped_models_are_small_and_name_their_source_weights():
    """models/ holds the three TAEF2 graphs (each < 4 MiB), their MIT licence and model card;
    each graph's metadata pins the sha256 of the published weights it was exported from."""
    import onnx

    from livevis import MODELS_DIR
    from livevis.render.latent.runtime import TAEF2_FILE_NAMES
    from livevis.render.latent.weights import TAEF2_FILES

    assert "MIT License" in (MODELS_DIR / "taef2-LICENSE.txt").read_text()
    card = (MODELS_DIR / "taef2.md").read_text()
    for key, name in TAEF2_FILE_NAMES.items():
        path = MODELS_DIR / name
        assert path.stat().st_size < 4 * 2**20, f"{name}: {path.stat().st_size} bytes"
        meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        pinned = TAEF2_FILES["encoder" if key == "encoder" else "decoder"].sha256
        assert meta["source_sha256"] == pinned and pinned in card and name in card


def test_onnx_matches_torch_on_the_published_weights(codec, photos):
    """ONNX (CPU provider) against the torch model loaded from ../shared/assets/taef2: the
    float32 encoder and decoder agree to 1e-4 on a real photo and its latent, the float16
    decoder to 1e-2 (pixels in [0, 1])."""
    shared_file("assets/taef2/taef2_decoder.pth")
    torch = pytest.importorskip("torch", reason="comparing with the torch model needs torch (the train extra)")
    import onnxruntime as ort

    from livevis import MODELS_DIR
    from livevis.render.latent.keyframes import cover_fit, load_image

    taef2_torch = _taef2_torch()
    img = cover_fit(load_image(photos / "chelsea.png"), SIZE).transpose(2, 0, 1)[None].astype(np.float32) / 255
    enc = taef2_torch.load_module("encoder", TAEF2_DIR / "taef2_encoder.pth")
    dec = taef2_torch.load_module("decoder", TAEF2_DIR / "taef2_decoder.pth")
    with torch.no_grad():
        z_ref = enc(torch.from_numpy(img)).numpy()
        y_ref = dec(torch.from_numpy(z_ref)).numpy()

    def run(name, x):
        sess = ort.InferenceSession(str(MODELS_DIR / name), providers=["CPUExecutionProvider"])
        half = "float16" in sess.get_inputs()[0].type
        return sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float16 if half else np.float32)})[0]

    assert np.abs(run("taef2_encoder.onnx", img) - z_ref).max() < 1e-4
    assert np.abs(run("taef2_decoder.onnx", z_ref) - y_ref).max() < 1e-4
    assert np.abs(run("taef2_decoder_fp16.onnx", z_ref).astype(np.float32) - y_ref).max() < 1e-2


def _taef2_torch():
    import sys

    from livevis import ROOT

    sys.path.insert(0, str(ROOT / "tools"))
    import taef2_torch

    return taef2_torch


def test_weights_local_path_and_file_url_download_with_sha256(cache):
    from livevis.render.latent.weights import TAEF2_FILES, fetch, taef2_weights

    shared_file("assets/taef2/taef2_decoder.pth")
    local = taef2_weights(TAEF2_DIR)
    assert local["decoder"] == TAEF2_DIR / "taef2_decoder.pth"
    spec = TAEF2_FILES["decoder"]
    assert spec.url.startswith("https://")
    got = fetch((TAEF2_DIR / spec.name).as_uri(), spec.sha256, spec.name)
    assert got.is_relative_to(cache) and hashlib.sha256(got.read_bytes()).hexdigest() == spec.sha256
    again = taef2_weights(TAEF2_DIR.as_uri() + "/")  # second time: served from the cache
    assert again["decoder"] == got


def test_sha256_mismatch_is_refused(tmp_path, cache):
    from livevis.render.latent.weights import TAEF2_FILES, fetch

    shared_file("assets/taef2/taef2_encoder.pth")
    wrong = tmp_path / "taef2_decoder.pth"
    shutil.copy(TAEF2_DIR / "taef2_encoder.pth", wrong)  # right format, wrong file
    with pytest.raises(ModelError, match="sha256 mismatch"):
        fetch(wrong.as_uri(), TAEF2_FILES["decoder"].sha256, "mismatch.pth")
    assert not list((cache / "weights").glob("mismatch.pth*")), "a refused download must be deleted"
    with pytest.raises(ModelError, match=str(wrong)):
        fetch(wrong, TAEF2_FILES["decoder"].sha256)


def test_wrong_shape_weights_name_the_file():
    shared_file("assets/taef2/taef2_encoder.pth")
    pytest.importorskip("torch", reason="loading the published weights needs torch (the train extra)")
    # encoder weights given as decoder weights: wrong keys/shapes
    with pytest.raises(ModelError, match="taef2_encoder.pth.*does not match the TAEF2 decoder"):
        _taef2_torch().load_module("decoder", TAEF2_DIR / "taef2_encoder.pth")


def test_wrong_models_name_the_file(tmp_path, codec):
    import onnx
    from onnx import TensorProto, helper

    from livevis.render.latent.runtime import TAEF2_CARD, LatentCodec, ModelCard, load_taef2

    with pytest.raises(ModelError, match=r"nowhere.*taef2_encoder\.onnx.*tools/export_taef2\.py"):
        load_taef2(model_dir=tmp_path / "nowhere")
    # an ONNX "decoder" taking 4 channels where the card says 32
    x = helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["n", 4, "h", "w"])
    y = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 4, "h", "w"])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["latent"], ["image"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    bad = tmp_path / "bad_decoder.onnx"
    onnx.save(model, bad)
    with pytest.raises(ModelError, match=r"bad_decoder\.onnx.*do not match the model card"):
        LatentCodec(codec.encoder_path, bad, TAEF2_CARD)
    # a card claiming the wrong scale factor
    with pytest.raises(ModelError, match=r"decoder\.onnx.*scale factor 16"):
        LatentCodec(codec.encoder_path, codec.decoder_path, ModelCard("taef2", 32, 16))
    # not an ONNX file at all
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelError, match=r"junk\.onnx"):
        LatentCodec(junk, codec.decoder_path, TAEF2_CARD)


# -- slerp ----------------------------------------------------------------------------------
def test_slerp_endpoints_norm_and_constant_angular_speed():
    from livevis.render.latent.slerp import slerp

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((32, 8, 8)), rng.standard_normal((32, 8, 8))
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-12)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-12)
    ua, ub = a / np.linalg.norm(a), b / np.linalg.norm(b)
    ts = np.linspace(0, 1, 21)
    path = slerp(ua, ub, ts)
    assert path.shape == (21, 32, 8, 8)
    norms = np.linalg.norm(path.reshape(21, -1), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-9)
    flat = path.reshape(21, -1)
    steps = np.arccos(np.clip((flat[1:] * flat[:-1]).sum(1), -1, 1))
    np.testing.assert_allclose(steps, steps.mean(), rtol=1e-6)
    total = np.arccos(np.clip(np.vdot(ua, ub), -1, 1))
    np.testing.assert_allclose(steps.sum(), total, rtol=1e-6)
    # nearly parallel inputs fall back to lerp without NaNs
    assert np.isfinite(slerp(ua, ua * (1 + 1e-9), 0.5)).all()
    with pytest.raises(ValueError):
        slerp(a, b[:, :4], 0.5)


# -- pacing ---------------------------------------------------------------------------------
class _NullEmotion:
    def step(self, features):
        return 0.0, 0.0, np.zeros(17, dtype=np.float32)


@pytest.fixture(scope="module")
def music_states():
    """Analysis states of the first 12 s of a real pop/jazz track (Vibe Ace)."""
    from livevis.analysis.analyzer import Analyzer
    from livevis.audio.decode import load_audio

    path = shared_file("audio/librosa-data/Kevin_MacLeod_-_Vibe_Ace.ogg")
    audio, rate = load_audio(path)
    mono = audio.mean(axis=1)[: 12 * rate]
    # 3 s of digital silence in the middle: the picture must rest there
    mono[5 * rate: 8 * rate] = 0.0
    return Analyzer(rate, _NullEmotion()).feed(mono.astype(np.float32))


def _progress_trace(engine, states):
    seg, prog = [], []
    for s in states:
        engine.update(s)
        seg.append(engine.segment_index)
        prog.append(engine.progress)
    return np.array(seg), np.array(prog)


@pytest.mark.parametrize("policy", ["causal", "exact"])
def test_energy_progress_monotone_rests_in_silence_jumps_on_onsets(policy, codec, keyframes, music_states):
    from livevis.render.latent.engine import LatentEngine

    energies = [s.energy for s in music_states]
    eng = LatentEngine(codec, keyframes, segment=4.0, policy=policy, energies=energies)
    seg, prog = _progress_trace(eng, music_states)
    assert ((prog >= 0) & (prog <= 1)).all()
    for k in np.unique(seg):  # monotone inside every segment
        assert (np.diff(prog[seg == k]) >= -1e-12).all()
    times = np.array([s.time for s in music_states])
    quiet = (times > 5.6) & (times < 8.0)  # silence (after the 0.5 s window has emptied)
    q = np.flatnonzero(quiet)
    same_seg = seg[q[1:]] == seg[q[:-1]]
    assert np.abs(np.diff(prog[q]))[same_seg].max() < 1e-3, "progress must rest in silence"
    # steps follow onsets: the biggest steps happen on hops with strong onsets
    steps = np.diff(prog)
    steps[seg[1:] != seg[:-1]] = 0.0
    onset = np.array([s.onset for s in music_states])[1:]
    e = np.array(energies)[1:]
    assert np.corrcoef(steps, e)[0, 1] > 0.6
    big = steps > np.percentile(steps[steps > 0], 90)
    assert onset[big].mean() > 1.5 * onset.mean()


def test_sub_hop_frames_move_on_the_hit_inside_the_hop(codec, keyframes):
    """Offline sub-hop frames follow the hop's 10 ms energy envelope: with all the energy in
    the 8th 10 ms frame, frames before it stay at the previous hop's picture and frames after
    it are at this hop's; the linear baseline spreads the motion evenly."""
    from livevis.render.latent.engine import LatentEngine

    env = np.zeros(10, np.float32)
    env[7] = 1e-3
    hit = AnalysisState(time=0.2, energy=float(env.mean()), energy_envelope=env)
    alphas = [0.2, 0.5, 0.7, 0.75, 0.8, 1.0]
    for policy in ("exact", "causal"):
        eng = LatentEngine(codec, keyframes, segment=1.0, policy=policy, energies=[1e-4, float(env.mean())])
        assert np.allclose(eng.sub_hop_weights(hit, alphas), [0, 0, 0, 0.5, 1, 1])
        eng.update(AnalysisState(time=0.1, energy=1e-4, energy_envelope=np.full(10, 1e-4, np.float32)))
        before = codec.decode(eng._latent)[0].astype(np.float32)
        frames = eng.frames_sync(hit, alphas).astype(np.float32)
        after = codec.decode(eng._latent)[0].astype(np.float32)
        assert np.abs(after - before).mean() > 1.0, "the hit must move the picture"
        assert np.abs(frames[0] - before).mean() < 0.01 * np.abs(after - before).mean() + 0.5
        assert np.abs(frames[-1] - after).mean() < 0.5
    lin = LatentEngine(codec, keyframes, segment=1.0, policy="linear")
    assert np.allclose(lin.sub_hop_weights(hit, alphas), alphas)
    silent = AnalysisState(time=0.3, energy=0.0, energy_envelope=np.zeros(10, np.float32))
    assert np.allclose(eng.sub_hop_weights(silent, alphas), alphas)  # nothing to weigh by: even


def test_linear_and_causal_segments_last_about_the_segment_length(codec, keyframes):
    from livevis.render.latent.engine import LatentEngine

    steady = [AnalysisState(time=0.1 * (i + 1), energy=1e-4) for i in range(100)]
    for policy in ("linear", "causal"):
        seg, _ = _progress_trace(LatentEngine(codec, keyframes, segment=2.0, policy=policy), steady)
        assert seg[-1] in (4, 5), (policy, seg[-1])  # 10 s / 2 s per segment
    beats = [AnalysisState(time=0.1 * (i + 1), energy=1e-4, tempo=150.0) for i in range(100)]
    seg, _ = _progress_trace(LatentEngine(codec, keyframes, segment=4, segment_unit="beats", policy="linear"), beats)
    assert seg[-1] in (5, 6)  # 4 beats at 150 BPM = 1.6 s


# -- keyframes ------------------------------------------------------------------------------
def test_keyframe_choice_follows_valence_arousal_without_immediate_repeats():
    from livevis.render.latent.keyframes import KeyframeChooser

    attrs = [(-0.8, -0.8), (-0.8, 0.8), (0.8, -0.8), (0.8, 0.8), (0.0, 0.0)]
    ch = KeyframeChooser(attrs, seed=3)
    picks, cur = [], 0
    for _ in range(200):
        cur = ch.choose(0.9, 0.9, cur)
        picks.append(cur)
    picks = np.array(picks)
    assert (picks[1:] != picks[:-1]).all(), "never the same keyframe twice in a row"
    counts = np.bincount(picks, minlength=5)
    assert counts[3] == counts.max() and counts[3] >= 80, counts  # the happy/excited one
    assert counts[0] <= 5, counts  # the sad/calm one is far away
    ch2 = KeyframeChooser(attrs, seed=3)
    picks2, cur = [], 0
    for _ in range(200):
        cur = ch2.choose(-0.9, -0.9, cur)
        picks2.append(cur)
    assert np.bincount(picks2, minlength=5).argmax() == 0
    # with two keyframes the choice alternates
    two = KeyframeChooser([(0, 0), (0.1, 0.1)], seed=0)
    seq, cur = [], 0
    for _ in range(6):
        cur = two.choose(0.0, 0.0, cur)
        seq.append(cur)
    assert seq == [1, 0, 1, 0, 1, 0]


def test_colour_estimate_orders_images_sensibly(photos):
    from livevis.render.latent.keyframes import estimate_valence_arousal, hsi_stats, load_image

    coffee = estimate_valence_arousal(load_image(photos / "coffee.png"))     # warm, saturated
    rocket = estimate_valence_arousal(load_image(photos / "rocket.jpg"))     # dark blue dusk
    grey = estimate_valence_arousal(load_image(_skimage_data() / "camera.png"))
    assert coffee[0] > rocket[0] and coffee[1] > grey[1]
    assert all(-1 <= v <= 1 for v in (*coffee, *rocket, *grey))
    st = hsi_stats(load_image(photos / "coffee.png"))
    assert 0 <= st["saturation"] <= 1 and 0 <= st["intensity"] <= 1 and 0 <= st["hue"] < 360


def test_preset_attributes_override_the_estimate(codec, photos, cache):
    from livevis.render.latent.keyframes import LatentCache, load_keyframes

    kfs = load_keyframes([{"path": photos / "rocket.jpg", "valence": 0.7, "arousal": -0.2}, photos / "coffee.png"],
                         codec, SIZE, LatentCache(cache / "latents"))
    assert (kfs[0].valence, kfs[0].arousal, kfs[0].estimated) == (0.7, -0.2, False)
    assert kfs[1].estimated


def test_latent_cache_hit_on_second_load_by_image_hash(codec, photos, tmp_path):
    from livevis.render.latent.keyframes import LatentCache, load_keyframes

    cache = LatentCache(tmp_path / "latents")
    first = load_keyframes(photos, codec, SIZE, cache)
    assert (cache.hits, cache.misses) == (0, 5)
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    shutil.copy(photos / "chelsea.png", renamed / "cat.png")  # same bytes, other name
    second = load_keyframes([photos, renamed], codec, SIZE, cache)
    assert (cache.hits, cache.misses) == (6, 5)
    np.testing.assert_array_equal(first[1].latent, second[1].latent)
    np.testing.assert_array_equal(second[5].latent, first[1].latent)
    assert len(list((tmp_path / "latents").glob("taef2*.npy"))) == 5


def test_fitted_pictures_are_cached_and_a_bad_entry_is_rebuilt(codec, photos, tmp_path):
    """The cover-fit picture is cached beside the latent (a 4096² wallpaper is decoded once):
    the second load gives the same pictures from the cache; a truncated entry is rebuilt."""
    from livevis.render.latent.keyframes import LatentCache, load_keyframes

    cache = LatentCache(tmp_path / "latents")
    first = load_keyframes(photos, codec, SIZE, cache)
    entries = sorted((tmp_path / "latents").glob("image-*.npy"))
    assert len(entries) == 5
    entries[0].write_bytes(entries[0].read_bytes()[:100])
    second = load_keyframes(photos, codec, SIZE, cache)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.image, b.image)
    assert np.load(entries[0]).shape == (SIZE[1], SIZE[0], 3)


def test_bad_keyframes_empty_folder_and_disabled_layer(codec, photos, tmp_path):
    from livevis.render.latent.engine import build_engine
    from livevis.render.latent.keyframes import KeyframeError, LatentCache, load_keyframes

    cache = LatentCache(tmp_path / "latents")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(KeyframeError, match=r"empty.*no image files"):
        load_keyframes(empty, codec, SIZE, cache)
    fake = tmp_path / "fake.png"
    fake.write_text("not a png")
    with pytest.raises(KeyframeError, match=r"fake\.png.*not a readable image"):
        load_keyframes([photos / "coffee.png", fake], codec, SIZE, cache)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes((photos / "rocket.jpg").read_bytes()[:300])
    with pytest.raises(KeyframeError, match=r"truncated\.jpg"):
        load_keyframes(truncated, codec, SIZE, cache)
    with pytest.raises(KeyframeError, match=r"missing\.png.*not found"):
        load_keyframes(tmp_path / "missing.png", codec, SIZE, cache)
    assert issubclass(KeyframeError, LivevisError)
    # skip_bad keeps the good ones and reports the bad one
    warned = []
    kfs = load_keyframes([photos / "coffee.png", fake], codec, SIZE, cache, skip_bad=True, warn=warned.append)
    assert len(kfs) == 1 and "fake.png" in warned[0]
    # the layer is disabled with a message naming the file; nothing raises
    engine, message = build_engine([fake], size=SIZE, cache_dir=tmp_path / "c")
    assert engine is None and "fake.png" in message and message.startswith("latent image layer disabled")
    engine, message = build_engine(empty, size=SIZE, cache_dir=tmp_path / "c")
    assert engine is None and "no image files" in message
    junk_model = tmp_path / "junkmodel"
    junk_model.mkdir()
    (junk_model / "card.json").write_text('{"name": "x", "latent_channels": 4, "scale_factor": 8}')
    (junk_model / "encoder.onnx").write_bytes(b"junk")
    (junk_model / "decoder.onnx").write_bytes(b"junk")
    engine, message = build_engine(photos, model_dir=junk_model, size=SIZE, cache_dir=tmp_path / "c")
    assert engine is None and "encoder.onnx" in message


# -- engine / threads -----------------------------------------------------------------------
class _SlowCodec:
    """The real codec behind a deliberate delay, to stand for a decoder slower than the hops."""

    def __init__(self, codec, delay: float) -> None:
        self.codec, self.delay, self.card = codec, delay, codec.card
        self.active = threading.Event()

    def decode(self, z):
        self.active.set()
        time.sleep(self.delay)
        out = self.codec.decode(z)
        self.active.clear()
        return out


def test_decoder_thread_never_blocks_latest_frame_and_holds_at_most_two(codec, keyframes):
    from livevis.render.latent.engine import LatentEngine

    slow = _SlowCodec(codec, 0.15)
    eng = LatentEngine(slow, keyframes, segment=1.0, policy="causal").start()
    try:
        assert eng.latest_frame() is None
        waits, pending = [], []
        for h in range(30):
            eng.update(AnalysisState(time=0.02 * h, energy=1e-4 * (1 + h % 3)))
            pending.append(eng.pending())
            for _ in range(5):  # the render loop polls between hops
                t0 = time.perf_counter()
                eng.latest_frame()
                waits.append(time.perf_counter() - t0)
            time.sleep(0.02)
        assert max(pending) <= 2 and eng.stats.max_pending <= 2
        assert max(waits) < 0.005, f"latest_frame waited {max(waits) * 1e3:.1f} ms"
        assert slow.active.is_set() or eng.stats.decoded > 0
        deadline = time.monotonic() + 5
        while eng.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.4)
        frame = eng.latest_frame()
        assert frame is not None and frame.image.shape == (SIZE[1], SIZE[0], 3)
        assert frame.hop == 29, "the newest hop is decoded last"
        assert eng.stats.dropped > 0, "stale frames are dropped when the decoder is slow"
        assert eng.stats.decoded + eng.stats.dropped == eng.stats.submitted
        if sys.platform.startswith("linux"):  # a thread's niceness is its own there
            from livevis.render.latent.engine import DECODE_NICE

            worker = eng._worker
            base, nice = os.nice(0), os.getpriority(os.PRIO_PROCESS, worker.native_id)
            assert nice == min(19, base + DECODE_NICE) and (nice > base or base == 19)
    finally:
        eng.stop()


def test_decode_thread_batches_in_between_pictures_paced_by_the_envelope(codec, keyframes):
    """With sub_frames = N > 1 (the GPU mode) the decode thread decodes each hop's N
    in-between latents in one batch: slerp(previous, current, w(i/N)), w from the hop's 10 ms
    energy envelope — with the hit in the hop's last 10 ms, the first N−1 pictures are still
    the previous hop's and the last is the hop's own."""
    from livevis.render.latent.engine import LatentEngine

    eng = LatentEngine(codec, keyframes, segment=1.0, policy="causal", sub_frames=3).start()
    try:
        even = np.full(10, 1e-4, np.float32)
        late = np.zeros(10, np.float32)
        late[9] = 1e-2
        first = eng.update(AnalysisState(time=0.1, energy=float(even.mean()), energy_envelope=even))
        second = eng.update(AnalysisState(time=0.2, energy=float(late.mean()), energy_envelope=late))
        deadline = time.monotonic() + 20
        while (eng.latest_frame() is None or eng.latest_frame().hop < 1) and time.monotonic() < deadline:
            time.sleep(0.02)
        frame = eng.latest_frame()
        assert frame is not None and frame.hop == 1
        assert frame.sub_images is not None and frame.sub_images.shape == (3, SIZE[1], SIZE[0], 3)
        assert np.array_equal(frame.sub_images[-1], frame.image)
        prev_pic, this_pic = codec.decode(first)[0].astype(int), codec.decode(second)[0].astype(int)
        assert np.abs(this_pic - prev_pic).mean() > 1.0
        for pic in frame.sub_images[:2]:
            assert np.abs(pic.astype(int) - prev_pic).max() <= 1
        assert np.abs(frame.image.astype(int) - this_pic).max() <= 1
    finally:
        eng.stop()


def test_glide_passes_through_the_pictures_evenly(ctx):
    """The live glide from the picture on screen through two more (an in-between and the decoded
    one), as a GPU cross-fade on a real image layer: evenly spaced, and each picture reached."""
    from livevis.render import ImageLayer
    from livevis.render.latent.layer import glide_step

    layer = ImageLayer(ctx)
    try:
        pics = [np.full((4, 4, 3), v, np.uint8) for v in (0, 100, 200)]
        layer.set_image(pics[0])
        stop = 0
        layer.glide_to(pics[1])
        for a, want in ((0.0, 0), (0.25, 50), (0.5, 100), (0.75, 150), (1.0, 200), (1.5, 200)):
            k, mix = glide_step(2, a)
            while stop < k:  # as the driver does: reach the stop, then fade on from it
                layer.set_mix(1.0)
                stop += 1
                layer.glide_to(pics[stop + 1])
            layer.set_mix(mix)
            assert np.abs(layer.picture().astype(int) - want).max() <= 1, (a, layer.picture()[0, 0])
        assert glide_step(1, 0.3) == (0, pytest.approx(0.3))  # one stop: a plain cross-fade
    finally:
        layer.release()


def test_offline_path_is_deterministic_and_noise_is_seeded(codec, keyframes, music_states):
    from livevis.render.latent.engine import LatentEngine

    states = music_states[:40]
    runs = []
    for _ in range(2):
        eng = LatentEngine(codec, keyframes, segment=1.0, policy="exact", noise_sigma=0.2, seed=7,
                           energies=[s.energy for s in states])
        runs.append([eng.frame_sync(s) for s in states[::8]])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    plain = LatentEngine(codec, keyframes, segment=1.0, policy="exact", energies=[s.energy for s in states])
    noisy = LatentEngine(codec, keyframes, segment=1.0, policy="exact", noise_sigma=0.2, seed=7,
                         energies=[s.energy for s in states])
    assert not np.array_equal(plain.update(states[0]), noisy.update(states[0]))


def test_each_hop_is_on_its_segments_great_circle_between_the_noisy_keyframes(codec, keyframes, music_states):
    """The walk's latent at every hop is slerp(noisy z_A, noisy z_B, progress) of its segment,
    through several segments (the path is made once per segment; it was made every hop), and the
    segments join: the noise at a boundary is the same on both sides of it."""
    from livevis.render.latent.engine import LatentEngine
    from livevis.render.latent.slerp import slerp

    states = music_states[:60]
    eng = LatentEngine(codec, keyframes, segment=0.8, segment_unit="seconds", policy="exact",
                       noise_sigma=0.2, seed=3, energies=[s.energy for s in states])
    segments = set()
    for s in states:
        z = eng.update(s)
        a, b = eng.keyframes[eng.current].latent, eng.keyframes[eng.target].latent
        za = a + eng._noise(eng.segment_index, a)
        zb = b + eng._noise(eng.segment_index + 1, b)
        np.testing.assert_array_equal(z, slerp(za, zb, eng.progress).astype(np.float32))
        segments.add(eng.segment_index)
    assert len(segments) >= 3


def test_engine_rejects_bad_arguments(codec, keyframes):
    from livevis.render.latent.engine import LatentEngine

    with pytest.raises(ValueError, match="policy"):
        LatentEngine(codec, keyframes, policy="cubic")
    with pytest.raises(ValueError, match="energies"):
        LatentEngine(codec, keyframes, policy="exact")
    with pytest.raises(ValueError, match="segment"):
        LatentEngine(codec, keyframes, segment=0)
    with pytest.raises(ValueError, match="sub_frames"):
        LatentEngine(codec, keyframes, sub_frames=0)


def test_offline_driver_moves_right_after_each_hit(ctx, cache, photos):
    """Offline (synchronous) the latent layer moves on the music's hits (issue 14, motion on the
    beat): a hit's picture is half-way on the frame where the hit first shows, fully there one
    30 fps frame later, and held until the next hit; a hop without a hit moves nothing, and the
    next hit glides to the newest picture, the only one of those hops that is decoded. Each
    picture is uploaded once and the glide is a cross-fade on the GPU."""
    from livevis.control.presets import LatentSpec, Preset
    from livevis.render import ImageLayer
    from livevis.render.latent.layer import LatentLayerDriver

    def hop(time, hit_frame, onset):
        env = np.full(10, 1e-6, np.float32)
        env[hit_frame] = 1e-2
        return AnalysisState(time=time, energy=float(env.mean()), energy_envelope=env, onset=onset)

    layer = ImageLayer(ctx)
    uploads = []
    real_set, real_glide = layer.set_image, layer.glide_to
    layer.set_image = lambda image: (uploads.append("set"), real_set(image))
    layer.glide_to = lambda image: (uploads.append("glide"), real_glide(image))
    preset = Preset(latent=LatentSpec(keyframes=[str(photos)], segment_beats=8, noise_sigma=0.15))
    drv = LatentLayerDriver(preset, layer, say=lambda m: None, synchronous=True)
    assert drv.engine is not None, drv.message
    decodes = []
    real_decode = drv.engine.decode
    drv.engine.decode = lambda latent: (decodes.append(1), real_decode(latent))[1]
    fps = 30.0
    states = [hop(0.1, 0, 0.0), hop(0.2, 0, 0.9), hop(0.3, 8, 0.0), hop(0.4, 0, 0.9)]
    shown = []
    for i in range(3, 14):  # frames at 0.1 … 0.433 s
        t = i / fps
        state = [s for s in states if s.time <= t + 1e-9][-1]
        drv.update(state, t)
        shown.append(layer.picture().astype(np.float32))
    # frames: 0.1 (hop 1: shown at once), 0.133, 0.167 | 0.2 (hop 2, a hit), 0.233, 0.267 |
    #         0.3 (hop 3, no hit), 0.333, 0.367 | 0.4 (hop 4, a hit), 0.433
    a, half, b = shown[0], shown[3], shown[4]
    assert np.abs(shown[2] - a).mean() < 1e-3, "held between hops"
    assert np.abs(b - a).mean() > 0.5, "the hit moves the picture"
    np.testing.assert_allclose(half, (a + b) / 2, atol=1.01)  # half-way on the hit's frame
    assert max(np.abs(f - b).mean() for f in shown[5:9]) < 1e-3, "held over the hop without a hit"
    c = shown[10]
    assert np.abs(c - b).mean() > 0.5
    assert np.abs(shown[9] - (b + c) / 2).mean() < 1.01
    assert uploads == ["set", "glide", "glide"]  # one upload per glide, none per frame
    assert len(decodes) == 3, "decoded only what is shown: not the hop without a hit"
    # music without accents: after QUIET_S without a hit the picture glides on, slowly
    from livevis.render.latent.layer import QUIET_GLIDE_S, QUIET_S

    quiet = []
    for i in range(14, 14 + int((QUIET_S + QUIET_GLIDE_S + 0.5) * fps)):
        t = i / fps
        drv.update(hop(round(t * 10) / 10, 0, 0.0), t)
        quiet.append((t, np.abs(layer.picture().astype(np.float32) - c).mean()))
    assert max(d for t, d in quiet if t < 0.4 + QUIET_S - 0.05) < 1e-3, "held until QUIET_S after the hit"
    moving = [d for t, d in quiet if t > 0.4 + QUIET_S + 0.1]
    assert moving[-1] > 0.5 and len(uploads) == 4 and moving == sorted(moving), "a slow glide, once"
    assert len(decodes) == 4, "the quiet hops are walked, not decoded, until the glide"
    drv.close()
    layer.release()


