"""Every bad input an operator can cause gets one clear line and a non-zero exit, no traceback."""


from tests.conftest import run_cli


def _assert_clean_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("livevis: error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_render_missing_file(tmp_path):
    proc = run_cli("render", str(tmp_path / "nope.ogg"), "-o", str(tmp_path / "out.mp4"))
    _assert_clean_error(proc, "not found", "nope.ogg")


def test_render_unsupported_format(tmp_path):
    fake = tmp_path / "notes.ogg"
    fake.write_text("this is not audio\n" * 50)
    proc = run_cli("render", str(fake), "-o", str(tmp_path / "out.mp4"))
    _assert_clean_error(proc, "cannot decode", "notes.ogg", "supported")


def test_run_missing_file(tmp_path):
    proc = run_cli("run", "--input", str(tmp_path / "gone.flac"))
    _assert_clean_error(proc, "gone.flac")


def test_unknown_input_device_lists_devices():
    proc = run_cli("run", "--device", "no-such-microphone")
    line = _assert_clean_error(proc, "no-such-microphone", "inputs available")
    assert "default" in line or "pulse" in line  # the real device list of this machine


def test_unopenable_output_device(vibe_ace):
    proc = run_cli("run", "--input", str(vibe_ace), "--output-device", "999")
    _assert_clean_error(proc, "999", "outputs available")


def test_no_input_device_at_all():
    """With the sound servers unreachable PortAudio sees no device (a real condition, caused
    for real by pointing the clients at a PulseAudio socket and a JACK server that do not exist)."""
    proc = run_cli("run", env={"PULSE_SERVER": "unix:/nonexistent/livevis-test",
                               "JACK_DEFAULT_SERVER": "livevis-no-such-server", "JACK_NO_START_SERVER": "1"})
    _assert_clean_error(proc, "no default audio input device", "inputs available")


def test_bad_size_is_an_argument_error(tmp_path):
    proc = run_cli("render", "x.ogg", "-o", str(tmp_path / "o.mp4"), "--size", "12x7x3")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--size must look like 1280x720" in proc.stderr


def test_devices_lists_inputs_and_outputs():
    proc = run_cli("devices")
    assert proc.returncode == 0, proc.stderr
    assert "Audio inputs:" in proc.stdout and "Audio outputs:" in proc.stdout
    assert "MIDI" in proc.stdout  # the ports, or why MIDI is unavailable


def test_devices_without_a_jack_server_says_so_in_one_line_and_no_jack_noise():
    """The JACK client library prints its connection failures on fd 2 from C; none of it shows."""
    proc = run_cli("devices", env={"LIVEVIS_MIDI_API": "jack", "JACK_DEFAULT_SERVER": "livevis-no-such-server",
                                   "JACK_NO_START_SERVER": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "MIDI: unavailable: no JACK server" in proc.stdout.splitlines(), proc.stdout
    assert "Jack" not in proc.stderr and "Cannot connect" not in proc.stderr and "jack" not in proc.stderr, proc.stderr


def test_errors_are_logged_to_the_rotating_log_file(tmp_path):
    proc = run_cli("render", str(tmp_path / "missing.ogg"), "-o", str(tmp_path / "o.mp4"),
                   env={"XDG_STATE_HOME": str(tmp_path / "state")})
    _assert_clean_error(proc, "missing.ogg")
    log_file = tmp_path / "state" / "livevis" / "livevis.log"
    text = log_file.read_text()
    assert "render" in text and "ERROR" in text and "missing.ogg" in text
