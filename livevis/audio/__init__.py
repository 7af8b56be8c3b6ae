"""Audio input: device listing, live capture, file decoding and real-time file playback, the ring buffer,
input conditioning (gate/AGC), and the audio engine process with its shared-memory state slot."""
