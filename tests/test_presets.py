"""Presets: schema, error messages, shipped presets, hot reload, crossfade, MIDI-learn saving."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from livevis import PRESETS_DIR
from livevis.params import ParamRegistry, apply_preset, registry_for_preset
from livevis.control.presets import (Crossfade, MidiMapping, Preset, PresetError, PresetWatcher, interpolate,
                             list_presets, load_preset, preset_names, save_learned_mapping)

SHIPPED = ("club", "ambient", "accessibility", "portrait", "keyframes")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def bump_mtime(path: Path) -> None:
    """Make sure the mtime differs even on coarse-timestamp filesystems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def errors_of(text: str, tmp_path: Path, name: str = "p.toml") -> list[str]:
    path = write(tmp_path / name, text)
    with pytest.raises(PresetError) as info:
        load_preset(path)
    return info.value.lines


# ------------------------------------------------------------------ shipped presets


def test_shipped_presets_are_all_valid():
    found = {name: err for name, _path, err in list_presets()}
    for name in SHIPPED:
        assert name in found, f"presets/{name}.toml is missing"
        assert found[name] is None, f"presets/{name}.toml is invalid: {found[name]}"
    assert preset_names() == sorted(found)


def test_shipped_presets_differ_in_the_promised_ways():
    club, ambient, acc = load_preset("club"), load_preset("ambient"), load_preset("accessibility")
    portrait, keyframes = load_preset("portrait"), load_preset("keyframes")
    # accessibility: high contrast, large face, calm motion
    assert acc.face.scale > max(club.face.scale, ambient.face.scale)
    assert acc.face.outline and acc.face.outline_width >= 6
    assert acc.background.speed < club.background.speed and acc.emotion.release_s >= 2
    assert acc.audio.sensitivity < 1
    assert (0.0, 0.0, 0.0) in acc.palette and (1.0, 1.0, 1.0) in acc.palette
    # club is fast, ambient is slow
    assert club.emotion.attack_s < ambient.emotion.attack_s
    assert club.crossfade_s < ambient.crossfade_s
    assert portrait.face.mode == "portrait"
    assert keyframes.latent.themes == ["nature", "night", "abstract"]  # the whole shipped library
    assert keyframes.layers[0].kind == "latent"
    assert club.midi.mappings and club.midi.mappings[0].param == "master.brightness"


def test_load_by_name_and_by_path_give_the_same_preset():
    a = load_preset("club")
    b = load_preset(PRESETS_DIR / "club.toml")
    assert a == b and a.name == "club" and a.source == (PRESETS_DIR / "club.toml").resolve()


# ------------------------------------------------------------------ schema and defaults


def test_default_preset_shows_the_whole_product():
    """The built-in preset (no --preset): shader background, the latent image stream over the
    shipped keyframe library's themes, and the face on top at full opacity; named for the overlay."""
    from livevis.control.presets import default_preset

    p = default_preset()
    assert p.name == "default"
    assert [layer.kind for layer in p.layers] == ["background", "latent", "face"]
    assert p.layers[-1].opacity == 1.0 and p.layers[-1].blend == "normal"
    assert p.latent.themes and not p.latent.keyframes


def test_empty_file_is_a_valid_preset_with_defaults(tmp_path):
    p = load_preset(write(tmp_path / "minimal.toml", ""))
    assert p.name == "minimal"
    assert [layer.kind for layer in p.layers] == ["background", "face"]
    assert p.output.resolution == (1280, 720) and p.output.av_offset_ms == 0
    assert p.emotion.attack_s > 0 and p.emotion.release_s > 0
    assert p.audio.input_device is None and p.audio.noise_gate_db == -60
    assert p.background.shader == "background" and p.shader_path().is_file()


