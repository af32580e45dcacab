# Which mmcv build this machine needs: CPU ops only, or CUDA ops for the visible GPUs.
# Sourced by tools/install.sh (and by tests, which put stand-in nvidia-smi / nvcc on PATH):
#
#   source tools/mmcv_flavour.sh
#   mmcv_flavour TORCH_CUDA   # torch.version.cuda of the venv's torch ('' for a CPU torch)
#
# On success sets
#   MMCV_FLAVOUR      'cpu' or 'cu<major><minor>-sm<arch>[.sm<arch>...]', e.g. 'cu130-sm90'
#                     (the key of the wheel cache: a CPU wheel is never reused on a GPU node)
#   MMCV_CUDA_ARCHS   TORCH_CUDA_ARCH_LIST for the build, e.g. '9.0' or '8.0;9.0' ('' for cpu)
#   MMCV_NVCC         the nvcc that will compile the ops ('' for cpu)
# and returns 0; otherwise prints why to stderr and returns 1 (a GPU is visible but no nvcc of
# torch's CUDA major version is, or the GPU is too old for that CUDA).
#
# mmcv_cache_dir CACHE TORCH_VERSION   -> CACHE/torch<version>-<MMCV_FLAVOUR>, the wheel folder
# mmcv_adopt_legacy_wheels PYTHON CACHE MMCV_VERSION TORCH_VERSION
#                                       -> move a CPU wheel cached by older versions of
#                                          install.sh (directly in CACHE) to its CPU folder
#
# Environment honoured:
#   FORCE_CUDA=1              build CUDA ops without a visible GPU (e.g. on a login node);
#                             needs TORCH_CUDA_ARCH_LIST and nvcc
#   TORCH_CUDA_ARCH_LIST      architectures to compile for (default: those of the visible GPUs)
#   LTR_MMCV_CPU=1            build CPU ops only, even with a GPU (not recommended)
#   CUDA_HOME                 toolkit whose bin/nvcc is used (default: nvcc on PATH)

# Lowest compute capability each CUDA major version still compiles for (CUDA 13 dropped
# Maxwell, Pascal and Volta; CUDA 12 supports 5.0 and later).
_mmcv_min_arch() {
    case "$1" in
        13) echo 7.5 ;;
        *) echo 5.0 ;;
    esac
}

# Visible GPUs' compute capabilities, unique and sorted ('9.0' ...); empty without a GPU.
_mmcv_gpu_archs() {
    command -v nvidia-smi >/dev/null 2>&1 || return 0
    nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null \
        | tr -d ' \r' | grep -E '^[0-9]+\.[0-9]+$' | sort -u -t. -k1,1n -k2,2n || true
}

# 'X.Y' of an nvcc ('release 13.0, V13.0.48' in `nvcc --version`); empty if none runs.
_mmcv_nvcc_release() {
    "$1" --version 2>/dev/null | sed -n -E 's/.*release ([0-9]+\.[0-9]+).*/\1/p' | head -n1
}

