#!/usr/bin/env python
"""The explorer's committed models (`data/explore/plain.pt`, `data/explore/sc_gc.pt`): the quick start's tiny run
(`i2c-train --preset tiny`), stripped to what `09_explore` reads (the model, its config, classes, normalisation,
final metrics, the code version it was trained with): a few MB instead of checkpoints with optimiser states.

    python scripts/explore_models.py [--run runs/tiny]   # trains the run first when the folder holds none
"""
import argparse, subprocess, sys
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parent.parent
KEEP = ('model', 'config', 'n_classes', 'mean', 'std', 'transform_input', 'class_names', 'stage', 'stage_index', 'epoch', 'batch', 'results')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--run', default=str(ROOT/'runs'/'tiny'), help='the tiny run folder (trained here when it holds no run)')
    a = p.parse_args(argv)
    from i2c_nb.report import load_checkpoint, save_checkpoint, code_version, stage_file
    run = Path(a.run)
    if not all((run/stage_file(s)).is_file() for s in ('plain', 'sc+gc')):
        subprocess.run([sys.executable, '-m', 'i2c_nb.cli', '--preset', 'tiny', '--no-progress', '--out', str(run)], check=True)
    import json
    code = json.loads((run/'report.json').read_text())['code']
    for s in ('plain', 'sc+gc'):
        ck = load_checkpoint(run/stage_file(s))
        small = {k: ck[k] for k in KEEP if k in ck}
        small['code'] = code
        out = save_checkpoint(small, ROOT/'data'/'explore'/stage_file(s))
        print(f'{out.relative_to(ROOT)}: {out.stat().st_size / 2**20:.1f} MB, trained at {str(code.get("commit"))[:7]}'
              f'{" (uncommitted changes)" if code.get("dirty") else ""}')


if __name__ == '__main__': main()
