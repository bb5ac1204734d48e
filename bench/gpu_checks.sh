#!/usr/bin/env bash
# The GPU checks, in one call on a lent GPU machine (a bare image with PyTorch and
# transformers, no Django, nothing to download): the engine's benches that need CUDA, each
# bounded in time, each writing its table and JSON line to OUT/<name>.log. The model is the
# shipped shape (4 layers, width 128) trained for 30 steps on the GPU first: every job writes
# an exact token count, so its weights do not change the work.
#
#   bash bench/gpu_checks.sh OUT [DEVICE]     # DEVICE: cuda (default), or cpu to try it here
#
# - batching_sampled: generation_batching.py, 32 sampled jobs batched vs one at a time;
# - cuda: generation_cuda.py, the same greedy, out-of-memory halving, and training;
#   `greedy_ratio` beside batching_sampled's `ratio` is the issue's "sampled within 2x of greedy";
# - arrivals: generation_arrivals.py, continuous vs static vs one at a time vs transformers'
#   ContinuousBatchingManager, at two arrival rates.
# Bounded at 580 s in all, inside one call's 10 minutes. OUT receives 5 files.
set -u
out=${1:?usage: bash bench/gpu_checks.sh OUT [DEVICE]}
device=${2:-cuda}
py=${PYTHON:-python3}
mkdir -p "$out" && out=$(cd "$out" && pwd)  # before the cd below
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD AIGC_MODELS_DIR=${AIGC_MODELS_DIR:-$(mktemp -d)}

run() {  # name, seconds, python arguments: the log in OUT, its last line (the JSON) here
    local name=$1 limit=$2
    shift 2
    timeout "$limit" "$py" "$@" > "$out/$name.log" 2>&1
    echo "$name: exit $? after $SECONDS s; $(tail -n 1 "$out/$name.log" | cut -c 1-400)"
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
    "$py" -c "import sys, torch, transformers; print(sys.version.split()[0], 'torch',
torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
    nproc
} > "$out/machine.log" 2>&1
cat "$out/machine.log"
run train 90 -c "
import os, sys
from pathlib import Path
from workers.generation.builtin.plan import TrainingPlan
from workers.generation.builtin.training import train_builtin_model
report = train_builtin_model(Path(os.environ['AIGC_MODELS_DIR']) / 'builtin', 30,
                             TrainingPlan(device=sys.argv[1]))
print({'steps': report.steps, 'seconds': round(report.train_seconds, 1)})" "$device"
run batching_sampled 90 bench/generation_batching.py --device "$device"
if [ "$device" = cuda ]; then
    run cuda 180 bench/generation_cuda.py --train-steps 600
fi
run arrivals 220 bench/generation_arrivals.py --device "$device" --jobs 64 --loads 4,64
