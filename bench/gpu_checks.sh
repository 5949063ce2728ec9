#!/usr/bin/env bash
# Every GPU check of the research path in one call (for a machine with a CUDA device; about 5-8 minutes on one H200).
# Writes its logs under ${OUT:-gpu_out}/. Run from the repository root in an environment with the package installed:
#   bash bench/gpu_checks.sh
# 1. bench/train_speed.py: the real training loop, fp32 eager vs the optimised path, plain vs I2C, images/s, memory, MFU;
# 2. the `#| gpu` cells of the notebooks (nbdev_test --flags gpu);
# 3. a short real preset (cub-resnet50, random weights) on a synthetic CUB-format folder of 224-px-and-up photos,
#    through the file DataLoader path with workers, then i2c-test on its checkpoint.
set -uo pipefail
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python bench/train_speed.py 2>&1 | tee "$OUT/train_speed.txt"
(cd nbs && nbdev_test --flags gpu --path 07_train.ipynb) 2>&1 | tail -20 | tee "$OUT/gpu_cells.txt"
python - "$OUT" <<'PY' 2>&1 | tee "$OUT/real_preset.txt"
import json, subprocess, sys, time, torch, torchvision
from pathlib import Path
from i2c_nb.datasets import make_cub_folder
out = Path(sys.argv[1]); root = make_cub_folder(out/'CUB_200_2011', n_classes=20, train_per_class=12, test_per_class=6)
torch.save(torchvision.models.resnet50().state_dict(), out/'rn50.pth')
t = time.time()
subprocess.run(['i2c-train', '--preset', 'cub-resnet50', '--data', str(root), '--weights', str(out/'rn50.pth'), '--holdout', '2',
                '--warmup-epochs', '1', '--epochs', '1', '--workers', '8', '--no-progress', '--out', str(out/'run')], check=True)
print(f'cub-resnet50, 200 train images, 2 epochs (warm-up + plain and I2C branches): {time.time() - t:.0f} s')
subprocess.run(['i2c-test', '--checkpoint', str(out/'run'/'sc_gc.pt')], check=True)
PY
