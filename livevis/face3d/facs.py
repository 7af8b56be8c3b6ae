"""A hand-built FACS rig on the MediaPipe face mesh: one displacement field per action unit.

py-feat's PLS model (:mod:`livevis.face3d.aumesh`) was fitted to detector outputs, and its AU
columns carry each other's motion: its AU15 barely lowers the lip corners, its AU17 raises them
like a smile, its AU9 lifts the outer brows, AU1 and AU4 cancel at the inner brow, and its
neutral face has the lips 4 % of the face height apart. A viewer reads none of the sad, disgusted
or afraid faces from it. This module builds, from the neutral mesh alone, the displacements
the FACS manual describes for each AU (Ekman, Friesen & Hager 2002, "Facial Action Coding
System", the "appearance changes" of each AU), as smooth Gaussian fields around landmarks,
mirrored for both halves of the face:

==========  =================================================================================
AU01        inner brows up (medial end most: the oblique "sad" brow), forehead with them
AU02        outer brows up
AU04        brows down and drawn together, medial ends most
AU05        upper lids up (more white above the iris)
AU06        cheeks up, lower lids pushed up, eyes narrowed from below
AU07        lower lids raised and straightened, upper lids slightly down (tense stare)
AU09        nose wings and upper lip up, inner brows pulled down
AU10        upper lip up (centre most)
AU12        lip corners up and out
AU14        lip corners in (dimpler)
AU15        lip corners down
AU17        chin boss and lower lip pushed up (lower lip pouts)
AU20        lip corners stretched sideways, slightly down
AU23        lips tightened: corners in, lips thinned
AU25        lips parted
AU26        jaw dropped (py-feat's fitted AU26, which is clean)
AU45        upper lids closed onto the lower lids
==========  =================================================================================

All amounts are in face units (1 = the neutral face height, chin to forehead top).
"""

from __future__ import annotations

import numpy as np

from livevis.analysis.state import AU_INDEX, AU_NAMES

# MediaPipe face-mesh indices (viewer's left first; the right side is found by mirroring x).
_UPPER_LID_L = (246, 161, 160, 159, 158, 157, 173)
_LOWER_LID_L = (7, 163, 144, 145, 153, 154, 155)
_UPPER_LID_R = (466, 388, 387, 386, 385, 384, 398)
_LOWER_LID_R = (249, 390, 373, 374, 380, 381, 382)
_UPPER_INNER_LIP = (191, 80, 81, 82, 13, 312, 311, 310, 415)
_LOWER_INNER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324)
_MOUTH_CORNERS = (78, 308)
_UPPER_LIP_MID, _LOWER_LIP_MID = 13, 14
_IRIS = slice(468, 478)


def _field(v: np.ndarray, centre, sigma, move, mask=None, mirror: bool = True) -> np.ndarray:
    """Gaussian displacement field: each vertex moves by ``move`` (3,) weighted by
    ``exp(-|(xy - centre) / sigma|² / 2)``; ``mirror`` adds the same at ``-x`` with the x
    component of ``move`` negated. ``mask`` (n,) in [0, 1] limits it to a region."""
    out = np.zeros_like(v)
    sides = [(1.0,), (-1.0,)] if mirror else [(1.0,)]
    for (s,) in sides:
        c = np.array([centre[0] * s, centre[1]])
        q = (v[:, :2] - c) / np.asarray(sigma, np.float32)
        w = np.exp(-0.5 * (q ** 2).sum(1))
        if mask is not None:
            w = w * mask
        m = np.array([move[0] * s, move[1], move[2]], np.float32)
        out += w[:, None] * m
    return out


def _soft_above(v: np.ndarray, y: float, width: float) -> np.ndarray:
    """1 above height ``y``, 0 below, smooth over ``width``."""
    return 0.5 + 0.5 * np.tanh((v[:, 1] - y) / (2.0 * width))


