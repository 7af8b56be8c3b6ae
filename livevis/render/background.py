"""The audio-reactive shader background."""

from __future__ import annotations

import moderngl
import numpy as np

from livevis.render.layers import ShaderLayer
from livevis.analysis.state import AnalysisState

#: The background's flow clock ``u_flow`` (issue 14, motion on the beat): it rests at
#: ``FLOW_REST`` clock seconds per second, and each new analysis hop kicks it forward by
#: ``FLOW_KICK · hit`` at once, ``hit`` ∈ [0, 1] being the hop's onset strength above its recent
#: average (exponential, time constant ``HIT_TAU_S``): ``(onset − avg) / (1 − avg)``. The hop's state
#: arrives 0–100 ms after its hits, so the picture jumps inside the 0.1 s after each onset and
#: rests between them (a flow paced over the whole hop, or by the raw onset, was measured at the
#: video's average rate around onsets: tools/synchrony.py ratio ≈ 1).
FLOW_REST, FLOW_KICK, HIT_TAU_S = 0.15, 1.0, 0.5
#: The onset pulse ``u_hit`` (the hop's hit) fades with this time constant, seconds.
HIT_FADE_S = 0.06
#: A step of ``t`` beyond this (a seek, a restart, a paused show) does not advance the flow.
FLOW_MAX_STEP_S = 0.5


#: Palette colours a background shader receives (``u_palette[MAX_PALETTE]`` in background.frag).
MAX_PALETTE = 8


class BackgroundLayer(ShaderLayer):
    """Flowing domain-warped noise driven by the music (``shaders/background.frag``).

    Hue follows valence (cold blue/purple at -1, warm orange/yellow at +1), flow speed and
    contrast follow arousal, the flow jumps on each hop's hit and rests between (``u_flow``,
    :data:`FLOW_KICK`), brightness pulses on hits (``u_hit``) and beats, and bass drives a radial
    glow. Opaque (alpha 1) everywhere.

    Args:
        ctx: the GL context. opacity, blend: see :class:`Layer`.

    Args (beyond :class:`ShaderLayer`'s): fragment: another fragment shader (a file name in
    ``shaders/`` or an absolute path) fed the same uniforms; params: extra uniforms
    (``background.frag`` reads ``contrast`` and ``glow``, multipliers, 1 = as designed; ``halo``
    in [-1, 1], a soft ellipse behind the face lightened towards the palette's brightest colour
    or darkened, so the face's silhouette reads; ``frame`` in [0, 1], transparent in a centre
    ellipse of that size, a frame around the layers below);
    palette: the preset's colours, up to :data:`MAX_PALETTE` (r, g, b) in [0, 1], uploaded as
    ``u_palette`` (vec3 array) and ``u_palette_n`` (int) for shaders that declare them
    (``background.frag`` walks them as a gradient; empty: its own valence palette).

    Raises:
        ShaderError: the shader file is missing or does not compile.
    """

    fragment = "background.frag"

    def __init__(self, ctx: moderngl.Context, opacity: float = 1.0, blend: str = "normal",
                 fragment: str | None = None, params: dict | None = None, palette=()) -> None:
        super().__init__(ctx, opacity, blend, fragment)
        #: extra uniforms by name (``{"contrast": 1.4}`` sets ``u_contrast``), numbers or 2–4 numbers
        self.params: dict = dict(params or {})
        #: the palette uploaded, float32 (n, 3), n <= MAX_PALETTE
        self.palette = np.asarray(list(palette)[:MAX_PALETTE], dtype=np.float32).reshape(-1, 3)
        if "u_palette" in self.program:
            padded = np.zeros((MAX_PALETTE, 3), np.float32)
            padded[: len(self.palette)] = self.palette
            self.program["u_palette"].write(padded.tobytes())
        self.uniform("u_palette_n", len(self.palette))
        self.flow = 0.0  #: the onset-paced flow clock, seconds
        self._last_t: float | None = None
        self._hop_time: float | None = None  # state.time of the newest hop seen
        self._onset_avg, self._hit, self._hit_at = 0.0, 0.0, 0.0

    @property
    def kick(self) -> float:
        """Strength of the hits (flow jump and pulse), the preset's ``background.params.kick``
        (default 1; the accessibility preset keeps it low: no strobing)."""
        value = self.params.get("kick", 1.0)
        return float(value) if isinstance(value, (int, float)) else 1.0

    def advance_flow(self, state: AnalysisState, t: float) -> tuple[float, float]:
        """Advance the flow clock to time ``t`` (s, the host's clock) with the newest ``state``.

        Returns:
            (flow clock in seconds, the hit pulse in [0, 1]). The first call starts the clock at
            ``FLOW_REST · t`` (as if at rest since 0).
        """
        if self._last_t is None:
            self.flow = FLOW_REST * max(float(t), 0.0)
        dt = 0.0 if self._last_t is None else t - self._last_t
        self._last_t = t
        if 0.0 < dt <= FLOW_MAX_STEP_S:
            self.flow += dt * FLOW_REST
        if state.time != self._hop_time:  # a new hop: its hit kicks the flow now
            hop_s = state.time - self._hop_time if self._hop_time is not None else 0.1
            self._hop_time, self._hit_at = state.time, t
            onset = min(max(float(state.onset), 0.0), 1.0)
            self._hit = max(0.0, onset - self._onset_avg) / max(1e-3, 1.0 - self._onset_avg)
            a = float(np.exp(-min(max(hop_s, 0.0), 1.0) / HIT_TAU_S))
            self._onset_avg = a * self._onset_avg + (1.0 - a) * onset
            self.flow += FLOW_KICK * self.kick * self._hit
        pulse = self.kick * self._hit * float(np.exp(-max(0.0, t - self._hit_at) / HIT_FADE_S))
        return self.flow, pulse

    def set_uniforms(self, state: AnalysisState, t: float, size) -> None:
        for name, value in self.params.items():
            self.uniform(f"u_{name}", tuple(map(float, value)) if isinstance(value, (list, tuple)) else float(value))
        flow, hit = self.advance_flow(state, t)
        self.uniform("u_flow", flow)
        self.uniform("u_hit", hit)
        for name in ("rms", "bass", "mid", "high", "onset", "beat_phase", "valence", "arousal", "energy"):
            self.uniform(f"u_{name}", float(getattr(state, name)))
