"""Evaluation under torch.distributed: two CPU processes (gloo), each evaluating its share of val and test, give exactly the
metrics of one process (classification, MaxBoxAcc/V2 per split and at the val thresholds, the paper's Loc)."""
import os
from datetime import timedelta
import pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp
from i2c_nb.config import get_config
from i2c_nb.pipeline import Data
from i2c_nb.model import small_net
from i2c_nb.inference import final_metrics

WORLD = 2
pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason='torch.distributed with gloo is not available')
CFG = dict(subset=300, eval_batch=32)        # 150 val and 150 test images: 5 batches, so the ranks get 3 and 2


def _model():
    torch.manual_seed(0)
    return small_net(10).eval()


def _worker(rank, init_file, out):
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=WORLD, timeout=timedelta(seconds=120))
    try:
        torch.set_num_threads(1)
        torch.save(final_metrics(_model(), Data(get_config('tiny', **CFG)), get_config('tiny', **CFG)), os.path.join(out, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def test_two_processes_give_the_single_process_metrics(tmp_path):
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    mp.spawn(_worker, args=(str(tmp_path/'init'), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path/f'rank{r}.pt', weights_only=False) for r in range(WORLD)]
    one = final_metrics(_model(), Data(get_config('tiny', **CFG)), get_config('tiny', **CFG))
    assert ranks[0] == one and ranks[1] == one
    assert one['test']['MaxBoxAcc'] >= 0 and 'Top-1 Loc' in one['loc']
