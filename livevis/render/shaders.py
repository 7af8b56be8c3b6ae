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


#: The one ``out vec4 NAME;`` of a fragment shader (optionally with a layout qualifier).
_FRAG_OUT = re.compile(r"^[ \t]*(?:layout\s*\([^)]*\)\s*)?out\s+vec4\s+(\w+)\s*;", re.M)
#: The ``#version`` line, which must stay first.
_VERSION = re.compile(r"\A(?:\s*//[^\n]*\n|\s*\n)*\s*#version[^\n]*\n")

#: Uniform of a premultiplying program (:func:`premultiplied_source`): the layer opacity in [0, 1].
OPACITY_UNIFORM = "livevis_opacity"


def _after_version(source: str, lines: str) -> str | None:
    """``source`` with ``lines`` (each ending in a newline) inserted after its ``#version`` line
    and a ``#line`` directive, so that compiler messages keep the file's line numbers; None if
    there is no ``#version`` line."""
    version = _VERSION.match(source)
    if version is None:
        return None
    head, body = source[: version.end()], source[version.end():]
    return f"{head}{lines}#line {head.count(chr(10)) + 1}\n{body}"


def premultiplied_source(fs: str) -> str | None:
    """Wrap fragment shader source ``fs`` so that it outputs premultiplied colour times opacity.

    The shader's ``main`` is renamed (``#define main livevis_layer_main``) and a new ``main``
    calls it, clamps its straight-alpha output ``c`` to [0, 1] and writes
    ``vec4(c.rgb * c.a, c.a) * livevis_opacity`` (:data:`OPACITY_UNIFORM`), so that a layer can be
    blended straight into the picture with fixed-function GL blending (Porter & Duff 1984,
    premultiplied "over"). Line numbers in compiler messages stay those of the file (``#line``).

    Returns:
        The wrapped source, or None if ``fs`` has no ``#version`` line or not exactly one
        ``out vec4`` (such a shader is composited through a scratch framebuffer instead).
    """
    outs = _FRAG_OUT.findall(fs)
    renamed = _after_version(fs, "#define main livevis_layer_main\n")
    if len(outs) != 1 or renamed is None:
        return None
    name = outs[0]
    return (f"{renamed}\n#undef main\nuniform float {OPACITY_UNIFORM};\n"
            f"void main() {{\n    livevis_layer_main();\n    vec4 livevis_c = clamp({name}, 0.0, 1.0);\n"
            f"    {name} = vec4(livevis_c.rgb * livevis_c.a, livevis_c.a) * {OPACITY_UNIFORM};\n}}\n")


def with_defines(source: str, defines: dict[str, int | float | str]) -> str:
    """``source`` with a ``#define NAME VALUE`` line per entry of ``defines`` after its
    ``#version`` line (compiler messages keep the file's line numbers: ``#line``); unchanged if
    ``defines`` is empty or there is no ``#version`` line."""
    if not defines:
        return source
    lines = "".join(f"#define {name} {value}\n" for name, value in defines.items())
    return _after_version(source, lines) or source


def load_program(ctx: moderngl.Context, vertex: str, fragment: str,
                 shaders_dir: Path | None = None, premultiply: bool = False,
                 defines: dict[str, int | float | str] | None = None) -> moderngl.Program:
    """Compile and link the program made of shader files ``vertex`` and ``fragment``.

    Args:
        premultiply: wrap the fragment shader with :func:`premultiplied_source` (then the
            program has the uniform :data:`OPACITY_UNIFORM`). If the shader cannot be wrapped
            (see there) or the wrapped one does not compile, the plain program is returned.
        defines: preprocessor constants for both shaders (:func:`with_defines`), e.g. to
            compile only one variant's code.

    Raises:
        ShaderError: a file is missing, or compiling/linking fails; the message names the
            file(s) and carries the GLSL compiler log.
    """
    vs = with_defines(load_source(vertex, shaders_dir), defines or {})
    fs = with_defines(load_source(fragment, shaders_dir), defines or {})
    wrapped = premultiplied_source(fs) if premultiply else None
    if wrapped is not None:
        try:
            return ctx.program(vertex_shader=vs, fragment_shader=wrapped)
        except Exception:  # noqa: BLE001 - compile the file as it is, for its own error message
            pass
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