def _lid_close(v: np.ndarray) -> np.ndarray:
    """AU45: each upper-lid vertex moves down onto the lower lid below it; the skin above follows."""
    out = np.zeros_like(v)
    for upper, lower in ((_UPPER_LID_L, _LOWER_LID_L), (_UPPER_LID_R, _LOWER_LID_R)):
        lo = v[list(lower)]
        order = np.argsort(lo[:, 0])
        ly = np.interp(v[list(upper), 0], lo[order, 0], lo[order, 1])
        drop = ly + 0.003 - v[list(upper), 1]
        out[list(upper), 1] = drop
        # the lid skin between lid line and brow follows with falloff
        c = v[list(upper)].mean(0)
        q = ((v[:, 0] - c[0]) / 0.07) ** 2 + ((v[:, 1] - c[1] - 0.02) / 0.035) ** 2
        w = np.exp(-0.5 * q) * _soft_above(v, c[1] + 0.004, 0.004)
        w[list(upper)] = 0.0
        out[:, 1] += w * drop.mean() * 0.6
    return out


def _lips_part(v: np.ndarray, amount: float) -> np.ndarray:
    """AU25: the inner lip lines move apart by ``amount`` in total, outer lip lines half as much."""
    mid = (v[_UPPER_LIP_MID, 1] + v[_LOWER_LIP_MID, 1]) / 2
    cx, width = 0.0, abs(v[_MOUTH_CORNERS[1], 0] - v[_MOUTH_CORNERS[0], 0]) / 2
    near = np.exp(-0.5 * ((v[:, 0] - cx) / (0.7 * width)) ** 2) * np.exp(-0.5 * ((v[:, 1] - mid) / 0.05) ** 2)
    up = _soft_above(v, mid, 0.002)
    out = np.zeros_like(v)
    out[:, 1] = near * (up * amount * 0.35 - (1 - up) * amount * 0.65)
    return out


#: Resting upper-lid closure: relaxed lids cover the top of the iris (the fitted neutral stares).
REST_LID = 0.28


def neutral_correction(v: np.ndarray) -> np.ndarray:
    """Displacement that closes the neutral mesh's parted lips (the fitted neutral shows teeth)
    and relaxes its wide-open upper lids by :data:`REST_LID`."""
    gap = float(v[_UPPER_LIP_MID, 1] - v[_LOWER_LIP_MID, 1]) - 0.002
    out = -_lips_part(v, gap) + REST_LID * _lid_close(v)
    out[_IRIS] = 0.0
    return out


