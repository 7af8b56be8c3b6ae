"""OpenGL rendering: layers blended by a compositor into an offscreen picture."""

from livevis.render.background import BackgroundLayer
from livevis.render.compositor import Compositor, ScreenBlitter
from livevis.render.face import FaceLayer
from livevis.render.layers import BLEND_MODES, ImageLayer, Layer, ShaderLayer, SolidLayer
from livevis.render.shaders import ShaderError, load_program

__all__ = [
    "BLEND_MODES", "BackgroundLayer", "Compositor", "FaceLayer", "ImageLayer", "Layer",
    "ScreenBlitter", "ShaderError", "ShaderLayer", "SolidLayer", "load_program",
]
