"""The latent image stream: keyframes gliding through an autoencoder's latent space.

Keyframe images are encoded once (TAEF2, the Tiny AutoEncoder for the FLUX.2 latent space, or
any ONNX pair with a model card), joined by slerp and paced by the audio energy vector
(diffusion music visualiser paper, section 3.3); the next keyframe follows the music's
valence/arousal (deepsing). See :mod:`livevis.render.latent.engine` for the motion and threading.

Entry points: :func:`~livevis.render.latent.engine.build_engine` (preset → engine or a disabled-layer
message), :class:`~livevis.render.latent.engine.LatentEngine` (``update(state)`` per hop,
``latest_frame()`` per render frame, ``frame_sync(state)`` offline).
"""

from livevis.render.latent.engine import POLICIES, DecodedFrame, LatentEngine, build_engine
from livevis.render.latent.keyframes import Keyframe, KeyframeChooser, KeyframeError, LatentCache, load_keyframes
from livevis.render.latent.runtime import TAEF2_CARD, LatentCodec, ModelCard, load_codec, load_taef2
from livevis.render.latent.slerp import slerp

__all__ = [
    "POLICIES", "DecodedFrame", "LatentEngine", "build_engine", "Keyframe", "KeyframeChooser",
    "KeyframeError", "LatentCache", "load_keyframes", "TAEF2_CARD", "LatentCodec", "ModelCard",
    "load_codec", "load_taef2", "slerp",
]