def test_every_issue_field_can_be_set(tmp_path):
    (tmp_path / "kf").mkdir()
    for n in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / "kf" / n).write_bytes(b"x")
    (tmp_path / "me.png").write_bytes(b"x")
    p = load_preset(write(tmp_path / "full.toml", """
name = "Full"
crossfade_s = 1.5
palette = ["#ff0000", [0, 0.5, 1]]
layers = [ { kind = "solid", color = "#102030" }, { kind = "background", blend = "add", opacity = 0.5 },
           { kind = "image", blend = "multiply" }, { kind = "face", blend = "screen", enabled = false } ]
[background]
shader = "background"
params = { warp = 2.5, tint = [1, 0.5, 0.2] }
[face]
mode = "portrait"
portrait = "me.png"
scale = 1.5
outline = false
palette = ["#ffffff"]
[latent]
keyframes = [ "kf", { seed = 7, valence = 0.5, arousal = -0.5 } ]
segment_beats = 4
noise_sigma = 0.2
[emotion]
attack_s = 0.05
release_s = 2
[audio]
input_device = 3
noise_gate_db = -45
[output]
screen = 1
fullscreen = true
resolution = [1920, 1080]
av_offset_ms = -80
[midi]
input = "nanoKONTROL"
mappings = [ { param = "layer.2.opacity", cc = 7, channel = 2, curve = "exp" } ]
note_presets = { "60" = "ambient" }
[osc]
listen_port = 9000
mappings = [ { address = "/1/fader1", param = "master.brightness", curve = "log" } ]
[params]
"background.warp" = 3.0
"""))
    assert p.name == "Full" and p.palette[1] == (0.0, 0.5, 1.0)
    assert p.layers[0].color == pytest.approx((0x10 / 255, 0x20 / 255, 0x30 / 255))
    assert [l.blend for l in p.layers] == ["normal", "add", "multiply", "screen"]
    assert p.audio.input_device == "3" and p.output.resolution == (1920, 1080)
    assert p.output.av_offset_ms == -80 and p.output.screen == 1
    assert p.resolve(p.face.portrait) == tmp_path / "me.png"
    kf = p.keyframe_list()
    assert [k[0] for k in kf] == [tmp_path / "kf" / "a.jpg", tmp_path / "kf" / "b.png", 7]
    assert kf[2][1:] == (0.5, -0.5)
    reg = registry_for_preset(p)
    assert reg.get("background.warp") == 3.0 and reg.get("layer.2.opacity") == 0.5
    assert reg.get("layer.4.enabled") == 0.0 and reg.spec("layer.2.opacity").address == "/layer/2/opacity"


# ------------------------------------------------------------------ error messages


def test_bad_blend_mode_names_file_key_choices_and_value(tmp_path):
    (line,) = errors_of('[[layers]]\nkind = "background"\n[[layers]]\nkind = "face"\nblend = "darken"\n', tmp_path,
                        "club.toml")
    assert line.endswith("club.toml: layers[1].blend: expected one of normal, add, screen, multiply, got 'darken'")


@pytest.mark.parametrize("text, fragment", [
    ('colour = "red"', "colour: unknown key; expected one of name, description"),
    ("[face]\nscale = 0", "face.scale: expected >= 0.1, got 0"),
    ("[face]\nscael = 1", "face.scael: unknown key; expected one of mode, portrait, scale"),
    ('[output]\nresolution = "big"', "output.resolution: expected 'WIDTHxHEIGHT'"),
    ("[output]\nav_offset_ms = 5000", "output.av_offset_ms: expected <= 2000, got 5000"),
    ('[emotion]\nattack_s = "fast"', "emotion.attack_s: expected a valid number, got 'fast'"),
    ('[[layers]]\nkind = "video"', "layers[0].kind: expected one of background, face, image, latent, solid, got 'video'"),
    ("[[layers]]\nopacity = 0.5", "layers[0].kind: required key is missing"),
    ('[background]\nshader = "plasma"', "background.shader: no shader 'plasma'"),
    ('[latent]\nkeyframes = "no_such_folder"', "latent.keyframes[0].path: not found"),
    ("[latent]\nkeyframes = [{ valence = 0.5 }]", "latent.keyframes[0]: expected exactly one of 'path' or 'seed'"),
    ('[[midi.mappings]]\nparam = "layer.9.opacity"\ncc = 1', "midi.mappings[0].param: unknown parameter 'layer.9.opacity'"),
    ('[[midi.mappings]]\nparam = "master.brightness"\ncc = 128', "midi.mappings[0].cc: expected <= 127, got 128"),
    ('[[midi.mappings]]\nparam = "master.brightness"\ncc = 1\ncurve = "cubic"',
     "midi.mappings[0].curve: expected one of linear, exp, log, toggle, gate, got 'cubic'"),
    ('[params]\n"master.brigthness" = 1', "did you mean master.brightness"),
    ('palette = ["#12345"]', "palette: expected a colour like '#ff8800'"),
    ("name = \n", "TOML syntax error"),
])
def test_error_lines_name_the_file_and_key(tmp_path, text, fragment):
    lines = errors_of(text, tmp_path, "bad.toml")
    assert all(line.startswith("bad.toml: ") or "/bad.toml: " in line for line in lines), lines
    assert any(fragment in line for line in lines), lines
    assert all("\n" not in line for line in lines)


