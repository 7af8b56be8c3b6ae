"""Streaming music-emotion model: per-hop features → valence, arousal and 17 facial AUs.

The model is an ONNX graph (``models/emotion.onnx``, built by ``tools/train_emotion.py``,
documented in ``models/emotion.md``) run with onnxruntime, one ``session.run`` per hop:

==================  =====================  ==============================================
name                shape, dtype           meaning
==================  =====================  ==============================================
in  features        (1, 128) float32       raw :attr:`livevis.analysis.features.HopFeatures.vector`
                                           (normalisation is inside the graph)
in  state_in        (1, H) float32         recurrent state, zeros at the start
out valence_arousal (1, 2) float32         valence, arousal in [-1, 1] (emoMusic scale)
out aus             (1, 17) float32        AU intensities in [0, 1], :data:`AU_NAMES` order
out state_out       (1, H) float32         state for the next hop
==================  =====================  ==============================================

Valence/arousal come from a small GRU trained on human ratings (emoMusic) and a teacher
(vibenet); the AUs from a fixed layer in the same graph that blends EMFACS emotion prototypes
(Friesen & Ekman 1983; Ekman, Friesen & Hager 2002) placed on Russell's (1980) circumplex.
Training data, mapping table and metrics: ``models/emotion.md``.

:class:`Smoother` applies attack/release smoothing to the outputs (times set by a preset).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

from livevis import MODELS_DIR
from livevis.errors import ModelError
from livevis.analysis.features import N_FEATURES
from livevis.analysis.state import AU_NAMES

#: The built-in model.
DEFAULT_MODEL = MODELS_DIR / "emotion.onnx"

_INPUTS = {"features": N_FEATURES}
_OUTPUTS = {"valence_arousal": 2, "aus": len(AU_NAMES)}
#: Human-readable contract, used in error messages.
EXPECTED = (f"inputs features [1, {N_FEATURES}] and state_in [1, H]; "
            f"outputs valence_arousal [1, 2], aus [1, {len(AU_NAMES)}] and state_out [1, H] (float32)")


def _shape(arg) -> list:
    return list(arg.shape) if arg.shape is not None else []


class EmotionModel:
    """One streaming emotion predictor (an onnxruntime session plus its recurrent state).

    Args:
        path: ONNX model file; None → the built-in ``models/emotion.onnx``.
        providers: onnxruntime execution providers to try, in order; None → CUDA first when
            this onnxruntime has it, then CPU.

    Attributes:
        path: the loaded file.
        provider: the execution provider in use, e.g. ``"CPUExecutionProvider"``.
        state_size: H, the length of the recurrent state.

    Raises:
        ModelError: the file is missing, not a valid ONNX model, or its inputs/outputs do not
            match the contract (the message names the file and the expected shapes).
    """

    def __init__(self, path: str | Path | None = None, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path) if path is not None else DEFAULT_MODEL
        if not self.path.is_file():
            raise ModelError(f"emotion model not found: {self.path} (expected an ONNX file with {EXPECTED})")
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # shares the machine with rendering
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types
            first = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
            raise ModelError(f"cannot load emotion model {self.path}: {first[:200]} "
                             f"(expected an ONNX file with {EXPECTED})") from None
        self.state_size = self._check()
        self.provider = self._session.get_providers()[0]
        self._state = np.zeros((1, self.state_size), np.float32)
        self._feed = np.zeros((1, N_FEATURES), np.float32)

    def _check(self) -> int:
        """Validate names and shapes against the contract; return H."""
        ins = {a.name: _shape(a) for a in self._session.get_inputs()}
        outs = {a.name: _shape(a) for a in self._session.get_outputs()}
        problems = []
        for name, n in _INPUTS.items():
            if ins.get(name) != [1, n]:
                problems.append(f"input {name} is {ins.get(name, 'missing')}")
        for name, n in _OUTPUTS.items():
            if outs.get(name) != [1, n]:
                problems.append(f"output {name} is {outs.get(name, 'missing')}")
        h_in, h_out = ins.get("state_in"), outs.get("state_out")
        ok_state = (h_in is not None and len(h_in) == 2 and h_in[0] == 1 and isinstance(h_in[1], int)
                    and h_in[1] > 0 and h_in == h_out)
        if not ok_state:
            problems.append(f"state_in is {h_in or 'missing'}, state_out is {h_out or 'missing'}")
        if problems:
            raise ModelError(f"emotion model {self.path} does not match: {'; '.join(problems)} (expected {EXPECTED})")
        return int(h_in[1])

    def reset(self) -> None:
        """Zero the recurrent state (start of a new stream)."""
        self._state[:] = 0.0

    def step(self, features: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Advance one hop.

        Args:
            features: float32 array (128,), the raw hop feature vector.

        Returns:
            ``(valence, arousal, aus)``: floats in [-1, 1] and a float32 array (17,) in [0, 1]
            in :data:`~livevis.analysis.state.AU_NAMES` order.

        Raises:
            ValueError: ``features`` does not have 128 values.
        """
        x = np.asarray(features, dtype=np.float32).reshape(-1)
        if x.shape != (N_FEATURES,):
            raise ValueError(f"features must have shape ({N_FEATURES},), got {np.shape(features)}")
        self._feed[0] = np.nan_to_num(x)
        va, aus, state = self._session.run(None, {"features": self._feed, "state_in": self._state})
        self._state = state
        return float(va[0, 0]), float(va[0, 1]), aus[0].astype(np.float32, copy=True)


