#!/usr/bin/env bash
# GPU check for the anatomy encoder (issue 4) and the lesion reader (issue 22), and the device's cores for
# the turn scenarios (issue 25), four parts:
#   1. TensorRT: build engines (FP32, FP16) from the committed ONNX, parity against ONNX Runtime,
#      time batch 1 / 8 / 32, and FP32 engines with parity for the second reader and the weights that read
#      a film alone (skips with its reason where tensorrt is not installed);
#   2. PyTorch on CUDA, whatever part 1 did: the same weights at batch 1 / 8 / 32 in FP32 (TF32 off),
#      TF32 (PyTorch's default for convolutions) and FP16,
#      parity against ONNX Runtime on the CPU;
#   3. the lesion reader (encoder/weights/lesion-reader/): TensorRT plans with the profile min 1 / opt 32 /
#      max 128 crops (export/lesion_reader.py) in FP32 and FP16 with parity, and PyTorch CUDA, crops/s at
#      batch 1 / 32 / 128 (each part skips with its reason where it cannot run);
#   4. the turn scenarios with the load generator on CPUs 0-1 and the server on the others.
# Needs: an NVIDIA GPU, python with torch (CUDA) and onnxruntime (+ tensorrt 10.x for part 1), this repo.
#   PYTHON=python3 bash loadtests/gpu_check.sh            (results under ${OUT:-/tmp/hilum-gpu})
#   WHEELS=.whl PYTHON=python3 bash loadtests/gpu_check.sh (part 4 with the server's wheels; carry [".whl"])
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
OUT="${OUT:-/tmp/hilum-gpu}"
mkdir -p "$OUT"
# WHEELS=DIR: wheels the device image lacks (part 4's server: `SERVER=1 bash encoder/gpu_prepare.sh` puts them in
# .whl/, carried with the call), unpacked into /tmp/site on PYTHONPATH, as encoder/gpu_train.sh does
if [ -n "${WHEELS:-}" ]; then
    if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            "$WHEELS"/*.whl; then  # no pip there: a wheel is a zip of the package's files
        for wheel in "$WHEELS"/*.whl; do "$PY" -m zipfile -e "$wheel" /tmp/site || echo "wheel did not unpack: $wheel"; done
    fi
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt" || echo "no nvidia-smi"
"$PY" - "$OUT" <<'PY' 2>&1 | tee "$OUT/gpu_check.log" || echo "TensorRT part did not run (above)"
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
# the second reader and the weights that read a film alone (orchestrator/encoders/second_reader.py): the same
# network and contract, their own weights
from orchestrator.encoders.factory import alone_weights
for name, weights in (("second_reader", Settings().second_reader_onnx_path), ("alone_reader", alone_weights(Settings()))):
    if weights is None:
        continue
    t = time.perf_counter(); plan = build_engine(weights, out / f"{name}.fp32.plan", Profile(), fp16=False)
    summary[f"{name}_fp32"] = {"build_s": round(time.perf_counter() - t, 1),
                               "max_abs_diff_vs_onnx": parity_vs_onnx(plan, weights, films), "tolerance": FP32_TOLERANCE}
    print(name, "fp32", json.dumps(summary[f"{name}_fp32"]))
(out / "gpu_check.json").write_text(json.dumps(summary, indent=2))
print("SUMMARY", json.dumps(summary))
PY
"$PY" - "$OUT" <<'PY' 2>&1 | tee "$OUT/gpu_torch.log"
import json, os, sys, time
from pathlib import Path
import numpy as np
import onnxruntime as ort
import torch
from export.onnx import load_checkpoint
from orchestrator.settings import Settings
out = Path(sys.argv[1]); onnx = Settings().onnx_path
device = os.environ.get("CHECK_DEVICE", "cuda")  # CHECK_DEVICE=cpu tries the script without a GPU
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
reps = int(os.environ.get("CHECK_REPS", "50"))
films = np.random.default_rng(0).random((4, 1, 512, 512), dtype=np.float32)
reference = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"]).run(None, {"image": films})
summary = {"device": torch.cuda.get_device_name(0) if device == "cuda" else device, "torch": torch.__version__}
# fp32: TF32 off (exact fp32 convolutions); tf32: PyTorch's default on Ampere and later (cudnn.allow_tf32)
for tag, dtype, tf32 in (("fp32", torch.float32, False), ("tf32", torch.float32, True), ("fp16", torch.float16, False)):
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
    model = load_checkpoint(onnx.with_suffix(".pt")).to(device, dtype=dtype, memory_format=torch.channels_last)
    timings = {}
    with torch.inference_mode():
        got = model(torch.from_numpy(films).to(device, dtype=dtype))
        diff = max(float(np.abs(g.float().cpu().numpy() - r).max()) for g, r in zip(got, reference))
        for batch in (1, 8, 32):
            x = torch.rand(batch, 1, 512, 512, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
            for _ in range(min(10, reps)):
                model(x)
            sync(); t = time.perf_counter()
            for _ in range(reps):
                model(x)
            sync(); timings[batch] = (time.perf_counter() - t) * 1000 / reps
    summary[tag] = {"max_abs_diff_vs_onnx_cpu": diff, "ms_per_batch": {b: round(v, 3) for b, v in timings.items()},
                    "films_per_s": {b: round(b * 1000 / v, 1) for b, v in timings.items()}}
    print("torch", device, tag, json.dumps(summary[tag]), flush=True)
(out / "gpu_torch.json").write_text(json.dumps(summary, indent=2))
print("SUMMARY torch", json.dumps(summary))
PY
"$PY" - "$OUT" <<'PY' 2>&1 | tee "$OUT/gpu_reader.log" || echo "lesion reader part did not run (above)"
import json, os, sys, time
from pathlib import Path
import numpy as np
import torch
from encoder.lesion_reader.network import load_reader
from export.lesion_reader import ReaderProfile, ReaderTensorRTRunner, build_engine, tensorrt_parity
from export.tensorrt import tensorrt_unavailable_reason
from orchestrator.contracts.lesion_reader import INPUT_SHAPE
out = Path(sys.argv[1]); weights = Path("encoder/weights/lesion-reader")
onnx, pt = weights / "lesion_reader.onnx", weights / "lesion_reader.pt"
device = os.environ.get("CHECK_DEVICE", "cuda")
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
reps = int(os.environ.get("CHECK_REPS", "30"))
crops = np.random.default_rng(0).random((8, *INPUT_SHAPE), dtype=np.float32)
summary = {}
reason = tensorrt_unavailable_reason()
if reason:
    summary["tensorrt"] = {"skipped": reason}
else:
    for fp16 in (False, True):
        tag = "fp16" if fp16 else "fp32"
        t = time.perf_counter(); plan = build_engine(onnx, out / f"lesion_reader.{tag}.plan", ReaderProfile(), fp16=fp16)
        runner = ReaderTensorRTRunner(plan)
        ms = {b: runner.time_batch(b) for b in (1, 32, 128)}
        summary[f"tensorrt_{tag}"] = {"build_s": round(time.perf_counter() - t, 1),
                                      "max_abs_diff_vs_onnx": tensorrt_parity(plan, onnx, crops),
                                      "crops_per_s": {b: round(b * 1000 / v, 1) for b, v in ms.items()}}
        print("reader tensorrt", tag, json.dumps(summary[f"tensorrt_{tag}"]), flush=True)
model = load_reader(pt).to(device).eval()
with torch.inference_mode():
    for batch in (1, 32, 128):
        x = torch.rand(batch, *INPUT_SHAPE, device=device)
        for _ in range(min(5, reps)):
            model(x)
        sync(); t = time.perf_counter()
        for _ in range(reps):
            model(x)
        sync(); summary.setdefault("torch_fp32_crops_per_s", {})[batch] = round(batch * reps / (time.perf_counter() - t), 1)
print("reader torch", device, json.dumps(summary.get("torch_fp32_crops_per_s")), flush=True)
(out / "gpu_reader.json").write_text(json.dumps(summary, indent=2))
print("SUMMARY reader", json.dumps(summary))
PY
# 4. the turn scenarios (loadtests/turns.py) on this machine's cores, the load generator on CPUs 0-1 and the
#    server with two analysis workers on the rest: issue 25's follow-up p99 under Poisson arrivals at half the
#    capacity, measured where the generator, the follow-ups and the uploads each have cores (needs the
#    orchestrator's dependencies; skips with its reason where they or the cores are missing)
NCPU="$(nproc)"
if [ "$NCPU" -ge 4 ]; then
  "$PY" -m loadtests.turns --duration-s 20 --client-cpus 0-1 --server-cpus "2-$((NCPU - 1))" \
      --server-env HILUM_ANALYSIS_PROCESSES=2 --out "$OUT/turns" 2>&1 | tee "$OUT/turns.log" \
      || echo "turn scenarios did not run (above)"
else
  echo "turn scenarios: SKIP, $NCPU CPUs (the generator and the server need cores apart)" | tee "$OUT/turns.log"
fi
