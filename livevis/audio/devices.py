"""Listing audio devices and resolving a ``--device NAME|INDEX`` choice (python-sounddevice)."""

from __future__ import annotations

import sounddevice as sd

from livevis.errors import DeviceError


def _devices() -> list[dict]:
    try:
        return [dict(d) for d in sd.query_devices()]
    except sd.PortAudioError as err:  # no PortAudio host at all
        raise DeviceError(f"cannot list audio devices: {err}") from None


def describe(kind: str) -> str:
    """One line listing the devices of ``kind`` ("input" or "output") as ``INDEX: NAME``."""
    key = f"max_{kind}_channels"
    items = [f"{i}: {d['name']}" for i, d in enumerate(_devices()) if d[key] > 0]
    return "; ".join(items) if items else "(none)"


def format_device_table() -> str:
    """A human-readable table of all audio inputs and outputs, defaults marked with ``*``."""
    devices = _devices()
    try:
        default_in, default_out = sd.default.device
    except Exception:  # pragma: no cover - defaults unset
        default_in = default_out = -1
    lines = []
    for kind, key, default in (("Audio inputs", "max_input_channels", default_in),
                               ("Audio outputs", "max_output_channels", default_out)):
        lines.append(f"{kind}:")
        rows = [(i, d) for i, d in enumerate(devices) if d[key] > 0]
        if not rows:
            lines.append("  (none)")
        for i, d in rows:
            mark = "*" if i == default else " "
            lines.append(f" {mark}{i:3d}  {d['name']}  ({d[key]} ch, {d['default_samplerate']:.0f} Hz)")
    return "\n".join(lines)


def resolve(spec: str | int | None, kind: str) -> int:
    """Find the device index for ``spec``.

    Args:
        spec: None for the system default, an index (int or digit string), or a
            case-insensitive substring of the device name that matches exactly one device.
        kind: "input" or "output".

    Returns:
        The PortAudio device index.

    Raises:
        DeviceError: no such device, several match, or no default device; the message lists
            the devices of that kind there are.
    """
    key = f"max_{kind}_channels"
    devices = _devices()
    choices = describe(kind)
    if spec is None:
        index = sd.default.device[0 if kind == "input" else 1]
        if index is None or index < 0 or index >= len(devices) or devices[index][key] <= 0:
            raise DeviceError(f"no default audio {kind} device; {kind}s available: {choices} "
                              f"(no sound card or sound server: on a headless machine start one with "
                              f"tools/start-audio-server.sh)")
        return int(index)
    text = str(spec).strip()
    if text.isdigit():
        index = int(text)
        if index < len(devices) and devices[index][key] > 0:
            return index
        raise DeviceError(f"no audio {kind} device with index {index}; {kind}s available: {choices}")
    matches = [i for i, d in enumerate(devices) if d[key] > 0 and text.lower() in d["name"].lower()]
    exact = [i for i in matches if devices[i]["name"].lower() == text.lower()]
    if len(exact) == 1:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DeviceError(f"no audio {kind} device named '{text}'; {kind}s available: {choices}")
    names = ", ".join(f"{i}: {devices[i]['name']}" for i in matches)
    raise DeviceError(f"audio {kind} device name '{text}' is ambiguous ({names}); give the index")
