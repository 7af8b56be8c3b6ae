"""Can a window open here? A quick probe of the display server, before any audio starts."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time


def display_problem(tries: int = 3, wait_s: float = 0.3) -> str | None:
    """Why no window can open on this machine, or None when one can.

    On Linux and the BSDs the X display named by ``DISPLAY`` is opened and closed again
    (libX11's ``XOpenDisplay``, as pyglet does; Wayland desktops provide one through
    XWayland), up to ``tries`` times ``wait_s`` seconds apart: a busy X server can refuse one
    connection (a clean-clone test run saw one of two windows started together refused by Xvfb).
    On Windows and macOS a display is assumed.

    Returns:
        None, or a one-line reason such as ``"no display (DISPLAY is not set)"`` or
        ``"cannot connect to the X display :99"``.
    """
    if sys.platform in ("win32", "darwin"):
        return None
    name = os.environ.get("DISPLAY", "")
    if not name:
        return "no display (DISPLAY is not set)"
    path = ctypes.util.find_library("X11")
    if path is None:
        return "no X11 client library (libX11) to open a window with"
    try:
        x11 = ctypes.CDLL(path)
    except OSError as err:
        return f"cannot load libX11 ({err})"
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    for attempt in range(max(1, tries)):
        if attempt:
            time.sleep(wait_s)
        handle = x11.XOpenDisplay(name.encode())
        if handle:
            x11.XCloseDisplay(handle)
            return None
    return f"cannot connect to the X display {name}"
