"""Hits (livevis.render.hits) and the layers that move on them (issue 14, motion on the beat):
the background's flow and held levels, the face's held expression, colours and sway, on
constructed hops."""

from __future__ import annotations

import numpy as np
import pytest

from livevis.analysis.state import AnalysisState
from livevis.render.hits import HIT_FLOOR, HeldLevels, HitDetector


def _hops(onsets, start: float = 0.1, hop: float = 0.1):
    return [AnalysisState(time=start + i * hop, onset=o) for i, o in enumerate(onsets)]


def test_a_hit_is_an_onset_above_the_recent_average():
    det = HitDetector()
    hits = [det.update(s, s.time) for s in _hops([0.6] * 30 + [1.0] + [0.6] * 5)]
    assert hits[0] == 0.0, "the first hop sets the average: no jolt at the start"
    assert max(hits[10:30]) == 0.0, "a steady stream of onsets (a hi-hat on every hop) is no hit"
    assert hits[30] > 0.8, "an accent above the stream is"
    assert hits[31:] == [0.0] * 5
    det = HitDetector()
    hits = [det.update(s, s.time) for s in _hops([0.0] * 10 + [HIT_FLOOR * 0.8, 0.0, 0.0, 0.5])]
    assert hits[10] == 0.0 and hits[13] == pytest.approx(0.5, abs=0.01), "below the floor nothing moves"


def test_the_hit_is_read_once_per_hop_and_fades():
    det = HitDetector()
    det.update(AnalysisState(time=0.1, onset=0.0), 0.1)
    hop = AnalysisState(time=0.2, onset=0.9)
    assert det.update(hop, 0.2) > 0.8 and det.new_hop
    det.update(hop, 0.233)  # the same hop on the next frame
    assert not det.new_hop and det.since(0.233) == pytest.approx(0.033)
    assert det.pulse(0.2, 0.06) == pytest.approx(det.hit)
    assert det.pulse(0.26, 0.06) == pytest.approx(det.hit * np.exp(-1.0))


def test_held_levels_move_once_per_hop_and_mostly_on_hits():
    det = HitDetector()
    held = HeldLevels(det, drift=0.1, gain=2.0)
    det.update(AnalysisState(time=0.0), 0.0)
    assert held.hold("x", 5.0) == 5.0, "before the first hop the value passes through"
    det.update(AnalysisState(time=0.1, onset=0.0), 0.1)
    assert held.hold("x", 1.0) == 1.0 and held.hold("v", np.ones(3)).tolist() == [1, 1, 1], "the first hop's as is"
    det.update(AnalysisState(time=0.2, onset=0.0), 0.2)  # a hop without a hit: 10 % of the way
    assert held.hold("x", 2.0) == pytest.approx(1.1)
    assert held.hold("x", 2.0) == pytest.approx(1.1), "read twice in one hop, moved once"
    np.testing.assert_allclose(held.hold("v", np.zeros(3)), [0.9] * 3, rtol=1e-6)
    det.update(AnalysisState(time=0.2, onset=0.0), 0.233)  # the same hop on the next frame
    assert held.hold("x", 2.0) == pytest.approx(1.1)
    det.update(AnalysisState(time=0.3, onset=0.5), 0.3)  # a hit of 0.5: all the way (0.1 + 2 × 0.5)
    assert det.hit == pytest.approx(0.5) and held.hold("x", 2.0) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        HeldLevels(det, drift=-0.1, gain=1.0)


