#!/usr/bin/env bash
# Create the reference environment with the official nlb-tools 0.0.4.
# Prefers Python 3.9 with the package's own pins; falls back to Python 3.11
# with pandas<3 and `pip install --no-deps nlb-tools==0.0.4`.
set -euo pipefail
dest="${1:-.venv-ref}"
here="$(cd "$(dirname "$0")/.." && pwd)"
py39=""
for cand in python3.9 "$HOME"/.pyenv/versions/3.9*/bin/python3.9; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
    py39="$cand"; break
  fi
done
flags=(--disable-pip-version-check --no-input -q)
if [ -n "$py39" ]; then
  echo "reference env: $py39 with nlb-tools 0.0.4 and its pins"
  [ -x "$dest/bin/python" ] || "$py39" -m venv "$dest"
  "$dest/bin/python" -m pip install "${flags[@]}" -r "$here/requirements/reference.txt"
else
  echo "reference env: no Python 3.9 found; using python3.11, pandas<3 and nlb-tools --no-deps"
  [ -x "$dest/bin/python" ] || python3.11 -m venv "$dest"
  "$dest/bin/python" -m pip install "${flags[@]}" -r "$here/requirements/reference-py311.txt"
  "$dest/bin/python" -m pip install "${flags[@]}" --no-deps nlb-tools==0.0.4
fi
"$dest/bin/python" -c 'import nlb_tools.nwb_interface, nlb_tools.make_tensors, nlb_tools.evaluation; print("nlb_tools OK")'