def load_emotion_model(path: str | Path | None = None, log: Callable[[str], object] = print) -> EmotionModel:
    """Load ``path``; if it fails, log the one-line reason and fall back to the built-in model.

    Raises:
        ModelError: the built-in model itself cannot be loaded.
    """
    if path is not None:
        try:
            return EmotionModel(path)
        except ModelError as err:
            log(f"{err}; falling back to the built-in model {DEFAULT_MODEL}")
    return EmotionModel(DEFAULT_MODEL)


class Smoother:
    """Attack/release exponential smoothing of a vector, one call per step.

    Each element moves toward its input with time constant ``attack_s`` when the input is
    above the smoothed value (rising) and ``release_s`` when it is below (falling):
    ``y += (1 - exp(-dt / tau)) · (x - y)``. A time of 0 follows the input at once.

    Args:
        attack_s: rise time constant in seconds, >= 0.
        release_s: fall time constant in seconds, >= 0.
        dt: step in seconds (the analysis hop, 0.1 s by default), > 0.

    Raises:
        ValueError: a negative time or a non-positive ``dt``.
    """

    def __init__(self, attack_s: float = 0.2, release_s: float = 0.6, dt: float = 0.1) -> None:
        if attack_s < 0 or release_s < 0 or dt <= 0:
            raise ValueError(f"need attack_s >= 0, release_s >= 0, dt > 0; got {attack_s}, {release_s}, {dt}")
        self.dt = dt
        self.set_times(attack_s, release_s)
        self._y: np.ndarray | None = None

    def set_times(self, attack_s: float, release_s: float) -> None:
        """Change the attack/release time constants (seconds, >= 0), keeping the smoothed value
        (a live knob turn must not make the face jump).

        Raises:
            ValueError: a negative time.
        """
        if attack_s < 0 or release_s < 0:
            raise ValueError(f"need attack_s >= 0, release_s >= 0; got {attack_s}, {release_s}")
        self.attack_s, self.release_s = attack_s, release_s
        self._a_up = 1.0 if attack_s == 0 else 1.0 - math.exp(-self.dt / attack_s)
        self._a_down = 1.0 if release_s == 0 else 1.0 - math.exp(-self.dt / release_s)

    def reset(self) -> None:
        """Forget the smoothed value; the next input is taken as is."""
        self._y = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Smooth one step: float array (n,) → float32 array (n,) (the first call returns ``x``)."""
        x = np.asarray(x, dtype=np.float32)
        if self._y is None or self._y.shape != x.shape:
            self._y = x.copy()
        else:
            alpha = np.where(x > self._y, self._a_up, self._a_down).astype(np.float32)
            self._y = self._y + alpha * (x - self._y)
        return self._y.copy()
