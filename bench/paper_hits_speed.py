"""Speed of the paper's box test at original image size: `paper_box_hits` (maps grouped by size, one resize and one
V1-only sweep per group, groups on threads) against the per-image loop it replaced (`_paper_box_hits_loop`).

    python bench/paper_hits_speed.py                      # 500 ILSVRC test images, batches of 256, 1 and 2 threads, 2 passes
    python bench/paper_hits_speed.py --n 2000 --threads 1,2,4

The images are the first N of the ILSVRC test split (`../shared/data/wsol_metadata/ILSVRC/test` beside the clone,
or --metadata): their original sizes and boxes, so the size groups are ImageNet's. Without that folder, sizes are
drawn from ImageNet's commonest ones plus 10% unique sizes. One CAM-like 28x28 map per image (the feature map of a
stride-8 network on a 224 input: `realistic_maps` at grid 28), handed over in batches as the training loop does.
The loop and each thread count run batch by batch in turn (`--repeat` passes), so a busy neighbour slows all alike; it
checks that every hit is identical (exit 1 otherwise) and prints wall-clock and CPU times per map with their
ratios to the loop. The machine may be shared: compare the ratios of one run, not absolute times across runs; with
one thread the CPU-time ratio is the work saved, whatever the neighbours do.
"""
import argparse, os, sys, time
from pathlib import Path
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, torch
from i2c_nb.eval import resize_boxes, cam_thresholds
from i2c_nb.fast_eval import paper_box_hits, _paper_box_hits_loop, realistic_maps

REPO = Path(__file__).resolve().parent.parent
DEFAULT_META = REPO.parent/'shared'/'data'/'wsol_metadata'/'ILSVRC'/'test'
COMMON = [(500, 375), (375, 500), (500, 333), (500, 500), (500, 334), (333, 500)]

def images(meta:Path, n:int, seed:int) -> tuple:
    "(boxes, sizes, source) of n images: the split's first n, or ImageNet-like synthetic ones."
    if meta.is_dir():
        from i2c_nb.data import read_wsol_metadata
        s = read_wsol_metadata(meta)
        n = min(n, len(s))
        return [s.boxes[i] for i in range(n)], s.sizes[:n], str(meta)
    g = np.random.default_rng(seed)
    sizes = np.array(COMMON)[g.integers(0, len(COMMON), n)]
    uniq = g.random(n) < .1
    sizes[uniq] = g.integers(150, 600, (int(uniq.sum()), 2))
    boxes = [np.array([[g.integers(0, w // 3), g.integers(0, h // 3), g.integers(w // 2, w), g.integers(h // 2, h)]]) for w, h in sizes]
    return boxes, sizes, f'synthetic ImageNet-like sizes (no {meta})'

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--metadata', default=str(DEFAULT_META), help='wsolevaluation metadata split (default: %(default)s)')
    ap.add_argument('--n', type=int, default=500, help='images (default: %(default)s)')
    ap.add_argument('--batch', type=int, default=256, help='maps per call, as a training batch (default: %(default)s)')
    ap.add_argument('--step', type=float, default=0.01, help='threshold step (default: %(default)s)')
    ap.add_argument('--threads', default='1,2', help='thread counts, comma-separated (default: %(default)s)')
    ap.add_argument('--repeat', type=int, default=2, help='passes over the images (default: %(default)s)')
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    boxes, sizes, source = images(Path(a.metadata), a.n, a.seed)
    n, thr = len(boxes), cam_thresholds(a.step)
    maps = torch.as_tensor(realistic_maps([resize_boxes(b, s, 28) for b, s in zip(boxes, sizes)], seed=a.seed, size=28, grid=28))
    batches = [(maps[i:i + a.batch], boxes[i:i + a.batch], sizes[i:i + a.batch], thr) for i in range(0, n, a.batch)]
    print(f'{source}: {n} images, {len({tuple(s) for s in sizes.tolist()})} distinct sizes; step {a.step}; batches of {a.batch}; '
          f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}')
    paper_box_hits(*batches[0][:3], thr[:2], threads=1)                      # compile (or load) the kernels
    threads = [int(v) for v in a.threads.split(',')]
    runs = {'loop': _paper_box_hits_loop, **{t: (lambda t: lambda *b: paper_box_hits(*b, threads=t))(t) for t in threads}}
    secs, cpu, hits = {k: 0. for k in runs}, {k: 0. for k in runs}, {k: [] for k in runs}
    for _ in range(a.repeat):
        for b in batches:                             # interleaved, so that a busy neighbour slows all of them alike
            for k, f in runs.items():
                t0, c0 = time.perf_counter(), time.process_time(); hits[k].append(f(*b))
                secs[k] += time.perf_counter() - t0; cpu[k] += time.process_time() - c0
    ref, m = np.concatenate(hits['loop']), n * a.repeat
    print(f'{"":22}  wall ms per map  ratio   CPU ms per map  ratio')
    print(f'per-image loop          {secs["loop"] / m * 1e3:15.2f}  {1:5.2f}x  {cpu["loop"] / m * 1e3:15.2f}  {1:5.2f}x')
    for t in threads:
        h = np.concatenate(hits[t])
        if not np.array_equal(h, ref): sys.exit(f'paper_hits_speed: {t} threads: hits differ from the loop at {int((h != ref).any(1).sum())} images')
        print(f'grouped, {t} thread{"s" if t > 1 else " "}      {secs[t] / m * 1e3:15.2f}  {secs["loop"] / secs[t]:5.2f}x  '
              f'{cpu[t] / m * 1e3:15.2f}  {cpu["loop"] / cpu[t]:5.2f}x')
    print(f'all {ref.size} hits identical; GT-known Loc at the best threshold {ref[:n].mean(0).max() * 100:.2f}%; '
          f'load average {os.getloadavg()[0]:.2f} at the end')

if __name__ == '__main__': main()
