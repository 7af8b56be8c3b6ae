"""Loading GLSL programs from ``shaders/`` with errors that name the file and the compiler message."""

from __future__ import annotations

import re
from pathlib import Path

import moderngl

import livevis
from livevis.errors import LivevisError


class ShaderError(LivevisError):
    """A shader file is missing, unreadable, or fails to compile/link."""


def shader_path(name: str, shaders_dir: Path | None = None) -> Path:
    """Path of shader file ``name`` under ``shaders_dir`` (default :data:`livevis.SHADERS_DIR`)."""
    return Path(shaders_dir if shaders_dir is not None else livevis.SHADERS_DIR) / name


#: ``#include "file.glsl"`` on a line of its own.
INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$')


def load_source(name: str, shaders_dir: Path | None = None) -> str:
    """GLSL source text of shader file ``name``; each line ``#include "other.glsl"`` is replaced
    by that file's text (one level: GLSL code shared by several shaders).

    Raises:
        ShaderError: the file (or an included one) is missing or unreadable (message names the
            full path).
    """
    path = shader_path(name, shaders_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ShaderError(f"shader file {path}: cannot read ({err.strerror or err})") from None
    if "#include" not in text:
        return text
    lines = []
    for line in text.splitlines():
        m = INCLUDE.match(line)
        if m is None:
            lines.append(line)
            continue
        inc = shader_path(m.group(1), shaders_dir)
        try:
            lines.append(inc.read_text(encoding="utf-8"))
        except OSError as err:
            raise ShaderError(f"shader file {inc} (included by {path}): cannot read "
                              f"({err.strerror or err})") from None
    return "\n".join(lines) + "\n"


def load_program(ctx: moderngl.Context, vertex: str, fragment: str,
                 shaders_dir: Path | None = None) -> moderngl.Program:
    """Compile and link the program made of shader files ``vertex`` and ``fragment``.

    Raises:
        ShaderError: a file is missing, or compiling/linking fails; the message names the
            file(s) and carries the GLSL compiler log.
    """
    vs = load_source(vertex, shaders_dir)
    fs = load_source(fragment, shaders_dir)
    try:
        return ctx.program(vertex_shader=vs, fragment_shader=fs)
    except Exception as err:  # moderngl.Error: compile or link failure with the driver's log
        msg = str(err).strip()
        if "vertex_shader" in msg:
            where = shader_path(vertex, shaders_dir)
        elif "fragment_shader" in msg:
            where = shader_path(fragment, shaders_dir)
        else:
            where = f"{shader_path(vertex, shaders_dir)} + {shader_path(fragment, shaders_dir)}"
        raise ShaderError(f"shader {where} failed to compile/link: {msg}") from None


def set_uniform(program: moderngl.Program, name: str, value) -> None:
    """Set uniform ``name`` if the program uses it (drivers drop unused uniforms)."""
    if name in program:
        program[name].value = value


#: Substrings of ``GL_RENDERER`` that name a software rasteriser (Mesa's llvmpipe and kin).
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software")


def is_software_renderer(renderer: str) -> bool:
    """True if ``renderer`` (a context's ``GL_RENDERER`` string) is a software rasteriser."""
    return any(name in renderer.lower() for name in SOFTWARE_RENDERERS)
