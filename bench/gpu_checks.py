"""The steps of `bench/gpu_checks.sh` (run them through it: it sets the paths, the timeouts and the summary).

    python3 bench/gpu_checks.py STEP SCRATCH OUT [--dry-run]

STEP is one of env, preset, bf16, ddp, cells, summary. Each step prints what it measured and the checks it made, and
writes SCRATCH/<step>.json (its figures and `ok`); a failed check raises. `summary` gathers them with the shell's
status and time per step into OUT/summary.json and checks what OUT holds against what the GPU machine sends back
(at most 8 files of at most 16 MiB, at most two folders down, names of letters, digits, '.', '_' and '-').
Everything runs the package as `python3 -m i2c_nb.cli COMMAND` (no console scripts), from files under SCRATCH.
"""
import json, os, re, shutil, subprocess, sys, time
from pathlib import Path

STEPS = ('env', 'speed', 'preset', 'bf16', 'ddp', 'cells')
TOLERANCE = dict(bf16=1.5, ddp=1e-6)     # points: bf16 autocast vs float32; two processes vs one (batch shapes may move bits)


def cli(*args, torchrun:int=0, env=None):
    "Run `python -m i2c_nb.cli ARGS` (under torch.distributed.run with `torchrun` processes); its output goes to ours."
    head = [sys.executable] + (['-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={torchrun}'] if torchrun else [])
    cmd = head + ['-m', 'i2c_nb.cli'] + [str(a) for a in args]
    print('$', ' '.join(cmd[1:] if not torchrun else ['torchrun'] + cmd[4:]), flush=True)
    subprocess.run(cmd, check=True, env=env)


def metric_diffs(a:dict, b:dict)->dict:
    "Absolute differences of every number two result dicts share (nested keys joined by '/')."
    out = {}
    for k in a.keys() & b.keys():
        if isinstance(a[k], dict) and isinstance(b[k], dict):
            out.update({f'{k}/{kk}': v for kk, v in metric_diffs(a[k], b[k]).items()})
        elif isinstance(a[k], (int, float)) and isinstance(b[k], (int, float)) and not isinstance(a[k], bool):
            out[k] = abs(float(a[k]) - float(b[k]))
    return out


def headline(res:dict)->dict:
    "The numbers a table shows of one branch's results."
    return {'top1': res['test']['top1'], 'MaxBoxAcc': res['test_at_val']['MaxBoxAcc'],
            'MaxBoxAccV2': res['test_at_val']['MaxBoxAccV2'], 'Top-1 Loc': res['loc']['Top-1 Loc']}


def importable(name:str)->bool:
    import importlib.util
    try: return importlib.util.find_spec(name) is not None
    except ImportError: return False


def step_env(scratch:Path, out:Path, dry:bool)->dict:
    import platform, importlib.util, torch
    r = dict(python=platform.python_version(), torch=torch.__version__, cpus=os.cpu_count(), dry_run=dry)
    for m in ('torchvision', 'numpy', 'cv2', 'numba', 'PIL', 'matplotlib', 'fastcore'):
        r[m] = __import__(m).__version__ if importable(m) else None
        assert r[m], f'{m} is missing: the package needs it at import (carry its wheel in .whl, see gpu_checks.sh)'
    r['absent'] = [m for m in ('fastprogress', 'ipywidgets', 'nbdev', 'tensorboard') if not importable(m)]
    st = shutil.disk_usage('/dev/shm') if os.path.isdir('/dev/shm') else None
    r['dev_shm_gb'] = round(st.total / 2**30, 1) if st else None
    r['console_scripts_on_path'] = shutil.which('i2c-train') is not None
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        r.update(gpu=p.name, gpu_memory_gb=round(p.total_memory / 2**30, 1), capability=f'{p.major}.{p.minor}', gpus=torch.cuda.device_count(),
                 cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(), bf16=torch.cuda.is_bf16_supported())
    else: assert dry, 'no CUDA device: run with --dry-run on a CPU'
    import i2c_nb.cli, i2c_nb.train      # the package imports here with what this machine has
    for k, v in r.items(): print(f'{k:24s} {v}')
    return r


