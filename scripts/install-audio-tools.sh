#!/usr/bin/env bash
# Install the Debian tools that the offline data builders (slicer-embed data ...) call:
# sox (resampling, effects), espeak-ng / flite / festival (speech synthesis), fluidsynth
# (soundfont rendering). The audio *data* packages (game assets, soundfonts, fortunes) are NOT
# installed: the builders fetch them with `apt-get download` into their own cache.
#
# Idempotent: packages already installed are left alone. Needs root (or sudo) and apt-get.
# Usage: sudo scripts/install-audio-tools.sh   (set SKIP_APT_UPDATE=1 to skip `apt-get update`)
set -euo pipefail

PACKAGES=(
  sox libsox-fmt-all
  espeak-ng
  flite
  festival
  festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  festvox-italp16k festvox-itapc16k festvox-ru
  festvox-czech-dita festvox-czech-machac festvox-czech-krb
  festvox-suopuhe-lj festvox-suopuhe-mv festvox-ca-ona-hts
  fluidsynth
)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-audio-tools: apt-get not found; this script supports Debian/Ubuntu only." >&2
  echo "Install by hand: ${PACKAGES[*]}" >&2
  exit 2
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
  else
    echo "install-audio-tools: must run as root (or with passwordless sudo) to apt-get install:" >&2
    echo "  ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-audio-tools: all ${#PACKAGES[@]} packages already installed; nothing to do."
  exit 0
fi

echo "install-audio-tools: installing ${#missing[@]} package(s): ${missing[*]}"
if [ "${SKIP_APT_UPDATE:-0}" != "1" ]; then
  echo "+ apt-get update"
  $SUDO apt-get update -q
fi
echo "+ apt-get install -y --no-install-recommends ${missing[*]}"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
for tool in sox espeak-ng flite text2wave fluidsynth; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-audio-tools: '$tool' still missing after install" >&2; exit 1; }
done
echo "install-audio-tools: done."
