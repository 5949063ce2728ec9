"""Speed of the box evaluator: wsolevaluation's per-threshold OpenCV loop (the reference) against the
component-tree sweep of `i2c_nb.fast_eval`, on realistic maps laid out on the real CUB test split.

    python bench/eval_speed.py                       # all 5,794 CUB test images, step 0.01, sweep with 1 and 2 threads
    python bench/eval_speed.py --n 500 --step 0.001 --threads 1
    python bench/eval_speed.py --wsolevaluation ~/src/wsolevaluation   # also wsolevaluation's own evaluation.py

With `--wsolevaluation DIR` (a clone of github.com/clovaai/wsolevaluation; nothing of it is shipped here) its own
`BoxEvaluator` runs on the same maps too (float64, as its checks demand; one evaluator per contour mode, as it does),
its MaxBoxAcc numbers must equal ours, and the ratios are given against it. Its code predates NumPy 1.24: `np.float`
is set to `float` for it, and its `munch` import is given a stand-in if the package is missing.
The cold start (the first call in a fresh process: numba loads or compiles its kernels) is timed apart.

One realistic 224x224 map per image (`i2c_nb.fast_eval.realistic_maps`: a blob on the object box, weaker peaks on
other parts, distractors, noise; drawn at 28x28, bicubic to 224, min-max normalised, as wsolevaluation makes its
maps), from the split's image sizes and boxes (`../shared/data/wsol_metadata/CUB/test` beside the clone, or
--metadata). Both evaluators start from the same float maps and original boxes (check, box rescaling, hits,
counts: `BoxAccumulator(reference=True)` against `BoxAccumulator(threads=k)`); the reference runs V1 and V2 as
two passes, as wsolevaluation does. Map generation is not timed. The script checks that every per-image,
per-threshold hit and every number is identical (exit 1 otherwise) and prints per-map times and the ratio.
The machine is shared: compare the ratio, measured in one run, not absolute times across runs.
"""
import argparse, json, os, subprocess, sys, time, types
from pathlib import Path
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, cv2
from i2c_nb.data import read_wsol_metadata
from i2c_nb.eval import resize_boxes, cam_thresholds
from i2c_nb.fast_eval import BoxAccumulator, realistic_maps, box_hits
from i2c_nb.cli import results_table

REPO = Path(__file__).resolve().parent.parent
DEFAULT_META = REPO.parent/'shared'/'data'/'wsol_metadata'/'CUB'/'test'

COLD = """import time, numpy as np
t0 = time.perf_counter()
from i2c_nb.fast_eval import box_hits, realistic_maps
from i2c_nb.eval import cam_thresholds
t1 = time.perf_counter()
g = [np.array([[40, 50, 150, 170]])]; m = realistic_maps(g, seed=0); thr = cam_thresholds(%r)
t2 = time.perf_counter(); box_hits(m, g, thr); t3 = time.perf_counter(); box_hits(m, g, thr); t4 = time.perf_counter()
print(t1 - t0, t3 - t2, t4 - t3)"""

def cold_start(step:float)->tuple:
    "((import s, first call s, second call s) of a fresh process compiling the kernels, then of one loading them from numba's cache."
    import tempfile
    with tempfile.TemporaryDirectory() as cache:
        run = lambda: subprocess.run([sys.executable, '-c', COLD % step], capture_output=True, text=True, check=True,
                                     env=dict(os.environ, NUMBA_CACHE_DIR=cache)).stdout.split()
        return tuple(float(v) for v in run()), tuple(float(v) for v in run())

