"""GC examined directly, not by the size of its loss. For each seed's warm-up of an `i2c-ablate` runs folder, the I2C branch
(the runner's own settings) is trained with several λ2 (0: SC alone) while a callback measures, every `--every` steps:
the gradient each term of Eq. 6 sends into the backbone features F (‖∂L_cls/∂F‖, ‖∂λ1·L_sc/∂F‖, ‖∂λ2·L_gc/∂F‖ and the
cosine between the SC and GC gradients), GC's update rate η = exp(-α t) (Eq. 4), how far the centres have moved since
their first update and how far they are from the batch's class means (√ of Eq. 5's distance), and the spread of
same-class seed features against the distance between class means. Each run's final val/test scores come with it.

    python bench/gc_probe.py --runs runs/ablate --seeds 0-4 --lambda2 0,0.001,0.01,0.1,1 --work runs/gc_probe5 --out results/gc_probe.json
"""
import argparse, copy, json, time
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
from i2c_nb.cam import normalize_maps, class_maps
from i2c_nb.seeds import sample_seeds, gather_seeds
from i2c_nb.sc import sc_loss
from i2c_nb.gc import momentum_rate
from i2c_nb.config import ConfigError, get_config, config_from_file, plain_value
from i2c_nb.data import write_json
from i2c_nb.cli import fail
from i2c_nb.report import code_version
from i2c_nb.train import Callback, NonFiniteLoss, train
from i2c_nb.runner import make_task, task_settings, run_dir, set_threads, file_sha256, repo_relative, seed_list, command_line


class GCProbe(Callback):
    "Every `every` steps of an SC/GC stage: each term's gradient into F, GC's rate, centre drift and lag, seed-feature spread."
    order = 60
    def __init__(self, every:int=10): self.every, self.rows = every, []

    def before_stage(self, learn): self.first = None

    def before_batch(self, learn):
        mem = learn.objective.memory
        self.on = learn.step % self.every == 0
        self.mem = copy.deepcopy(mem).eval() if self.on and mem is not None else None   # the centres before this step's update

    def before_backward(self, learn):
        if not self.on: return
        o, p, y = learn.objective, learn.pred, learn.y
        gen = torch.Generator(device=learn.device).manual_seed(learn.batch_seed(3))     # the objective's own seeds, drawn again
        idx, valid = sample_seeds(normalize_maps(class_maps(p.maps.detach().float(), y)), k=o.k, delta=o.delta, mode=o.seed_mode, generator=gen)
        v = gather_seeds(p.feats, idx).float()
        terms = {'cls': F.cross_entropy(p.logits.float(), y), 'sc': o.lambda1 * sc_loss(v, y, valid, squared=o.squared) if o.use_sc else None,
                 'gc': o.lambda2 * self.mem(v, y, valid) if self.mem is not None else None}
        for k in ('sc', 'gc'):    # the same terms as the step's own (a check that the probe measures what trains)
            if terms[k] is not None:
                t = float(terms[k].detach())
                assert abs(t - getattr(o, 'lambda' + ('1' if k == 'sc' else '2')) * float(torch.as_tensor(learn.parts[k]).detach())) <= 1e-3 * (1 + abs(t))
        g = {k: torch.autograd.grad(t, p.feats, retain_graph=True)[0].float() for k, t in terms.items() if t is not None}
        row = dict(step=learn.step, **{f'{k}_loss': float(t.detach()) for k, t in terms.items() if t is not None},
                   **{f'g_{k}': float(x.norm()) for k, x in g.items()})
        if 'sc' in g and 'gc' in g: row['cos_sc_gc'] = float(F.cosine_similarity(g['sc'].flatten(), g['gc'].flatten(), dim=0))
        vv, yy = v.detach()[valid], y[valid]
        classes = yy.unique()
        means = torch.stack([vv[yy == c].reshape(-1, vv.shape[-1]).mean(0) for c in classes])
        row['within'] = float(torch.stack([((vv[yy == c] - means[i]) ** 2).sum(-1).mean() for i, c in enumerate(classes)]).mean())
        row['between'] = float(torch.pdist(means).pow(2).mean()) if len(classes) > 1 else float('nan')
        if self.mem is not None:
            c = self.mem.centers.float()
            if self.first is None and bool((self.mem.counts[classes] > 0).all()): self.first = c.clone()   # after their first update
            row['eta'] = float(momentum_rate(self.mem.counts.float(), self.mem.alpha)[classes].mean())
            if self.first is not None: row['drift'] = float((c - self.first).norm(dim=1)[classes].mean())  # (the initial ones are random)
            row['lag'] = float((c[classes] - means).norm(dim=1).mean())
            row['centre_norm'] = float(c[classes].norm(dim=1).mean())
        self.rows.append(row)


