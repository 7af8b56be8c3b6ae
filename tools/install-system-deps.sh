#!/usr/bin/env bash
# Debian/Ubuntu packages livevis needs: PortAudio (audio I/O), libsndfile, Mesa EGL/GL
# (OpenGL, software rendering where there is no GPU), and for headless machines and tests a
# PulseAudio server (null sink), Xvfb (a virtual screen) and JACK (virtual MIDI ports).
# Nothing is done when all are installed; otherwise it waits (up to LIVEVIS_APT_WAIT seconds,
# default 600) for another apt/dpkg process to release the package manager's locks.
set -euo pipefail
PACKAGES=(libportaudio2 libsndfile1
          libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libglu1-mesa
          pulseaudio pulseaudio-utils libasound2-plugins
          xvfb xauth fonts-dejavu-core jackd2)
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: all installed"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
WAIT=${LIVEVIS_APT_WAIT:-600}

# The path of a package-manager lock that another process holds, or nothing. apt and dpkg
# take fcntl locks, which flock(1) does not see: test them with Python's lockf.
held_lock() {
    $SUDO python3 - <<'PY'
import fcntl, os
for path in ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/lib/apt/lists/lock",
             "/var/cache/apt/archives/lock"):
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        continue
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
    except OSError:
        print(path)
        break
    finally:
        os.close(fd)
PY
}

waited=0
while lock=$(held_lock) && [ -n "$lock" ]; do
    if [ "$waited" -ge "$WAIT" ]; then
        echo "error: another package manager still holds $lock after ${WAIT} s; run tools/setup.sh again when it has finished" >&2
        exit 1
    fi
    [ "$waited" -eq 0 ] && echo "waiting for another package manager (apt/dpkg) to finish: $lock is held (up to ${WAIT} s)…"
    sleep 5
    waited=$((waited + 5))
done
echo "installing system packages: ${missing[*]}…"
export DEBIAN_FRONTEND=noninteractive
# jackd2 asks whether to enable realtime scheduling: answer no, non-interactively
echo 'jackd2 jackd/tweak_rt_limits boolean false' | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq -o DPkg::Lock::Timeout="$WAIT"
$SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout="$WAIT" "${PACKAGES[@]}" >/dev/null
