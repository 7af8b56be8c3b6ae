#!/usr/bin/env bash
# Run the test suite: starts a PulseAudio null sink (live-capture tests) and a virtual X
# screen (window tests), then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
bash tools/start-audio-server.sh
exec xvfb-run -a -s "-screen 0 1280x720x24" "$PY" -m pytest -q -rs "$@"