def probe_run(seed:int, lambda2:float, base:dict, runs:str, out:str, every:int)->dict:
    "Train one branch with the probe (in a fresh process) and return its record."
    task = make_task(seed, 'sc+gc' if lambda2 else 'sc', {'lambda2': lambda2} if lambda2 else {})
    cfg = get_config(base=dict(task_settings(task, base, runs), progress=False))
    folder, probe = Path(out)/f"seed{seed}"/f"lambda2={lambda2:g}", GCProbe(every)
    t0 = time.time()
    try: rep = train(cfg, folder, overwrite=True, cbs=[probe])
    except NonFiniteLoss as e: return dict(seed=seed, lambda2=lambda2, failed=str(e), probe=probe.rows)
    r = rep['results'][task['method']]
    return dict(seed=seed, lambda2=lambda2, method=task['method'], lambda1=cfg.lambda1, alpha=cfg.alpha,
                val={k: r['val'][k] for k in ('top1', 'MaxBoxAcc', 'MaxBoxAccV2')},
                test={'top1': r['test']['top1'], 'MaxBoxAcc': r['test_at_val']['MaxBoxAcc'], 'MaxBoxAccV2': r['test_at_val']['MaxBoxAccV2'],
                      'PxAP': r['test'].get('PxAP')},
                probe=probe.rows, time_s=round(time.time() - t0, 1), threads=torch.get_num_threads(), dtype=rep['dtype'],
                device=rep['device'], code=rep['code'], init=repo_relative(cfg.init), init_sha256=file_sha256(cfg.init))


def summary(recs:list)->str:
    "Per λ2: mean over seeds and steps of each gradient norm, GC's share, and the final val/test MaxBoxAcc."
    lines = [f"{'lambda2':>8s} {'|dcls/dF|':>10s} {'|dSC/dF|':>9s} {'|dGC/dF|':>9s} {'GC/cls':>7s} {'cos(SC,GC)':>10s} {'eta':>5s} "
             f"{'within/between':>14s} {'val MaxBoxAcc':>13s} {'test MaxBoxAcc':>14s}"]
    for l2 in sorted({r['lambda2'] for r in recs}):
        rs = [r for r in recs if r['lambda2'] == l2 and not r.get('failed')]
        if not rs: lines.append(f"{l2:8g} failed"); continue
        m = lambda k: np.nanmean([x.get(k, np.nan) for r in rs for x in r['probe']])
        lines.append(f"{l2:8g} {m('g_cls'):10.4f} {m('g_sc'):9.4f} {m('g_gc'):9.4f} {m('g_gc') / m('g_cls'):7.3f} {m('cos_sc_gc'):10.2f} "
                     f"{m('eta'):5.2f} {np.nanmean([x['within'] / x['between'] for r in rs for x in r['probe']]):14.3f} "
                     f"{np.mean([r['val']['MaxBoxAcc'] for r in rs]):13.1f} {np.mean([r['test']['MaxBoxAcc'] for r in rs]):14.1f}")
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--runs', default='runs/ablate', help="i2c-ablate's runs folder: each seed's warm-up (seed{S}/plain/warmup.pt)")
    p.add_argument('--config', default=None, help="the config the runs folder was made with (default: the tiny preset)")
    p.add_argument('--seeds', type=seed_list, default=[0, 1])
    p.add_argument('--lambda2', default='0,0.001,0.01,0.1,1', help='λ2 values (0: SC alone)')
    p.add_argument('--every', type=int, default=10, help='measure every N steps')
    p.add_argument('--work', default='runs/gc_probe', help='folder of the probe runs (each finished one kept as probe.json)')
    p.add_argument('--out', default='results/gc_probe.json')
    p.add_argument('--jobs', type=int, default=2)
    a = p.parse_args(argv)
    try:
        lambdas = [float(x) for x in a.lambda2.split(',') if x.strip()]
        if not lambdas or any(not np.isfinite(x) or x < 0 for x in lambdas): raise ValueError
    except ValueError: fail("gc_probe", f"--lambda2 {a.lambda2}: numbers >= 0")
    if a.every < 1 or a.jobs < 1: fail("gc_probe", "--every and --jobs must be >= 1")
    try: base = plain_value(__import__('dataclasses').asdict(get_config(base=config_from_file(a.config)) if a.config else get_config('tiny')))
    except ConfigError as e: fail("gc_probe", f"{e}")
    for s in a.seeds:
        w = run_dir(a.runs, s, 'plain')/'warmup.pt'
        if not w.is_file(): fail("gc_probe", f"no warm-up {w}: run i2c-ablate with seed {s} first")
    jobs = [(s, l2) for s in a.seeds for l2 in lambdas]
    done = lambda s, l2: Path(a.work)/f"seed{s}"/f"lambda2={l2:g}"/'probe.json'
    recs, todo = [], []
    for s, l2 in jobs:
        if done(s, l2).is_file(): recs.append(json.loads(done(s, l2).read_text())); print(f"seed {s} lambda2 {l2:g}: read back")
        else: todo.append((s, l2))
    t0 = time.time()
    with ProcessPoolExecutor(a.jobs, mp_context=mp.get_context('spawn'), max_tasks_per_child=1, initializer=set_threads, initargs=(1,)) as pool:
        futs = {pool.submit(probe_run, s, l2, base, a.runs, a.work, a.every): (s, l2) for s, l2 in todo}
        for f in futs:
            s, l2 = futs[f]; r = f.result()
            write_json(done(s, l2), r); recs.append(r)
            print(f"seed {s} lambda2 {l2:g}: " + ('FAILED ' + r['failed'] if r.get('failed') else f"val MaxBoxAcc {r['val']['MaxBoxAcc']:.1f}, {r['time_s']:.0f} s"), flush=True)
    recs.sort(key=lambda r: (r['lambda2'], r['seed']))
    write_json(a.out, dict(command=command_line('python bench/gc_probe.py', argv), code=code_version(), seeds=a.seeds, lambda2=lambdas,
                           every=a.every, base_config=base, wall_s=round(time.time() - t0, 1), runs=recs))
    print(summary(recs))


if __name__ == '__main__':
    main()
