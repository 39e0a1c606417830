#!/usr/bin/env bash
# One-command developer set-up: the audio tools the data builders and tests use (Debian packages,
# when run as root), then slicer-embed in editable mode with the test oracles (torch 2.11 + torchaudio 2.11,
# librosa) and the training extras. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f scripts/install-audio-tools.sh ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        bash scripts/install-audio-tools.sh
    else
        echo "install-dev: not root or no apt-get: skipping the Debian audio tools (see scripts/install-audio-tools.sh)" >&2
    fi
fi
python3 -m pip install --disable-pip-version-check -e ".[dev]"