def test_the_sway_clock_runs_slow_between_hits_and_steps_on_them():
    from livevis.face3d.mesh_layer import FACE_HIT, SWAY_REST, SwayClock

    det, sway = HitDetector(), SwayClock()
    frames = [(k / 60, AnalysisState(time=0.1 * (k // 6), onset=0.9 if k == 60 else 0.1)) for k in range(0, 120)]
    values = []
    for t, state in frames:
        det.update(state, t)
        values.append(sway.update(t, det))
    assert values[0] == 0.0
    steps = np.diff(values)
    assert np.allclose(steps[:59], SWAY_REST / 60), "smooth and slow before the hit"
    assert steps[59] > 0.5 * FACE_HIT * 0.5 * (1.0 - SWAY_REST), "a step on the hit"
    assert all(v <= t + 1e-9 for v, (t, _) in zip(values, frames)), "never ahead of the clock"
    assert sway.update(9.0, det) == 9.0, "a jump of the clock snaps it"


def test_head_pose_is_still_at_rest_and_scaled_by_amount():
    from livevis.face3d.mesh_layer import head_pose

    assert head_pose(0.0) == (0.0, 0.0, 0.0, 0.0)
    assert head_pose(3.0, amount=0.0) == (0.0, 0.0, 0.0, 0.0)
    assert head_pose(3.0, amount=0.5)[1] == pytest.approx(head_pose(3.0)[1] * 0.5)


def _frame_changes(comp, states) -> tuple[np.ndarray, np.ndarray]:
    """Render ``states`` (hops 0.1 s apart) through ``comp`` at 30 fps for 6 s, then release it.
    Returns each frame's change from the one before (mean |Δ| of RGB, 0–255) and whether a hit
    first shows on it."""
    det, frames, hit_frame = HitDetector(), [], []
    try:
        for k in range(3, 180):
            t = k / 30
            state = [s for s in states if s.time <= t + 1e-9][-1]
            det.update(state, t)
            comp.render(state, t)
            frames.append(comp.read_rgb().astype(np.float32))
            hit_frame.append(det.new_hop and det.hit > 0)
    finally:
        comp.release()
    d = np.array([np.abs(b - a).mean() for a, b in zip(frames, frames[1:])])
    return d, np.array(hit_frame[1:])


@pytest.mark.gl
def test_the_face_moves_on_hits_and_rests_between(ctx):
    """The 3D face at 30 fps over hops with and without hits, whose AUs, valence and arousal
    step on every hop (as the analysis's do): the frames where a hit shows change the picture
    over eight times more than the frames between (21× here; 3.6× before the expression,
    colours and sway were held between hits)."""
    from livevis.face3d.aumesh import AUMeshModel
    from livevis.face3d.mesh_layer import FaceMeshLayer
    from livevis.render import Compositor

    try:
        model = AUMeshModel.load()
    except Exception as err:  # noqa: BLE001 — the cached py-feat model is set up by tools/setup.sh
        pytest.skip(f"py-feat's AU→mesh model is not cached and cannot be fetched: {err}")
    rng = np.random.default_rng(0)
    onsets = np.where(np.arange(60) % 5 == 0, 0.95, 0.2)
    states = [AnalysisState(time=0.1 * (i + 1), onset=float(o), arousal=float(rng.uniform(-0.6, 0.6)),
                            valence=float(rng.uniform(-0.6, 0.6)), aus=rng.uniform(0, 0.8, 17).astype(np.float32))
              for i, o in enumerate(onsets)]
    face = FaceMeshLayer(ctx, model, blink=False)
    comp = Compositor(ctx, 96, 96, [face])
    d, hit_frame = _frame_changes(comp, states)
    assert hit_frame.sum() >= 10
    # the frames right after a hit: the AU smoother finishes the step over the next one or two
    after = hit_frame | np.roll(hit_frame, 1)
    assert d[hit_frame].mean() > 8 * d[~after].mean(), (d[hit_frame].mean(), d[~after].mean())


@pytest.mark.gl
def test_the_background_moves_on_hits_and_rests_between(ctx):
    """The shader background at 30 fps over hops with and without hits: frames where a hit
    shows change the picture over ten times more than the frames between, though arousal,
    valence and the band levels step on every hop, as the analysis's do."""
    from livevis.render import BackgroundLayer, Compositor

    rng = np.random.default_rng(0)
    onsets = np.where(np.arange(60) % 5 == 0, 0.95, 0.2)
    states = [AnalysisState(time=0.1 * (i + 1), onset=float(o), arousal=float(rng.uniform(0.2, 0.6)),
                            valence=float(rng.uniform(-0.3, 0.3)), bass=float(rng.uniform(0, 1)),
                            mid=float(rng.uniform(0, 1)), rms=0.3, energy=0.3) for i, o in enumerate(onsets)]
    comp = Compositor(ctx, 64, 64, [BackgroundLayer(ctx)])
    d, hit_frame = _frame_changes(comp, states)
    assert hit_frame.sum() >= 10
    # 19× here; 4× before the levels were held between hits and the flow's speed integrated
    assert d[hit_frame].mean() > 10 * d[~hit_frame].mean(), (d[hit_frame].mean(), d[~hit_frame].mean())
