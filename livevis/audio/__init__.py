"""Audio input: device listing, live capture, file decoding and real-time file playback."""
