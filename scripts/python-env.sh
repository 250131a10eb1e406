# Sourced by the scripts: the Python that set-up installs into, a virtual environment at .venv (or $ZO2_VENV).
# A caller's $ZO2_PYTHON wins (the GPU machine has torch in its system python and no registry to fill a venv from).
_zo2_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ZO2_VENV=${ZO2_VENV:-$_zo2_root/.venv}
if [ -n "${ZO2_PYTHON:-}" ]; then
  ZO2_PYTHON_GIVEN=1
else
  ZO2_PYTHON_GIVEN=0
  if [ -x "$ZO2_VENV/bin/python3" ]; then ZO2_PYTHON=$ZO2_VENV/bin/python3; else ZO2_PYTHON=python3; fi
fi
export ZO2_PYTHON