def test_several_errors_are_all_reported(tmp_path):
    lines = errors_of("[face]\nscale = 9\n[output]\nfps = 0\n", tmp_path)
    assert len(lines) == 2 and "face.scale" in lines[0] and "output.fps" in lines[1]


def test_unknown_name_lists_the_presets():
    with pytest.raises(PresetError) as info:
        load_preset("no-such-preset")
    assert "no preset named 'no-such-preset'" in str(info.value) and "club" in str(info.value)
    with pytest.raises(PresetError, match="no such preset file"):
        load_preset("/nonexistent/x.toml")


def test_list_presets_reports_invalid_files(tmp_path):
    write(tmp_path / "good.toml", "")
    write(tmp_path / "bad.toml", "[face]\nscale = -1\n")
    result = {name: err for name, _p, err in list_presets(tmp_path)}
    assert result["good"] is None
    assert isinstance(result["bad"], PresetError) and "face.scale" in str(result["bad"])


# ------------------------------------------------------------------ hot reload


def test_watcher_reloads_on_save_and_keeps_errors_separate(tmp_path):
    path = write(tmp_path / "live.toml", "[face]\nscale = 1.0\n")
    now = [0.0]
    w = PresetWatcher(path, interval_s=0.1, settle_s=0.2, clock=lambda: now[0])
    assert w.poll() is None  # unchanged
    write(path, "[face]\nscale = 2.0\n")
    bump_mtime(path)
    assert w.poll() is None  # throttled: not yet time to stat
    now[0] = 0.2
    assert w.poll() is None  # changed: wait until it has stayed so for 0.2 s
    now[0] = 0.3
    assert w.poll() is None
    now[0] = 0.45
    got = w.poll()
    assert isinstance(got, Preset) and got.face.scale == 2.0
    now[0] = 0.6
    assert w.poll() is None  # seen already
    write(path, '[face]\nscale = "huge"\n')
    bump_mtime(path)
    now[0] = 0.8
    assert w.poll() is None
    now[0] = 1.05
    err = w.poll()
    assert isinstance(err, PresetError) and "face.scale" in str(err) and "live.toml" in str(err)
    path.unlink()  # an editor replacing the file: no event while it is missing
    now[0] = 1.2
    assert w.poll() is None
    write(path, "[face]\nscale = 0.5\n")
    now[0] = 1.4
    assert w.poll() is None
    now[0] = 1.65
    fixed = w.poll()
    assert isinstance(fixed, Preset) and fixed.face.scale == 0.5


def test_watcher_poll_is_cheap_enough_for_every_frame(tmp_path):
    path = write(tmp_path / "p.toml", "")
    w = PresetWatcher(path, interval_s=0.0, settle_s=0.0)  # stat on every call: the worst case
    t0 = time.perf_counter()
    for _ in range(2000):
        assert w.poll() is None
    per_call = (time.perf_counter() - t0) / 2000
    assert per_call < 0.0005, f"poll() took {per_call * 1e6:.0f} µs"
    # and a reload (parse + validate) fits well inside a 60 fps frame
    write(path, (PRESETS_DIR / "club.toml").read_text())
    bump_mtime(path)
    assert w.poll() is None  # the change is seen; it is read on the next poll
    t0 = time.perf_counter()
    assert isinstance(w.poll(), Preset)
    assert time.perf_counter() - t0 < 0.05


def test_watcher_can_follow_a_preset_switch(tmp_path):
    a, b = write(tmp_path / "a.toml", ""), write(tmp_path / "b.toml", "")
    w = PresetWatcher(a, interval_s=0, settle_s=0)
    w.path = b
    assert w.poll() is None
    write(b, "crossfade_s = 9\n")
    bump_mtime(b)
    assert w.poll() is None
    assert w.poll().crossfade_s == 9


