"""Property-based tests (hypothesis): arbitrary preset files and absurd parameter values
from MIDI/OSC never crash; every preset error is one clear line naming file and key."""

import math
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livevis.params import Mapping, registry_for_preset
from livevis.control.presets import Preset, PresetError, load_preset, parse_preset

KEYS = ["layers", "background", "face", "latent", "emotion", "audio", "output", "midi", "osc", "params",
        "crossfade_s", "palette", "name", "blend", "opacity", "kind", "attack_s", "resolution", "fps"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))


def _toml_value(value) -> str:
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value == math.inf else "-inf" if value == -math.inf else repr(value))
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.dictionaries(st.sampled_from(KEYS), scalars, max_size=6),
       section=st.sampled_from(["", "[face]\n", "[output]\n", "[[layers]]\n", "[emotion]\n", "[audio]\n"]))
def test_arbitrary_preset_values(tmp_path, entries, section):
    text = section + "".join(f"{k} = {_toml_value(v)}\n" for k, v in entries.items())
    path = tmp_path / "fuzz.toml"
    path.write_text(text)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        pass
    try:
        preset = load_preset(path)
    except PresetError as err:
        assert str(err).startswith("fuzz.toml") or "fuzz.toml" in str(err)
        assert all("\n" not in line for line in err.lines)
        return
    assert isinstance(preset, Preset)
    for layer in preset.layers:
        assert 0.0 <= layer.opacity <= 1.0 and layer.blend in ("normal", "add", "screen", "multiply")


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300))
def test_arbitrary_text_is_a_preset_or_a_clear_error(text):
    try:
        parse_preset(text)
    except PresetError as err:
        assert str(err).startswith("<preset>")


@settings(max_examples=300, deadline=None)
@given(value=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**30, 10**30),
       x=st.floats(allow_nan=True, allow_infinity=True),
       curve=st.sampled_from(["linear", "exp", "log", "toggle", "gate"]))
def test_absurd_control_values_are_clamped(value, x, curve):
    registry = registry_for_preset(Preset())
    for name in registry.names():
        spec = registry.spec(name)
        stored = registry.set(name, value, "osc")
        assert spec.min <= stored <= spec.max and math.isfinite(stored)
        Mapping(name, curve=curve).apply(registry, x, "midi")
        assert spec.min <= registry.get(name) <= spec.max
