"""Rendering on a real (headless EGL) OpenGL context: blend maths, the AU face, background."""

from __future__ import annotations

import numpy as np
import pytest

moderngl = pytest.importorskip("moderngl")

from livevis.render import (  # noqa: E402
    BackgroundLayer, Compositor, FaceLayer, ImageLayer, ScreenBlitter, ShaderError, ShaderLayer, SolidLayer,
    load_program,
)
from livevis.analysis.state import AU_INDEX, AnalysisState  # noqa: E402

TOL = 2




def aus(**values: float) -> np.ndarray:
    a = np.zeros(17, np.float32)
    for name, v in values.items():
        a[AU_INDEX[name]] = v
    return a


def render(ctx, layers, state=None, size=(64, 36), t=0.0) -> np.ndarray:
    comp = Compositor(ctx, *size, layers)
    try:
        comp.render(state or AnalysisState(), t)
        return comp.read_rgb().astype(np.int32)
    finally:
        comp.release()


# ---------------------------------------------------------------- compositor / blending

DST = np.array([0.2, 0.4, 0.6])
SRC = np.array([0.9, 0.5, 0.1])
SRC_ALPHA, OPACITY = 0.5, 0.8


@pytest.mark.parametrize("mode, formula", [
    ("normal", lambda d, s, a: d * (1 - a) + s * a),
    ("add", lambda d, s, a: d + s * a),
    ("screen", lambda d, s, a: 1 - (1 - d) * (1 - s * a)),
    ("multiply", lambda d, s, a: d * (1 - a) + d * s * a),
])
def test_blend_modes_exact(ctx, mode, formula):
    layers = [SolidLayer(ctx, DST), SolidLayer(ctx, (*SRC, SRC_ALPHA), opacity=OPACITY, blend=mode)]
    img = render(ctx, layers)
    expected = np.round(np.clip(formula(DST, SRC, SRC_ALPHA * OPACITY), 0, 1) * 255)
    assert np.abs(img - expected).max() <= TOL, (mode, img[0, 0], expected)
    assert (img == img[0, 0]).all()  # uniform


TWO_OUTPUTS = """#version 330 core
uniform vec4 u_color;
layout(location = 0) out vec4 f_color;
layout(location = 1) out vec4 f_unused;
void main() { f_color = u_color; f_unused = vec4(0.0); }
"""


class ScratchSolid(ShaderLayer):
    """A solid colour from a shader with two outputs: it cannot be wrapped to premultiply, so
    the compositor draws it through its scratch framebuffer and the blend pass."""

    def __init__(self, ctx, path, color, **kw):
        super().__init__(ctx, fragment=str(path), **kw)
        self.color = color

    def set_uniforms(self, state, t, size):
        self.uniform("u_color", tuple(self.color))


@pytest.mark.parametrize("mode, formula", [
    ("normal", lambda d, s, a: d * (1 - a) + s * a),
    ("add", lambda d, s, a: d + s * a),
    ("screen", lambda d, s, a: 1 - (1 - d) * (1 - s * a)),
    ("multiply", lambda d, s, a: d * (1 - a) + d * s * a),
])
def test_scratch_layers_blend_like_direct_ones(ctx, tmp_path, mode, formula):
    path = tmp_path / "two_outputs.frag"
    path.write_text(TWO_OUTPUTS)
    scratch = ScratchSolid(ctx, path, (*SRC, SRC_ALPHA), opacity=OPACITY, blend=mode)
    direct = SolidLayer(ctx, (*SRC, SRC_ALPHA), opacity=OPACITY, blend=mode)
    assert direct.direct and not scratch.direct
    expected = np.round(np.clip(formula(DST, SRC, SRC_ALPHA * OPACITY), 0, 1) * 255)
    for layer in (scratch, direct):
        img = render(ctx, [SolidLayer(ctx, DST), layer])
        assert np.abs(img - expected).max() <= TOL, (mode, layer.direct, img[0, 0], expected)
        assert (img == img[0, 0]).all()


