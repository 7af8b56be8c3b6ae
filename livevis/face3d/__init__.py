"""The 3D AU-driven face (MediaPipe topology, py-feat's AU→mesh model) and portrait mode.

Public entry points: :class:`~livevis.face3d.mesh_layer.FaceMeshLayer` (a compositor layer),
:class:`~livevis.face3d.portrait.PortraitLayer` (a photo animated by the same AUs),
:func:`~livevis.face3d.assets.fetch_all` / ``python -m livevis.face3d.assets`` (fetch the
pinned assets into the user cache, e.g. from ``tools/setup.sh``). Modules are imported lazily
so that importing this package needs neither moderngl nor a TFLite runtime.
"""

from __future__ import annotations

__all__ = ["AUMeshModel", "FaceMeshLayer", "PortraitLayer", "fetch_all"]


def __getattr__(name: str):
    if name == "AUMeshModel":
        from livevis.face3d.aumesh import AUMeshModel
        return AUMeshModel
    if name == "FaceMeshLayer":
        from livevis.face3d.mesh_layer import FaceMeshLayer
        return FaceMeshLayer
    if name == "PortraitLayer":
        from livevis.face3d.portrait import PortraitLayer
        return PortraitLayer
    if name == "fetch_all":
        from livevis.face3d.assets import fetch_all
        return fetch_all
    raise AttributeError(name)
