"""Spherical linear interpolation (slerp) between latents.

    slerp(a, b, t) = sin((1 − t)·θ)/sin θ · a + sin(t·θ)/sin θ · b,   cos θ = â·b̂

(Shoemake 1985; used for latent walks in the diffusion music visualiser paper, section 3.4).
For unit-norm ``a`` and ``b`` the result is unit-norm and moves along the great circle at
constant angular speed in ``t``. Nearly parallel inputs (|cos θ| > ``dot_threshold``) fall
back to linear interpolation, where slerp is numerically ill-conditioned.
"""

from __future__ import annotations

import numpy as np


def slerp(a: np.ndarray, b: np.ndarray, t, dot_threshold: float = 0.9995) -> np.ndarray:
    """Interpolate from ``a`` (t = 0) to ``b`` (t = 1) on the sphere.

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
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"slerp endpoints differ in shape: {a.shape} vs {b.shape}")
    dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float32
    t_arr = np.asarray(t, dtype=np.float64)
    scalar = t_arr.ndim == 0
    t_arr = t_arr.reshape(-1, *([1] * a.ndim))
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na == 0 or nb == 0:
        out = (1 - t_arr) * a64 + t_arr * b64
    else:
        dot = float(np.clip(np.vdot(a64, b64) / (na * nb), -1.0, 1.0))
        if abs(dot) > dot_threshold:
            out = (1 - t_arr) * a64 + t_arr * b64
        else:
            theta = np.arccos(dot)
            s = np.sin(theta)
            out = (np.sin((1 - t_arr) * theta) / s) * a64 + (np.sin(t_arr * theta) / s) * b64
    out = out.astype(dtype)
    return out[0] if scalar else out