# ------------------------------------------------------------------ crossfade


def test_crossfade_ramps_from_old_to_new():
    now = [10.0]
    fade = Crossfade(2.0, clock=lambda: now[0])
    assert fade.alpha() == 0.0 and not fade.done
    now[0] = 11.0
    assert fade.alpha() == pytest.approx(0.5) and fade.progress() == pytest.approx(0.5)
    now[0] = 10.5
    assert 0.0 < fade.alpha() < 0.25  # smoothstep starts gently
    assert fade.mix(0.0, 1.0) == pytest.approx(fade.alpha())
    now[0] = 12.5
    assert fade.alpha() == 1.0 and fade.done
    assert Crossfade(0.0).done
    with pytest.raises(ValueError):
        Crossfade(-1.0)


def test_interpolate_blends_numbers_sequences_and_dicts():
    assert interpolate(0.0, 10.0, 0.25) == 2.5
    assert interpolate((0.0, 1.0), (1.0, 0.0), 0.5) == (0.5, 0.5)
    assert interpolate({"a": 0.0, "gone": 1.0}, {"a": 4.0, "new": 7.0}, 0.5) == {"a": 2.0, "new": 7.0}
    assert interpolate("normal", "add", 0.4) == "normal" and interpolate("normal", "add", 0.6) == "add"
    assert interpolate(False, True, 0.7) is True


# ------------------------------------------------------------------ preset → parameters


def test_apply_preset_reconfigures_the_registry_in_place():
    reg = ParamRegistry()
    apply_preset(reg, load_preset("club"))
    assert "layer.3.opacity" in reg and reg.get("layer.2.opacity") == pytest.approx(0.2)  # club's image stream
    reg.set("master.blackout", 1)
    reg.set("layer.3.opacity", 0.1)
    apply_preset(reg, load_preset("portrait"))  # two layers
    assert "layer.3.opacity" not in reg
    assert reg.get("master.blackout") == 1.0  # operator state survives the switch
    assert reg.get("face.scale") == pytest.approx(1.3)
    apply_preset(reg, load_preset("accessibility"))
    assert reg.get("master.speed") == 0.5  # the preset's [params] table applies


# ------------------------------------------------------------------ MIDI learn saved into the file


def test_learned_mapping_is_saved_into_the_file_and_replaces_older_ones(tmp_path):
    original = "# my show\nname = \"mine\"\n\n[face]\nscale = 1.2  # keep me\n"
    path = write(tmp_path / "mine.toml", original)
    save_learned_mapping(path, MidiMapping(param="layer.1.opacity", cc=20, channel=1))
    p = save_learned_mapping(path, MidiMapping(param="master.brightness", cc=21, curve="exp"))
    text = path.read_text()
    assert text.startswith(original.rstrip("\n")) and "# keep me" in text
    assert [(m.param, m.cc) for m in p.midi.mappings] == [("layer.1.opacity", 20), ("master.brightness", 21)]
    # re-learning layer.1.opacity on another knob replaces the old binding
    p = save_learned_mapping(path, MidiMapping(param="layer.1.opacity", cc=30))
    assert sorted((m.param, m.cc) for m in p.midi.mappings) == [("layer.1.opacity", 30), ("master.brightness", 21)]
    assert load_preset(path) == p
    assert p.midi.mappings[0].curve == "exp"


def test_learn_into_an_unsaveable_file_keeps_it_unchanged(tmp_path):
    text = '[midi]\nmappings = [{ param = "master.brightness", cc = 1 }]\n'
    path = write(tmp_path / "inline.toml", text)
    with pytest.raises(PresetError, match="inline.toml"):
        save_learned_mapping(path, MidiMapping(param="layer.1.opacity", cc=2))
    assert path.read_text() == text


# ------------------------------------------------------------------ on screen: overlay and shortcuts


