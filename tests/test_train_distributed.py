"""`train` under torch.distributed: two CPU processes (gloo) on the tiny preset for a few steps end with identical
weights, BatchNorm statistics and GC memory on both ranks, and rank 0 writes the run."""
import os
from datetime import timedelta
from pathlib import Path
import pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp
from i2c_nb.train import train, get_config, Data

WORLD = 2
pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason='torch.distributed with gloo is not available')


def _worker(rank, init_file, out):
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=WORLD, timeout=timedelta(seconds=120))
    try:
        torch.set_num_threads(1)
        cfg = get_config('tiny', subset=200, warmup_epochs=0, epochs=1, methods=('sc+gc',), images_per_class=2, progress=False)
        state = {}
        train(cfg, out, final_state=state)
        torch.save({'model': state['model'].state_dict(), 'objective': state['objective'].state_dict()}, Path(out)/f'rank{rank}.pt')
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
    assert a['model'].keys() == b['model'].keys()
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
    assert rep['world_size'] == 2
    n_steps = [json.loads(l)['step'] for l in (out/'metrics.jsonl').read_text().splitlines() if json.loads(l)['kind'] == 'epoch']
    cfg = get_config('tiny', subset=200, warmup_epochs=0, epochs=1, methods=('sc+gc',), images_per_class=2)
    per_rank = len(Data(cfg).sampler(rank=0, world_size=WORLD))
    assert n_steps == [per_rank] and per_rank < len(Data(cfg).sampler())   # each rank ran its half of the batches
