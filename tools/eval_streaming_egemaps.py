#!/usr/bin/env python3
"""Experiment (issue 15, analysis cost): eGeMAPS functionals from one *streaming* openSMILE instance versus
today's fresh computation per 0.5 s window, on the 6 annotated emoMusic clips.

The streaming instance is fed each 0.1 s hop once; openSMILE computes the low-level descriptors once per
frame and pools the functionals over a sliding 0.5 s window itself (``frameModeFunctionalsConf`` with
``frameMode = fixed``, ``frameSize = 0.5``, ``frameStep = 0.1``). Its frame for a window appears once 0.1 s
more audio has been written (the pitch smoother's look-ahead), so hop k gets the functionals of the
window ending one hop earlier. Prints the median relative difference of the 88 functionals per clip,
openSMILE's CPU time per hop, and the shipped model's metrics (tools/eval_emotion.py's ``_metrics``,
part 1) with today's features and with the streaming functionals in their place.

Not used by livevis: see the issue-15 report (the run loop's wake-up latency must be solved first).

Usage: python tools/eval_streaming_egemaps.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _emotion_data as data  # noqa: E402
import eval_emotion as ev  # noqa: E402
import train_emotion as trainer  # noqa: E402

from livevis.analysis.emotion import DEFAULT_MODEL, EmotionModel  # noqa: E402


class StreamingEgemaps:
    """One openSMILE eGeMAPSv02 instance running on its own thread, fed hop by hop."""

    def __init__(self) -> None:
        import opensmile
        from opensmile.core import lib
        from opensmile.core.config import config

        smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
        self._frame_conf = tempfile.NamedTemporaryFile("w", suffix=".conf.inc", delete=False)
        self._frame_conf.write("frameMode = fixed\nframeSize = 0.5\nframeStep = 0.1\nframeCenterSpecial = left\n")
        self._frame_conf.close()
        options = smile._options()
        options.update(source=os.path.join(smile.default_config_root, config.EXTERNAL_INPUT_CONFIG),
                       sampleRate=16000, nBits=16, frameModeFunctionalsConf=self._frame_conf.name)
        self.api = lib.OpenSMILE()
        self.api.initialize(config_file=smile.config_path, options=options, loglevel=2)
        self.frames: list[np.ndarray] = []
        self._cond = threading.Condition()
        self._callback = lib.ExternalSinkCallbackEx(self._on_frame)
        self.api._check_smile_result(lib.smileapi.smile_extsink_set_data_callback_ex(
            self.api._smileobj, config.EXTERNAL_OUTPUT_COMPONENT.encode(), self._callback, None))
        self._thread = threading.Thread(target=self.api.run, daemon=True)
        self._thread.start()
        self.written = 0  # hops of 0.1 s written

    def _on_frame(self, data_ptr, nt, n, meta, _) -> int:
        v = np.ctypeslib.as_array(data_ptr, shape=(nt, n))[-1].astype(np.float32)
        with self._cond:
            self.frames.append(v)
            self._cond.notify_all()
        return 1

    def write(self, samples: np.ndarray) -> None:
        self.api.external_audio_source_write_data("extsource", (samples * 32768).astype(np.int16).tobytes())
        self.written += len(samples) // 1600

    def functionals(self, timeout: float = 5.0) -> np.ndarray:
        """Functionals of the window that ended one hop before the audio written so far."""
        want = self.written - 5
        if want < 1:
            return np.zeros(88, np.float32)
        with self._cond:
            self._cond.wait_for(lambda: len(self.frames) >= want, timeout=timeout)
            return self.frames[min(want, len(self.frames)) - 1] if self.frames else np.zeros(88, np.float32)

    def close(self) -> None:
        self.api.external_audio_source_set_eoi("extsource")
        self._thread.join()
        self.api.free()
        os.unlink(self._frame_conf.name)


def main() -> None:
    model = EmotionModel(DEFAULT_MODEL)
    truth, today, streamed, names = [], [], [], []
    for sid in data.EMOMUSIC_IDS:
        clip = data.emomusic_clip(sid)
        audio = data.load_mono16k(data.EMOMUSIC / "audio" / f"{sid}.flac")
        stream = StreamingEgemaps()
        x = clip["x"].copy()
        stream.write(audio[:6400])
        c0, t0 = time.process_time(), time.monotonic()
        for k in range(len(x)):  # hop k's window ends at 0.5 + 0.1 k s
            stream.write(audio[6400 + 1600 * k: 8000 + 1600 * k])
            x[k, :88] = np.nan_to_num(stream.functionals())
        cpu, wall = (time.process_time() - c0) / len(x), (time.monotonic() - t0) / len(x)
        stream.close()
        rel = np.abs(x[5:, :88] - clip["x"][5:, :88]) / (np.abs(clip["x"][5:, :88]) + 1e-3)
        print(f"emomusic/{sid}: median relative difference of the functionals {np.median(rel):.3f}; "
              f"streaming openSMILE {cpu * 1000:.2f} ms CPU, {wall * 1000:.1f} ms wall per hop", flush=True)
        truth.append(np.stack([clip["valence"], clip["arousal"]], 1))
        names.append(f"emomusic/{sid}")
        today.append(trainer.run_model(model, clip["x"])[0][clip["label_hops"]])
        streamed.append(trainer.run_model(model, x)[0][clip["label_hops"]])
    for label, pred in (("today's features", today), ("streaming eGeMAPS", streamed)):
        m = ev._metrics(truth, pred, names)
        print(label + ": " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()), flush=True)


if __name__ == "__main__":
    main()
