#!/usr/bin/env bash
# GPU check for the anatomy encoder (issue 4): build TensorRT engines from the committed ONNX,
# check parity against ONNX Runtime, time batch 1 / 8 / 32. Prints one summary at the end.
# Needs: an NVIDIA GPU, python with tensorrt (10.x), torch (CUDA) and onnxruntime, this repo.
#   PYTHON=python3 bash loadtests/gpu_check.sh            (results under ${OUT:-/tmp/hilum-gpu})
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
OUT="${OUT:-/tmp/hilum-gpu}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
"$PY" - "$OUT" <<'PY' 2>&1 | tee "$OUT/gpu_check.log"
import json, sys, time
from pathlib import Path
import numpy as np
from export.tensorrt import (FP16_TOLERANCE, FP32_TOLERANCE, Profile, TensorRTRunner, build_engine,
                             parity_vs_onnx, tensorrt_unavailable_reason)
from orchestrator.settings import Settings
out = Path(sys.argv[1]); onnx = Settings().onnx_path
reason = tensorrt_unavailable_reason()
if reason:
    print("SKIP:", reason); sys.exit(3)
films = np.random.default_rng(0).random((4, 1, 512, 512), dtype=np.float32)
summary = {}
for fp16 in (False, True):
    tag = "fp16" if fp16 else "fp32"
    t = time.perf_counter(); plan = build_engine(onnx, out / f"anatomy_encoder.{tag}.plan", Profile(), fp16=fp16)
    build_s = time.perf_counter() - t
    diff = parity_vs_onnx(plan, onnx, films)
    runner = TensorRTRunner(plan)
    timings = {b: runner.time_batch(b) for b in (1, 8, 32)}
    summary[tag] = {"build_s": round(build_s, 1), "max_abs_diff_vs_onnx": diff,
                    "tolerance": FP16_TOLERANCE if fp16 else FP32_TOLERANCE,
                    "ms_per_batch": {b: round(v, 2) for b, v in timings.items()},
                    "films_per_s": {b: round(b * 1000 / v, 1) for b, v in timings.items()}}
    print(tag, json.dumps(summary[tag]))
(out / "gpu_check.json").write_text(json.dumps(summary, indent=2))
print("SUMMARY", json.dumps(summary))
PY
