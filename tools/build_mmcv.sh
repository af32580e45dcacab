#!/usr/bin/env bash
# Build an mmcv 2.1.0 wheel with compiled ops against the torch of an interpreter: CPU ops, or
# CUDA ops for the visible GPUs (the flavour of tools/mmcv_flavour.sh). tools/install.sh calls
# it for its venv; in your own environment (docs/gpus_and_clusters.md) run it with your python:
#
#   PYTHON=python MAX_JOBS=16 bash tools/build_mmcv.sh DEST_DIR [mmcv-2.1.0.tar.gz]
#   pip install --no-deps DEST_DIR/mmcv-2.1.0-*.whl
#
# DEST_DIR gets the wheel; its path is the last line printed. Without the sdist argument pip
# downloads it. PYTHON (default python3) needs torch, setuptools with pkg_resources (mmcv's
# setup.py imports it: setuptools < 81), wheel and, for a parallel build, ninja.
# MAX_JOBS: compiler jobs (default 2). FORCE_CUDA, TORCH_CUDA_ARCH_LIST, CUDA_HOME,
# LTR_MMCV_CPU: see tools/mmcv_flavour.sh.
#
# Why a build: mmdet 3.3 needs mmcv >= 2.0, < 2.2 with compiled ops, and no wheel exists for
# recent torch. mmcv 2.1.0's setup.py asks for C++14/17; recent torch headers need C++20, so the
# flags are raised to -std=c++20 (for nvcc too). mmcv's setup.py compiles CUDA whenever torch
# sees a GPU, so the GPUs are hidden for a CPU build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
MMCV_VERSION=2.1.0
DEST="${1:?usage: bash tools/build_mmcv.sh DEST_DIR [mmcv-$MMCV_VERSION.tar.gz]}"
SDIST="${2:-}"
# shellcheck source=tools/mmcv_flavour.sh
source "$ROOT/tools/mmcv_flavour.sh"

if ! "$PY" -c 'import torch, pkg_resources, wheel' 2>/dev/null; then
    echo "build_mmcv: $PY needs torch, setuptools with pkg_resources (< 81) and wheel:" \
         "pip install 'setuptools<81' wheel ninja" >&2
    exit 1
fi
TORCH_CUDA="$("$PY" -c 'import torch; print(torch.version.cuda or "")')"
mmcv_flavour "$TORCH_CUDA" || exit 1
if [[ "$MMCV_FLAVOUR" == cpu ]]; then
    build_env=(MMCV_WITH_OPS=1 FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=)
else
    build_env=(MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$MMCV_CUDA_ARCHS"
               CUDA_HOME="$(dirname "$(dirname "$MMCV_NVCC")")")
fi
"$PY" -c 'import ninja' 2>/dev/null || echo "build_mmcv: no ninja: a serial, slow build" >&2
echo "build_mmcv: mmcv $MMCV_VERSION, flavour $MMCV_FLAVOUR," \
     "torch $("$PY" -c 'import torch; print(torch.__version__)')," \
     "${MMCV_NVCC:+nvcc $MMCV_NVCC, TORCH_CUDA_ARCH_LIST=$MMCV_CUDA_ARCHS, }MAX_JOBS=${MAX_JOBS:-2}"

build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
if [[ -z "$SDIST" ]]; then
    "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
        -d "$build" "mmcv==$MMCV_VERSION"
    SDIST="$build/mmcv-$MMCV_VERSION.tar.gz"
fi
tar -xzf "$SDIST" -C "$build"
src="$build/mmcv-$MMCV_VERSION"
sed -i -E 's/-std=c\+\+1[47]/-std=c++20/g' "$src/setup.py"
grep -q 'std=c++20' "$src/setup.py"
(cd "$src" && env "${build_env[@]}" MAX_JOBS="${MAX_JOBS:-2}" \
    "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$build/dist" .)
mkdir -p "$DEST"
cp "$build"/dist/mmcv-"$MMCV_VERSION"-*.whl "$DEST"/
ls "$DEST"/mmcv-"$MMCV_VERSION"-*.whl | head -n1
