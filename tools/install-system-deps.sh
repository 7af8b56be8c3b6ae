#!/usr/bin/env bash
# Debian/Ubuntu packages livevis needs: PortAudio (audio I/O), libsndfile, Mesa EGL/GL
# (OpenGL, software rendering where there is no GPU), and for headless machines and tests a
# PulseAudio server (null sink), Xvfb (a virtual screen) and JACK (virtual MIDI ports).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# jackd2 asks whether to enable realtime scheduling: answer no, non-interactively
echo 'jackd2 jackd/tweak_rt_limits boolean false' | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    libportaudio2 libsndfile1 \
    libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libglu1-mesa \
    pulseaudio pulseaudio-utils libasound2-plugins \
    xvfb xauth fonts-dejavu-core jackd2 >/dev/null