def wsolevaluation_evaluators(repo, meta:Path, step:float)->list:
    "wsolevaluation's own BoxEvaluator, largest contour (V1) and every contour (V2), from a clone at `repo`."
    np.float = float                                        # removed in NumPy 1.24; its code still uses it
    try: import munch  # noqa: F401
    except ImportError:
        class AttrDict(dict): __getattr__, __setattr__ = dict.__getitem__, dict.__setitem__
        sys.modules['munch'] = types.SimpleNamespace(Munch=AttrDict)
    sys.path.insert(0, str(Path(repo).expanduser()))
    import evaluation, data_loaders
    md = data_loaders.configure_metadata(str(meta))
    thr = list(np.arange(0, 1, step))
    return [evaluation.BoxEvaluator(metadata=md, dataset_name='CUB', split='test', cam_threshold_list=thr,
                                    iou_threshold_list=[30, 50, 70], mask_root=None, multi_contour_eval=m) for m in (False, True)]

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--metadata', default=str(DEFAULT_META), help='wsolevaluation metadata split (default: %(default)s)')
    ap.add_argument('--n', type=int, default=None, help='first N images only (default: all)')
    ap.add_argument('--step', type=float, default=0.01, help='threshold step (default: %(default)s)')
    ap.add_argument('--threads', default='1,2', help='thread counts for the sweep, comma-separated (default: %(default)s)')
    ap.add_argument('--chunk', type=int, default=200, help='maps generated and evaluated at a time')
    ap.add_argument('--seed', type=int, default=0, help='map generator seed')
    ap.add_argument('--json', default=None, help='also write the timings and numbers here')
    ap.add_argument('--wsolevaluation', default=None, help='a clone of clovaai/wsolevaluation: time its own evaluation.py too')
    a = ap.parse_args()
    meta = Path(a.metadata)
    if not meta.is_dir(): sys.exit(f'eval_speed: no metadata folder {meta} (give --metadata)')
    cv2.setNumThreads(1)
    split = read_wsol_metadata(meta)
    n = len(split) if a.n is None else min(a.n, len(split))
    threads = [int(t) for t in a.threads.split(',')]
    print(f'{meta}: {n} images; step {a.step} ({len(cam_thresholds(a.step))} thresholds); '
          f'sweep threads {threads}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}')
    warm = realistic_maps([resize_boxes(split.boxes[0], split.sizes[0])], seed=a.seed)
    box_hits(warm, [resize_boxes(split.boxes[0], split.sizes[0])], cam_thresholds(0.5))     # compile (or load) the kernels

    (imp, compiled, second), (_, loaded, _) = cold_start(a.step)
    ref = BoxAccumulator(a.step, reference=True)
    fast = {t: BoxAccumulator(a.step, threads=t) for t in threads}
    theirs = wsolevaluation_evaluators(a.wsolevaluation, meta, a.step) if a.wsolevaluation else []
    t_ref, t_fast, t_gen, t_theirs = 0., {t: 0. for t in threads}, 0., 0.
    for s in range(0, n, a.chunk):
        ii = np.arange(s, min(n, s + a.chunk))
        boxes, sizes = [split.boxes[i] for i in ii], split.sizes[ii]
        t0 = time.perf_counter()
        maps = realistic_maps([resize_boxes(b, sz) for b, sz in zip(boxes, sizes)], seed=a.seed, start=s)
        t_gen += time.perf_counter() - t0
        t0 = time.perf_counter(); h_ref = ref.accumulate(maps, boxes, sizes); t_ref += time.perf_counter() - t0
        if theirs:
            m64 = maps.astype(np.float64)                   # wsolevaluation's check asks for float64 maps
            t0 = time.perf_counter()
            for e in theirs:
                for j, i in enumerate(ii): e.accumulate(m64[j], split.image_ids[i])
            t_theirs += time.perf_counter() - t0
        for t in threads:
            t0 = time.perf_counter(); h = fast[t].accumulate(maps, boxes, sizes); t_fast[t] += time.perf_counter() - t0
            for name, x, y in zip(('V1', 'V2'), h, h_ref):
                if not np.array_equal(x, y):
                    i, k = [int(v[0]) for v in np.nonzero((x != y).any(-1))]
                    sys.exit(f'MISMATCH ({name}, {t} threads): image {split.image_ids[ii[i]]!r}, tau {cam_thresholds(a.step)[k]}')
        print(f'  {ii[-1] + 1:5d}/{n}: reference {t_ref / (ii[-1] + 1) * 1e3:.2f} ms/map, '
              + ', '.join(f'sweep x{t} {t_fast[t] / (ii[-1] + 1) * 1e3:.3f} ms/map' for t in threads), flush=True)
    res = ref.compute()
    for t in threads:
        if fast[t].compute() != res: sys.exit(f'MISMATCH in the final numbers ({t} threads)')
    if theirs:
        mine = [[res[v][str(d)] for d in (30, 50, 70)] for v in ('V1', 'V2')]
        if [list(map(float, e.compute())) for e in theirs] != mine: sys.exit(f'MISMATCH with wsolevaluation: {[e.compute() for e in theirs]} vs {mine}')
    print(f'\nidentical: every hit of {n} images x {len(ref.thresholds)} thresholds x {len(ref.iou_thresholds)} IoUs, V1 and V2, and every number')
    print(f'map generation (not timed in the comparison): {t_gen / n * 1e3:.2f} ms/map')
    print(f'reference (OpenCV loop, V1 + V2): {t_ref / n * 1e3:.2f} ms/map, {t_ref:.1f} s in all')
    if theirs: print(f'wsolevaluation\'s evaluation.py (V1 + V2): {t_theirs / n * 1e3:.2f} ms/map, the same MaxBoxAcc numbers as ours')
    for t in threads:
        print(f'sweep, {t} thread(s):             {t_fast[t] / n * 1e3:.3f} ms/map, {t_fast[t]:.2f} s in all: {t_ref / t_fast[t]:.1f}x faster'
              + (f' than the reference, {t_theirs / t_fast[t]:.1f}x faster than wsolevaluation' if theirs else ''))
    print(f'cold start in a fresh process: import {imp:.2f} s; first call {compiled:.2f} s compiling the kernels (once per install), '
          f'{loaded:.2f} s loading them from numba\'s cache; a warm call {second * 1e3:.1f} ms')
    print('\n' + results_table(res))
    if a.json:
        Path(a.json).write_text(json.dumps(dict(n=n, step=a.step, ms_per_map_reference=t_ref / n * 1e3,
                                                ms_per_map_sweep={str(t): t_fast[t] / n * 1e3 for t in threads},
                                                ratio={str(t): t_ref / t_fast[t] for t in threads}, results=res,
                                                ms_per_map_wsolevaluation=t_theirs / n * 1e3 if theirs else None,
                                                cold_start_s=dict(imports=imp, first_call_compiling=compiled, first_call_cached=loaded,
                                                                  warm_call=second)), indent=1))

if __name__ == '__main__': main()
