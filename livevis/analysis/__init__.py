"""The analysis stage: features, tempo, emotion (ONNX), the per-hop analyzer and the state it publishes.

Pure functions of audio samples and a host-supplied clock, the same code live and offline. Import the
submodules directly (``livevis.analysis.state`` is light; ``features``/``analyzer`` load librosa and openSMILE).
"""
