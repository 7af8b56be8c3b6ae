"""Can a window open here? A quick probe of the display server, before any audio starts."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys


def display_problem() -> str | None:
    """Why no window can open on this machine, or None when one can.

    On Linux and the BSDs the X display named by ``DISPLAY`` is opened and closed again
    (libX11's ``XOpenDisplay``, as pyglet does; Wayland desktops provide one through
    XWayland). On Windows and macOS a display is assumed.

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
    handle = x11.XOpenDisplay(name.encode())
    if not handle:
        return f"cannot connect to the X display {name}"
    x11.XCloseDisplay(handle)
    return None