def step_preset(scratch:Path, out:Path, dry:bool)->dict:
    "cub-resnet50 (random weights) on a CUB-format folder of photo-sized JPEGs; i2c-test and i2c-cams on its I2C branch."
    import numpy as np, torch, torchvision
    from i2c_nb.datasets import make_cub_folder
    n = (3, 7, 3) if dry else (20, 12, 6)                        # classes, train and test images per class
    cub = make_cub_folder(scratch/'CUB_200_2011', n_classes=n[0], train_per_class=n[1], test_per_class=n[2])
    torch.manual_seed(0); torch.save(torchvision.models.resnet50().state_dict(), scratch/'rn50.pth')
    small = ['--crop', '32', '--resize', '36', '--width', '32', '--eval-batch', '8', '--threads', '2'] if dry else []
    workers = 2 if dry else (8 if (shutil.disk_usage('/dev/shm').total > 2**31) else 2)
    run = scratch/'run'; t = time.time()
    cli('train', '--preset', 'cub-resnet50', '--data', cub, '--weights', scratch/'rn50.pth', '--holdout', '2', '--warmup-epochs', '1',
        '--epochs', '1', '--workers', workers, '--no-progress', '--out', run, *small)
    train_s = time.time() - t
    rep = json.loads((run/'report.json').read_text())
    cli('test', '--checkpoint', run/'sc_gc.pt', '--json', scratch/'test_fp32.json', '--workers', workers)
    got = json.loads((scratch/'test_fp32.json').read_text())['results']['sc+gc']
    d = max(metric_diffs({k: got[k] for k in ('test', 'test_at_val', 'loc')}, rep['results']['sc+gc']).values())
    print(f'i2c-test against the run\'s own final evaluation: largest difference {d:.2e} points')
    assert d <= TOLERANCE['ddp'], d
    cli('cams', '--checkpoint', run/'sc_gc.pt', '--split', 'test', '--out', scratch/'maps', '--workers', workers)
    maps = sorted((scratch/'maps').rglob('*.npy'))
    assert len(maps) == n[0] * n[2], len(maps)
    m = np.stack([np.load(p) for p in maps[:4]])
    assert m.shape[1:] == (224, 224) and m.min() >= 0 and m.max() <= 1, (m.shape, m.min(), m.max())
    scoremap_figure(cub, scratch/'maps', out/'scoremaps.png')
    return dict(images=dict(train=n[0] * n[1], test=n[0] * n[2]), workers=workers, train_and_eval_s=round(train_s, 1),
                report_dtype=rep.get('dtype'), sc_gc=headline(rep['results']['sc+gc']), test_vs_run_max_diff=d)


def scoremap_figure(cub:Path, maps_root:Path, path:Path, n:int=4):
    "The first `n` test photos beside their score maps (wsolevaluation's 224 x 224 maps), with the ground-truth boxes."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt, numpy as np
    from i2c_nb.datasets import read_cub
    from i2c_nb.loaders import draw_boxes
    from i2c_nb.cli import scoremap_path
    sp = read_cub(cub, 'test')
    fig, axs = plt.subplots(2, n, figsize=(3 * n, 6))
    for i in range(n):
        (w, h), b = sp.sizes[i], sp.boxes[i]
        axs[0, i].imshow(sp.load_image(i)); draw_boxes(axs[0, i], b); axs[0, i].set_title(Path(sp.image_ids[i]).name, fontsize=7)
        axs[1, i].imshow(np.load(scoremap_path(maps_root, sp.image_ids[i])), cmap='jet', vmin=0, vmax=1)
        draw_boxes(axs[1, i], b, scale=(224 / w, 224 / h))
        for a in axs[:, i]: a.axis('off')
    fig.suptitle('cub-resnet50 (random weights, two short epochs): test photos and their i2c-cams score maps', fontsize=9)
    fig.tight_layout(); fig.savefig(path, dpi=80); plt.close(fig)