def test_premultiplied_source_wraps_one_output_only():
    from livevis.render.shaders import OPACITY_UNIFORM, premultiplied_source

    assert premultiplied_source(TWO_OUTPUTS) is None
    assert premultiplied_source("out vec4 c;\nvoid main() { c = vec4(1.0); }\n") is None  # no #version
    wrapped = premultiplied_source("#version 330 core\nout vec4 c;\nvoid main() { c = vec4(1.0); }\n")
    assert wrapped.startswith("#version 330 core\n#define main livevis_layer_main\n#line 2\n")
    assert f"c = vec4(livevis_c.rgb * livevis_c.a, livevis_c.a) * {OPACITY_UNIFORM};" in wrapped


class CountingSolid(SolidLayer):
    """A solid layer that counts its draws."""

    draws = 0

    def draw(self, state, t, size):
        self.draws += 1
        super().draw(state, t, size)


def test_invisible_layers_are_not_drawn(ctx):
    off = CountingSolid(ctx, (1, 0, 0), opacity=0.0)
    clear = CountingSolid(ctx, (1, 0, 0, 0.0))
    on = CountingSolid(ctx, (0, 0, 1), opacity=0.5, blend="add")
    image = ImageLayer(ctx)  # no image yet
    assert not off.visible and not clear.visible and on.visible and not image.visible
    img = render(ctx, [SolidLayer(ctx, (0, 0.5, 0)), off, clear, image, on])
    assert (off.draws, clear.draws, on.draws) == (0, 0, 1)
    assert np.abs(img[0, 0] - [0, 128, 128]).max() <= TOL


def test_add_clamps_and_layer_order(ctx):
    img = render(ctx, [SolidLayer(ctx, (0.8, 0.8, 0.8)), SolidLayer(ctx, (0.9, 0.1, 0.0), blend="add")])
    assert np.abs(img[0, 0] - [255, 230, 204]).max() <= TOL
    # order matters: a later opaque normal layer hides everything below
    img = render(ctx, [SolidLayer(ctx, (1, 0, 0)), SolidLayer(ctx, (0, 0, 1))])
    assert np.abs(img[0, 0] - [0, 0, 255]).max() <= TOL


def test_no_layers_is_black_and_opacity_zero_is_invisible(ctx):
    assert render(ctx, []).max() == 0
    img = render(ctx, [SolidLayer(ctx, (0, 1, 0)), SolidLayer(ctx, (1, 0, 0), opacity=0.0)])
    assert np.abs(img[0, 0] - [0, 255, 0]).max() <= TOL


def test_invalid_blend_raises(ctx):
    with pytest.raises(ValueError, match="normal, add, screen, multiply"):
        SolidLayer(ctx, (1, 1, 1), blend="overlay")
    layer = SolidLayer(ctx, (1, 1, 1))
    with pytest.raises(ValueError, match="choose one of"):
        layer.blend = "burn"
    layer.release()


def test_read_rgb_shape_dtype_and_top_row_first(ctx):
    comp = Compositor(ctx, 320, 180, [SolidLayer(ctx, (0, 0, 0)), ImageLayer(ctx)])
    comp.render(AnalysisState(), 0.0)
    rgb = comp.read_rgb()
    assert rgb.shape == (180, 320, 3) and rgb.dtype == np.uint8
    assert rgb.max() == 0  # image layer is hidden until an image is set
    image = np.zeros((90, 160, 3), np.uint8)
    image[:45] = (255, 0, 0)   # top half red
    image[45:] = (0, 0, 255)   # bottom half blue
    comp.layers[1].set_image(image)
    comp.render(AnalysisState(), 0.0)
    rgb = comp.read_rgb()
    assert tuple(rgb[5, 160]) == (255, 0, 0)
    assert tuple(rgb[-5, 160]) == (0, 0, 255)
    assert comp.texture.size == (320, 180) and comp.fbo.size == (320, 180)
    comp.release()


