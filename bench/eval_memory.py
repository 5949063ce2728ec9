"""Peak memory of evaluating a model on a split read from files, streamed: 2,000 against 20,000 images.

    python bench/eval_memory.py [--sizes 2000 20000] [--batch 250]

Each split size runs in its own process: the small network (random weights) evaluates the split with
`i2c_nb.inference.evaluate(..., paper=True)`, which computes classification, wsolevaluation's MaxBoxAcc /
MaxBoxAccV2 (224x224 maps) and the paper's Loc (maps at each image's own size, here 160x120) batch by batch. The
images are 200 JPEG files, each listed many times (the split's metadata is N rows). Printed per size: the process's
peak resident memory before the evaluation (everything built: torch, the model, the split) and after it, and the
growth; then the ratio of the 20,000-image peak to the 2,000-image peak (goal <= 1.2: memory depends on the batch,
not on the split).
"""
import argparse, json, resource, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np


def peak_mb()->float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(n:int, batch:int, folder:str):
    import torch
    from PIL import Image
    from i2c_nb.data import WSOLSplit
    from i2c_nb.config import get_config
    from i2c_nb.pipeline import Data
    from i2c_nb.inference import evaluate
    from i2c_nb.model import small_net
    torch.set_num_threads(1)
    root, g = Path(folder), np.random.default_rng(0)
    files = sorted(p.name for p in root.glob('*.jpg'))
    ids = [files[i % len(files)] for i in range(n)]
    boxes = [np.array([[20 + i % 30, 15 + i % 20, 120 + i % 40, 100 + i % 20]], np.float32) for i in range(n)]
    split = WSOLSplit(ids, np.arange(n) % 10, np.tile([160, 120], (n, 1)), boxes, image_root=root, class_names=[str(c) for c in range(10)])
    cfg = get_config('tiny', in_memory=False, norm_stats='imagenet', crop=64, resize=64, eval_batch=batch, workers=0)
    data = Data(cfg, splits=dict(train=split, val=split, test=split), info=dict(layout='bench'))
    torch.manual_seed(0); model = small_net(10).eval()
    before, t = peak_mb(), time.time()
    m, _ = evaluate(model, data, 'test', cfg, paper=True)
    print(json.dumps(dict(n=n, before_mb=before, peak_mb=peak_mb(), seconds=time.time() - t, MaxBoxAcc=m['MaxBoxAcc'])))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[2000, 20000]); p.add_argument('--batch', type=int, default=250)
    p.add_argument('--child', type=int, default=None); p.add_argument('--folder', default=None)
    a = p.parse_args()
    if a.child is not None: return child(a.child, a.batch, a.folder)
    from PIL import Image
    with tempfile.TemporaryDirectory() as d:
        g = np.random.default_rng(0)
        for i in range(200): Image.fromarray(g.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(Path(d)/f'{i:03d}.jpg')
        rows = []
        for n in a.sizes:
            r = subprocess.run([sys.executable, __file__, '--child', str(n), '--batch', str(a.batch), '--folder', d],
                               capture_output=True, text=True, check=True)
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            x = rows[-1]
            print(f"{n:>7,} images: peak {x['peak_mb']:7.1f} MB (before the evaluation {x['before_mb']:7.1f} MB, growth "
                  f"{x['peak_mb'] - x['before_mb']:6.1f} MB), {x['seconds']:.1f} s", flush=True)
    lo, hi = rows[0], rows[-1]
    print(f"peak ratio {hi['n']:,} / {lo['n']:,} images: {hi['peak_mb'] / lo['peak_mb']:.3f} (goal <= 1.2); "
          f"growth ratio {(hi['peak_mb'] - hi['before_mb']) / max(lo['peak_mb'] - lo['before_mb'], 1e-9):.2f}")


if __name__ == '__main__': main()
