"""The GANimation layer: an ONNX generator (exported from our torch GANimation) re-synthesises
the face crop of a real photo from the AUs, on its own thread; bad model files are refused."""

import time

import numpy as np
import pytest

from livevis.errors import ModelError
from livevis.analysis.state import AnalysisState


@pytest.fixture(scope="module")
def generator_onnx(tmp_path_factory):
    torch = pytest.importorskip("torch", reason="exporting a GANimation generator needs torch")
    from livevis.face3d.ganimation import Generator, export_onnx

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("gan") / "ganimation.onnx"
    return export_onnx(Generator(width=8, n_res=1), path, size=64)


@pytest.fixture(scope="module")
def rig():
    from livevis.errors import LivevisError

    try:
        from livevis.face3d.assets import sample_photo
        from livevis.face3d.portrait import make_rig

        return make_rig(sample_photo("single_face.jpg"))
    except (LivevisError, ImportError) as err:
        pytest.skip(f"portrait assets or landmark runtime unavailable: {err}")


def test_generated_face_follows_aus_and_keeps_the_background(ctx, rig, generator_onnx):
    from livevis.face3d.ganimation_layer import GanimationLayer

    layer = GanimationLayer(ctx, rig.photo, rig.rest[:468], generator_onnx)
    try:
        x0, y0, side = layer.box
        neutral = layer.animate(np.zeros(17, np.float32))
        smile = np.zeros(17, np.float32)
        smile[[4, 8]] = 1.0  # AU06 + AU12
        happy = layer.animate(smile)
        inside = (slice(y0, y0 + side), slice(x0, x0 + side))
        assert np.abs(happy[inside].astype(int) - neutral[inside]).mean() > 0.05
        outside = np.ones(rig.photo.shape[:2], bool)
        outside[inside] = False
        assert np.array_equal(happy[outside], rig.photo[outside])
        # the thread: draw() never waits; results arrive and are uploaded
        for i in range(20):
            layer.draw(AnalysisState(aus=smile * (i % 2)), i / 30, (64, 36))
            time.sleep(0.02)
        deadline = time.monotonic() + 10
        while layer.generated == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert layer.generated >= 1
    finally:
        layer.release()


def test_bad_generator_files(tmp_path, ctx, rig):
    from livevis.face3d.ganimation_layer import load_generator

    with pytest.raises(ModelError, match="not found"):
        load_generator(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelError, match="junk.onnx.*expected inputs image"):
        load_generator(junk)
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 64, 32])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 64, 32])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["image"], ["out"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    wrong = tmp_path / "wrong.onnx"
    onnx.save(model, str(wrong))
    with pytest.raises(ModelError, match="wrong.onnx.*expected inputs"):
        load_generator(wrong)
