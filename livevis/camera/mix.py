"""Where the camera's emotion goes: mixing it into the analysis state a consumer sees.

Two consumers: the face on screen (``"face"``) and the MIDI out, generative and analysis
(``"midi"``). A preset's ``[camera] drives`` says which follows the faces (see
:class:`~livevis.control.presets.CameraSpec`); the other keeps following the music. With no face
in view the camera has no say and the music's emotion comes through unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from livevis.analysis.state import AnalysisState
from livevis.camera.emotion import CameraState
from livevis.expression import circumplex_aus

#: For each ``drives`` value, the consumers that follow the faces.
FOLLOWERS = {"midi": ("midi",), "face": ("face",), "blend": ("face", "midi"), "osc": ()}


def camera_weight(spec, consumer: str) -> float:
    """The faces' share, [0, 1], in what ``consumer`` (``"face"`` or ``"midi"``) sees under
    ``spec`` (a :class:`~livevis.control.presets.CameraSpec`)."""
    if consumer not in FOLLOWERS[spec.drives]:
        return 0.0
    return float(spec.weight) if spec.drives == "blend" else 1.0


def mix_state(state: AnalysisState, camera: CameraState | None, spec, consumer: str) -> AnalysisState:
    """``state`` with the camera's emotion mixed in for ``consumer``.

    valence/arousal become ``(1 − w)·music + w·faces``; for the face, the AUs become
    ``(1 − w)·music AUs + w·AUs of the faces' point on the circumplex``
    (:func:`~livevis.expression.circumplex_aus`: a face read happy shows happy). ``w`` is
    :func:`camera_weight`, 0 while no face is in view.

    Returns:
        A new :class:`AnalysisState` (``state`` itself when ``w`` is 0); AUs float32 (17,).
    """
    w = camera_weight(spec, consumer) if camera is not None and camera.face else 0.0
    if w <= 0.0:
        return state
    valence = (1.0 - w) * state.valence + w * camera.valence
    arousal = (1.0 - w) * state.arousal + w * camera.arousal
    aus = state.aus
    if consumer == "face":
        faces = circumplex_aus(camera.valence, camera.arousal)
        aus = ((1.0 - w) * np.asarray(state.aus, np.float32) + w * faces).astype(np.float32)
    return replace(state, valence=float(np.clip(valence, -1, 1)), arousal=float(np.clip(arousal, -1, 1)), aus=aus)
