#!/usr/bin/env bash
# GPU check: the 2D and 3D reference workloads (bench/reference.ts) on our `webgpu` backend and on PyTorch
# CUDA, on the same card, alternating in one run; prints the table and the ratio PyTorch ms ÷ our ms.
# Finishes in under 5 minutes: timed steps stop at 200 s (each workload gets its share), hard cap 280 s.
#
# Needs: `npm ci` done (webgpu and @tensorflow/tfjs-backend-webgpu are optional dependencies), the card's
# Vulkan driver (NVIDIA's driver ships one), and a Python whose torch sees CUDA.
# Environment: PYTHON (default: the first of python3, /usr/bin/python3 whose torch has CUDA), STEPS (timed
# steps per workload and side, default 40), WARMUP (default 5; the first webgpu steps compile shaders),
# TORCH_DEVICE (default cuda; cpu only to try the script on a machine without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-40}
WARMUP=${WARMUP:-5}
TORCH_DEVICE=${TORCH_DEVICE:-cuda}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "gpu-check: nvidia-smi not found"

if [[ -z "${PYTHON:-}" ]]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c "import torch, sys; sys.exit(0 if ('$TORCH_DEVICE' == 'cpu' or torch.cuda.is_available()) else 1)" 2>/dev/null; then
      PYTHON=$(command -v "$p")
      break
    fi
  done
fi
[[ -n "${PYTHON:-}" ]] || { echo "gpu-check: no Python with a CUDA-enabled torch found (set PYTHON=/path/to/python)"; exit 2; }
echo "gpu-check: PyTorch from $PYTHON, device $TORCH_DEVICE"

[[ -f dist/bench/ours.cjs && -z "${REBUILD:-}" ]] || node esbuild.mjs --bench --quiet
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 280 node bench/run.mjs --backend webgpu --python "$PYTHON" --torch-device "$TORCH_DEVICE" \
  --only 2d,3d --steps "$STEPS" --chunk 10 --warmup "$WARMUP" --deadline 200 | tee "$out"
if grep -q '"impl":"ours","backend":"webgpu ([^"]*\(llvmpipe\|lavapipe\|swiftshader\|software\)' "$out"; then
  echo "gpu-check: WARNING: webgpu ran on a software adapter (see the backend column), not on the GPU; is the card's Vulkan driver (ICD) installed?"
fi
