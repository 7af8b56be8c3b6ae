"""Caches write through uniquely named temporary files (issue 13: the latent cache's file named
by process id only collided when two decode threads stored the same entry: "tmp5642.npy not found")."""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from livevis.render.latent.keyframes import LatentCache
from livevis.render.latent.weights import fetch


def _together(n: int, work) -> list[BaseException]:
    """Run ``work(i)`` in ``n`` threads released at once; the exceptions they raised."""
    start, errors = threading.Barrier(n), []

    def run(i):
        start.wait()
        try:
            work(i)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


def test_latent_cache_writers_in_threads_never_collide(tmp_path):
    cache = LatentCache(tmp_path / "latents")
    latent = np.arange(4 * 32 * 32, dtype=np.float32).reshape(1, 4, 32, 32)

    def store(i):
        for _ in range(25):
            cache.put("taef2", (256, 256), "ab" * 32, latent + i)

    assert _together(8, store) == []
    got = cache.get("taef2", (256, 256), "ab" * 32)
    assert got is not None and got.shape == latent.shape
    assert any(np.array_equal(got, latent + i) for i in range(8))  # one writer's whole file
    assert [p.name for p in (tmp_path / "latents").iterdir()] == [cache.path("taef2", (256, 256), "ab" * 32).name]


def test_weight_downloads_in_threads_never_collide(tmp_path):
    source = tmp_path / "w.bin"
    source.write_bytes(np.random.default_rng(0).bytes(1 << 20))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    folder = tmp_path / "weights"
    got = []
    assert _together(6, lambda i: got.append(fetch(source.as_uri(), digest, "w.bin", directory=folder))) == []
    assert set(got) == {folder / "w.bin"} and hashlib.sha256(got[0].read_bytes()).hexdigest() == digest
    assert [p.name for p in folder.iterdir()] == ["w.bin"]
