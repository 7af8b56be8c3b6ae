"""The on-screen overlay and keyboard shortcuts.

* :func:`overlay_lines` — a pure function from the show's state to text lines: fps, input level
  meter, tempo, valence/arousal, AU bars, current preset (and crossfade), MIDI/OSC activity,
  learn state, the selected parameter, flags (BLACKOUT, FROZEN) and the last preset error.
* :func:`action_for_key` — pyglet key name → action name (a pure mapping, :data:`KEY_ACTIONS`).
* :class:`ShowUI` + :func:`apply_action` — the small bits of operator state the shortcuts change
  (overlay visible, selected parameter) and what an action does to the parameters.
* :class:`OverlayView` — draws the lines with pyglet (monospace label on a dark panel).

Bars use ASCII only (``#`` and ``-``) so any font can show them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Mapping as TMapping, Sequence

from livevis.analysis.state import AU_NAMES

#: Shortcut actions.
ACTIONS: tuple[str, ...] = ("preset_next", "preset_prev", "blackout", "freeze", "overlay", "tap", "learn",
                            "param_next", "param_prev", "preset:1", "preset:2", "preset:3", "preset:4",
                            "preset:5", "preset:6", "preset:7", "preset:8", "preset:9")

#: pyglet key names (``pyglet.window.key.symbol_string(symbol)``) → action. ESC/Q (quit) and
#: F (fullscreen) stay with the app.
KEY_ACTIONS: dict[str, str] = {
    "RIGHT": "preset_next", "PAGEDOWN": "preset_next",
    "LEFT": "preset_prev", "PAGEUP": "preset_prev",
    "B": "blackout",
    "SPACE": "freeze",
    "O": "overlay", "TAB": "overlay",
    "T": "tap",
    "L": "learn",
    "DOWN": "param_next", "UP": "param_prev",
    **{f"_{n}": f"preset:{n}" for n in range(1, 10)},
    **{f"NUM_{n}": f"preset:{n}" for n in range(1, 10)},
}

#: Human-readable help, one line per shortcut (for the overlay and docs).
KEY_HELP: tuple[str, ...] = (
    "Right/PgDn next preset   Left/PgUp previous   1-9 preset by number",
    "B blackout   Space freeze   O/Tab overlay   T tap tempo",
    "Up/Down select parameter   L learn (then move a MIDI knob / OSC control)",
)


def action_for_key(key_name: str, modifiers: int = 0) -> str | None:
    """The action of a key, or None. ``key_name`` is pyglet's symbol string (``"RIGHT"``,
    ``"B"``, ``"_1"``); keys with Ctrl/Alt/Cmd held (modifier bits 2, 4, 8 / 64) are not
    shortcuts."""
    if modifiers & (2 | 4 | 8 | 64):
        return None
    return KEY_ACTIONS.get(key_name.upper() if len(key_name) == 1 else key_name)


@dataclass
class ShowUI:
    """Operator state changed by shortcuts.

    Attributes:
        overlay: overlay visible.
        selected: index into the sorted parameter names (for learn).
        message: a transient line shown in the overlay (e.g. "learned layer.1.opacity ← CC 20").
        message_until: ``time.monotonic()`` when it disappears.
    """

    overlay: bool = False
    selected: int = 0
    message: str = ""
    message_until: float = 0.0

    def say(self, text: str, seconds: float = 3.0) -> None:
        self.message, self.message_until = text, time.monotonic() + seconds


def apply_action(action: str, ui: ShowUI, registry: Any, learn: Any = None, tapper: Any = None) -> str | None:
    """Do what ``action`` does to the parameters and the UI state.

    Handles ``blackout``/``freeze`` (toggle ``master.blackout``/``master.freeze``), ``overlay``,
    ``param_next``/``param_prev``, ``learn`` (arms ``learn`` with the selected parameter; again
    cancels) and ``tap`` (sets ``tempo.bpm`` from ``tapper``).

    Returns:
        The preset navigation left to the caller: ``preset_next``, ``preset_prev`` or
        ``preset:N`` (1-based); None otherwise.
    """
    if action in ("preset_next", "preset_prev") or action.startswith("preset:"):
        return action
    if action == "blackout":
        registry.toggle("master.blackout", "key")
    elif action == "freeze":
        registry.toggle("master.freeze", "key")
    elif action == "overlay":
        ui.overlay = not ui.overlay
    elif action in ("param_next", "param_prev"):
        n = len(registry.names())
        if n:
            ui.selected = (ui.selected + (1 if action == "param_next" else -1)) % n
    elif action == "learn" and learn is not None:
        names = registry.names()
        if learn.armed is not None:
            learn.cancel()
            ui.say("learn cancelled")
        elif names:
            param = names[ui.selected % len(names)]
            learn.arm(param)
            ui.say(f"learn {param}: move a MIDI knob or OSC control", 10.0)
    elif action == "tap" and tapper is not None:
        bpm = tapper.tap()
        if bpm is not None:
            registry.set("tempo.bpm", bpm, "key")
            ui.say(f"tap tempo {bpm:.1f} BPM")
    return None


def bar(x: float, width: int = 20) -> str:
    """``[####------]`` for ``x`` in [0, 1] (clamped)."""
    x = 0.0 if not math.isfinite(x) else min(max(x, 0.0), 1.0)
    n = int(round(x * width))
    return "[" + "#" * n + "-" * (width - n) + "]"


def bipolar_bar(x: float, width: int = 20) -> str:
    """``[-----|###---]`` for ``x`` in [-1, 1] (clamped), filled from the centre."""
    x = 0.0 if not math.isfinite(x) else min(max(x, -1.0), 1.0)
    half = width // 2
    n = int(round(abs(x) * half))
    left = "-" * (half - n) + "#" * n if x < 0 else "-" * half
    right = "#" * n + "-" * (half - n) if x > 0 else "-" * half
    return "[" + left + "|" + right + "]"


def level_db(rms: float) -> float:
    """Linear RMS → dBFS (floor −90)."""
    return 20.0 * math.log10(max(rms, 10 ** -4.5))


def overlay_lines(state: Any, *, fps: float, preset: str, fade: float | None = None,
                  params: TMapping[str, float] | None = None, activity: TMapping[str, float] | None = None,
                  now: float | None = None, learn_armed: str | None = None, selected: str | None = None,
                  error: str | None = None, message: str | None = None, width: int = 20,
                  au_columns: int = 2, activity_s: float = 0.3) -> list[str]:
    """The overlay's text, one string per line.

    Args:
        state: an :class:`~livevis.analysis.state.AnalysisState`.
        fps: frames per second drawn.
        preset: current preset name; ``fade``: crossfade progress in [0, 1) while fading.
        params: parameter snapshot (for flags, tempo override and the selected value).
        activity: ``{"midi": t, "osc": t}`` last-activity times (``time.monotonic()``); a
            source is lit when active within ``activity_s`` seconds of ``now``.
        learn_armed: parameter waiting for a control; ``selected``: the selected parameter.
        error: the last preset error (shown until cleared); ``message``: a transient note.
        width: bar width in characters; ``au_columns``: AU bars per line.
    """
    now = time.monotonic() if now is None else now
    params = params or {}
    lines = []
    head = f"livevis {fps:5.1f} fps   preset: {preset}"
    if fade is not None and fade < 1.0:
        head += f" (crossfade {int(fade * 100)}%)"
    lines.append(head)
    flags = [name for key, name in (("master.blackout", "BLACKOUT"), ("master.freeze", "FROZEN"))
             if params.get(key, 0.0) >= 0.5]
    db = level_db(float(state.rms))
    input_line = f"input   {bar((db + 60.0) / 60.0, width)} {db:6.1f} dB"
    if not state.input_ok:
        input_line += "  NO INPUT"
    if getattr(state, "overflows", 0):
        input_line += f"  overflows {state.overflows}"
    if getattr(state, "underruns", 0):
        input_line += f"  underruns {state.underruns}"
    lines.append(input_line)
    bpm_override = params.get("tempo.bpm", 0.0)
    tempo = f"tempo   {state.tempo:6.1f} BPM"
    if bpm_override > 0:
        tempo += f"  (set {bpm_override:.1f})"
    beat = "*" if state.beat_phase < 0.15 and state.tempo > 0 else " "
    lines.append(f"{tempo}  beat {beat}  onset {bar(state.onset, 8)}")
    lines.append(f"valence {bipolar_bar(state.valence, width)} {state.valence:+.2f}")
    lines.append(f"arousal {bipolar_bar(state.arousal, width)} {state.arousal:+.2f}")
    aus = list(getattr(state, "aus", ()))
    cells = [f"{name} {bar(float(v), 10)}" for name, v in zip(AU_NAMES, aus)]
    for i in range(0, len(cells), max(au_columns, 1)):
        lines.append("  ".join(cells[i:i + au_columns]))
    activity = activity or {}
    lit = lambda src: "*" if now - activity.get(src, -1e9) <= activity_s else "."  # noqa: E731
    ctl = f"MIDI {lit('midi')}  OSC {lit('osc')}"
    if learn_armed:
        ctl += f"   LEARN {learn_armed}: move a control"
    lines.append(ctl)
    if selected is not None:
        value = params.get(selected)
        lines.append(f"param   {selected} = {value:.3g}" if value is not None else f"param   {selected}")
    if flags:
        lines.append(" ".join(flags))
    if message:
        lines.append(message)
    if error:
        lines.append(f"ERROR {error}")
    return lines


class OverlayView:
    """Draws overlay lines with pyglet in the window's top-left corner.

    Args:
        font_size: points. ``update(lines)`` sets the text (cheap when unchanged);
        ``draw()`` draws it in the current window (call in ``on_draw`` after the picture).
    """

    def __init__(self, font_size: int = 12) -> None:
        import pyglet

        self._pyglet = pyglet
        self._batch = pyglet.graphics.Batch()
        self._bg = pyglet.shapes.Rectangle(0, 0, 10, 10, color=(0, 0, 0, 170), batch=self._batch)
        self._label = pyglet.text.Label("", font_name=("DejaVu Sans Mono", "Courier New", "monospace"),
                                        font_size=font_size, multiline=True, width=2000, x=10, y=0,
                                        anchor_x="left", anchor_y="top", color=(235, 235, 235, 255),
                                        batch=self._batch)
        self._text = None

    def update(self, lines: Sequence[str], window_height: int) -> None:
        text = "\n".join(lines)
        if text != self._text:
            self._text = text
            self._label.text = text
        self._label.y = window_height - 10
        w = self._label.content_width + 20
        h = self._label.content_height + 20
        self._bg.x, self._bg.y, self._bg.width, self._bg.height = 0, window_height - h, w, h

    def draw(self) -> None:
        self._batch.draw()
