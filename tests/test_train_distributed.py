"""`train` under torch.distributed: two CPU processes (gloo) on the tiny preset for a few steps end with identical
weights, BatchNorm statistics and GC memory on both ranks, and rank 0 writes the run. The branches are the
baselines of Table 1 (HaS, CutMix, ADL, SPG, ACoL with I2C): they train under DDP too."""
import os
from datetime import timedelta
from pathlib import Path
import pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp
from i2c_nb.train import train, KeepModel
from i2c_nb.config import get_config
from i2c_nb.pipeline import Data

WORLD = 2
pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason='torch.distributed with gloo is not available')


def _worker(rank, init_file, out):
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=WORLD, timeout=timedelta(seconds=120))
    try:
        torch.set_num_threads(1)
        cfg = get_config('tiny', subset=200, warmup_epochs=0, epochs=1, methods=('has', 'cutmix', 'adl', 'spg', 'acol+sc+gc'), images_per_class=2, progress=False)
        kept = KeepModel()
        train(cfg, out, cbs=[kept])
        torch.save({'model': kept.model.state_dict(), 'objective': kept.objective.state_dict()}, Path(out)/f'rank{rank}.pt')
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp')
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    mp.spawn(_worker, args=(str(out/'init'), str(out)), nprocs=WORLD, join=True)
    return out, [torch.load(out/f'rank{r}.pt') for r in range(WORLD)]


def test_ranks_hold_identical_weights(ranks):
    _, (a, b) = ranks
    assert a['model'].keys() == b['model'].keys() and any(k.startswith('head_b.') for k in a['model'])
    for k in a['model']: assert torch.equal(a['model'][k], b['model'][k]), k


def test_ranks_hold_identical_gc_memory(ranks):
    _, (a, b) = ranks
    assert torch.equal(a['objective']['memory.centers'], b['objective']['memory.centers'])
    assert torch.equal(a['objective']['memory.counts'], b['objective']['memory.counts'])
    assert a['objective']['memory.counts'].sum() > 0


def test_rank0_writes_the_run(ranks):
    out, _ = ranks
    assert (out/'report.json').exists() and (out/'checkpoint.pt').exists()
    import json
    rep = json.loads((out/'report.json').read_text())
    assert rep['world_size'] == 2 and rep['ranks_in_sync'] is True
    n_steps = [json.loads(l)['step'] for l in (out/'metrics.jsonl').read_text().splitlines() if json.loads(l)['kind'] == 'epoch']
    cfg = get_config('tiny', subset=200, warmup_epochs=0, epochs=1, methods=('has', 'cutmix', 'adl', 'spg', 'acol+sc+gc'), images_per_class=2)
    data = Data(cfg)
    per_rank = len(data.sampler(rank=0, world_size=WORLD))
    assert n_steps == [per_rank * (i + 1) for i in range(5)]        # each rank ran its share of the batches ...
    assert list(rep['results']) == ['has', 'cutmix', 'adl', 'spg', 'acol+sc+gc'] and (out/'spg.pt').exists()
    one = data.sampler()
    assert rep['batch']['global_batch'] == one.batch_size == 20     # ... of the paper's batch split over the ranks (5 classes x 2 each)
    assert rep['batch']['per_rank'] == 10 and rep['batch']['rule'] == 'split'
    assert per_rank <= len(one) and per_rank * WORLD * 10 >= 200       # an epoch still covers the 200 images, in no more steps


def test_torchrun_cli(tmp_path):
    "The real command under torchrun (2 CPU processes, gloo): the run completes and rank 0 reports the distributed run."
    import json, subprocess, sys
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29533',
                        '-m', 'i2c_nb.cli', '--preset', 'tiny', '--subset', '200', '--warmup-epochs', '1', '--epochs', '1',
                        '--images-per-class', '2', '--no-progress', '--device', 'cpu', '--out', str(tmp_path/'run')],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((tmp_path/'run'/'report.json').read_text())
    assert rep['world_size'] == 2 and set(rep['results']) == {'warmup', 'plain', 'sc+gc'}
    assert 'split over 2 ranks' in r.stdout
