#!/usr/bin/env bash
# One-command developer set-up: the audio tools the data builders and tests use (Debian packages,
# when run as root), then slicer-embed in editable mode with the test oracles (torch 2.11 + torchaudio 2.11,
# librosa) and the training extras, then the HEAR tools. Safe to re-run.
#
# It says what it will install, and where, before installing anything. The Debian packages go into
# the system even when python3 is a virtual environment's: pass --no-apt (or INSTALL_DEV_APT=0) to
# skip them. If apt cannot run (another apt/dpkg holds its lock, no network), the Python packages are
# still installed and the script ends with exit status 1 and the command to finish the Debian part.
#
# Usage: bash scripts/install-dev.sh [--no-apt]
set -euo pipefail
cd "$(dirname "$0")/.."

apt_wanted="${INSTALL_DEV_APT:-1}"
for arg in "$@"; do
    case "$arg" in
        --no-apt) apt_wanted=0 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-dev: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done

python="$(command -v python3 || true)"
if [ -z "$python" ]; then
    echo "install-dev: python3 not found on PATH" >&2
    exit 2
fi
where="$(python3 -c 'import sys; print("the virtual environment " + sys.prefix if sys.prefix != sys.base_prefix else "the system Python " + sys.prefix + " (no virtual environment is active)")' 2>/dev/null || echo "$python")"

apt_run=0
if [ "$apt_wanted" = "1" ] && [ -f scripts/install-audio-tools.sh ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        apt_run=1
    else
        echo "install-dev: not root or no apt-get: skipping the Debian audio tools (see scripts/install-audio-tools.sh)" >&2
    fi
fi

echo "install-dev: this will install"
if [ "$apt_run" = "1" ]; then
    packages="$(sed -n '/^PACKAGES=(/,/^)/p' scripts/install-audio-tools.sh | sed '1d;$d' | xargs)"
    echo "  - system-wide, with apt-get (missing ones only; skip with --no-apt): $packages"
fi
echo "  - into $where: slicer-embed (editable) with its [dev] extra (torch 2.11, torchaudio 2.11,"
echo "    librosa, datasets, pyarrow, ...), then the HEAR tools (tensorflow-cpu, heareval, hearvalidator)"

apt_failed=""
if [ "$apt_run" = "1" ]; then
    log="$(mktemp)"
    if bash scripts/install-audio-tools.sh 2>&1 | tee "$log"; then
        :
    else
        if grep -q -E "Could not get lock|Unable to acquire the dpkg frontend lock|is another process using it" "$log"; then
            apt_failed="another apt or dpkg process holds the package lock (/var/lib/dpkg/lock-frontend)"
        else
            apt_failed="apt-get failed (its messages are above)"
        fi
        echo "install-dev: the Debian audio tools were NOT installed: $apt_failed; going on with the Python packages" >&2
    fi
    rm -f "$log"
fi

python3 -m pip install --disable-pip-version-check -e ".[dev]"
# The HEAR 2021 tools, as the README's "HEAR" section installs them: heareval pins numpy 1.19 and numba
# 0.48 (no wheels for Python >= 3.10), so it goes in with --no-deps plus what its embedding runner
# imports; hearvalidator declares python < 3.10 but runs on 3.11. tests/test_hear_runner.py drives the
# real runner (it skips where these are missing). tensorflow-cpu: x86_64 wheels only.
if python3 -m pip install --disable-pip-version-check "tensorflow-cpu>=2.15" click python-slugify intervaltree \
    && python3 -m pip install --disable-pip-version-check --no-deps heareval==2021.1.3 \
    && python3 -m pip install --disable-pip-version-check --no-deps --ignore-requires-python hearvalidator==2021.0.6; then
    :
else
    echo "install-dev: the HEAR tools could not be installed here; tests/test_hear_runner.py will skip" >&2
fi

if [ -n "$apt_failed" ]; then
    echo "install-dev: slicer-embed is installed, but the Debian audio tools are not ($apt_failed)." >&2
    echo "install-dev: when apt is free, run: sudo bash scripts/install-audio-tools.sh" >&2
    exit 1
fi
echo "install-dev: done."
