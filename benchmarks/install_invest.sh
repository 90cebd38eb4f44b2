#!/bin/bash
# InVEST (natcap.invest) for the goal-2 benchmark, in its own venv at ${1:-/tmp/invest-venv}.
# Debian 12 has GDAL 3.6.2: natcap.invest 3.20 needs GDAL 3.10 and its Linux wheels need glibc
# 2.39, so 3.19.0 and pygeoprocessing are built from source against Debian's libgdal-dev.
# GDAL's bindings need numpy first and no build isolation (else no _gdal_array); pygeoprocessing
# 2.4.11 does not compile with Cython >= 3.2. Needs root for apt; about 6 minutes, mostly compiling.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq libgdal-dev gdal-bin build-essential
python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install uv==0.13.9
V=${1:-/tmp/invest-venv}
PY=$V/bin/python
GV=$(gdal-config --version)
work=$(mktemp -d)
printf 'GDAL==%s\n' "$GV" > "$work/constraints.txt"
printf 'GDAL==%s\ncython<3.2\n' "$GV" > "$work/build-constraints.txt"
python3 -m uv venv --clear "$V" --python python3
python3 -m uv pip install --python "$PY" setuptools wheel numpy==2.4.6
python3 -m uv pip install --python "$PY" --no-build-isolation "GDAL==$GV"
python3 -m uv pip install --python "$PY" -c "$work/constraints.txt" \
    --build-constraint "$work/build-constraints.txt" natcap.invest==3.19.0 pygeoprocessing==2.4.11
"$PY" -c "from osgeo import gdal_array; import natcap.invest as i; print('natcap.invest', i.__version__)"