mmcv_flavour() {
    local torch_cuda="${1:-}" archs nvcc release raw arch suffix min_arch tag
    MMCV_FLAVOUR=cpu MMCV_CUDA_ARCHS='' MMCV_NVCC=''
    if [[ "${LTR_MMCV_CPU:-0}" == 1 ]]; then
        return 0
    fi
    archs="$(_mmcv_gpu_archs | tr '\n' ' ')"
    archs="${archs% }"
    if [[ -z "$archs" && "${FORCE_CUDA:-0}" != 1 ]]; then
        return 0  # no GPU: CPU ops, as before
    fi
    if [[ -z "$torch_cuda" ]]; then
        if [[ "${FORCE_CUDA:-0}" == 1 ]]; then
            echo "mmcv_flavour: FORCE_CUDA=1 but torch is a CPU build (torch.version.cuda" \
                 "is None); install a CUDA build of torch first" >&2
            return 1
        fi
        echo "mmcv_flavour: GPU(s) visible (compute capability $archs) but torch is a CPU" \
             "build: building mmcv's CPU ops only" >&2
        return 0
    fi
    if [[ -n "${TORCH_CUDA_ARCH_LIST:-}" ]]; then
        archs="$(echo "$TORCH_CUDA_ARCH_LIST" | tr ';,' '  ')"
    elif [[ -z "$archs" ]]; then
        echo "mmcv_flavour: FORCE_CUDA=1 without a visible GPU needs TORCH_CUDA_ARCH_LIST" \
             "(e.g. '8.0;9.0')" >&2
        return 1
    fi
    nvcc="${CUDA_HOME:+$CUDA_HOME/bin/nvcc}"
    nvcc="${nvcc:-$(command -v nvcc || true)}"
    release="$([[ -n "$nvcc" && -x "$nvcc" ]] && _mmcv_nvcc_release "$nvcc" || true)"
    if [[ -z "$release" ]]; then
        echo "mmcv_flavour: a GPU is visible (compute capability $archs) and torch is built" \
             "for CUDA $torch_cuda, but no nvcc was found${CUDA_HOME:+ in CUDA_HOME=$CUDA_HOME}." \
             "mmcv's CUDA ops need the CUDA $torch_cuda toolkit: install CUDA ${torch_cuda%%.*}.x" \
             "and set CUDA_HOME (or put its nvcc on PATH); LTR_MMCV_CPU=1 builds CPU ops" \
             "only (detection then runs nms / RoIAlign on the CPU)." >&2
        return 1
    fi
    if [[ "${release%%.*}" != "${torch_cuda%%.*}" ]]; then
        echo "mmcv_flavour: nvcc $nvcc is CUDA $release but torch is built for CUDA" \
             "$torch_cuda: the major versions must match. Point CUDA_HOME at a CUDA" \
             "${torch_cuda%%.*}.x toolkit." >&2
        return 1
    fi
    min_arch="$(_mmcv_min_arch "${torch_cuda%%.*}")"
    tag=''
    for raw in $archs; do
        arch="${raw%%+PTX}"
        suffix=''
        if [[ "$arch" =~ ^[0-9]+\.[0-9]+[af]$ ]]; then  # 9.0a: arch-specific features (torch)
            suffix="${arch: -1}"
            arch="${arch%?}"
        fi
        if ! [[ "$arch" =~ ^[0-9]+\.[0-9]+$ ]]; then
            echo "mmcv_flavour: unreadable architecture '$arch' (expected e.g. 8.0)" >&2
            return 1
        fi
        if (( ${arch%.*} * 10 + ${arch#*.} < ${min_arch%.*} * 10 + ${min_arch#*.} )); then
            echo "mmcv_flavour: compute capability $arch is not supported by CUDA" \
                 "$torch_cuda (needs >= $min_arch); use a torch / CUDA 12 stack on this GPU" >&2
            return 1
        fi
        tag="${tag:+$tag.}sm${arch/./}$suffix"
        [[ "$raw" == *+PTX ]] && tag="${tag}ptx"
    done
    MMCV_FLAVOUR="cu${torch_cuda/./}-$tag"
    MMCV_CUDA_ARCHS="$(echo "$archs" | tr ' ' ';')"
    MMCV_NVCC="$nvcc"
}

mmcv_cache_dir() {  # mmcv_cache_dir CACHE TORCH_VERSION (after mmcv_flavour)
    echo "$1/torch$2-$MMCV_FLAVOUR"
}

# Wheels of older versions of install.sh lie directly in CACHE, built without any CUDA
# handling. One whose compiled ops do not link CUDA is a CPU wheel: it moves to the CPU folder
# (no rebuild). Any other is left where it is and never used (its architectures are unknown).
mmcv_adopt_legacy_wheels() {  # PYTHON CACHE MMCV_VERSION TORCH_VERSION
    local python="$1" cache="$2" wheel cpu_dir="$2/torch$4-cpu"
    for wheel in "$cache"/mmcv-"$3"-*.whl; do
        [[ -f "$wheel" ]] || continue
        if "$python" - "$wheel" <<'PYEOF'
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as z:
    ext = [n for n in z.namelist() if n.startswith('mmcv/_ext') and n.endswith('.so')]
    cuda = any(b'libcudart' in z.read(n) or b'c10_cuda' in z.read(n) for n in ext)
sys.exit(0 if ext and not cuda else 1)
PYEOF
        then
            mkdir -p "$cpu_dir"
            echo "mmcv cache: $(basename "$wheel") is a CPU wheel -> $cpu_dir/" >&2
            mv "$wheel" "$cpu_dir/"
        else
            echo "mmcv cache: ignoring $wheel (not a CPU wheel; flavour unknown)" >&2
        fi
    done
}
