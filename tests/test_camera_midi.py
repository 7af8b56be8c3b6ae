"""The faces in front of the camera steer the generative MIDI layer (Emotion2Music: face →
emotion → tempo/mode/chords → MIDI), sent on a real JACK virtual port."""

from __future__ import annotations

import time

import pytest

from tests.test_camera import _still_video, _wait
from tests.test_midi import API, collect, jack, lights  # noqa: F401  (fixtures)

MINOR = {0, 2, 3, 5, 7, 8, 10}


@pytest.mark.gl
def test_camera_faces_drive_the_generative_midi(ctx, tmp_path, reader, lights):  # noqa: F811
    from livevis.analysis.state import AnalysisState
    from livevis.camera import CameraEmotion, CameraSource
    from livevis.control.presets import parse_preset
    from livevis.show.show import Show

    preset = parse_preset(f"""
[[layers]]
kind = "solid"
[midi]
api = "{API}"
output = "{lights.name}"
[midi.generative]
enabled = true
channel = 3
[camera]
drives = "midi"
""")
    music = AnalysisState(valence=0.8, arousal=0.6)  # happy music: major, were it not for the faces
    played = {}
    for expression in ("happy", "angry"):
        source = CameraSource(_still_video(ctx, tmp_path, expression, 4.0))
        camera = CameraEmotion(source, reader, attack_s=0.0, release_s=0.0)
        with source:
            assert _wait(lambda cam=camera: cam.step().face, 5.0)
            camera.start()
            t0 = time.monotonic()
            show = Show(ctx, (64, 36), preset, lambda: music, say=lambda *_: None, camera=camera)
            try:
                got = collect(lights, lambda g: sum(m.type == "note_on" and m.channel == 2 for m in g) >= 6, 4.0)
                delay = time.monotonic() - t0
            finally:
                show.close()
                camera.stop()
        time.sleep(0.3)
        list(lights.iter_pending())
        played[expression] = ([m.note for m in got if m.type == "note_on" and m.channel == 2], delay)
    happy, angry = played["happy"][0], played["angry"][0]
    assert len(happy) >= 3 and len(angry) >= 3, played
    chord = sorted(happy[:3])
    assert chord[1] - chord[0] == 4  # a happy face: a major triad
    assert all((n - 60) % 12 in MINOR for n in angry) and any((n - 60) % 12 == 3 for n in angry)  # minor
