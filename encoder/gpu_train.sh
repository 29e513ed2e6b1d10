#!/usr/bin/env bash
# One GPU session for the anatomy encoder (issue 4), sized to fit one 10-minute device call:
#   1. phantom cases generated on the machine's CPUs (time-boxed), while loadtests/gpu_check.sh runs;
#   2. two lesion-head candidates trained side by side on the GPU, both fine-tuned from the shipped
#      weights: A keeps the architecture, B widens the lesion head (32 channels, 2 fine blocks).
# Weights, logs and the GPU check land in $OUT; candidates are chosen afterwards, on the CPU, by
# `hilum evaluate` on validation seeds (50-199, 400-599), never on the test seeds.
#   OUT=/tmp/hilum-gpu bash encoder/gpu_train.sh
# GEN_S / TRAIN_MIN size the two phases; CACHE_TGZ is a tarball of the phantom's volume cache
# (`tar czf v4.tgz -C ~/.cache/hilum/phantom v4`; without it the cache is built, which needs nibabel);
# DEVICE=cpu CHECK=0 tries the whole script on a machine without a GPU.
# RENDER_FAMILIES (issue 21, opt-in; e.g. "all", which includes "anatomy") makes every generated case
# draw a rendering style from those families, HOLD_OUT (e.g. "scatter" or "anatomy,scatter") keeps
# families out; unset: the phantom's own look. LESION_MIX=varied draws the varied lesion mix (a third
# of films normal, ground glass to calcified, multiple masses, lobar/patchy consolidation).
# OTHER_CT=lung1 (issue 21) adds 600 films of another patient's CT (encoder/phantom/other_ct.py; only lungs
# and lesions labelled) to both candidates' data; the CT must travel with the call (the device machine has
# no network): fetch it here first (`python -m encoder.phantom.other_ct fetch`) and carry data/other-ct.
# ZOOM_OUT=P (issue 21) zooms a share P of both candidates' training samples out to a wider field of view
# (encoder/field_of_view.py: the chest smaller in the frame, abdomen, neck and arms around it), e.g. 0.35.
# TEXTURE=P (issue 21) gives a share P of the samples normal lung texture that is no lesion (encoder/lung_texture.py:
# crisp ribs, vessels from the hila, fine markings), e.g. 0.5.
# VISIBLE_LUNGS=1 (issue 21) teaches lung fields that stop at the diaphragm, as a film shows them
# (encoder/visible_lungs.py; another CT's lungs, which cannot be cut there, are left out of the lung loss).
# READER=1 (issue 22) also renders lesion-reader crops (seeds 4000+, a third of the CPUs) and trains
# the reader on the GPU beside A and B, continued from the committed reader weights: $OUT/reader.pt
# and reader.onnx; score it afterwards with `hilum evaluate-reader --seeds 0-49 --weights ...` and fit
# its temperature with `hilum calibrate-reader` (validation seeds) before committing it.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
OUT="${OUT:-/tmp/hilum-gpu}"
WORK="${WORK:-/tmp/hilum-gpu-work}"
GEN_S="${GEN_S:-130}"
TRAIN_MIN="${TRAIN_MIN:-5}"
DEVICE="${DEVICE:-cuda}"
CPUS="$(nproc)"
mkdir -p "$OUT" "$WORK"
RENDER=()
if [ -n "${RENDER_FAMILIES:-}" ]; then
    RENDER=(--render-families "$RENDER_FAMILIES")
    HOLD_OUT="${HOLD_OUT:-}"
    for fam in ${HOLD_OUT//,/ }; do RENDER+=(--hold-out-family "$fam"); done
fi
if [ -n "${LESION_MIX:-}" ]; then
    RENDER+=(--lesion-mix "$LESION_MIX")
fi
export HILUM_CACHE_DIR="${HILUM_CACHE_DIR:-$WORK/cache}"
if [ -n "${CACHE_TGZ:-}" ]; then
    mkdir -p "$HILUM_CACHE_DIR/phantom" && tar xzf "$CACHE_TGZ" -C "$HILUM_CACHE_DIR/phantom"
fi
HILUM=("$PY" -m orchestrator.cli)  # `hilum` without an installed entry point
stamp() { echo "[$(date +%T)] $*" | tee -a "$OUT/timeline.txt"; }

stamp "start: $CPUS CPUs; generating for ${GEN_S}s"
gen_cpus=$CPUS
if [ "${READER:-0}" = 1 ]; then
    gen_reader=$(( CPUS / 3 )); gen_cpus=$(( CPUS - gen_reader ))
    timeout "$GEN_S" "${HILUM[@]}" train-reader --seeds 4000-4999 --generate-only --workers "$gen_reader" \
        --data-dir "$WORK/reader" >"$OUT/gen_reader.log" 2>&1 &
fi
gen_plain=$(( gen_cpus * 2 / 3 )); gen_strand=$(( gen_cpus - gen_plain ))
timeout "$GEN_S" "${HILUM[@]}" train --generate 1000 --first-seed 1000 --generate-only \
    --workers "$gen_plain" --data-dir "$WORK/plain" "${RENDER[@]}" >"$OUT/gen_plain.log" 2>&1 &
timeout "$GEN_S" "${HILUM[@]}" train --generate 500 --first-seed 1500 --extra-lesion strand \
    --generate-only --workers "$gen_strand" --data-dir "$WORK/strand" "${RENDER[@]}" >"$OUT/gen_strand.log" 2>&1 &
OTHER=()
if [ -n "${OTHER_CT:-}" ]; then
    timeout "$GEN_S" "${HILUM[@]}" train --generate 600 --first-seed 1000 --other-ct "$OTHER_CT" \
        --other-ct-dir "${OTHER_CT_DIR:-data/other-ct}" --generate-only --workers 2 --data-dir "$WORK/other" \
        >"$OUT/gen_other.log" 2>&1 &
    OTHER=(--also-data "$WORK/other")
fi
if [ "${CHECK:-1}" = 1 ]; then
    OUT="$OUT/check" PYTHON="$PY" bash loadtests/gpu_check.sh >"$OUT/gpu_check.log" 2>&1 &
fi
wait
pkill -f -- "--generate-only" || true  # the pool workers a timeout leaves behind
stamp "cases: $(ls "$WORK/plain"/case_*[0-9].npz | wc -l) plain, $(ls "$WORK/strand"/case_*[0-9].npz | wc -l) with a strand"

workers=$(( (CPUS - 2) / 2 ))
common=(--data-dir "$WORK/plain" --also-data "$WORK/strand" "${OTHER[@]}" --init-from encoder/weights/anatomy_encoder.pt
        --device "$DEVICE" --loader-workers "$workers" --batch-size 16 --time-budget-min "$TRAIN_MIN")
if [ -n "${ZOOM_OUT:-}" ]; then
    common+=(--zoom-out "$ZOOM_OUT")
fi
if [ -n "${TEXTURE:-}" ]; then
    common+=(--texture "$TEXTURE")
fi
if [ "${VISIBLE_LUNGS:-0}" = 1 ]; then
    common+=(--visible-lungs)
fi
"${HILUM[@]}" train "${common[@]}" --lr 8e-4 --seed 5 --out-dir "$WORK/runA" --weights-out "$OUT/candA.pt" \
    >"$OUT/trainA.log" 2>&1 &
"${HILUM[@]}" train "${common[@]}" --lr 1.5e-3 --seed 6 --lesion-channels 32 --lesion-fine-blocks 2 \
    --out-dir "$WORK/runB" --weights-out "$OUT/candB.pt" >"$OUT/trainB.log" 2>&1 &
if [ "${READER:-0}" = 1 ]; then
    stamp "reader seeds: $(ls "$WORK/reader"/seed_*.npz 2>/dev/null | wc -l)"
    "${HILUM[@]}" train-reader --no-generate --data-dir "$WORK/reader" --device "$DEVICE" --batch-size 64 \
        --lr 1e-3 --time-budget-min "$TRAIN_MIN" --init-from encoder/weights/lesion-reader/lesion_reader.pt \
        --weights-out "$OUT/reader.pt" --onnx-out "$OUT/reader.onnx" >"$OUT/train_reader.log" 2>&1 &
fi
wait
stamp "trained: $(ls "$OUT"/cand*.pt 2>/dev/null | tr '\n' ' ')"
nvidia-smi --query-gpu=name,memory.used --format=csv >>"$OUT/timeline.txt" 2>&1 || true
