"""The show stage: a preset turned into a scene and shown live or rendered offline.

``scene`` (preset → compositor), ``show`` (live parameters, reloads, shortcuts), ``app``
(window loop), ``offline`` (render to mp4), ``demo`` (the built-in demo track). Live and
offline build the scene and apply a preset through one path.
"""
