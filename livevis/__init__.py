"""livevis — a real-time music visualizer.

Live sound (microphone, line-in, or a file played in real time) is analysed every hop
into features, valence/arousal and facial action units (AUs); renderers turn them into an
AU-driven face and shader layers, blended in OpenGL, shown in a window or written to video.
"""

from pathlib import Path

__version__ = "0.1.0"

#: Root of the livevis checkout: ``shaders/``, ``models/`` and ``presets/`` live here.
ROOT = Path(__file__).resolve().parent.parent
SHADERS_DIR = ROOT / "shaders"
MODELS_DIR = ROOT / "models"
PRESETS_DIR = ROOT / "presets"
