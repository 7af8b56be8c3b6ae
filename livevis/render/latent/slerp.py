"""Spherical linear interpolation (slerp) between latents.

    slerp(a, b, t) = sin((1 − t)·θ)/sin θ · a + sin(t·θ)/sin θ · b,   cos θ = â·b̂

(Shoemake 1985; used for latent walks in the diffusion music visualiser paper, section 3.4).
For unit-norm ``a`` and ``b`` the result is unit-norm and moves along the great circle at
constant angular speed in ``t``. Nearly parallel inputs (|cos θ| > ``dot_threshold``) fall
back to linear interpolation, where slerp is numerically ill-conditioned.
"""

from __future__ import annotations

import numpy as np


class GreatCircle:
    """The slerp path from ``a`` to ``b``, with the angle between them computed once: a latent
    walk evaluates one segment at every hop, and the norms and the dot product of two 131k-value
    latents were most of each evaluation's cost.

    Args:
        a, b: arrays of the same shape (any, e.g. a (C, h, w) latent), float32/float64. The
            angle is that of the flattened vectors.
        dot_threshold: above this |cos θ|, interpolate linearly.

    Raises:
        ValueError: shapes differ.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, dot_threshold: float = 0.9995) -> None:
        a = np.asarray(a)
        b = np.asarray(b)
        if a.shape != b.shape:
            raise ValueError(f"slerp endpoints differ in shape: {a.shape} vs {b.shape}")
        self.dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float32
        self._a, self._b = a.astype(np.float64), b.astype(np.float64)
        na, nb = np.linalg.norm(self._a), np.linalg.norm(self._b)
        self.theta: float | None = None  # None: linear interpolation
        if na != 0 and nb != 0:
            dot = float(np.clip(np.vdot(self._a, self._b) / (na * nb), -1.0, 1.0))
            if abs(dot) <= dot_threshold:
                self.theta = float(np.arccos(dot))

    def at(self, t) -> np.ndarray:
        """The point at ``t`` (scalar, or a 1-D array of K values; usually in [0, 1], values
        outside extrapolate): the shape of ``a`` for scalar ``t``, else (K, *a.shape); dtype of
        ``a`` (float32 for integer input)."""
        t_arr = np.asarray(t, dtype=np.float64)
        scalar = t_arr.ndim == 0
        t_arr = t_arr.reshape(-1, *([1] * self._a.ndim))
        if self.theta is None:
            out = (1 - t_arr) * self._a + t_arr * self._b
        else:
            theta = self.theta
            s = np.sin(theta)
            out = (np.sin((1 - t_arr) * theta) / s) * self._a + (np.sin(t_arr * theta) / s) * self._b
        out = out.astype(self.dtype)
        return out[0] if scalar else out


def slerp(a: np.ndarray, b: np.ndarray, t, dot_threshold: float = 0.9995) -> np.ndarray:
    """Interpolate from ``a`` (t = 0) to ``b`` (t = 1) on the sphere (:class:`GreatCircle`).

    Args:
        a, b: arrays of the same shape (any, e.g. a (C, h, w) latent), float32/float64. The
            angle is that of the flattened vectors.
        t: scalar or 1-D array of K values, usually in [0, 1] (values outside extrapolate).
        dot_threshold: above this |cos θ|, use linear interpolation.

    Returns:
        Same shape as ``a`` for scalar ``t``, else (K, *a.shape); dtype of ``a`` (float32 for
        integer input).

    Raises:
        ValueError: shapes differ.
    """
    return GreatCircle(a, b, dot_threshold).at(t)
