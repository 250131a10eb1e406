#!/usr/bin/env bash
# Installs what ZO2 needs on a fresh Debian 12 machine: Debian's -dev packages (Catch2 3 from bookworm-backports)
# and PyPI's torch 2.11.0 (the LibTorch we build against), transformers 5.17.0 and the analysis packages.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

# bookworm-backports on the same mirror the machine already uses (read from its apt sources, never typed here).
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  mirror=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
           | grep -v security | head -n1 | tr -d ' ')
  [ -n "$mirror" ] || { echo "setup: no Debian mirror found in /etc/apt/sources.list*: add bookworm-backports by hand" >&2; exit 1; }
  echo "deb ${mirror%/} bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/zo2-backports.list >/dev/null
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends cmake ninja-build g++ python3-pip \
  libfmt-dev nlohmann-json3-dev libcli11-dev libbenchmark-dev >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports catch2 >/dev/null

python3 -m pip install -q --disable-pip-version-check -r "$(dirname "$0")/requirements.txt"
python3 -c 'import torch, transformers; print("setup: torch", torch.__version__, "transformers", transformers.__version__)'
