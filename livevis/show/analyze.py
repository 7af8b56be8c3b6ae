"""``livevis analyze``: the analysis node of a multi-machine show, with no window.

It runs the audio engine (a file played in real time, or an input device), and sends each new hop as
one OSC bundle (:mod:`livevis.control.hops`) to every render node (``livevis run --follow``). The
render nodes draw; this process only listens, analyses and sends, so it runs on a machine without a
display or GPU.
"""

from __future__ import annotations

import time

from livevis.errors import LivevisError

#: Seconds between two looks at the engine's newest state (a new hop goes out within this).
POLL_S = 0.002


def run_analyze(targets: list[tuple[str, int]], input_path: str | None = None, device: str | None = None,
                output_device: str | None = None, preset: str | None = None, model: str | None = None,
                duration: float | None = None, link: bool = False, log=print) -> dict:
    """Analyse until the file ends, ``duration`` seconds pass or the process is interrupted.

    Args:
        targets: ``(host, port)`` of each render node.
        input_path: audio file to play in real time (None: listen to ``device``).
        device, output_device: input device, and the output device a file plays on (None: default).
        preset: preset name or path, for its audio and emotion settings (None: the default preset).
        model: emotion model (.onnx; None: the built-in one).
        duration: seconds to run (None: until the file ends or forever for an input).
        link: join the Ableton Link session: the hops carry its tempo and beat phase when it has
            other peers (:class:`~livevis.control.link.LinkSession`).

    Returns:
        ``hops`` sent, ``datagrams`` sent, ``restarts`` of the engine, ``seconds`` run.

    Raises:
        LivevisError (and its subclasses): unreadable file or preset, unknown device, bad target.
    """
    from livevis.audio.decode import open_audio
    from livevis.control.hops import HopSender
    from livevis.control.presets import default_preset, load_preset
    from livevis.show.scene import audio_engine

    if input_path is not None:
        open_audio(input_path)
    spec = load_preset(preset) if preset else default_preset()
    sender = HopSender(targets)
    engine = audio_engine(spec, input_path, device, output_device, model, say=log)
    hops = 0
    t0 = time.monotonic()
    session = None
    if link:
        from livevis.control.link import join_link

        session = join_link(spec.link, log)
    try:
        info = engine.start()
        source = input_path if input_path is not None else f"input {info['device']}: {info['device_name']}"
        log(f"analysing {source} at {info['sample_rate']} Hz; emotion model on {engine.wait_ready()['provider']}")
        log("sending the hop stream to " + ", ".join(f"{h}:{p}" for h, p in targets))
        engine.play()
        t0 = next_supervise = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_supervise:
                engine.supervise(now)
                next_supervise = now + 0.1
                if (input_path is not None and engine.finished) or (duration is not None and now - t0 >= duration):
                    break
            state = engine.get() if session is None else session.apply(engine.get())
            if engine.version and sender.send(state):
                hops += 1
            time.sleep(POLL_S)
    finally:
        engine.stop()
        sender.close()
        if session is not None:
            session.close()
    if hops == 0 and input_path is None:
        raise LivevisError("no hop was analysed: the input gave no sound (see 'livevis devices')")
    return {"hops": hops, "datagrams": sender.sent, "restarts": engine.restarts,
            "seconds": time.monotonic() - t0}