def step_bf16(scratch:Path, out:Path, dry:bool)->dict:
    "The preset's I2C checkpoint evaluated in float32 (the preset step) and under bf16 autocast (`i2c-test --amp`)."
    cli('test', '--checkpoint', scratch/'run'/'sc_gc.pt', '--json', scratch/'test_bf16.json', '--amp', '--workers', 2)
    a, b = (json.loads((scratch/f'test_{k}.json').read_text()) for k in ('fp32', 'bf16'))
    ha, hb = headline(a['results']['sc+gc']), headline(b['results']['sc+gc'])
    print('dtype', a['dtype'], '|', b['dtype'])
    for k in ha: print(f'{k:12s} fp32 {ha[k]:7.2f}   bf16 {hb[k]:7.2f}')
    d = max(metric_diffs(ha, hb).values())
    assert d <= TOLERANCE['bf16'], f'bf16 moved a metric by {d:.2f} points (tolerance {TOLERANCE["bf16"]})'
    return dict(fp32=ha, bf16=hb, dtype=b['dtype'], max_diff=d)


def step_ddp(scratch:Path, out:Path, dry:bool)->dict:
    "Two processes (gloo) on the one device, compiled on a GPU: the ranks stay identical, and their evaluation is one process's."
    dev = ['--device', 'cpu', '--threads', '1', '--subset', '200'] if dry else ['--device', 'cuda', '--compile', '--subset', '2000']
    run = scratch/'ddp'; t = time.time()
    cli('train', '--preset', 'tiny', *dev, '--dist-backend', 'gloo', '--warmup-epochs', '1', '--epochs', '1', '--no-progress',
        '--out', run, torchrun=2)
    train_s = time.time() - t
    rep = json.loads((run/'report.json').read_text())
    assert rep['world_size'] == 2 and rep['ranks_in_sync'] is True, (rep['world_size'], rep.get('ranks_in_sync'))
    cli('test', '--checkpoint', run/'sc_gc.pt', '--dist-backend', 'gloo', '--json', scratch/'ddp_test2.json', torchrun=2)
    cli('test', '--checkpoint', run/'sc_gc.pt', '--json', scratch/'ddp_test1.json')
    two, one = (json.loads((scratch/f'ddp_test{k}.json').read_text())['results']['sc+gc'] for k in (2, 1))
    d2 = max(metric_diffs(two, one).values()); dr = max(metric_diffs({k: one[k] for k in ('test', 'test_at_val', 'loc')}, rep['results']['sc+gc']).values())
    print(f'ranks_in_sync {rep["ranks_in_sync"]} (weights, buffers, GC memory); i2c-test on 2 processes vs 1: largest difference '
          f'{d2:.2e}; the run\'s sharded evaluation vs 1 process: {dr:.2e}')
    assert d2 <= TOLERANCE['ddp'] and dr <= TOLERANCE['ddp'], (d2, dr)
    return dict(train_and_eval_s=round(train_s, 1), ranks_in_sync=True, compile=not dry, two_vs_one_max_diff=d2, run_vs_one_max_diff=dr,
                sc_gc=headline(rep['results']['sc+gc']))


