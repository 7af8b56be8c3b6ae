"""Portrait mode: a user's photo animated by the same AUs as the 3D face.

The photo's 478 MediaPipe landmarks (:mod:`livevis.face3d.landmarks`) become a mesh textured
with the photo itself. Each frame the AU→mesh model's displacement from its neutral face
(:meth:`AUMeshModel.delta`, face units, frontal frame) is carried into the photo by the affine
camera fitted from the model's neutral mesh to the photo's landmarks, and added to the
landmarks. A "skirt" of triangles joins the mesh's outer boundary to a fixed ring 35 % further
out, so the warp fades smoothly to zero and everything outside the ring is the photo
untouched (the face region is blended back seamlessly). The mouth interior darkens as the
mouth opens wider than in the photo, and the AU wrinkles people read (forehead lines, glabellar
furrow, nasolabial folds, crow's feet, nose wrinkles: ``shaders/face_lines.glsl``, as on the 3D
face) shade the photo.
"""

from __future__ import annotations

from pathlib import Path

import moderngl
import numpy as np

from livevis.face3d.aumesh import LIPS_INNER, LOWER_LIP, UPPER_LIP, AUMeshModel
from livevis.face3d.landmarks import FaceLandmarker, PortraitError
from livevis.face3d.mesh_layer import FACE_DRIFT, FACE_HIT, AUSmoother, BlinkClock, set_line_uniforms
from livevis.render.hits import HeldLevels, HitDetector
from livevis.render.layers import Layer
from livevis.render.shaders import load_program, set_uniform
from livevis.analysis.state import AU_INDEX, AU_NAMES, AnalysisState

LINE_SHADE = 0.6  #: how dark a full-strength wrinkle makes the photo (0: none, 1: black)
#: Per-AU gain of the photo warp, float32 (17,) in :data:`AU_NAMES` order. A photo moved by the
#: 2D warp shows less than the 3D face for the same AU (no lit relief, a small face in the
#: frame): these gains (brows, upper lid, lid tightener, lip-corner depressor, chin raise, lip
#: press and parting up; lip stretch down, as a wide flat mouth reads "neutral" in fear) were
#: found by a coordinate search for all seven expressions to read as intended
#: (``tools/legibility.py --prototypes --preset portrait``: 14/14), kept ≤ 2.5 so that the photo
#: does not turn into a caricature (3× gave black eye holes and a gaping mouth).
AU_GAIN = np.ones(len(AU_NAMES), np.float32)
for _au, _gain in {"AU01": 2.0, "AU04": 2.5, "AU05": 2.5, "AU07": 2.0, "AU10": 1.5, "AU15": 2.0, "AU17": 2.0,
                   "AU20": 0.5, "AU23": 1.5, "AU25": 1.5, "AU26": 1.25}.items():
    AU_GAIN[AU_INDEX[_au]] = _gain
SKIRT = 0.35  #: the fixed outer ring lies this fraction of the centre→boundary distance beyond the boundary


def load_photo(path: str | Path, max_side: int = 2048) -> np.ndarray:
    """Read a photo as uint8 (H, W, 3) RGB, EXIF-rotated, downscaled to at most ``max_side``.

    Raises:
        PortraitError: missing, unreadable or not an image (the message names the file).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            if max(im.size) > max_side:
                im.thumbnail((max_side, max_side), Image.LANCZOS)
            return np.asarray(im, np.uint8).copy()
    except FileNotFoundError:
        raise PortraitError(f"portrait photo {path} does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise PortraitError(f"portrait photo {path} cannot be read as an image ({err})") from None


def boundary_loop(triangles: np.ndarray) -> np.ndarray:
    """The mesh's outer boundary as an ordered vertex loop (int array), from edges used once."""
    edges: dict[tuple[int, int], int] = {}
    for t in triangles:
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            key = (min(a, b), max(a, b))
            edges[key] = edges.get(key, 0) + 1
    nxt: dict[int, list[int]] = {}
    for (a, b), c in edges.items():
        if c == 1:
            nxt.setdefault(int(a), []).append(int(b))
            nxt.setdefault(int(b), []).append(int(a))
    start = min(nxt)
    loop, prev = [start], None
    while True:
        cur = loop[-1]
        cand = [v for v in nxt[cur] if v != prev]
        if not cand or cand[0] == start:
            break
        prev = cur
        loop.append(cand[0])
    return np.asarray(loop, np.int64)


