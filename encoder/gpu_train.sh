#!/usr/bin/env bash
# One GPU session for the anatomy encoder (issue 4), sized to fit one 10-minute device call:
#   1. phantom cases generated on the machine's CPUs (time-boxed), while loadtests/gpu_check.sh runs;
#   2. two lesion-head candidates trained side by side on the GPU, both fine-tuned from the shipped
#      weights: A keeps the architecture, B widens the lesion head (32 channels, 2 fine blocks).
# Weights, logs and the GPU check land in $OUT; candidates are chosen afterwards, on the CPU, by
# `hilum evaluate` on validation seeds (50-199, 400-599), never on the test seeds.
#   OUT=/tmp/hilum-gpu bash encoder/gpu_train.sh
# GEN_S / TRAIN_MIN size the two phases; CACHE_TGZ is a tarball of the phantom's volume cache
# (`tar czf v4.tgz -C ~/.cache/hilum/phantom v4`, or `tar cJf v4.txz ...`, smaller; without it the cache is
# built, which needs nibabel); DEVICE=cpu CHECK=0 tries the whole script on a machine without a GPU.
# WHEELS=DIR installs the wheels in DIR first (into /tmp/site, put on PYTHONPATH): the device machine's Python has
# torch, numpy, scipy, cv2 and onnx but not pydantic / pydantic-settings, which the settings object needs.
# N_PLAIN / N_STRAND size the two main sets (1000 / 500, at most 1000 each: training seeds are 1000-1999).
# RENDER_FAMILIES (issue 21, opt-in; e.g. "all", which includes "anatomy") makes every generated case
# draw a rendering style from those families, HOLD_OUT (e.g. "scatter" or "anatomy,scatter") keeps
# families out; unset: the phantom's own look. OWN_LOOK=1 with RENDER_FAMILIES also generates a set
# in the phantom's own look and one with a strand (N_PLAIN/3 and N_STRAND/2 cases), as the CPU stages I-O mix them.
# LESION_MIX=varied adds a set (N_PLAIN/3 cases, through the families) with the varied lesion mix (a third
# of films normal, ground glass to calcified, multiple masses, lobar/patchy consolidation).
# OTHER_CT=lung1 (issue 21) adds 600 films of another patient's CT (encoder/phantom/other_ct.py; only lungs
# and lesions labelled; N_OTHER films, default 600) to both candidates' data; the CT must travel with the call (the device machine has
# no network): fetch it here first (`python -m encoder.phantom.other_ct fetch`) and carry data/other-ct.
# INIT_A / INIT_B: the weights each candidate starts from (default the shipped ones); LR_A / LR_B their learning
# rates (8e-4 / 1.5e-3); WIDE_B=0 keeps B's architecture (default: B widens the lesion head).
# PACK=1 folds the logs into $OUT/logs.tgz at the end (the device tool brings back at most 8 files).
# ZOOM_OUT=P (issue 21) zooms a share P of both candidates' training samples out to a wider field of view
# (encoder/field_of_view.py: the chest smaller in the frame, abdomen, neck and arms around it), e.g. 0.35.
# ZOOM_IN=P enlarges a share P of the samples not zoomed out, x1.05-1.3 and cropped (encoder/field_of_view.py): the
# second look reads every film again at x1.15, and weights that never saw a chest that large move a large opacity's
# region there, e.g. 0.5 (encoder/weights/TRAINING.md, "Stage Z": on the CPU it did not carry to real films).
# TEXTURE=P (issue 21) gives a share P of the samples normal lung texture that is no lesion (encoder/lung_texture.py:
# crisp ribs, vessels from the hila, fine markings), e.g. 0.5.
# VISIBLE_LUNGS=1 (issue 21) teaches lung fields that stop at the diaphragm, as a film shows them
# (encoder/visible_lungs.py; another CT's lungs, which cannot be cut there, are left out of the lung loss).
# CONSPICUITY=LO,HI (issue 21) draws each phantom lesion's contrast gain from LO..HI (log-uniform; the phantom's
# fixed x2 otherwise, where another patient's films insert nodules at 1, physical contrast), e.g. 1,2.
# HIDDEN=P (issue 21) places a share P of the phantom lesions behind the heart, the mediastinum or a dome where their
# lobe reaches there (otherwise every lesion not against them lies on the open field, so none hidden was ever seen),
# e.g. 0.3.
# DEVICES=KINDS (issue 21) puts support devices and foreign bodies (encoder/phantom/devices.py: ECG electrodes, lines,
# tubes, sternotomy wires, buttons, pacemakers) on a share DEVICE_SHARE (default 0.3) of every phantom set's films, e.g.
# "all,-pacemaker" (the pacemaker is the kind held out and reported on its own); DEVICE_WEIGHT=W weighs their pixels as
# hard negatives in the lesion loss (`hilum train --device-weight`), e.g. 20.
# SMALL_NODULES=N (issue 21) adds a set of N cases with one extra nodule of 7-14 mm each (the unseen patient's misses
# are small faint nodules, missed on every chest: encoder/weights/TRAINING.md, "Small faint nodules"); with
# CONSPICUITY=1,1.3 they are faint too, e.g. 400.
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
N_PLAIN="${N_PLAIN:-1000}"
N_STRAND="${N_STRAND:-500}"
CPUS="$(nproc)"
mkdir -p "$OUT" "$WORK"
stamp() { echo "[$(date +%T)] $*" | tee -a "$OUT/timeline.txt"; }
if [ -n "${WHEELS:-}" ]; then
    if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            "$WHEELS"/*.whl; then  # no pip there: a wheel is a zip of the package's files
        for wheel in "$WHEELS"/*.whl; do "$PY" -m zipfile -e "$wheel" /tmp/site || { stamp "wheels did not install"; exit 1; }; done
    fi
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
RENDER=()
if [ -n "${RENDER_FAMILIES:-}" ]; then
    RENDER=(--render-families "$RENDER_FAMILIES")
    HOLD_OUT="${HOLD_OUT:-}"
    for fam in ${HOLD_OUT//,/ }; do RENDER+=(--hold-out-family "$fam"); done
fi
export HILUM_CACHE_DIR="${HILUM_CACHE_DIR:-$WORK/cache}"
if [ -n "${CACHE_TGZ:-}" ]; then
    mkdir -p "$HILUM_CACHE_DIR/phantom" && tar xf "$CACHE_TGZ" -C "$HILUM_CACHE_DIR/phantom"
fi
HILUM=("$PY" -m orchestrator.cli)  # `hilum` without an installed entry point

# the sets: name, cases, first seed, weight (a CPU share), look (families: RENDER_FAMILIES when set; own: the
# phantom's own), arguments. Training seeds are 1000-1999 (the generator refuses others): N_PLAIN and N_STRAND at
# most 1000; the strand set ends at 1999, so a seed can appear in two sets, the same chest with another strand,
# look or lesion mix
SETS=("plain $N_PLAIN 1000 3 families" "strand $N_STRAND $((2000 - N_STRAND)) 2 families --extra-lesion strand")
if [ -n "${RENDER_FAMILIES:-}" ] && [ "${OWN_LOOK:-0}" = 1 ]; then
    SETS+=("own $((N_PLAIN / 3)) 1500 1 own" "own_strand $((N_STRAND / 2)) 1000 1 own --extra-lesion strand")
fi
if [ -n "${LESION_MIX:-}" ]; then
    SETS+=("mix $((N_PLAIN / 3)) 1250 1 families --lesion-mix $LESION_MIX")
fi
if [ -n "${SMALL_NODULES:-}" ]; then
    SETS+=("small $SMALL_NODULES 1000 2 families --extra-lesion nodule --extra-lesion-mm 7,14")
fi
if [ -n "${OTHER_CT:-}" ]; then  # another patient's CT has its own renderer
    SETS+=("other ${N_OTHER:-600} 1000 2 own --other-ct $OTHER_CT --other-ct-dir ${OTHER_CT_DIR:-data/other-ct}")
fi

stamp "start: $CPUS CPUs; generating for ${GEN_S}s"
gen_cpus=$CPUS
if [ "${CHECK:-1}" = 1 ] && [ "$CPUS" -gt 4 ]; then
    gen_cpus=$(( CPUS - 1 ))
fi
if [ "${READER:-0}" = 1 ]; then
    gen_reader=$(( gen_cpus / 3 )); gen_cpus=$(( gen_cpus - gen_reader ))
    timeout "$GEN_S" "${HILUM[@]}" train-reader --seeds 4000-4999 --generate-only --workers "$gen_reader" \
        --data-dir "$WORK/reader" >"$OUT/gen_reader.log" 2>&1 &
fi
total_weight=0
for set in "${SETS[@]}"; do read -r _ _ _ w _ <<<"$set"; total_weight=$(( total_weight + w )); done
DATA=()
for set in "${SETS[@]}"; do
    read -r name count first weight look extra <<<"$set"
    workers=$(( gen_cpus * weight / total_weight )); [ "$workers" -ge 1 ] || workers=1
    args=(--generate "$count" --first-seed "$first" --generate-only --workers "$workers" --data-dir "$WORK/$name")
    if [ "$look" = families ]; then
        args+=("${RENDER[@]}")
    fi
    if [ -n "${CONSPICUITY:-}" ] && [[ "$extra" != *--other-ct* ]]; then
        args+=(--conspicuity "$CONSPICUITY")
    fi
    if [ -n "${HIDDEN:-}" ] && [[ "$extra" != *--other-ct* ]]; then
        args+=(--hidden "$HIDDEN")
    fi
    if [ -n "${DEVICES:-}" ] && [[ "$extra" != *--other-ct* ]]; then
        args+=(--devices "$DEVICES" --device-share "${DEVICE_SHARE:-0.3}")
    fi
    # one thread per generating process (the pools already run one process per CPU);
    # shellcheck disable=SC2086  # extra holds flags and their values, split on purpose
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        timeout "$GEN_S" "${HILUM[@]}" train "${args[@]}" $extra >"$OUT/gen_$name.log" 2>&1 &
    DATA+=("$WORK/$name")
done
if [ "${CHECK:-1}" = 1 ]; then
    OUT="$OUT/check" PYTHON="$PY" timeout "$GEN_S" bash loadtests/gpu_check.sh >"$OUT/gpu_check.log" 2>&1 &
fi
wait
pkill -f -- "--generate-only" || true  # the pool workers a timeout leaves behind
counts=""
for dir in "${DATA[@]}"; do counts+="$(basename "$dir") $(ls "$dir"/case_*[0-9].npz 2>/dev/null | wc -l); "; done
stamp "cases: $counts"

CANDIDATES="${CANDIDATES:-A B}"  # CANDIDATES=A trains A alone, with all the loader workers
workers=$(( (CPUS - 2) / $(wc -w <<<"$CANDIDATES") ))
common=(--data-dir "${DATA[0]}" --device "$DEVICE" --loader-workers "$workers" --batch-size 16 --time-budget-min "$TRAIN_MIN")
for dir in "${DATA[@]:1}"; do common+=(--also-data "$dir"); done
if [ -n "${ZOOM_OUT:-}" ]; then
    common+=(--zoom-out "$ZOOM_OUT")
fi
if [ -n "${ZOOM_IN:-}" ]; then
    common+=(--zoom-in "$ZOOM_IN")
fi
if [ -n "${TEXTURE:-}" ]; then
    common+=(--texture "$TEXTURE")
fi
if [ "${VISIBLE_LUNGS:-0}" = 1 ]; then
    common+=(--visible-lungs)
fi
if [ -n "${DEVICES:-}" ] && [ -n "${DEVICE_WEIGHT:-}" ]; then
    common+=(--device-weight "$DEVICE_WEIGHT")
fi
WIDE=()
if [ "${WIDE_B:-1}" = 1 ]; then
    WIDE=(--lesion-channels 32 --lesion-fine-blocks 2)
fi
"${HILUM[@]}" train "${common[@]}" --init-from "${INIT_A:-encoder/weights/anatomy_encoder.pt}" --lr "${LR_A:-8e-4}" \
    --seed 5 --out-dir "$WORK/runA" --weights-out "$OUT/candA.pt" >"$OUT/trainA.log" 2>&1 &
if [[ " $CANDIDATES " == *" B "* ]]; then
    "${HILUM[@]}" train "${common[@]}" --init-from "${INIT_B:-encoder/weights/anatomy_encoder.pt}" --lr "${LR_B:-1.5e-3}" \
        --seed 6 "${WIDE[@]}" --out-dir "$WORK/runB" --weights-out "$OUT/candB.pt" >"$OUT/trainB.log" 2>&1 &
fi
if [ "${READER:-0}" = 1 ]; then
    stamp "reader seeds: $(ls "$WORK/reader"/seed_*.npz 2>/dev/null | wc -l)"
    "${HILUM[@]}" train-reader --no-generate --data-dir "$WORK/reader" --device "$DEVICE" --batch-size 64 \
        --lr 1e-3 --time-budget-min "$TRAIN_MIN" --init-from encoder/weights/lesion-reader/lesion_reader.pt \
        --weights-out "$OUT/reader.pt" --onnx-out "$OUT/reader.onnx" >"$OUT/train_reader.log" 2>&1 &
fi
wait
stamp "trained: $(ls "$OUT"/cand*.pt 2>/dev/null | tr '\n' ' ')"
nvidia-smi --query-gpu=name,memory.used --format=csv >>"$OUT/timeline.txt" 2>&1 || true
if [ "${PACK:-0}" = 1 ]; then
    (cd "$OUT" && tar czf "$WORK/logs.tgz" --exclude '*.pt' --exclude '*.onnx' --exclude timeline.txt . \
        && find . -mindepth 1 ! -name '*.pt' ! -name '*.onnx' ! -name timeline.txt -delete && mv "$WORK/logs.tgz" .)
fi
