"""Hot reload never applies a preset file that is still being written (issue 13)."""

from __future__ import annotations

import os
import threading
import time

from livevis.control.presets import Preset, PresetError, PresetWatcher

FULL = ('name = "full"\ncrossfade_s = 0.0\n[[layers]]\nkind = "solid"\ncolor = "#ff0000"\n'
        '[[layers]]\nkind = "solid"\ncolor = "#0000ff"\nopacity = 0.5\n')
#: The first half of FULL on its own is a valid preset too (one red layer): the dangerous case.
HALF = FULL[:FULL.index("[[layers]]", FULL.index("[[layers]]") + 1)]


def _write_slowly(path, parts, pause_s: float) -> None:
    """Write ``parts`` into ``path`` one at a time in one open file, as a slow editor or a copy
    over the network does, pausing ``pause_s`` between them."""
    with open(path, "w") as f:
        for i, part in enumerate(parts):
            if i:
                time.sleep(pause_s)
            f.write(part)
            f.flush()
            os.fsync(f.fileno())


def _watch(watcher, until: float) -> list:
    seen = []
    while time.monotonic() < until:
        got = watcher.poll()
        if got is not None:
            seen.append(got)
        time.sleep(0.005)
    return seen


def test_half_written_preset_is_never_applied(tmp_path):
    path = tmp_path / "live.toml"
    path.write_text('name = "old"\n')
    watcher = PresetWatcher(path, interval_s=0.01)  # stat every 10 ms: every half-written state is seen
    half_end = len(HALF)
    parts = [HALF[:40], HALF[40:half_end], FULL[half_end:]]
    writer = threading.Thread(target=_write_slowly, args=(path, parts, 0.12))
    writer.start()
    seen = _watch(watcher, time.monotonic() + 1.2)
    writer.join()
    assert [type(s) for s in seen] == [Preset], seen  # one reload, no error from a cut-off file
    assert seen[0].name == "full" and len(seen[0].layers) == 2


def test_a_broken_file_is_reported_once_it_has_settled(tmp_path):
    path = tmp_path / "live.toml"
    path.write_text('name = "old"\n')
    watcher = PresetWatcher(path, interval_s=0.01)
    path.write_text('name = "new"\n[[layers]]\nkind = "sparkles"\n')
    t0 = time.monotonic()
    seen = _watch(watcher, t0 + 0.6)
    assert len(seen) == 1 and isinstance(seen[0], PresetError) and "layers[0].kind" in str(seen[0])