class PortraitRig:
    """The photo's mesh and how AUs move it.

    Args:
        photo: uint8 (H, W, 3) RGB.
        landmarks: float (478, 3) from :meth:`FaceLandmarker.landmarks` (pixels).
        model: the AU→mesh model.

    Attributes:
        triangles: int32 (k, 3) over the 468 face vertices plus the skirt ring.
        mouth_triangles: int32, the mouth-interior triangles (a subset of ``triangles``).
        rest: float32 (n, 2) rest positions in photo pixels (face vertices then ring).
        uv: float32 (n, 2) texture coordinates in [0, 1] (v down).
        camera: float (2, 3) linear part of the affine camera face units → photo pixels.
    """

    def __init__(self, photo: np.ndarray, landmarks: np.ndarray, model: AUMeshModel) -> None:
        self.photo = photo
        self.model = model
        h, w = photo.shape[:2]
        lm = np.asarray(landmarks, np.float64)[:468, :2]
        src = np.column_stack([model.neutral[:468].astype(np.float64), np.ones(468)])
        sol, *_ = np.linalg.lstsq(src, lm, rcond=None)  # (4, 2): [x y z 1] → (u, v)
        self.camera = sol[:3].T
        loop = boundary_loop(model.triangles)
        centre = lm.mean(0)
        ring = lm[loop] + (lm[loop] - centre) * SKIRT
        n = 468
        k = len(loop)
        ring_idx = n + np.arange(k)
        skirt = []
        for i in range(k):
            a, b = loop[i], loop[(i + 1) % k]
            ra, rb = ring_idx[i], ring_idx[(i + 1) % k]
            skirt += [(a, ra, b), (b, ra, rb)]
        self.loop = loop
        self.triangles = np.concatenate([model.triangles, np.asarray(skirt)]).astype(np.int32)
        self.mouth_triangles = model.parts.mouth.astype(np.int32)
        self.rest = np.concatenate([lm, ring]).astype(np.float32)
        neutral = model.neutral[:468, :2].astype(np.float64)
        model_ring = neutral[loop] + (neutral[loop] - neutral.mean(0)) * SKIRT
        self.rest_model = np.concatenate([neutral, model_ring]).astype(np.float32)
        self.uv = (self.rest / np.array([w, h], np.float32)).astype(np.float32)
        self.rest_opening = float(np.linalg.norm(lm[UPPER_LIP] - lm[LOWER_LIP]))
        self.face_height = float(np.linalg.norm(self.camera @ (model.neutral[10] - model.neutral[152])))

    def positions(self, aus: np.ndarray) -> np.ndarray:
        """Vertex positions (n, 2) in photo pixels for 17 AUs (:data:`AU_NAMES` order)."""
        return self.deform(aus)[0]

    def deform(self, aus: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For 17 AUs: (vertex positions (n, 2) in photo pixels, the same vertices in face units
        (n, 2; where the shader draws the AU wrinkles), the model's deformed mesh (478, 3))."""
        mesh = self.model.predict(aus)
        delta = (mesh - self.model.neutral)[:468].astype(np.float64)
        pos = self.rest.copy()
        pos[:468] += (delta @ self.camera.T).astype(np.float32)
        face = self.rest_model.copy()
        face[:468] += delta[:, :2].astype(np.float32)
        return pos, face, mesh

    def mouth_dark(self, positions: np.ndarray) -> float:
        """How dark the mouth interior is drawn, [0, 1]: 0 until the lips part beyond the photo's."""
        opening = float(np.linalg.norm(positions[UPPER_LIP] - positions[LOWER_LIP]))
        x = (opening - self.rest_opening) / max(0.06 * self.face_height, 1e-6)
        return float(np.clip(x, 0.0, 1.0)) * 0.85


def face_region_mask(rig: PortraitRig, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) mask of the pixels inside the fixed skirt ring (where the warp may act)."""
    from PIL import Image, ImageDraw

    h, w = shape
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).polygon([tuple(map(float, p)) for p in rig.rest[468:]], fill=255)
    return np.asarray(im) > 0


class PortraitRenderer:
    """Draws an animated portrait with OpenGL.

    Args:
        ctx: the GL context.
        rig: the :class:`PortraitRig` of the photo.

    Raises:
        ShaderError: the shader files are missing or do not compile.
    """

    def __init__(self, ctx: moderngl.Context, rig: PortraitRig) -> None:
        self.ctx, self.rig = ctx, rig
        h, w = rig.photo.shape[:2]
        self.program = load_program(ctx, "face3d_portrait.vert", "face3d_portrait.frag")
        self.texture = ctx.texture((w, h), 3, np.ascontiguousarray(rig.photo).tobytes(), alignment=1)
        self.texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = self.texture.repeat_y = False
        n = len(rig.rest)
        self._vbo = ctx.buffer(reserve=n * 6 * 4, dynamic=True)
        far = 1e3  # the photo around the face: face units far from every wrinkle
        quad = np.array([[0, 0, 0, 0, far, far], [w, 0, 1, 0, far, far], [0, h, 0, 1, far, far],
                         [w, h, 1, 1, far, far]], np.float32)
        self._quad_vbo = ctx.buffer(quad.tobytes())
        fmt = [(self._vbo, "2f 2f 2f", "in_pos", "in_uv", "in_face")]
        self._ibo = ctx.buffer(rig.triangles.tobytes())
        self._mouth_ibo = ctx.buffer(rig.mouth_triangles.tobytes())
        self._vao = ctx.vertex_array(self.program, fmt, index_buffer=self._ibo, index_element_size=4)
        self._mouth_vao = ctx.vertex_array(self.program, fmt, index_buffer=self._mouth_ibo, index_element_size=4)
        self._quad_vao = ctx.vertex_array(self.program, [(self._quad_vbo, "2f 2f 2f", "in_pos", "in_uv", "in_face")])
        self._offline: tuple | None = None

    def draw(self, aus: np.ndarray, xform: tuple[float, float, float, float]) -> None:
        """Draw into the bound framebuffer; ``xform`` maps photo pixels to NDC (see the shader)."""
        pos, face, mesh = self.rig.deform(aus)
        self._vbo.write(np.hstack([pos, self.rig.uv, face]).astype(np.float32).tobytes())
        set_line_uniforms(self.program, mesh, aus, photo=True)
        self.texture.use(0)
        set_uniform(self.program, "u_photo", 0)
        set_uniform(self.program, "u_xform", tuple(float(v) for v in xform))
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.BLEND | moderngl.CULL_FACE)
        set_uniform(self.program, "u_line_shade", LINE_SHADE)
        set_uniform(self.program, "u_material", 0)
        self._quad_vao.render(moderngl.TRIANGLE_STRIP)
        self._vao.render(moderngl.TRIANGLES)
        set_uniform(self.program, "u_material", 4)
        set_uniform(self.program, "u_mouth_dark", self.rig.mouth_dark(pos))
        self._mouth_vao.render(moderngl.TRIANGLES)

    def render(self, aus: np.ndarray) -> np.ndarray:
        """The animated photo at its own size: uint8 (H, W, 3), row 0 = top."""
        h, w = self.rig.photo.shape[:2]
        if self._offline is None:
            tex = self.ctx.texture((w, h), 4)
            self._offline = (tex, self.ctx.framebuffer([tex]))
        fbo = self._offline[1]
        prev = self.ctx.fbo
        try:
            fbo.use()
            fbo.clear(0, 0, 0, 1)
            self.draw(aus, (2.0 / w, -2.0 / h, -1.0, 1.0))
            data = fbo.read(components=3, alignment=1)
        finally:
            if prev is not None and prev is not fbo and hasattr(prev.mglo, "use"):
                prev.use()
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)[::-1].copy()

    def release(self) -> None:
        if self._offline is not None:
            self._offline[1].release()
            self._offline[0].release()
            self._offline = None
        for obj in (self._vao, self._mouth_vao, self._quad_vao, self._vbo, self._quad_vbo, self._ibo,
                    self._mouth_ibo, self.texture, self.program):
            obj.release()


def make_rig(photo: str | Path | np.ndarray, model: AUMeshModel | None = None,
             landmarker: FaceLandmarker | None = None, name: str | None = None) -> PortraitRig:
    """Read the photo (path or uint8 array), find its one face, and build its :class:`PortraitRig`.

    Raises:
        PortraitError: unreadable file, no face, several faces.
        AssetError, LivevisError: the models cannot be fetched/loaded, or no TFLite runtime.
    """
    if isinstance(photo, (str, Path)):
        name = name or str(photo)
        image = load_photo(photo)
    else:
        image = np.asarray(photo)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise PortraitError(f"portrait image must be uint8 HxWx3 RGB, got {image.dtype} {image.shape}")
    landmarker = landmarker or FaceLandmarker()
    lm = landmarker.landmarks(image, name or "the portrait photo")
    return PortraitRig(image, lm, model or AUMeshModel.load())


class PortraitLayer(Layer):
    """A user's photo (cover-fit to the frame) whose face is animated by ``state.aus``.

    AUs are held between the music's hits (as the 3D face's, :data:`~livevis.face3d.mesh_layer.FACE_DRIFT`),
    smoothed (attack/release) and scaled by ``expressiveness``; idle blinks keep it alive in
    silence. Opaque over the whole frame (it is a photo).

    Args:
        ctx: the GL context.
        photo: path of the photo (JPEG/PNG/…), or a uint8 (H, W, 3) RGB array.
        model, landmarker: reuse loaded ones (default: load/fetch).
        opacity, blend: see :class:`Layer`. expressiveness, attack, release, blink: as for
            :class:`~livevis.face3d.mesh_layer.FaceMeshLayer`.

    Raises:
        PortraitError: unreadable photo, no face, several faces.
        AssetError, ModelError, ShaderError, LivevisError: see :func:`make_rig`.
    """

    def __init__(self, ctx: moderngl.Context, photo: str | Path | np.ndarray, model: AUMeshModel | None = None,
                 landmarker: FaceLandmarker | None = None, *, opacity: float = 1.0, blend: str = "normal",
                 expressiveness: float = 1.0, attack: float = 0.06, release: float = 0.25,
                 blink: bool = True) -> None:
        super().__init__(opacity, blend)
        self.rig = make_rig(photo, model, landmarker)
        self.renderer = PortraitRenderer(ctx, self.rig)
        self.expressiveness, self.blink = float(expressiveness), bool(blink)
        self.smoother = AUSmoother(attack, release)
        self.blinks = BlinkClock()
        self.hits = HitDetector()
        self.held = HeldLevels(self.hits, FACE_DRIFT, FACE_HIT)  # the expression moves on the hits

    def draw(self, state: AnalysisState, t: float, size: tuple[int, int]) -> None:
        aus = np.clip(np.asarray(state.aus, np.float32).reshape(-1), 0.0, 1.0)
        if aus.shape != (len(AU_NAMES),):
            raise ValueError(f"state.aus must have {len(AU_NAMES)} values, got {aus.shape}")
        self.hits.update(state, t)
        a = self.smoother.update(self.held.hold("aus", aus), t) * self.expressiveness * AU_GAIN
        i45 = AU_INDEX["AU45"]
        arousal = self.held.hold("arousal", state.arousal)
        a[i45] = min(max(float(a[i45]), self.blinks.update(t, arousal) if self.blink else 0.0), 1.0)
        h, w = self.rig.photo.shape[:2]
        fw, fh = size
        s = max(fw / w, fh / h)  # cover: crop, keep aspect, centre
        sx, sy = 2.0 * s / fw, -2.0 * s / fh
        self.renderer.draw(a, (sx, sy, -w * sx / 2, -h * sy / 2))

    def release(self) -> None:
        self.renderer.release()


__all__ = ["LIPS_INNER", "PortraitError", "PortraitLayer", "PortraitRenderer", "PortraitRig",
           "face_region_mask", "load_photo", "make_rig"]
