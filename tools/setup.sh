#!/usr/bin/env bash
# Install livevis from this checkout: system packages, then a virtual environment in .venv
# with livevis and its test tools. Run from anywhere; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-system-deps.sh
if ! python3 -m venv .venv 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# Optional: torch (CPU) for the tools and the one-time ONNX export of the latent autoencoder.
# Pinned: a plain "torch" pulls multi-GB CUDA builds. LIVEVIS_WITH_TORCH=1 enables it.
if [ "${LIVEVIS_WITH_TORCH:-0}" = "1" ]; then
    .venv/bin/python -m pip install -q "torch==2.13.0"
fi
echo "livevis installed in $(pwd)/.venv"
