#!/usr/bin/env python
"""Execute every notebook in a real Jupyter kernel, as JupyterLab does (nbdev_test runs cells in-process instead).

`#| slow`, `#| gpu` and `#| eval: false` cells are skipped, as nbdev_test skips them. Nothing is written back to the notebooks,
unless `--write`: then each notebook that ran without error gets the outputs of this run (a skipped cell keeps the outputs
it had) and the saved state of the widgets its outputs display (what a trusted notebook shows); run `nbdev_clean` afterwards. `--slow` runs the `#| slow` cells too.
The kernel is this interpreter (a kernelspec made for the run), whatever kernels the machine has installed.
Exit status 1 if any cell of any notebook fails; the failing cell and the end of its traceback are printed.

    python scripts/run_kernel.py [NOTEBOOK ...] [--jobs 2] [--write]
"""
import argparse, json, os, shutil, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SKIP = ('#| slow', '#| gpu', '#| eval: false')
ROOT = Path(__file__).resolve().parent.parent


def kernel_home() -> str:
    "A Jupyter data folder whose only kernel runs this interpreter; put first on JUPYTER_PATH."
    d = Path(tempfile.mkdtemp(prefix='i2c-kernel-'))
    (d/'kernels'/'i2c-nb-run').mkdir(parents=True)
    spec = dict(argv=[sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                display_name='i2c_nb (this interpreter)', language='python')
    (d/'kernels'/'i2c-nb-run'/'kernel.json').write_text(json.dumps(spec))
    return str(d)


VIEW, STATE = 'application/vnd.jupyter.widget-view+json', 'application/vnd.jupyter.widget-state+json'


def prune_widget_state(nb):
    "Keep the saved widget state of the widgets the outputs display (and the models they refer to), none of the others."
    state = nb.metadata.get('widgets', {}).get(STATE, {}).get('state')
    if not state: return
    todo = [o['data'][VIEW]['model_id'] for c in nb.cells for o in c.get('outputs', []) if VIEW in o.get('data', {})]
    keep = set()
    while todo:
        m = todo.pop()
        if m in keep or m not in state: continue
        keep.add(m)
        todo += [r.split('"')[0] for r in json.dumps(state[m]['state']).split('IPY_MODEL_')[1:]]
    nb.metadata['widgets'][STATE]['state'] = {k: v for k, v in state.items() if k in keep}


def run(path: Path, timeout: int, write: bool = False, skip=SKIP) -> tuple:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    nb = nbformat.read(path, as_version=4)
    kept = {}                     # skipped cells: their source and saved outputs, put back when writing
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'code' and any(line.strip().startswith(skip) for line in c.source.splitlines()[:3]):
            kept[i] = (c.source, c.outputs); c.source = 'pass'
    skipped = len(kept)
    t0 = time.time()
    client = NotebookClient(nb, timeout=timeout, kernel_name='i2c-nb-run', allow_errors=False,
                            resources={'metadata': {'path': str(path.parent)}})
    try:
        client.execute()
        if write:
            for i, (src, outs) in kept.items(): nb.cells[i].source, nb.cells[i].outputs = src, outs
            prune_widget_state(nb)
            nbformat.write(nb, path)
        return path.name, True, time.time() - t0, skipped, ''
    except CellExecutionError as e:
        return path.name, False, time.time() - t0, skipped, '\n'.join(str(e).strip().splitlines()[-25:])
    except Exception as e:   # a dead kernel, a timeout
        return path.name, False, time.time() - t0, skipped, f'{type(e).__name__}: {e}'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebooks', nargs='*', help='notebooks (default: every nbs/*.ipynb)')
    p.add_argument('--jobs', type=int, default=2, help='notebooks at a time (default 2)')
    p.add_argument('--timeout', type=int, default=1200, help='seconds per cell (default 1200)')
    p.add_argument('--write', action='store_true', help='save the outputs into each notebook that ran (then run nbdev_clean)')
    p.add_argument('--slow', action='store_true', help='also run the `#| slow` cells (minutes; with --write, to refresh their outputs)')
    a = p.parse_args(argv)
    if a.jobs < 1 or a.timeout < 1: p.error('--jobs and --timeout must be >= 1')
    nbs = [Path(n).resolve() for n in a.notebooks] or sorted((ROOT/'nbs').glob('*.ipynb'))
    home = kernel_home()
    os.environ['JUPYTER_PATH'] = os.pathsep.join([home] + [p for p in [os.environ.get('JUPYTER_PATH')] if p])
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    failed = []
    try:
        with ThreadPoolExecutor(a.jobs) as pool:
            for name, ok, secs, skipped, err in pool.map(lambda n: run(n, a.timeout, a.write, tuple(x for x in SKIP if not (a.slow and x == '#| slow'))), nbs):
                print(f"{'ok  ' if ok else 'FAIL'} {name} ({secs:.1f} s, {skipped} slow/gpu cells skipped)", flush=True)
                if not ok: failed.append(name); print(err, flush=True)
    finally: shutil.rmtree(home, ignore_errors=True)
    print(f"real kernel: {len(nbs) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