def test_image_layer_rejects_bad_arrays(ctx):
    layer = ImageLayer(ctx)
    with pytest.raises(ValueError):
        layer.set_image(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        layer.set_image(np.zeros((4, 4, 3), np.float32))
    layer.release()


def test_screen_blitter_letterboxes(ctx):
    comp = Compositor(ctx, 64, 32, [SolidLayer(ctx, (1, 1, 1))])
    comp.render(AnalysisState(), 0.0)
    target_tex = ctx.texture((64, 64), 4)
    target = ctx.framebuffer(color_attachments=[target_tex])
    blitter = ScreenBlitter(ctx)
    blitter.draw(comp.texture, (64, 64), fbo=target)
    out = np.frombuffer(target.read(components=3), np.uint8).reshape(64, 64, 3)
    assert out[32, 32].min() >= 253  # picture in the middle
    assert out[2, 32].max() == 0 and out[61, 32].max() == 0  # black bars top and bottom
    assert ScreenBlitter.viewport((1280, 720), (1000, 1000)) == (0, 219, 1000, 562)
    for obj in (blitter, comp, target, target_tex):
        obj.release()


def test_shader_errors_name_the_file(ctx, tmp_path):
    (tmp_path / "ok.vert").write_text("#version 330 core\nvoid main() { gl_Position = vec4(0.0); }\n")
    (tmp_path / "broken.frag").write_text("#version 330 core\nout vec4 c;\nvoid main() { c = nonsense; }\n")
    with pytest.raises(ShaderError, match=r"broken\.frag.*(?s:.)*nonsense"):
        load_program(ctx, "ok.vert", "broken.frag", shaders_dir=tmp_path)
    with pytest.raises(ShaderError, match=r"missing\.frag"):
        load_program(ctx, "ok.vert", "missing.frag", shaders_dir=tmp_path)


def test_shader_include_is_inlined_and_a_missing_one_named(ctx, tmp_path):
    (tmp_path / "ok.vert").write_text("#version 330 core\nvoid main() { gl_Position = vec4(0.0); }\n")
    (tmp_path / "grey.glsl").write_text("vec4 grey() { return vec4(0.5); }\n")
    (tmp_path / "uses.frag").write_text('#version 330 core\n#include "grey.glsl"\nout vec4 c;\n'
                                        'void main() { c = grey(); }\n')
    (tmp_path / "lost.frag").write_text('#version 330 core\n  #include "nowhere.glsl"\nout vec4 c;\n'
                                        'void main() { c = vec4(1.0); }\n')
    prog = load_program(ctx, "ok.vert", "uses.frag", shaders_dir=tmp_path)
    prog.release()
    with pytest.raises(ShaderError, match=r"nowhere\.glsl.*included by .*lost\.frag"):
        load_program(ctx, "ok.vert", "lost.frag", shaders_dir=tmp_path)


# ---------------------------------------------------------------- the face

FACE_SIZE = 256


def face(ctx, **au: float) -> np.ndarray:
    return render(ctx, [SolidLayer(ctx, (0.5, 0.5, 0.5)), FaceLayer(ctx)],
                  AnalysisState(aus=aus(**au)), size=(FACE_SIZE, FACE_SIZE))


def region(img, x0, x1, y0, y1):
    """Pixels of face-space box x0..x1, y0..y1 (y up, units of frame height, centre 0)."""
    s, c = FACE_SIZE, FACE_SIZE / 2
    return img[int(c - y1 * s):int(c - y0 * s), int(c + x0 * s):int(c + x1 * s)]


def dark(px) -> np.ndarray:
    return px.max(axis=2) < 90


def dark_centroid_row(px) -> float:
    rows, _ = np.nonzero(dark(px))
    assert rows.size > 0
    return rows.mean()


@pytest.fixture(scope="module")
def faces(ctx):
    return {
        "neutral": face(ctx),
        "smile": face(ctx, AU12=1.0),
        "frown": face(ctx, AU15=1.0),
        "open": face(ctx, AU26=1.0, AU25=1.0),
        "blink": face(ctx, AU45=1.0),
        "lowered": face(ctx, AU04=1.0),
        "raised": face(ctx, AU01=1.0, AU02=1.0),
    }


def test_face_is_centred_with_transparent_surroundings(faces):
    img = faces["neutral"]
    assert np.abs(img[:8, :8] - 128).max() <= TOL      # background shows at the corners
    assert np.abs(img[:, :8] - 128).max() <= TOL       # and at the sides
    assert (np.abs(img - 128).sum(axis=2) > 10).any(axis=1).sum() > 0.55 * FACE_SIZE  # ~60 % tall


def test_smile_raises_and_frown_lowers_mouth_corners(faces):
    box = (0.05, 0.12, -0.24, -0.075)
    rows = {k: dark_centroid_row(region(faces[k], *box)) for k in ("neutral", "smile", "frown")}
    assert rows["smile"] < rows["neutral"] - 2, rows   # rows grow downward
    assert rows["frown"] > rows["neutral"] + 2, rows


def test_jaw_drop_opens_the_mouth(faces):
    def inside(px):  # the dark red mouth interior
        r, g = px[..., 0], px[..., 1]
        return ((r > 2 * g + 20) & (r < 140)).sum()
    box = (-0.1, 0.1, -0.3, -0.08)
    assert inside(region(faces["neutral"], *box)) < 10
    assert inside(region(faces["open"], *box)) > 150


def test_blink_closes_the_eyes(faces):
    def white(px):
        return (px.min(axis=2) > 240).sum()
    box = (0.02, 0.16, -0.01, 0.1)
    assert white(region(faces["neutral"], *box)) > 12   # eye whites show
    assert white(region(faces["blink"], *box)) <= 2     # lids closed
    assert dark(region(faces["blink"], *box)).sum() < dark(region(faces["neutral"], *box)).sum()  # iris gone


def test_brow_lowerer_lowers_brows(faces):
    def brow_top(px):  # first dark row from the top = top edge of the brow
        return np.nonzero(dark(px).any(axis=1))[0][0]
    box = (0.06, 0.13, 0.04, 0.16)
    assert brow_top(region(faces["lowered"], *box)) > brow_top(region(faces["neutral"], *box)) + 4
    raised = region(faces["raised"], *box)
    assert brow_top(raised) < brow_top(region(faces["neutral"], *box)) - 4


def test_face_sways_over_time(ctx):
    layers = lambda: [SolidLayer(ctx, (0.5, 0.5, 0.5)), FaceLayer(ctx)]  # noqa: E731
    a = render(ctx, layers(), size=(128, 128), t=0.0)
    b = render(ctx, layers(), size=(128, 128), t=1.7)
    assert np.abs(a - b).sum(axis=2).astype(bool).sum() > 50


# ---------------------------------------------------------------- the background

def test_background_moves_with_time(ctx):
    state = AnalysisState(arousal=0.5)
    a = render(ctx, [BackgroundLayer(ctx)], state, size=(96, 54), t=0.0)
    b = render(ctx, [BackgroundLayer(ctx)], state, size=(96, 54), t=20.0)
    assert np.abs(a - b).mean() > 3


def _quiet_and_hit_change(ctx, params=None):
    comp = Compositor(ctx, 96, 54, [BackgroundLayer(ctx, params=params)])
    try:
        frames, fps = {}, 30
        for i in range(3 * fps + 1):  # 3 s at 30 fps; the hit is the hop at 2.5 s
            t = i / fps
            hop = np.floor(t * 10 + 1e-9) / 10
            comp.render(AnalysisState(arousal=0.5, onset=1.0 if abs(hop - 2.5) < 1e-6 else 0.3, time=hop), t)
            frames[i] = comp.read_rgb().astype(np.int32)
        quiet = np.abs(frames[69] - frames[66]).mean()   # 2.2 → 2.3 s
        hit = np.abs(frames[77] - frames[74]).mean()     # 2.47 → 2.57 s: the hit is shown at 2.5 s
    finally:
        comp.release()
    return quiet, hit


def test_background_jumps_on_a_hit_and_rests_in_quiet(ctx):
    """Issue 14, motion on the beat: hops every 0.1 s with a steady onset strength of 0.3 (a quiet
    passage), then one hit (onset 1.0): the picture changes several times more in the 0.1 s after
    the hit than in a quiet 0.1 s."""
    quiet, hit = _quiet_and_hit_change(ctx)
    assert hit > 4 * quiet and hit > 2.0, (quiet, hit)


def test_background_kick_param_softens_the_hits(ctx):
    """``params.kick`` (the accessibility preset's 0.2) scales the hit's jump and pulse down."""
    _, hit = _quiet_and_hit_change(ctx)
    _, soft = _quiet_and_hit_change(ctx, {"kick": 0.2})
    assert soft < 0.5 * hit, (soft, hit)


def test_background_hue_follows_valence(ctx):
    sad = render(ctx, [BackgroundLayer(ctx)], AnalysisState(valence=-1.0), size=(96, 54), t=1.0)
    happy = render(ctx, [BackgroundLayer(ctx)], AnalysisState(valence=1.0), size=(96, 54), t=1.0)
    sad_m, happy_m = sad.reshape(-1, 3).mean(0), happy.reshape(-1, 3).mean(0)
    assert sad_m[2] > sad_m[0] + 10, sad_m        # cold: blue over red
    assert happy_m[0] > happy_m[2] + 30, happy_m  # warm: red/orange over blue


def test_background_reacts_to_bass_and_onsets(ctx):
    quiet = render(ctx, [BackgroundLayer(ctx)], AnalysisState(), size=(96, 54), t=1.0)
    loud = render(ctx, [BackgroundLayer(ctx)], AnalysisState(bass=1.0, onset=1.0, rms=0.5), size=(96, 54), t=1.0)
    assert loud.mean() > quiet.mean() + 10


@pytest.mark.parametrize("blend", ["normal", "add", "screen", "multiply"])
def test_background_at_half_resolution_looks_like_full_resolution(ctx, blend):
    """Issue 15, goal 3: the background shaded at half the width and height (the default on a
    software rasteriser) and upscaled is the full-resolution picture, blurred a touch, in every
    blend mode and at an opacity below 1; the two differ far less than two moods differ."""
    def shot(scale, valence=0.6, blend=blend):
        base = SolidLayer(ctx, (0.3, 0.5, 0.7))
        layer = BackgroundLayer(ctx, opacity=0.7, blend=blend, scale=scale)
        assert (layer.reduced is None) == (scale == 1.0)
        return render(ctx, [base, layer], AnalysisState(valence=valence, arousal=0.4, bass=0.6), (320, 180), t=3.0)

    full, half = shot(1.0), shot(0.5)
    other_mood = shot(1.0, valence=-0.6)
    diff = np.abs(full - half)
    assert diff.mean() < 1.0 and np.percentile(diff, 99) < 8, (diff.mean(), np.percentile(diff, 99))
    assert np.abs(full - other_mood).mean() > 5 * diff.mean()
    assert full.std() > 10  # not a flat picture


def test_background_scale_default_follows_the_renderer(ctx):
    """Half resolution on a software rasteriser (llvmpipe shades every pixel on the CPU), full on a GPU."""
    from livevis.render.shaders import is_software_renderer

    layer = BackgroundLayer(ctx)
    try:
        software = is_software_renderer(ctx.info["GL_RENDERER"])
        assert (layer.reduced is not None) == software
        if software:
            assert layer.reduced.scale == 0.5
        with pytest.raises(ValueError, match="render scale"):
            BackgroundLayer(ctx, scale=1.5)
    finally:
        layer.release()
