"""The show loop on a real EGL context: presets drive the scene, hot reload, crossfade,
invalid reload keeps the running preset, blackout/freeze shortcuts, A/V offset."""

import os
import time

import numpy as np
import pytest

from livevis.control.presets import load_preset
from livevis.analysis.state import AnalysisState

from conftest import require_keyframe_library




def _solid(color: str, crossfade_s: float = 0.0) -> str:
    return f'name = "test"\ncrossfade_s = {crossfade_s}\n[[layers]]\nkind = "solid"\ncolor = "{color}"\n'


def _rewrite(path, text):
    """Write and move the mtime forward so the watcher sees a change even within a second."""
    path.write_text(text)
    stamp = time.time() + 2
    os.utime(path, (stamp, stamp))


def _frame(show, t=0.0):
    show.frame(t)
    return show.read_rgb().reshape(-1, 3).mean(axis=0)


def _wait_reload(show, predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rgb = _frame(show)
        if predicate(rgb):
            return rgb
        time.sleep(0.05)
    return _frame(show)


def test_hot_reload_and_invalid_reload_keeps_running(ctx, tmp_path):
    from livevis.show.show import Show

    path = tmp_path / "live.toml"
    path.write_text(_solid("#ff0000"))
    show = Show(ctx, (64, 36), load_preset(path), lambda: AnalysisState(), control=False)
    try:
        assert np.allclose(_frame(show), [255, 0, 0], atol=2)
        _rewrite(path, _solid("#0000ff"))
        assert np.allclose(_wait_reload(show, lambda c: c[2] > 250), [0, 0, 255], atol=2)
        # a broken edit: the running preset stays, the error names the file and the key
        _rewrite(path, _solid("#0000ff") + 'blend = "darken"\n')
        deadline = time.monotonic() + 3
        while show.error is None and time.monotonic() < deadline:
            _frame(show)
            time.sleep(0.05)
        assert show.error is not None and "live.toml" in show.error and "layers[0].blend" in show.error
        assert np.allclose(_frame(show), [0, 0, 255], atol=2)
    finally:
        show.close()


def test_crossfade_between_presets(ctx, tmp_path):
    from livevis.show.show import Show

    red, green = tmp_path / "red.toml", tmp_path / "green.toml"
    red.write_text(_solid("#ff0000"))
    green.write_text(_solid("#00ff00", crossfade_s=1.0))
    show = Show(ctx, (64, 36), load_preset(red), lambda: AnalysisState(), control=False)
    try:
        _frame(show)
        show.load(str(green))
        time.sleep(0.5)
        mid = _frame(show)
        assert 30 < mid[0] < 225 and 30 < mid[1] < 225  # a mix of both
        time.sleep(0.7)
        assert np.allclose(_frame(show), [0, 255, 0], atol=2)
        assert show.fade is None  # the old scene was released
    finally:
        show.close()


def test_blackout_and_freeze_shortcuts(ctx):
    from livevis.show.show import Show

    show = Show(ctx, (96, 54), load_preset("ambient"), lambda: AnalysisState(valence=0.5, arousal=0.5),
                control=False)
    try:
        lit = _frame(show, 0.0)
        assert lit.mean() > 10
        show.key("B")
        assert _frame(show, 0.1).max() == 0
        show.key("B")
        show.key("SPACE")  # freeze: time goes on, the picture does not
        frozen = _frame(show, 0.2)
        assert np.array_equal(frozen, _frame(show, 5.0))
        show.key("SPACE")
        assert not np.array_equal(frozen, _frame(show, 5.0))
    finally:
        show.close()


def test_preset_parameters_reach_the_layers(ctx, tmp_path):
    from livevis.show.show import Show

    path = tmp_path / "two.toml"
    path.write_text(_solid("#ffffff") + '[[layers]]\nkind = "solid"\ncolor = "#000000"\nopacity = 1.0\n')
    show = Show(ctx, (32, 18), load_preset(path), lambda: AnalysisState(), control=False)
    try:
        assert _frame(show).max() < 2  # black on top
        show.registry.set("layer.2.opacity", 0.5)
        assert np.allclose(_frame(show), 128, atol=3)
        show.registry.set("master.brightness", 0.5)
        assert np.allclose(_frame(show), 64, atol=3)
    finally:
        show.close()


@pytest.mark.parametrize("mode", ["face", "cartoon"])
def test_face_expressiveness_multiplies_the_aus_once(ctx, tmp_path, monkeypatch, mode):
    """``face.expressiveness`` (a preset key, a MIDI/OSC parameter) is a gain on the AUs applied
    once, by the face layer: at 2 an AU of 0.3 drives the 3D face's mesh (and the flat face's
    shader) at 0.6, at 0.5 at 0.15. The 3D face also got it through the shown state, so a fader
    acted on its AUs squared (1.2 and 0.075)."""
    from livevis.analysis.state import AU_INDEX
    from livevis.errors import LivevisError
    from livevis.show.show import Show

    if mode == "face":
        from livevis.face3d.aumesh import AUMeshModel
        try:
            AUMeshModel.load()
        except LivevisError as err:
            pytest.skip(f"the 3D face assets are not cached and cannot be fetched: {err}")
    path = tmp_path / "face.toml"
    path.write_text(f'[[layers]]\nkind = "face"\n\n[face]\nmode = "{mode}"\nexpressiveness = 2.0\n')
    aus = np.zeros(17, np.float32)
    aus[AU_INDEX["AU12"]] = 0.3
    show = Show(ctx, (64, 36), load_preset(path), lambda: AnalysisState(aus=aus), control=False)
    try:
        face = show.compositor.layers[0]
        driven = []
        if mode == "face":  # record what the AU→mesh model (shared, cached) is asked to show, then let it work
            predict = face.model.predict
            monkeypatch.setattr(face.model, "predict", lambda a: (driven.append(np.array(a)), predict(a))[1])
        for gain in (2.0, 0.5):
            show.registry.set("face.expressiveness", gain)
            _frame(show)
            if mode == "cartoon":
                driven.append(np.asarray(face.program["u_aus"].value, np.float32).reshape(-1))
            assert driven[-1][AU_INDEX["AU12"]] == pytest.approx(0.3 * gain, abs=1e-5), gain
    finally:
        show.close()


def test_keyframes_preset_shows_the_latent_image_stream(ctx):
    """The keyframes preset: the shipped library's pictures, encoded by the TAEF2 ONNX encoder,
    slerped by the music's energy, decoded on the decode thread into the image layer, and
    glided to on the music's hits (an accent every fifth hop)."""
    from livevis.show.show import Show

    require_keyframe_library()
    clock = {"t": 0.0}
    def state():
        accent = round(clock["t"] * 10) % 5 == 0
        return AnalysisState(time=clock["t"], energy=1e-3, valence=0.6, arousal=0.5, onset=0.9 if accent else 0.1)

    show = Show(ctx, (128, 72), load_preset("keyframes"), state, control=False)
    try:
        driver = show.drivers[0]
        deadline = time.monotonic() + 180
        while driver.engine is None and driver.message is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert driver.message is None, driver.message
        uploads, mixes, hops_seen = [], [], set()
        real_set, real_glide, real_mix = driver.layer.set_image, driver.layer.glide_to, driver.layer.set_mix
        driver.layer.set_image = lambda image: (uploads.append(image.copy()), real_set(image))
        driver.layer.glide_to = lambda image: (uploads.append(image.copy()), real_glide(image))
        driver.layer.set_mix = lambda mix: (mixes.append(mix), real_mix(mix))
        frames = []
        # 40 frames, and on until two decoded pictures have arrived: a 512² CPU decode takes
        # 1–2 s here (several under load), the picture glides between them meanwhile
        i, deadline, second = 0, time.monotonic() + 120, None
        while i < 40 or ((second is None or i < second + 8) and time.monotonic() < deadline):
            if second is None and len(uploads) >= 2:
                second = i  # a few frames more: the glide towards the second picture
            clock["t"] = i * 0.1
            show.frame(i / 30)
            frames.append(show.read_rgb().astype(int))
            hops_seen.add(driver._shown_hop)
            time.sleep(0.05)
            i += 1
        assert driver._shown_hop >= 0, "no decoded latent frame reached the image layer"
        # at most one upload per decoded picture (the newest at each hit); between them the
        # picture glides by a GPU cross-fade
        assert 2 <= len(uploads) <= len(hops_seen - {-1})
        # a hit's glide is half-way on its first frame (a cross-fade, not a cut); how many frames
        # it spans depends on the frame rate (one under CI load)
        assert any(0.0 < m < 1.0 for m in mixes), mixes
        assert np.abs(frames[-1] - frames[5]).mean() > 2.0
    finally:
        show.close()


def test_preset_with_a_broken_shader_keeps_the_running_one(ctx, tmp_path):
    """A reload whose shader does not compile: the error names the shader file, the show goes on."""
    from livevis.show.show import Show

    path = tmp_path / "live.toml"
    path.write_text(_solid("#00ff00"))
    show = Show(ctx, (32, 18), load_preset(path), lambda: AnalysisState(), control=False)
    try:
        assert np.allclose(_frame(show), [0, 255, 0], atol=2)
        shader = tmp_path / "mine.frag"
        shader.write_text("#version 330 core\nout vec4 f_color;\nvoid main() { f_color = vec4(1.0) }\n")
        _rewrite(path, '[[layers]]\nkind = "background"\n[background]\nshader = "mine.frag"\n')
        deadline = time.monotonic() + 3
        while show.error is None and time.monotonic() < deadline:
            _frame(show)
            time.sleep(0.05)
        assert show.error is not None and "mine.frag" in show.error
        assert np.allclose(_frame(show), [0, 255, 0], atol=2)
        # fixed: the custom shader and its parameters are used
        shader.write_text("#version 330 core\nuniform float u_level;\nout vec4 f_color;\n"
                          "void main() { f_color = vec4(u_level, 0.0, 0.0, 1.0); }\n")
        _rewrite(path, 'crossfade_s = 0.0\n[[layers]]\nkind = "background"\n[background]\nshader = "mine.frag"\n'
                       'params = { level = 0.5 }\n')
        assert np.allclose(_wait_reload(show, lambda c: c[1] < 5), [128, 0, 0], atol=3)
        show.registry.set("background.level", 1.0)
        assert np.allclose(_frame(show), [255, 0, 0], atol=2)
    finally:
        show.close()
