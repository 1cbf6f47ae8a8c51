#!/usr/bin/env bash
# Every GPU path one GPU can exercise, on tiny models built in place (no network): bf16 SFT with resume,
# RLVR with held-out judging (and, on 2 CPU processes, held-out judging in lockstep as on ZeRO-3/FSDP),
# a scalar RM, seeded reproducibility, the judge and `rmr1 serve` on the device, and the vLLM backend
# where vLLM is installed. PASS / FAIL / SKIP per step, then one JSON line.
# Without CUDA the same stages run on the CPU and the GPU-only steps say SKIP.
#   bench/gpu_check.sh [--work DIR] [--cpu]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$PYTHON" bench/gpu_check.py "$@"
