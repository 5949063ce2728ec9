#!/usr/bin/env bash
# Every study behind chapters 08_ablations and 10_methods, one after the other, on the committed code, two runs at a time
# with one thread each. Each command resumes where it stopped (finished runs are read back, an interrupted one goes on
# from its checkpoint), so running this script again continues the studies. About 5 hours on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
# Table 4 (plain, SC, SC+GC: seeds 0-9; GC, GC-backprop: 0-4) and the sensitivity grid (seeds 0-4)
i2c-ablate --main-seeds 5-9 --out results/ablations.json --runs runs/ablate --jobs 2
# Table 1: the search on seeds 0 and 1, every method on 0-4, CAM/ACoL/I2C on 0-9, HaS/CutMix/ADL from scratch on 0-4
i2c-compare --main-seeds 5-9 --out results/methods.json --runs runs/ablate --jobs 2
# Table 3: the benchmark upsampled to 96 and 128 px, plain and I2C, seeds 0-4 (64 px is Table 4's)
for px in 96 128; do
  i2c-ablate --size $px --methods plain,sc+gc --no-grid --out results/size$px.json --runs runs/size$px --jobs 2
done
# the paper's setting: ImageNet EfficientNet-Lite0 fine-tuned (needs the pretrained extra), 5 seeds, with the authors' distance too
i2c-ablate --preset tiny-pretrained --methods plain,sc,sc+gc --grid sc_distance=euclidean --seeds 0-4 --sens-seeds 0-4 \
           --out results/pretrained.json --runs runs/pretrained --jobs 2
# GC examined directly: the gradient each term sends into F, the centres' movement, the spread of seed features
python bench/gc_probe.py --runs runs/ablate --seeds 0-4 --lambda2 0,0.001,0.01,0.1,1 --work runs/gc_probe5 --out results/gc_probe.json