def step_cells(scratch:Path, out:Path, dry:bool)->dict:
    "The `#| gpu` cells of 05a_objective (an I2C step with no host synchronisation) and 07_train (the tiny preset on the GPU)."
    import torch
    from i2c_nb.model import small_net
    from i2c_nb.objective import I2CObjective
    from i2c_nb.config import get_config
    from i2c_nb.train import train
    from i2c_nb.report import summary_table
    dev = 'cpu' if dry else 'cuda'
    torch.manual_seed(0)
    net = small_net(4).to(dev); obj = I2CObjective(4, net.backbone.out_dim).to(dev)
    x, y = torch.randn(8, 3, 16, 16, device=dev), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3], device=dev)
    def step():
        logits, Z, F, _ = net(x); obj(logits, Z, F, y)['loss'].backward()
    step()
    if dev == 'cuda':
        torch.cuda.synchronize(); torch.cuda.set_sync_debug_mode('error')
        try: step()
        finally: torch.cuda.set_sync_debug_mode('default')
    else: step()
    assert obj.memory.counts.tolist() == [2, 2, 2, 2], obj.memory.counts.tolist()
    print('05a_objective: one I2C step' + (' without a host synchronisation' if dev == 'cuda' else ' (CPU: the synchronisation check needs CUDA)'))
    t = time.time()
    rep = train(get_config('tiny', device=dev, subset=200 if dry else 2000, warmup_epochs=1, epochs=1, progress=False), scratch/'tiny')
    print(summary_table(rep))
    return dict(sync_free_step=dev == 'cuda', tiny_s=round(time.time() - t, 1), tiny=headline(rep['results']['sc+gc']))


NAME = re.compile(r'^[A-Za-z0-9._-]+$')

def out_problems(out:Path)->list:
    "What the GPU machine would not send back of OUT."
    files = [p for p in out.rglob('*') if p.is_file()]
    bad = [f'{len(files)} files (at most 8 come back)'] if len(files) > 8 else []
    for p in files:
        rel = p.relative_to(out)
        if p.stat().st_size > 16 * 2**20: bad.append(f'{rel}: {p.stat().st_size / 2**20:.1f} MiB (at most 16)')
        if len(rel.parts) > 3: bad.append(f'{rel}: more than two folders down')
        if not all(NAME.match(s) for s in rel.parts): bad.append(f'{rel}: a name with other characters than letters, digits, . _ -')
    return bad


def step_summary(scratch:Path, out:Path, dry:bool)->dict:
    "OUT/summary.json: every step's status, seconds and figures; one overall status."
    steps = {}
    for line in (scratch/'steps.tsv').read_text().splitlines():
        name, rc, secs, limit = line.split('\t')
        f = scratch/f'{name}.json'
        steps[name] = dict(status='ok' if rc == '0' else 'timed out' if rc in ('124', '137') else f'failed (exit {rc})',
                           seconds=int(secs), timeout_s=int(limit), **({'figures': json.loads(f.read_text())} if f.exists() and rc == '0' else {}))
    problems = out_problems(out)
    ok = all(s['status'] == 'ok' for s in steps.values()) and set(steps) == set(STEPS) and not problems
    summ = dict(overall='ok' if ok else 'FAILED', dry_run=dry, out_problems=problems, steps=steps,
                seconds=sum(s['seconds'] for s in steps.values()), commit=os.environ.get('I2C_COMMIT'))
    tmp = out/'summary.json.tmp'; tmp.write_text(json.dumps(summ, indent=1)); tmp.replace(out/'summary.json')
    print(f"{'step':8s} {'status':18s} {'s':>5s} {'limit':>6s}")
    for k, s in steps.items(): print(f"{k:8s} {s['status']:18s} {s['seconds']:5d} {s['timeout_s']:6d}")
    for p in problems: print('OUT:', p)
    print(f"overall: {summ['overall']} in {summ['seconds']} s" + (' (dry run on the CPU)' if dry else ''))
    if problems: print('OUT holds more than comes back:', '; '.join(problems))
    return summ


def main():
    step, scratch, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    dry = '--dry-run' in sys.argv[4:]
    r = globals()[f'step_{step}'](scratch, out, dry)
    if step == 'summary': raise SystemExit(0 if r['overall'] == 'ok' else 1)
    tmp = scratch/f'{step}.json.tmp'; tmp.write_text(json.dumps(r, indent=1, default=str)); tmp.replace(scratch/f'{step}.json')


if __name__ == '__main__': main()