def test_shortcuts_map_keys_to_actions():
    from livevis.overlay import ACTIONS, KEY_ACTIONS, action_for_key

    assert action_for_key("RIGHT") == "preset_next" and action_for_key("LEFT") == "preset_prev"
    assert action_for_key("B") == "blackout" and action_for_key("b") == "blackout"
    assert action_for_key("SPACE") == "freeze" and action_for_key("O") == "overlay"
    assert action_for_key("_3") == "preset:3"
    assert action_for_key("B", modifiers=2) is None  # Ctrl+B is not a shortcut
    assert action_for_key("ESCAPE") is None and action_for_key("F") is None and action_for_key("Q") is None
    assert set(KEY_ACTIONS.values()) <= set(ACTIONS)


def test_actions_change_parameters_and_ui():
    from livevis.control import LearnState, TapTempo
    from livevis.overlay import ShowUI, apply_action

    reg = registry_for_preset(load_preset("club"))
    ui, learn = ShowUI(), LearnState()
    assert apply_action("preset_next", ui, reg) == "preset_next"
    assert apply_action("preset:2", ui, reg) == "preset:2"
    apply_action("blackout", ui, reg)
    assert reg.get("master.blackout") == 1.0
    apply_action("blackout", ui, reg)
    apply_action("freeze", ui, reg)
    assert reg.get("master.blackout") == 0.0 and reg.get("master.freeze") == 1.0
    apply_action("overlay", ui, reg)
    assert ui.overlay
    apply_action("param_next", ui, reg)
    apply_action("learn", ui, reg, learn)
    assert learn.armed == reg.names()[1] and "learn" in ui.message
    apply_action("learn", ui, reg, learn)
    assert learn.armed is None
    tapper = TapTempo()
    for t in (0.0, 0.5, 1.0):
        tapper.tap(t)
    assert tapper.tap(1.5) == pytest.approx(120.0)


def test_overlay_lines_show_the_state():
    import numpy as np

    from livevis.overlay import bar, bipolar_bar, overlay_lines
    from livevis.analysis.state import AU_NAMES, AnalysisState

    aus = np.zeros(17, dtype=np.float32)
    aus[8] = 1.0  # AU12, the smile
    state = AnalysisState(rms=0.1, valence=0.5, arousal=-1.0, tempo=120.0, beat_phase=0.05, aus=aus,
                          input_ok=False)
    lines = overlay_lines(state, fps=59.94, preset="club", fade=0.4,
                          params={"master.blackout": 1.0, "layer.1.opacity": 0.8},
                          activity={"midi": 100.0, "osc": 10.0}, now=100.1, learn_armed="layer.1.opacity",
                          selected="layer.1.opacity", error="presets/club.toml: face.scale: expected <= 3, got 9")
    text = "\n".join(lines)
    assert lines[0].startswith("livevis  59.9 fps   preset: club (crossfade 40%)")
    assert "-20.0 dB" in text and "NO INPUT" in text
    assert "120.0 BPM" in text and "beat *" in text
    assert f"valence {bipolar_bar(0.5)} +0.50" in text and f"arousal {bipolar_bar(-1.0)} -1.00" in text
    assert f"AU12 {bar(1.0, 10)}" in text and f"AU01 {bar(0.0, 10)}" in text
    assert sum(name in text for name in AU_NAMES) == 17
    assert "MIDI *  OSC ." in text and "LEARN layer.1.opacity" in text
    assert "param   layer.1.opacity = 0.8" in text and "BLACKOUT" in text
    assert lines[-1] == "ERROR presets/club.toml: face.scale: expected <= 3, got 9"
    assert bar(0.5, 4) == "[##--]" and bipolar_bar(-0.5, 4) == "[-#|--]"


@pytest.mark.gl
def test_overlay_view_draws_in_a_headless_window():
    import subprocess
    import sys

    code = """
import pyglet
pyglet.options['headless'] = True
try:
    window = pyglet.window.Window(320, 240, visible=False)
except Exception as err:
    print('SKIP', err); raise SystemExit(0)
from livevis.overlay import OverlayView, overlay_lines
from livevis.analysis.state import AnalysisState
view = OverlayView()
view.update(overlay_lines(AnalysisState(), fps=60, preset='club'), 240)
window.switch_to(); window.clear(); view.draw()
print('DREW', view._label.content_height)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if out.stdout.startswith("SKIP"):
        pytest.skip(f"no headless OpenGL: {out.stdout[5:].strip()}")
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.startswith("DREW") and int(out.stdout.split()[1]) > 100
