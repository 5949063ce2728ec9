"""The tiny preset on the CPU's two paths, float32 and the fast path (bf16 autocast where the CPU computes bf16 natively),
with the same seeds at the same thread count: does the fast path reach the same conclusion (the paired I2C - plain
differences, and the difference of those gains between the paths)? Trains what is missing under --runs (`python -m i2c_nb.cli --preset tiny --seed S [--no-amp] --threads T`,
about 2 min a run on the fast path and 4 to 5 min on float32 on this project's 2-core machine), reads back what is there, and writes one JSON.

    python bench/fast_path_seeds.py --runs runs/fast_path5 --out results/fast_path.json --seeds 0,1,2,3,4 --threads 2
"""
import argparse, json, os, subprocess, sys
from pathlib import Path
import numpy as np
from scipy import stats
from i2c_nb.data import write_json

METRICS = [('MaxBoxAcc', ('test_at_val', 'MaxBoxAcc')), ('MaxBoxAccV2', ('test_at_val', 'MaxBoxAccV2')),
           ('GT-known Loc', ('loc', 'GT-known Loc')), ('Top-1 Loc', ('loc', 'Top-1 Loc')), ('Cls top-1', ('test', 'top1'))]
PATHS = {'float32': ['--no-amp'], 'fast': []}


def report(runs:Path, path:str, seed:int, threads:int)->dict:
    "The report of one run, trained first if it is not there."
    out = runs/f'{path}_s{seed}'
    if not (out/'report.json').exists():
        cmd = [sys.executable, '-m', 'i2c_nb.cli', '--preset', 'tiny', '--seed', str(seed), '--threads', str(threads),
               '--no-progress', '--out', str(out), *PATHS[path]]
        print(' '.join(cmd[1:]), flush=True); subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out/'report.json').read_text())


def summary(diffs:list)->dict:
    "Mean, sample std (ddof 1) and the 95% t-interval of paired differences."
    d = np.asarray(diffs, float); m, s = float(d.mean()), float(d.std(ddof=1))
    h = float(stats.t.ppf(0.975, len(d) - 1) * s / np.sqrt(len(d)))
    return dict(per_seed=[round(float(v), 4) for v in d], mean=m, std=s, ci95=[m - h, m + h])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--runs', default='runs/fast_path'); p.add_argument('--out', default='results/fast_path.json')
    p.add_argument('--seeds', default='0,1,2'); p.add_argument('--threads', type=int, default=os.cpu_count())
    a = p.parse_args()
    seeds, runs = [int(s) for s in a.seeds.split(',')], Path(a.runs)
    res = dict(command=' '.join(['python', 'bench/fast_path_seeds.py', *sys.argv[1:]]), seeds=seeds, threads=a.threads, paths={})
    for path in PATHS:
        reps = [report(runs, path, s, a.threads) for s in seeds]
        res['paths'][path] = dict(
            dtype=reps[0]['dtype'], threads=sorted({r['threads'] for r in reps}), commits=sorted({r['code']['commit'] for r in reps}),
            dirty=any(r['code']['dirty'] for r in reps), train_and_eval_s=[r['train_and_eval_s'] for r in reps],
            runs={s: {st: {k: r['results'][st][x][y] for k, (x, y) in METRICS} for st in ('plain', 'sc+gc')} for s, r in zip(seeds, reps)},
            paired={k: summary([r['results']['sc+gc'][x][y] - r['results']['plain'][x][y] for r in reps]) for k, (x, y) in METRICS})
        d = res['paths'][path]['paired']['MaxBoxAcc']
        print(f"{path}: I2C - plain MaxBoxAcc per seed {d['per_seed']}, mean {d['mean']:+.2f} ± {d['std']:.2f} (sample std), "
              f"95% t-interval [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}]")
    f, g = (res['paths'][q]['paired'] for q in ('fast', 'float32'))
    res['fast_minus_float32'] = {k: summary(np.subtract(f[k]['per_seed'], g[k]['per_seed'])) for k in f}   # the gains' difference, paired by seed
    d = res['fast_minus_float32']['MaxBoxAcc']
    print(f"fast - float32, the I2C gain paired by seed: {d['mean']:+.2f}, 95% t-interval [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}]")
    write_json(a.out, res)


if __name__ == '__main__': main()
