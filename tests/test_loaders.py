"""Tests of i2c_nb.loaders that do not belong in the notebook: worker processes and many world sizes."""
import math, pickle
import numpy as np, pytest, torch
from torch.utils.data import DataLoader
from i2c_nb.loaders import (ClassPairedSampler, WSOLDataset, collate_wsol, toy_split, train_tfms, test_tfms)


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return toy_split(tmp_path_factory.mktemp('toy'), counts=(3, 2, 1, 4, 2, 5), seed=0)


def _run(loader):
    "All batches of one pass: (images, labels, ids) lists."
    out = [(x.clone(), y.clone(), list(i)) for x, y, _, i in loader]
    return [o[0] for o in out], [o[1] for o in out], [o[2] for o in out]


def _loader(toy, tfms, num_workers, seed=0, epoch=0):
    s = ClassPairedSampler(toy.labels, n_classes=4, n_per_class=2, seed=seed); s.set_epoch(epoch)
    return DataLoader(WSOLDataset(toy, tfms, cache=True), batch_sampler=s, collate_fn=collate_wsol,
                      num_workers=num_workers, persistent_workers=False)


def test_workers_follow_sampler_order(toy):
    "With 2 workers the batches arrive in the sampler's order, with the same content as in-process loading."
    x0, y0, i0 = _run(_loader(toy, test_tfms(32), 0))
    x2, y2, i2 = _run(_loader(toy, test_tfms(32), 2))
    s = ClassPairedSampler(toy.labels, n_classes=4, n_per_class=2, seed=0)
    assert i2 == [[toy.image_ids[j] for j in b] for b in s]
    assert i0 == i2
    for a, b in zip(x0, x2): assert torch.equal(a, b)
    for a, b in zip(y0, y2): assert torch.equal(a, b)


def test_workers_augmentation_deterministic(toy):
    "Random crops/flips in 2 workers repeat exactly under the same torch seed, and change with another seed."
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        runs.append(_run(_loader(toy, train_tfms(40, 32), 2)))
    (xa, ya, ia), (xb, yb, ib), (xc, _, ic) = runs
    assert ia == ib == ic  # the sampler's order does not depend on torch's RNG
    assert all(torch.equal(a, b) for a, b in zip(xa, xb))
    assert not all(torch.equal(a, c) for a, c in zip(xa, xc))


def test_batches_have_pairs_through_workers(toy):
    for x, y, b, ids in _loader(toy, train_tfms(40, 32), 2):
        assert x.shape == (8, 3, 32, 32)
        assert torch.equal(y[0::2], y[1::2]) and len(y.unique()) == 4
        for bx in b: assert bx.shape[1] == 4 and (bx[:, 2:] >= bx[:, :2]).all() and (bx >= 0).all() and (bx <= 32).all()


@pytest.mark.parametrize('world_size', [1, 2, 3, 4, 5, 7])
@pytest.mark.parametrize('n_per_class', [1, 2, 3])
def test_sharding(world_size, n_per_class):
    "Equal batch counts per rank; union covers every image; rank r holds global batches r, r+W, ... of the padded list."
    rng = np.random.default_rng(world_size*10 + n_per_class)
    labels = np.repeat(np.arange(23), rng.integers(1, 15, 23))
    ref = ClassPairedSampler(labels, 6, n_per_class, seed=11)
    g = ref.global_batches()
    padded = [g[i % len(g)] for i in range(math.ceil(len(g)/world_size)*world_size)]
    shards = []
    for r in range(world_size):
        s = ClassPairedSampler(labels, 6, n_per_class, seed=11, rank=r, world_size=world_size)
        shards.append(list(s))
        assert len(shards[-1]) == len(s) == math.ceil(len(g)/world_size)
        assert shards[-1] == padded[r::world_size]
        for b in shards[-1]:
            l = labels[b].reshape(6, n_per_class)
            assert (l == l[:, :1]).all() and len(np.unique(l[:, 0])) == 6
    seen = np.concatenate([np.concatenate(sh) for sh in shards])
    assert set(seen.tolist()) == set(range(len(labels)))


def test_sharding_fewer_batches_than_ranks():
    "One global batch and 3 ranks: every rank still gets one (repeated) batch."
    labels = np.repeat(np.arange(4), 2)
    shards = [list(ClassPairedSampler(labels, 4, 2, rank=r, world_size=3)) for r in range(3)]
    assert [len(s) for s in shards] == [1, 1, 1] and shards[0] == shards[1] == shards[2]


def test_order_independent_of_global_rngs():
    labels = np.repeat(np.arange(30), 7)
    torch.manual_seed(0); np.random.seed(0); a = list(ClassPairedSampler(labels, 10, 2, seed=4))
    torch.manual_seed(9); np.random.seed(9); b = list(ClassPairedSampler(labels, 10, 2, seed=4))
    assert a == b


def test_pickle_and_resume_through_loader(toy):
    "The sampler pickles (spawned workers, checkpoints) and resumes mid-epoch."
    s = ClassPairedSampler(toy.labels, 4, 2, seed=2); s.set_epoch(3)
    full = list(s)
    t = pickle.loads(pickle.dumps(s)); assert list(t) == full
    r = ClassPairedSampler(toy.labels, 4, 2); r.load_state_dict(s.state_dict(position=1)); r.set_epoch(3)
    dl = DataLoader(WSOLDataset(toy, test_tfms(32)), batch_sampler=r, collate_fn=collate_wsol, num_workers=2)
    assert len(dl) == len(full) - 1
    assert [ids for *_, ids in dl] == [[toy.image_ids[j] for j in b] for b in full[1:]]


def test_labels_as_tensor():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    assert list(ClassPairedSampler(labels, 3, 2)) == list(ClassPairedSampler(labels.numpy(), 3, 2))
