"""Encoder/decoder pairs in onnxruntime, described by a small model card.

A :class:`LatentCodec` wraps two ONNX graphs (image → latent, latent → image) and a
:class:`ModelCard` (latent channels, spatial scale factor, pixel value range). TAEF2 (the
Tiny AutoEncoder for the FLUX.2 latent space) is the built-in pair, shipped as ONNX in
``models/`` (``models/taef2.md``; exported by ``tools/export_taef2.py``; :func:`load_taef2`);
any other pair, e.g. a Stable Diffusion VAE exported by a user's tools/ script, plugs in
through :func:`load_codec` with a ``card.json`` beside ``encoder.onnx`` and ``decoder.onnx``.
No torch at run time.

Providers: CUDA first (with the float16 decoder graph when one is present), CPU fallback.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from livevis import MODELS_DIR
from livevis.errors import ModelError


@dataclass(frozen=True)
class ModelCard:
    """What the engine needs to know about an encoder/decoder pair.

    Attributes:
        name: identifier, part of the latent-cache key (latents of different models never mix).
        latent_channels: C of the latent (N, C, H/s, W/s).
        scale_factor: s, pixels per latent cell along each axis (8 for TAEF2 and SD VAEs).
        image_range: (low, high) pixel values the encoder takes and the decoder returns;
            (0, 1) for TAEF2, (-1, 1) for SD VAEs. Images are uint8 [0, 255] outside the codec.
        latent_scale: multiply encoder outputs by this before storing/interpolating and divide
            before decoding (0.18215 for the SD 1.x VAE if the graph does not bake it in; 1 for TAEF2).
    """

    name: str
    latent_channels: int
    scale_factor: int
    image_range: tuple[float, float] = (0.0, 1.0)
    latent_scale: float = 1.0

    @classmethod
    def from_json(cls, path: str | Path) -> "ModelCard":
        """Read a card from JSON (keys as the attributes). Raises ModelError naming the file."""
        try:
            data = json.loads(Path(path).read_text())
            card = cls(name=str(data["name"]), latent_channels=int(data["latent_channels"]),
                       scale_factor=int(data["scale_factor"]),
                       image_range=tuple(float(v) for v in data.get("image_range", (0.0, 1.0))),
                       latent_scale=float(data.get("latent_scale", 1.0)))
        except Exception as err:
            raise ModelError(f"{path}: not a valid model card ({type(err).__name__}: {err})") from None
        if card.latent_channels < 1 or card.scale_factor < 1 or len(card.image_range) != 2:
            raise ModelError(f"{path}: latent_channels and scale_factor must be >= 1, image_range two numbers")
        return card

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")


#: The TAEF2 card: 32 latent channels, 8x downsampling, images in [0, 1].
TAEF2_CARD = ModelCard(name="taef2", latent_channels=32, scale_factor=8, image_range=(0.0, 1.0))

#: The shipped TAEF2 graphs in ``models/`` (see ``models/taef2.md``).
TAEF2_FILE_NAMES = {"encoder": "taef2_encoder.onnx", "decoder": "taef2_decoder.onnx",
                    "decoder_fp16": "taef2_decoder_fp16.onnx"}


def available_providers(prefer_gpu: bool = True) -> list[str]:
    """Execution providers to try, best first: CUDA (if installed and wanted), then CPU."""
    have = ort.get_available_providers()
    order = (["CUDAExecutionProvider"] if prefer_gpu else []) + ["CPUExecutionProvider"]
    return [p for p in order if p in have]


def _session(path: Path, providers: list[str], threads: int | None) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as err:
        msg = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise ModelError(f"{path}: not a loadable ONNX model ({msg})") from None


def _dim(value) -> int | None:
    return value if isinstance(value, int) else None


class LatentCodec:
    """An ONNX encoder/decoder pair in onnxruntime. Thread-safe (one call at a time per graph).

    Args:
        encoder_path: ONNX graph, input (N, 3, H, W) float in ``card.image_range`` →
            output (N, C, H/s, W/s).
        decoder_path: ONNX graph, input (N, C, h, w) → output (N, 3, s·h, s·w).
        card: the pair's :class:`ModelCard`.
        providers: onnxruntime providers in order (default :func:`available_providers`).
        threads: intra-op threads for the CPU provider (None: onnxruntime's default).
        decoder_fp16_path: optional float16 decoder graph, used when the CUDA provider is active.

    Raises:
        ModelError: a missing/unloadable graph, or one whose inputs/outputs do not match the
            card (wrong rank, channel count or scale factor); the message names the file.
    """

    def __init__(self, encoder_path: str | Path, decoder_path: str | Path, card: ModelCard,
                 providers: list[str] | None = None, threads: int | None = None,
                 decoder_fp16_path: str | Path | None = None) -> None:
        self.card = card
        providers = providers or available_providers()
        self.encoder_path, self.decoder_path = Path(encoder_path), Path(decoder_path)
        self._enc = _session(self.encoder_path, providers, threads)
        use_fp16 = decoder_fp16_path is not None and Path(decoder_fp16_path).is_file() \
            and "CUDAExecutionProvider" in providers
        if use_fp16:
            self.decoder_path = Path(decoder_fp16_path)
        self._dec = _session(self.decoder_path, providers, threads)
        self.provider = self._dec.get_providers()[0]
        self._dec_dtype = np.float16 if "float16" in self._dec.get_inputs()[0].type else np.float32
        self._enc_dtype = np.float16 if "float16" in self._enc.get_inputs()[0].type else np.float32
        self._enc_lock, self._dec_lock = threading.Lock(), threading.Lock()
        self._check()

    # -- validation -------------------------------------------------------------------------
    def _check(self) -> None:
        c, s = self.card.latent_channels, self.card.scale_factor
        for sess, path, ins, outs in ((self._enc, self.encoder_path, 3, c), (self._dec, self.decoder_path, c, 3)):
            i, o = sess.get_inputs(), sess.get_outputs()
            if len(i) != 1 or len(o) < 1 or len(i[0].shape) != 4 or len(o[0].shape) != 4:
                raise ModelError(f"{path}: expected one 4-D input and a 4-D output (N, C, H, W), "
                                 f"got inputs {[x.shape for x in i]} outputs {[x.shape for x in o]}")
            got_in, got_out = _dim(i[0].shape[1]), _dim(o[0].shape[1])
            if (got_in is not None and got_in != ins) or (got_out is not None and got_out != outs):
                raise ModelError(f"{path}: channels {got_in}→{got_out} do not match the model card "
                                 f"'{self.card.name}' ({ins}→{outs})")
        probe = np.zeros((1, c, 2, 2), dtype=np.float32)
        try:
            out = self._run_dec(probe)
        except ModelError:
            raise
        except Exception as err:
            raise ModelError(f"{self.decoder_path}: fails on a (1, {c}, 2, 2) latent ({err})") from None
        if out.shape != (1, 3, 2 * s, 2 * s):
            raise ModelError(f"{self.decoder_path}: a (1, {c}, 2, 2) latent decodes to {out.shape}, "
                             f"expected (1, 3, {2 * s}, {2 * s}) for scale factor {s}")

    # -- raw graphs -------------------------------------------------------------------------
    def _run_dec(self, latents: np.ndarray) -> np.ndarray:
        name = self._dec.get_inputs()[0].name
        with self._dec_lock:
            return self._dec.run(None, {name: latents.astype(self._dec_dtype, copy=False)})[0]

    def _run_enc(self, images: np.ndarray) -> np.ndarray:
        name = self._enc.get_inputs()[0].name
        with self._enc_lock:
            return self._enc.run(None, {name: images.astype(self._enc_dtype, copy=False)})[0]

    # -- public -----------------------------------------------------------------------------
    def encode(self, images: np.ndarray) -> np.ndarray:
        """Encode RGB images.

        Args:
            images: uint8, (H, W, 3) or (N, H, W, 3), [0, 255]; H and W multiples of
                ``card.scale_factor``.

        Returns:
            float32 latents (N, C, H/s, W/s), multiplied by ``card.latent_scale``.

        Raises:
            ValueError: wrong shape/dtype or a size that is not a multiple of the scale factor.
        """
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        s = self.card.scale_factor
        if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, 3), got {x.dtype} {x.shape}")
        if x.shape[1] % s or x.shape[2] % s:
            raise ValueError(f"image size {x.shape[2]}x{x.shape[1]} is not a multiple of {s}")
        lo, hi = self.card.image_range
        t = x.transpose(0, 3, 1, 2).astype(np.float32) * ((hi - lo) / 255.0) + lo
        z = self._run_enc(np.ascontiguousarray(t)).astype(np.float32)
        return z * self.card.latent_scale

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Decode latents (batched: N latents in one graph run).

        Args:
            latents: float32, (C, h, w) or (N, C, h, w), as returned by :meth:`encode`.

        Returns:
            uint8 RGB images (N, s·h, s·w, 3), [0, 255].
        """
        z = np.asarray(latents, dtype=np.float32)
        if z.ndim == 3:
            z = z[None]
        if z.ndim != 4 or z.shape[1] != self.card.latent_channels:
            raise ValueError(f"latents must be (N, {self.card.latent_channels}, h, w), got {z.shape}")
        y = self._run_dec(np.ascontiguousarray(z / self.card.latent_scale)).astype(np.float32)
        lo, hi = self.card.image_range
        y = (y - lo) * (255.0 / (hi - lo))
        return np.clip(y + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def load_codec(model_dir: str | Path, providers: list[str] | None = None,
               threads: int | None = None) -> LatentCodec:
    """Load a user pair: ``encoder.onnx``, ``decoder.onnx``, ``card.json`` (optional
    ``decoder_fp16.onnx``) in ``model_dir``. Raises ModelError naming the missing/bad file."""
    d = Path(model_dir)
    card = ModelCard.from_json(d / "card.json") if (d / "card.json").is_file() else None
    if card is None:
        raise ModelError(f"{d / 'card.json'}: model card not found")
    return LatentCodec(d / "encoder.onnx", d / "decoder.onnx", card, providers, threads,
                       decoder_fp16_path=d / "decoder_fp16.onnx")


def load_taef2(providers: list[str] | None = None, threads: int | None = None,
               model_dir: str | Path | None = None) -> LatentCodec:
    """The TAEF2 codec from the shipped ONNX graphs (onnxruntime only, no torch).

    Args:
        providers, threads: as :class:`LatentCodec` (CUDA first when present, else CPU; on
            CUDA the float16 decoder ``taef2_decoder_fp16.onnx`` is used).
        model_dir: folder holding :data:`TAEF2_FILE_NAMES` (default ``models/``).

    Raises:
        ModelError: a missing or unloadable graph; the message names the file and how to
            rebuild it (``tools/export_taef2.py``).
    """
    d = Path(model_dir) if model_dir else MODELS_DIR
    for kind in ("encoder", "decoder"):
        if not (d / TAEF2_FILE_NAMES[kind]).is_file():
            raise ModelError(f"{d / TAEF2_FILE_NAMES[kind]}: TAEF2 model file not found "
                             "(rebuild it with tools/export_taef2.py)")
    return LatentCodec(d / TAEF2_FILE_NAMES["encoder"], d / TAEF2_FILE_NAMES["decoder"], TAEF2_CARD,
                       providers, threads, decoder_fp16_path=d / TAEF2_FILE_NAMES["decoder_fp16"])
