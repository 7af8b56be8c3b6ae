"""The rest of the head around the face mesh: skull and hair, ears, neck and shoulders.

The MediaPipe mesh is a mask (forehead to chin, ear to ear). A viewer reads a person, not a
mask, so :func:`head_geometry` builds a static, stylised head behind it from ellipsoids and an
elliptic cylinder, in the face mesh's own frame (face units: x right, y up, z toward the
viewer, 1 = the neutral face height, origin at the centre of the mask's bounding box). The
parts sit behind the mask surface, so the depth test lets the animated mask cover them; only
the silhouette around it shows: the hair above the forehead and at the sides, the ears, the
neck under the chin and the shoulders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Material ids shared with ``shaders/face3d.frag``: 8 skin of the head (no face lines), 6 hair, 7 clothing.
SKIN, HAIR, CLOTH = 8, 6, 7


@dataclass(frozen=True)
class HeadGeometry:
    """Static head parts.

    Attributes:
        vertices: float32 (n, 6): position (face units) and unit normal.
        triangles: {material id: int32 (k, 3) counter-clockwise from outside: the parts are
            closed or seen from outside only, so back faces can be culled}.
    """

    vertices: np.ndarray
    triangles: dict[int, np.ndarray]


def _ellipsoid(centre, radii, n_lat: int = 24, n_lon: int = 40):
    """Vertices (positions, normals) and triangles of an ellipsoid."""
    lat = np.linspace(0.0, np.pi, n_lat + 1)
    lon = np.linspace(0.0, 2 * np.pi, n_lon + 1)
    th, ph = np.meshgrid(lat, lon, indexing="ij")
    unit = np.stack([np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)], -1).reshape(-1, 3)
    r = np.asarray(radii, np.float64)
    pos = unit * r + np.asarray(centre, np.float64)
    nrm = unit / r
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    return pos, nrm, _grid_triangles(n_lat, n_lon)


def _cylinder(centre_xz, radii_xz, y0: float, y1: float, n_h: int = 6, n_lon: int = 40):
    """An open elliptic cylinder along y from ``y0`` to ``y1``."""
    h = np.linspace(y1, y0, n_h + 1)
    lon = np.linspace(0.0, 2 * np.pi, n_lon + 1)
    hh, ph = np.meshgrid(h, lon, indexing="ij")
    rx, rz = radii_xz
    pos = np.stack([centre_xz[0] + rx * np.sin(ph), hh, centre_xz[1] + rz * np.cos(ph)], -1).reshape(-1, 3)
    nrm = np.stack([np.sin(ph) / rx, np.zeros_like(ph), np.cos(ph) / rz], -1).reshape(-1, 3)
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    return pos, nrm, _grid_triangles(n_h, n_lon)


def _grid_triangles(n_rows: int, n_cols: int) -> np.ndarray:
    i, j = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
    a = (i * (n_cols + 1) + j).ravel()
    b, c, d = a + 1, a + n_cols + 1, a + n_cols + 2
    return np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])


def head_geometry() -> HeadGeometry:
    """The stylised head, neck and shoulders around the face mask (see the module doc)."""
    parts = [
        # skull: skin below the hairline (behind the cheeks and jaw), hair above and behind
        (_ellipsoid((0.0, 0.10, -0.42), (0.455, 0.60, 0.50)), "skull"),
        # hair volume over the crown, a little larger than the skull
        (_ellipsoid((0.0, 0.19, -0.42), (0.53, 0.69, 0.58)), "hair"),
        (_ellipsoid((-0.455, 0.0, -0.40), (0.045, 0.13, 0.08), 12, 20), SKIN),  # ears
        (_ellipsoid((0.455, 0.0, -0.40), (0.045, 0.13, 0.08), 12, 20), SKIN),
        (_cylinder((0.0, -0.36), (0.25, 0.25), -0.85, -0.2), SKIN),            # neck
        (_ellipsoid((0.0, -1.02, -0.40), (0.98, 0.30, 0.36)), CLOTH),           # shoulders
    ]
    verts, tris = [], {SKIN: [], HAIR: [], CLOTH: []}
    base = 0
    for (pos, nrm, t), kind in parts:
        centroid = pos[t].mean(1)
        if kind == "skull":
            hair = (centroid[:, 1] > 0.16) | (centroid[:, 2] < -0.62)
            tris[HAIR].append(t[hair] + base)
            tris[SKIN].append(t[~hair] + base)
        elif kind == "hair":
            keep = (centroid[:, 1] > 0.30) | ((centroid[:, 2] < -0.50) & (centroid[:, 1] > -0.25))
            tris[HAIR].append(t[keep] + base)
        else:
            tris[kind].append(t + base)
        verts.append(np.hstack([pos, nrm]))
        base += len(pos)
    return HeadGeometry(np.vstack(verts).astype(np.float32),
                        {k: np.concatenate(v).astype(np.int32) for k, v in tris.items()})
