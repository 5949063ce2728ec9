#!/usr/bin/env bash
# Every GPU check of the research path in one call, for the GPU machine as it is: its own python3 (torch, torchvision,
# numpy, numba, opencv, matplotlib, pillow), no pip index, no console scripts, i2c_nb not installed.
#
#   bash bench/gpu_checks.sh              # on the GPU machine, from the repository root: about 6 minutes on one H100
#   bash bench/gpu_checks.sh --dry-run    # the same steps on the CPU at toy sizes (a few minutes; a test runs it in CI)
#
# What the package needs there and the machine lacks travels as wheels in .whl/ (ignored by git; carry it). Make it
# here, once, from the repository root (fastcore is the one such package; fastprogress, ipywidgets and nbdev are only
# for progress bars and notebooks, and the package runs without them):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 -d .whl "fastcore>=1.5.29,<2"
# The script installs .whl/*.whl into $SCRATCH/site (no index, no dependencies) and runs everything as
# `python3 -m ...` with PYTHONPATH=$PWD. Scratch files (data, checkpoints, score maps) stay in $SCRATCH
# (default /tmp/i2c_gpu_checks); $OUT (default gpu_out) gets only what comes back from the GPU machine: summary.json,
# one log per step and scoremaps.png (8 files). Each step has its own timeout; the exit status is 0 only when every
# step passed and $OUT holds nothing that would not come back.
#
# Steps (seconds allowed on the GPU; the dry run allows 4x as long, since CPUs here differ about 3x in speed and CI shares its cores):
#   env     60   GPU, versions, /dev/shm, the package importing with what is there
#   speed   150  bench/train_speed.py: fp32 eager vs the optimised path (bf16, channels_last, compile), plain vs I2C,
#                images/s, peak memory, MFU, minutes per CUB and ImageNet epoch
#   preset  90   cub-resnet50 (random weights) on a CUB-format folder of photo-sized JPEGs (240 train, 120 test) through
#                the file DataLoader with workers; i2c-test equal to the run's own evaluation; i2c-cams score maps
#   bf16    45   the same checkpoint evaluated in float32 and under bf16 autocast (i2c-test --amp): within 1.5 points
#   ddp     100  two processes on the one GPU (gloo), compiled: ranks_in_sync (weights, buffers, GC memory), and
#                i2c-test on two processes and the run's own sharded evaluation equal to one process (1e-6 points)
#   cells   45   the `#| gpu` cells as plain Python: an I2C step with no host synchronisation; the tiny preset on the GPU
set -uo pipefail
DRY=; SLACK=1; [ "${1:-}" = --dry-run ] && DRY=--dry-run && SLACK=4
cd "$(dirname "$0")/.."
PY=$(command -v "${PYTHON:-python3}") || { echo "no ${PYTHON:-python3}"; exit 2; }
OUT=$(mkdir -p "${OUT:-gpu_out}" && cd "${OUT:-gpu_out}" && pwd)
SCRATCH=${SCRATCH:-/tmp/i2c_gpu_checks}
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH/site"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 I2C_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SCRATCH/site" .whl/*.whl || exit 2
    PYTHONPATH=$PYTHONPATH:$SCRATCH/site
fi
if [ -n "$DRY" ]; then
    # the GPU machine's constraints on this one: no console scripts on PATH, and no fastprogress, ipywidgets or nbdev
    export PATH=/usr/local/bin:/usr/bin:/bin CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=1
    mkdir -p "$SCRATCH/absent"
    cat >"$SCRATCH/absent/sitecustomize.py" <<'PYEOF'
import sys
class _Absent:
    "Packages the GPU machine does not have are not importable here either."
    names = {'fastprogress', 'fasthtml', 'ipywidgets', 'nbdev', 'execnb', 'tensorboard', 'pytorch_grad_cam'}
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in self.names: raise ModuleNotFoundError(f"No module named {name!r} (not on the GPU machine)", name=name)
sys.meta_path.insert(0, _Absent())
PYEOF
    PYTHONPATH=$SCRATCH/absent:$PYTHONPATH
fi
export PYTHONPATH
: >"$SCRATCH/steps.tsv"

step() {   # step NAME SECONDS COMMAND...: run it under its timeout, its output in $OUT/NAME.log, its status in steps.tsv
    local name=$1 limit=$(($2 * SLACK)); shift 2
    local t0=$SECONDS
    echo "== $name (at most $limit s)"
    timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" "$limit" >>"$SCRATCH/steps.tsv"
    tail -n 4 "$OUT/$name.log" | sed 's/^/   /'
    echo "   -> exit $rc after $((SECONDS - t0)) s"
}
checks() { echo "$PY" bench/gpu_checks.py "$1" "$SCRATCH" "$OUT" $DRY; }   # a step's command line (timeout runs programs)

step env 60 $(checks env)
if [ -n "$DRY" ]; then step speed 150 "$PY" bench/train_speed.py --small --device cpu --json "$SCRATCH/speed.json"
else step speed 150 "$PY" bench/train_speed.py --json "$SCRATCH/speed.json"; fi
step preset 90 $(checks preset)
step bf16 45 $(checks bf16)
step ddp 100 $(checks ddp)
step cells 45 $(checks cells)
$(checks summary)
