"""The shipped emotion model (real ONNX session, real music) and its runtime wrapper."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from livevis.analysis.emotion import DEFAULT_MODEL, EmotionModel, Smoother, load_emotion_model
from livevis.errors import ModelError
from livevis.analysis.features import FeatureExtractor
from livevis.analysis.state import AU_INDEX, AU_NAMES

from conftest import shared_file



@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return EmotionModel()


def _features(path, start_s: float, dur_s: float, gain: float = 1.0) -> np.ndarray:
    """Per-hop feature vectors (n, 128) of an excerpt (times ``gain``), streamed like the analyser does."""
    from livevis.audio.decode import load_audio

    data, rate = load_audio(path, 16000)
    x = gain * data.mean(axis=1)[int(start_s * rate):int((start_s + dur_s) * rate)]
    fe = FeatureExtractor()
    return np.stack([fe.process(x[a:a + 8000]).vector for a in range(0, len(x) - 8000 + 1, 1600)])


def _run(model: EmotionModel, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    model.reset()
    out = [model.step(v) for v in feats]
    return np.array([(v, a) for v, a, _ in out]), np.stack([au for _, _, au in out])


def test_shipped_model_contract(model):
    assert model.path == DEFAULT_MODEL
    assert model.provider in ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert 1 <= model.state_size <= 256
    assert DEFAULT_MODEL.stat().st_size < 1_000_000
    rng = np.random.default_rng(0)
    for _ in range(20):  # also far outside the training range: outputs stay in range
        v, a, aus = model.step((rng.standard_normal(128) * 100).astype(np.float32))
        assert -1 <= v <= 1 and -1 <= a <= 1
        assert aus.shape == (len(AU_NAMES),) and aus.dtype == np.float32
        assert np.all((aus >= 0) & (aus <= 1))
    assert aus[AU_INDEX["AU45"]] == 0.0  # blinks are the renderer's job


def test_state_carries_and_resets(model, vibe_ace):
    feats = _features(vibe_ace, 10.0, 2.0)
    model.reset()
    first = model.step(feats[-1])
    for v in feats:
        model.step(v)
    later = model.step(feats[-1])  # same hop, different state
    assert abs(first[0] - later[0]) + abs(first[1] - later[1]) > 1e-3
    model.reset()
    again = model.step(feats[-1])
    assert again[:2] == pytest.approx(first[:2], abs=1e-6)
    np.testing.assert_allclose(again[2], first[2], atol=1e-6)


def test_step_rejects_wrong_feature_length(model):
    with pytest.raises(ValueError, match="128"):
        model.step(np.zeros(64, np.float32))


def test_missing_file_names_file_and_shapes(tmp_path):
    path = tmp_path / "nope.onnx"
    with pytest.raises(ModelError, match=r"nope\.onnx.*features \[1, 128\]"):
        EmotionModel(path)


def test_corrupt_file_raises_model_error(tmp_path):
    path = tmp_path / "corrupt.onnx"
    path.write_bytes(b"\x00garbage, not a protobuf\xff" * 40)
    with pytest.raises(ModelError) as err:
        EmotionModel(path)
    msg = str(err.value)
    assert "corrupt.onnx" in msg and "features [1, 128]" in msg and "aus [1, 17]" in msg
    assert "\n" not in msg


def _tiny_model(path, n_features: int) -> None:
    """A valid ONNX graph with the contract's names but a ``features`` width of ``n_features``."""
    f32 = TensorProto.FLOAT
    nodes = [
        helper.make_node("ReduceMean", ["features"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Concat", ["m", "m"], ["valence_arousal"], axis=1),
        helper.make_node("Tile", ["m", "reps"], ["aus"]),
        helper.make_node("Identity", ["state_in"], ["state_out"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("features", f32, [1, n_features]),
         helper.make_tensor_value_info("state_in", f32, [1, 4])],
        [helper.make_tensor_value_info("valence_arousal", f32, [1, 2]),
         helper.make_tensor_value_info("aus", f32, [1, 17]),
         helper.make_tensor_value_info("state_out", f32, [1, 4])],
        [helper.make_tensor("reps", TensorProto.INT64, [2], [1, 17])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def test_mismatched_model_raises_model_error(tmp_path):
    good = tmp_path / "good_shape.onnx"
    _tiny_model(good, 128)
    assert EmotionModel(good).state_size == 4  # the tiny graph itself is fine…
    bad = tmp_path / "wrong_shape.onnx"
    _tiny_model(bad, 64)  # …until its input has the wrong width
    with pytest.raises(ModelError, match=r"wrong_shape\.onnx.*input features is \[1, 64\].*features \[1, 128\]"):
        EmotionModel(bad)


def test_unsupported_opset_raises_model_error(tmp_path):
    """A graph stamped with an opset onnxruntime does not know is refused, naming the file."""
    path = tmp_path / "future_opset.onnx"
    _tiny_model(path, 128)
    model = onnx.load(str(path))
    model.opset_import[0].version = 99
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match=r"future_opset\.onnx.*features \[1, 128\]"):
        EmotionModel(path)


def test_load_falls_back_to_builtin(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not onnx")
    logged: list[str] = []
    m = load_emotion_model(bad, log=logged.append)
    assert m.path == DEFAULT_MODEL
    assert len(logged) == 1 and "broken.onnx" in logged[0] and "built-in" in logged[0]
    assert load_emotion_model(None, log=logged.append).path == DEFAULT_MODEL and len(logged) == 1


def test_arousal_quiet_vs_loud_excerpt(model):
    # A quiet, sparse excerpt (Tchaikovsky, Dance of the Sugar Plum Fairy, celesta and strings,
    # about -28 dBFS; Kevin MacLeod, CC-BY 3.0) vs a loud full-band pop excerpt (Karissa Hobbs,
    # Let's Go Fishin', about -16 dBFS). Note the model (like its teacher) is nearly invariant
    # to the playback gain of the same passage: arousal comes from the music, not the volume knob.
    quiet_track = shared_file("audio/librosa-data/Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg")
    loud_track = shared_file("audio/librosa-data/Karissa_Hobbs_-_Lets_Go_Fishin.ogg")
    quiet, _ = _run(model, _features(quiet_track, 20.0, 10.0))
    loud, _ = _run(model, _features(loud_track, 60.0, 10.0))
    assert loud[50:, 1].mean() > quiet[50:, 1].mean() + 0.1


def test_energetic_track_has_higher_arousal_than_calm(model):
    # Two real tracks from the installed immich-memories-music package (MIT).
    from importlib.resources import files

    tracks = files("immich_memories_music") / "tracks"
    calm, _ = _run(model, _features(tracks / "calm" / "calm_acoustic_1.opus", 5.0, 10.0))
    energetic, _ = _run(model, _features(tracks / "energetic" / "energetic_electronic_2.opus", 5.0, 10.0))
    assert energetic[50:, 1].mean() > calm[50:, 1].mean() + 0.05


def test_shipped_model_meets_the_quality_goal_on_human_ratings(model):
    """The 6 annotated emoMusic clips are a test set for the shipped model, which records in its
    ONNX metadata that it was trained on none of them (teacher labels only): streamed from 0 s,
    compared at 2 Hz (15–45 s) with the raters' mean dynamic valence/arousal, pooled, the
    issue's goal holds: arousal r ≥ 0.7, valence r ≥ 0.5."""
    import csv

    meta = {p.key: p.value for p in onnx.load(str(DEFAULT_MODEL)).metadata_props}
    assert meta.get("livevis.emomusic_clips_in_training") == "none"
    emomusic = shared_file("data/emomusic/audio/2.flac").parent.parent

    def labels(name):
        with open(emomusic / name, newline="") as fh:
            rows = list(csv.reader(fh))
        times = np.array([int(c.split("_")[1].rstrip("ms")) / 1000.0 for c in rows[0][1:]])
        return times, {int(r[0]): np.array([float(v) if v else np.nan for v in r[1:]]) for r in rows[1:]}

    times, valence = labels("valence_cont_average.csv")
    _, arousal = labels("arousal_cont_average.csv")
    truth, pred = [], []
    for sid in (2, 3, 4, 5, 7, 8):
        va, _ = _run(model, _features(emomusic / "audio" / f"{sid}.flac", 0.0, 45.0))
        hops = np.rint((times - 0.5) / 0.1).astype(int)  # the hop whose 0.5 s window ends at t
        ok = (hops < len(va)) & np.isfinite(valence[sid]) & np.isfinite(arousal[sid])
        truth.append(np.stack([valence[sid][ok], arousal[sid][ok]], 1)), pred.append(va[hops[ok]])
    t, p = np.concatenate(truth), np.concatenate(pred)
    assert len(t) > 300
    r_valence, r_arousal = np.corrcoef(p[:, 0], t[:, 0])[0, 1], np.corrcoef(p[:, 1], t[:, 1])[0, 1]
    assert r_arousal >= 0.7, r_arousal
    assert r_valence >= 0.5, r_valence


def test_au12_follows_valence(model, vibe_ace):
    va, aus = _run(model, _features(vibe_ace, 0.0, 30.0))
    va, aus = va[30:], aus[30:]
    order = np.argsort(va[:, 0])
    low, high = order[: len(order) // 4], order[-len(order) // 4:]
    assert va[high, 0].mean() > va[low, 0].mean()
    assert aus[high, AU_INDEX["AU12"]].mean() > aus[low, AU_INDEX["AU12"]].mean()


def test_au_layer_prototypes():
    """The AU layer inside the shipped graph, driven directly through its valence/arousal."""
    import onnxruntime as ort

    m = onnx.load(str(DEFAULT_MODEL))
    sub = onnx.utils.Extractor(m).extract_model(["valence_arousal"], ["aus"])
    sess = ort.InferenceSession(sub.SerializeToString(), providers=["CPUExecutionProvider"])

    def aus(v, a):
        return sess.run(None, {"valence_arousal": np.array([[v, a]], np.float32)})[0][0]

    i = AU_INDEX
    assert np.all(aus(0.0, 0.0) == 0)  # neutral
    happy, sad = aus(0.6, 0.2), aus(-0.6, -0.3)
    assert happy[i["AU12"]] > 0.5 and happy[i["AU06"]] > 0.5 and happy[i["AU15"]] < 0.1
    assert sad[i["AU15"]] > 0.5 and sad[i["AU01"]] > 0.5 and sad[i["AU12"]] < 0.1
    surprise = aus(0.15, 0.7)
    assert surprise[i["AU26"]] > 0.5 and surprise[i["AU05"]] > 0.5
    assert aus(0.2, 0.8)[i["AU25"]] > aus(0.2, -0.8)[i["AU25"]]
    assert aus(0.2, 0.1)[i["AU12"]] < aus(0.6, 0.2)[i["AU12"]]  # intensity grows with magnitude


def test_smoother_attack_release():
    s = Smoother(attack_s=0.1, release_s=1.0, dt=0.1)
    assert s(np.zeros(2))[0] == 0.0
    up = s(np.ones(2))[0]
    assert up == pytest.approx(1 - np.exp(-1), rel=1e-5)
    s2 = Smoother(attack_s=0.1, release_s=1.0, dt=0.1)
    s2(np.ones(1))
    down = s2(np.zeros(1))[0]
    assert down == pytest.approx(np.exp(-0.1), rel=1e-5)  # release is slower than attack
    assert Smoother(0, 0)(np.ones(1))[0] == 1.0
    with pytest.raises(ValueError):
        Smoother(attack_s=-1)