def au_fields(v: np.ndarray) -> np.ndarray:
    """The displacement of each AU at intensity 1, float32 (17, n, 3), :data:`AU_NAMES` order.

    Args:
        v: the (lips-closed) neutral mesh, float (n, 3), face units. ``AU26`` is left zero here:
            the caller takes py-feat's fitted jaw drop.
    """
    v = np.asarray(v, np.float32)
    f = np.zeros((len(AU_NAMES), len(v), 3), np.float32)
    brow_y = float(v[105, 1])            # middle of the brow
    eye_y = float(v[159, 1] + v[145, 1]) / 2
    mouth_y = float(v[_UPPER_LIP_MID, 1] + v[_LOWER_LIP_MID, 1]) / 2
    corner = v[61]
    above_eyes = _soft_above(v, eye_y + 0.035, 0.008)
    above_mouth = _soft_above(v, mouth_y, 0.004)
    below_mouth = 1.0 - above_mouth

    def put(au, field):
        f[AU_INDEX[au]] += field

    # Brows and forehead.
    put("AU01", _field(v, (-0.09, brow_y - 0.03), (0.07, 0.10), (0.0, 0.050, 0.0), above_eyes))
    put("AU01", _field(v, (-0.09, brow_y + 0.12), (0.10, 0.10), (0.0, 0.015, 0.0), above_eyes))
    put("AU02", _field(v, (-0.28, brow_y - 0.02), (0.10, 0.08), (0.0, 0.060, 0.0), above_eyes))
    put("AU04", _field(v, (-0.10, brow_y - 0.04), (0.09, 0.07), (0.020, -0.040, 0.0), above_eyes))
    put("AU04", _field(v, (-0.28, brow_y - 0.02), (0.10, 0.07), (0.006, -0.018, 0.0), above_eyes))
    # Lids and cheeks.
    upper_lids = np.zeros(len(v), np.float32)
    upper_lids[list(_UPPER_LID_L + _UPPER_LID_R)] = 1.0
    lower_lids = np.zeros(len(v), np.float32)
    lower_lids[list(_LOWER_LID_L + _LOWER_LID_R)] = 1.0
    above_lid_line = _soft_above(v, eye_y, 0.003)
    eye_c = (float(v[159, 0]), eye_y)
    put("AU05", _field(v, (eye_c[0], eye_y + 0.03), (0.07, 0.03), (0.0, 0.040, 0.0), above_lid_line))
    put("AU06", _field(v, (-0.27, eye_y - 0.14), (0.10, 0.07), (0.0, 0.035, 0.01), 1 - above_lid_line))
    put("AU06", _field(v, (eye_c[0], eye_y - 0.02), (0.06, 0.025), (0.0, 0.008, 0.0), 1 - above_lid_line))
    put("AU06", _field(v, (-0.34, eye_y + 0.04), (0.06, 0.05), (0.0, -0.010, 0.0), above_eyes))
    put("AU07", _field(v, (eye_c[0], eye_y - 0.02), (0.06, 0.022), (0.0, 0.020, 0.0), 1 - above_lid_line))
    put("AU07", _field(v, (eye_c[0], eye_y + 0.02), (0.06, 0.02), (0.0, -0.008, 0.0), above_lid_line))
    put("AU45", _lid_close(v))
    # Nose and upper lip.
    put("AU09", _field(v, (-0.11, -0.06), (0.06, 0.06), (0.0, 0.030, 0.0), above_mouth))
    put("AU09", _field(v, (-0.03, 0.08), (0.05, 0.07), (0.0, 0.018, 0.0), None))
    put("AU09", _field(v, (-0.07, mouth_y + 0.03), (0.07, 0.03), (0.0, 0.012, 0.0), above_mouth))
    put("AU09", _field(v, (-0.07, brow_y - 0.04), (0.06, 0.06), (0.004, -0.008, 0.0), above_eyes))
    put("AU10", _field(v, (-0.05, mouth_y + 0.02), (0.07, 0.035), (0.0, 0.025, 0.005), above_mouth))
    put("AU10", _field(v, (-0.11, -0.06), (0.05, 0.05), (0.0, 0.010, 0.0), above_mouth))
    # Lip corners.
    cx, cy = float(corner[0]), float(corner[1])
    put("AU12", _field(v, (cx, cy), (0.06, 0.05), (-0.030, 0.060, -0.005), None))
    put("AU12", _field(v, (0.0, mouth_y - 0.02), (0.06, 0.03), (0.0, -0.012, 0.0), below_mouth, mirror=False))
    put("AU12", _field(v, (cx - 0.08, cy + 0.10), (0.08, 0.06), (0.0, 0.020, 0.008), None))
    put("AU14", _field(v, (cx, cy), (0.05, 0.05), (0.012, 0.004, -0.01), None))
    put("AU15", _field(v, (cx, cy - 0.01), (0.06, 0.06), (-0.004, -0.040, 0.0), None))
    put("AU15", _field(v, (cx + 0.02, cy - 0.08), (0.06, 0.06), (0.0, -0.012, 0.0), below_mouth))
    put("AU20", _field(v, (cx, cy), (0.07, 0.06), (-0.035, -0.010, -0.006), None))
    put("AU23", _field(v, (cx, cy), (0.06, 0.05), (0.016, 0.0, 0.0), None))
    put("AU23", _field(v, (0.0, mouth_y), (0.10, 0.025), (0.0, 0.0, -0.006), None, mirror=False))
    # Chin and lower lip.
    put("AU17", _field(v, (0.0, float(v[152, 1]) + 0.12), (0.12, 0.10), (0.0, 0.030, 0.01), below_mouth,
                       mirror=False))
    put("AU17", _field(v, (0.0, mouth_y - 0.04), (0.10, 0.03), (0.0, 0.012, 0.012), below_mouth, mirror=False))
    put("AU25", _lips_part(v, 0.06))
    f[:, _IRIS] = 0.0  # the eyeballs do not move with the face's muscles
    return f
