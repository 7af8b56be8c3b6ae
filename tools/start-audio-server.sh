#!/usr/bin/env bash
# Start a PulseAudio daemon with a null sink whose monitor is the default source, so that
# sound played to the default output comes back on the default input. For machines with no
# sound card (CI, headless servers). Safe to run twice.
set -euo pipefail
if ! pactl info >/dev/null 2>&1; then
    pulseaudio --daemonize=yes --exit-idle-time=-1 --system=false --disallow-exit 2>/dev/null \
        || pulseaudio -D --exit-idle-time=-1
    for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
fi
if ! pactl list short sinks | grep -q livevis_null; then
    pactl load-module module-null-sink sink_name=livevis_null \
        sink_properties=device.description=livevis_null >/dev/null
fi
pactl set-default-sink livevis_null
pactl set-default-source livevis_null.monitor
pactl info | grep -E "Default (Sink|Source)"
