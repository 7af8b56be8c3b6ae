"""eGeMAPSv02 functionals of one window, with openSMILE's set-up paid once.

``opensmile.Smile.process_signal`` builds a new openSMILE instance (config parse, component graph) for
every call, frees it, and wraps the result in a pandas frame: a fixed cost that dominated the per-hop
analysis (issue 15). :class:`EgemapsFunctionals` initialises one instance with the same configuration
(the opensmile-python package's eGeMAPSv02 config, its external audio source and single-vector sink) and
``smile_reset`` s it after each window, so every window still starts from a fresh openSMILE state: the
output is bit-identical to ``Smile(eGeMAPSv02, Functionals).process_signal(window, 16000)``
(tests/test_analysis.py checks this on real music).

eGeMAPS: Eyben et al., "The Geneva Minimalistic Acoustic Parameter Set (GeMAPS) for Voice Research and
Affective Computing", IEEE Trans. Affective Computing 7(2), 2016.
"""

from __future__ import annotations

import os
from ctypes import POINTER, c_float, c_long, c_void_p

import numpy as np
import opensmile
from opensmile.core import lib
from opensmile.core.config import config

_SOURCE = config.EXTERNAL_SOURCE_COMPONENT.encode("ascii")
_SINK = config.EXTERNAL_OUTPUT_COMPONENT.encode("ascii")


class EgemapsFunctionals:
    """The 88 eGeMAPSv02 functionals of a whole window of 16-bit-quantised mono audio.

    Args:
        sample_rate: sample rate of the windows, Hz.

    Raises:
        opensmile.core.lib.OpenSmileException: if openSMILE cannot be initialised.
    """

    def __init__(self, sample_rate: int) -> None:
        smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
        self.names: list[str] = list(smile.feature_names)
        options = smile._options()  # the same options process_signal passes
        options["source"] = os.path.join(smile.default_config_root, config.EXTERNAL_INPUT_CONFIG)
        options["sampleRate"] = sample_rate
        options["nBits"] = 16
        self._api = lib.OpenSMILE()
        self._api.initialize(config_file=smile.config_path, options=options, loglevel=smile.loglevel)
        self._out: np.ndarray | None = None
        self._dirty = False  # a window ran since the last reset
        # one ctypes callback for the instance's lifetime (re-registered after each reset)
        self._callback = lib.ExternalSinkCallbackEx(self._on_frame)

    def _on_frame(self, data: POINTER(c_float), nt: c_long, n: c_long, meta, _: c_void_p) -> int:
        self._out = np.ctypeslib.as_array(data, shape=(nt, n))[-1].astype(np.float32)
        return 1

    def __call__(self, window: np.ndarray) -> np.ndarray:
        """Functionals of ``window``.

        Args:
            window: float32 mono samples in [-1, 1], shape (n,); quantised to int16 as opensmile-python does.

        Returns:
            float32 array (88,), in :attr:`names` order; NaN where openSMILE gave no frame (window too short).
        """
        pcm = (np.asarray(window, dtype=np.float32) * 32768).astype(np.int16)
        self.prepare()
        self._out = None
        api = self._api
        api._check_smile_result(lib.smileapi.smile_extsink_set_data_callback_ex(api._smileobj, _SINK,
                                                                                self._callback, None))
        if not api.external_audio_source_write_data(config.EXTERNAL_SOURCE_COMPONENT, pcm.tobytes()):
            raise RuntimeError("openSMILE refused the window (its input buffer is full)")
        api.external_audio_source_set_eoi(config.EXTERNAL_SOURCE_COMPONENT)
        api.run()
        self._dirty = True
        out = self._out
        return out if out is not None else np.full(len(self.names), np.nan, dtype=np.float32)

    def prepare(self) -> None:
        """Reset openSMILE after the last window (a third of a window's cost), so that the next
        window starts from a fresh state. :meth:`__call__` does it first if it was not done; call
        it when idle (the live analysis thread does, between audio blocks) to take it off the path
        from a hop's last sample to its state."""
        if self._dirty:
            self._api.reset()
            self._dirty = False

    def close(self) -> None:
        """Free openSMILE's resources (also done when the object is collected)."""
        self._api.free()

    def __del__(self) -> None:
        api = getattr(self, "_api", None)
        if api is not None:
            api.free()
