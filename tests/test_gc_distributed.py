"""GCMemory under torch.distributed: two CPU processes on the gloo backend must end with identical centres,
equal to one process run on the concatenated batches, while each rank's loss stays local."""
import copy, os
from datetime import timedelta
import pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp
from i2c_nb.gc import GCMemory

Y, D, K, B_RANK, WORLD, ALPHA = 7, 5, 3, 4, 2, 0.3   # class Y-1 never occurs

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason='torch.distributed with gloo is not available')


def _global_batches(n_steps=6):
    "Global batches (v (WORLD*B_RANK,K,D), labels in [0, Y-1), valid); step 3 leaves rank 1 without a valid image."
    g = torch.Generator().manual_seed(0)
    out = []
    for s in range(n_steps):
        n = WORLD * B_RANK
        v, y = torch.randn(n, K, D, generator=g), torch.randint(0, Y - 1, (n,), generator=g)
        ok = torch.rand(n, generator=g) > 0.25
        if s == 3: ok[B_RANK:] = False
        out.append((v, y, ok))
    return out


def _rank_slice(rank): return slice(rank * B_RANK, (rank + 1) * B_RANK)


def _worker(rank, init_file, out_dir, mode):
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=60))
    try:
        torch.set_num_threads(1)
        torch.manual_seed(100 + rank)                   # ranks draw different initial centres on purpose
        mem = GCMemory(Y, D, alpha=ALPHA, mode=mode)
        losses = []
        for v, y, ok in _global_batches():
            sl = _rank_slice(rank)
            losses.append(mem(v[sl], y[sl], ok[sl]).item())
        torch.save({'state': mem.state_dict(), 'losses': losses}, os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def _spawn(tmp_path, mode='momentum'):
    mp.spawn(_worker, args=(str(tmp_path / 'init'), str(tmp_path), mode), nprocs=WORLD, join=True)
    return [torch.load(tmp_path / f'rank{r}.pt') for r in range(WORLD)]


@pytest.fixture(scope='module')
def ranks(tmp_path_factory): return _spawn(tmp_path_factory.mktemp('gc_dist'))


def _reference():
    "One process, rank 0's initial centres, the concatenated (global) batches; plus each rank's local loss per step."
    torch.manual_seed(100)
    mem = GCMemory(Y, D, alpha=ALPHA)
    local_losses = [[] for _ in range(WORLD)]
    for v, y, ok in _global_batches():
        frozen = copy.deepcopy(mem).eval()           # the centres every rank holds before this step's update
        for r in range(WORLD):
            sl = _rank_slice(r)
            local_losses[r].append(frozen(v[sl], y[sl], ok[sl]).item())
        mem(v, y, ok)
    return mem, local_losses


def test_ranks_hold_identical_centres(ranks):
    s0, s1 = ranks[0]['state'], ranks[1]['state']
    assert torch.equal(s0['centers'], s1['centers'])
    assert torch.equal(s0['counts'], s1['counts'])


def test_equals_single_process_on_concatenated_batch(ranks):
    ref, _ = _reference()
    s0 = ranks[0]['state']
    assert torch.equal(s0['counts'], ref.counts)
    torch.testing.assert_close(s0['centers'], ref.centers, rtol=1e-5, atol=1e-5)
    assert ref.counts[-1] == 0 and (ref.counts[:-1] > 0).all()   # an unseen class keeps rank 0's random centre
    assert (ref.counts < len(_global_batches())).any()           # classes are updated unevenly


def test_loss_is_local(ranks):
    "Each rank's loss is Eq. 5 on its own batch (local a^y) against the shared centres."
    _, local = _reference()
    for r in range(WORLD):
        torch.testing.assert_close(torch.tensor(ranks[r]['losses']), torch.tensor(local[r]), rtol=1e-5, atol=1e-5)
    assert ranks[1]['losses'][3] == 0.0                # rank 1 had no valid image at step 3, yet took part


def test_backprop_mode_does_not_communicate(tmp_path):
    "mode='backprop' keeps no momentum state: the forward pass neither updates nor synchronises (DDP owns parameters)."
    r0, r1 = _spawn(tmp_path, 'backprop')
    assert r0['state']['counts'].sum() == 0 and r1['state']['counts'].sum() == 0
    assert not torch.equal(r0['state']['centers'], r1['state']['centers'])
