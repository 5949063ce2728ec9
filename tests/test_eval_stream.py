"Streaming evaluation: accumulator state vectors (all-reduce), val-chosen thresholds, the paper's protocol from counts, grouped paper_box_hits."
import os
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, torch, pytest
from i2c_nb.eval import paper_protocol, loc_accuracy, cam_thresholds, resize_boxes
from i2c_nb.fast_eval import (BoxAccumulator, LocAccumulator, boxacc_at_val_threshold, paper_protocol_counts, paper_box_hits,
                              _paper_box_hits_loop, box_classes, realistic_maps)

def box_split(n, seed):
    "n realistic 224 maps with original sizes, boxes and masks."
    g = np.random.default_rng(seed)
    sizes = g.integers(120, 500, (n, 2))
    boxes = [np.array([[g.integers(0, w // 3), g.integers(0, h // 3), g.integers(w // 2, w), g.integers(h // 2, h)]]) for w, h in sizes]
    maps = realistic_maps([resize_boxes(b, s) for b, s in zip(boxes, sizes)], seed=seed)
    masks = [np.zeros((h, w), bool) for w, h in sizes]
    for m, b in zip(masks, boxes): m[b[0, 1]:b[0, 3], b[0, 0]:b[0, 2]] = True
    return maps, boxes, sizes, masks

@pytest.mark.parametrize('with_masks', [False, True])
def test_box_state_of_shards_adds_up(with_masks):
    maps, boxes, sizes, masks = box_split(50, 0)
    mk = masks if with_masks else [None] * 50
    whole = BoxAccumulator(); whole.accumulate(maps, boxes, sizes, mk if with_masks else None)
    shards = [BoxAccumulator() for _ in range(3)]                       # rank 2 gets no image
    for acc, sl in zip(shards, (slice(0, 21), slice(21, 50))): acc.accumulate(maps[sl], boxes[sl], sizes[sl], mk[sl] if with_masks else None)
    assert all(len(a.state()) == len(whole.state()) for a in shards) and not shards[2].state().any()
    assert whole.state().dtype == np.int64 and len(whole.state()) == 2 + 2 * 3 * 100 + 2 * 102
    summed = torch.as_tensor(sum(a.state() for a in shards))           # what all_reduce(SUM) gives
    assert np.array_equal(summed.numpy(), whole.state())
    assert BoxAccumulator().load_state(summed).compute() == whole.compute()
    assert shards[0].merge(shards[1]).merge(shards[2]).compute() == whole.compute()
    assert ('PxAP' in whole.compute()) == with_masks

def test_box_state_rejects_other_settings():
    a = BoxAccumulator()
    with pytest.raises(ValueError, match='entries'): a.load_state(np.zeros(10, np.int64))
    with pytest.raises(ValueError, match='integers'): a.load_state(a.state().astype(float))
    with pytest.raises(ValueError, match='different settings'): a.merge(BoxAccumulator(0.001))
    with pytest.raises(ValueError, match='different settings'): a.merge(BoxAccumulator(iou_thresholds=(50,)))

def test_boxacc_at_val_threshold():
    (vm, vb, vs, _), (tm, tb, ts, _) = box_split(30, 1), box_split(40, 2)
    val, test = BoxAccumulator(), BoxAccumulator()
    val.accumulate(vm, vb, vs); test.accumulate(tm, tb, ts)
    r = boxacc_at_val_threshold(val, test)
    assert set(r) == {'MaxBoxAcc', 'MaxBoxAccV2', 'V1', 'V2', 'threshold', 'chosen_on'} and r['chosen_on'] == 'val'
    for v in ('V1', 'V2'):
        for i, d in enumerate((30, 50, 70)):
            k = int(np.argmax(val.correct[v][i]))                      # the first of tied maxima
            assert r['threshold'][v][str(d)] == round(float(val.thresholds[k]), 10)
            assert r[v][str(d)] == test.correct[v][i, k] * 100. / 40
    assert r['MaxBoxAcc'] == r['V1']['50'] and r['MaxBoxAccV2'] == float(np.mean(list(r['V2'].values())))
    same = boxacc_at_val_threshold(test, test); c = test.compute()
    assert {k: same[k] for k in ('V1', 'V2', 'MaxBoxAcc')} == {k: c[k] for k in ('V1', 'V2', 'MaxBoxAcc')} and same['threshold'] == c['best_threshold']

def loc_split(n, seed, raw=6):
    "CAM-like raw maps, small original sizes, one box each, integer logits (ties), labels."
    g = np.random.default_rng(seed)
    sizes = g.integers(20, 90, (n, 2))
    boxes = [np.array([[g.integers(0, w // 2), g.integers(0, h // 2), g.integers(w // 2, w), g.integers(h // 2, h)]]) for w, h in sizes]
    maps = torch.as_tensor(realistic_maps([resize_boxes(b, s, raw) for b, s in zip(boxes, sizes)], seed=seed, size=raw, grid=raw))
    return maps, boxes, sizes, g.integers(0, 3, (n, 7)).astype(np.float32), g.integers(0, 7, n)

def stream(data, step, ranks=3, batch=5):
    accs = [LocAccumulator(step, threads=1) for _ in range(ranks)]
    for r, a in enumerate(range(0, len(data[4]), batch)): accs[r % ranks].accumulate(*(x[a:a + batch] for x in data))
    return accs

@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('select', ['gt_known_loc', 'top1_loc', 'top5_loc'])
def test_paper_protocol_counts_equals_paper_protocol(seed, select):
    step = 0.01; thr = cam_thresholds(step)
    val, test = loc_split(12, seed), loc_split(23, 100 + seed)
    hv, ht = paper_box_hits(*val[:3], thr), paper_box_hits(*test[:3], thr)
    ref = paper_protocol((hv, *val[3:]), (ht, *test[3:]), thr, select)
    sv, st = stream(val, step), stream(test, step)
    merged = paper_protocol_counts(sv[0].merge(sv[1]).merge(sv[2]), st[0].merge(st[1]).merge(st[2]), select)
    summed = paper_protocol_counts(LocAccumulator(step).load_state(sum(a.state() for a in stream(val, step))),
                                   LocAccumulator(step).load_state(sum(a.state() for a in stream(test, step))), select)
    assert merged == ref and summed == ref

@pytest.mark.parametrize('select', ['gt_known_loc', 'top1_loc'])
def test_paper_protocol_counts_ties(select):
    "Val maps that are blocks on (or off) the box: a flat val curve, every threshold ties, both take the first."
    step = 0.01; thr = cam_thresholds(step)
    val, test = list(loc_split(16, 11, raw=8)), loc_split(20, 12)
    val[0] = torch.zeros(16, 8, 8)
    for i, (w, h) in enumerate(val[2]):
        val[1][i] = np.array([[0, 0, w - 1, h // 2 - 1]])                 # the top half of the image
        val[0][i, :4] = 1 if i % 3 else 0; val[0][i, 4:] = 0 if i % 3 else 1   # a block on the top half (2 in 3 images) or the bottom
    hv, ht = paper_box_hits(*val[:3], thr), paper_box_hits(*test[:3], thr)
    curve = [loc_accuracy(h, *val[3:])[select] for h in hv.T]
    assert len(set(curve)) == 1 and 0 < curve[0]
    ref = paper_protocol((hv, *val[3:]), (ht, *test[3:]), thr, select)
    assert ref['threshold'] == 0.0
    sv = stream(val, step)
    assert paper_protocol_counts(sv[0].merge(sv[1]).merge(sv[2]), LocAccumulator(step).load_state(sum(a.state() for a in stream(test, step))), select) == ref

def test_loc_compute_and_state():
    step = 0.1; thr = cam_thresholds(step)
    data = loc_split(30, 7)
    acc = LocAccumulator(step, threads=2)
    hits = acc.accumulate(*data)
    c = acc.compute()
    for k in ('gt_known_loc', 'top1_loc', 'top5_loc'):
        assert np.array_equal(c[k], [loc_accuracy(h, *data[3:])[k] for h in hits.T])
    assert c['top1_cls'] == loc_accuracy(hits[:, 0], *data[3:])['top1_cls'] and c['n_images'] == 30
    assert len(acc.state()) == len(LocAccumulator(step).state()) == 3 + 3 * len(thr)
    with pytest.raises(ValueError, match='no image'): LocAccumulator().compute()
    with pytest.raises(ValueError, match='different settings'): acc.merge(LocAccumulator(step, iou=0.7))
    with pytest.raises(ValueError, match='labels'): acc.accumulate(data[0][:3], data[1][:3], data[2][:3], data[3][:2], data[4][:2])

IMAGENET_SIZES = [(500, 375), (375, 500), (500, 333), (333, 500), (500, 500), (500, 400)]

@pytest.fixture(scope='module')
def mixed_sizes():
    "40 CAM-like 28x28 maps for images of 6 ImageNet-like sizes and a few unique sizes."
    g = np.random.default_rng(5)
    sizes = np.array(IMAGENET_SIZES)[g.integers(0, 6, 40)]
    sizes[::7] = g.integers(100, 600, (6, 2))
    boxes = [np.array([[g.integers(0, w // 3), g.integers(0, h // 3), g.integers(w // 2, w), g.integers(h // 2, h)]]) for w, h in sizes]
    boxes[3] = np.vstack([boxes[3], [[0, 0, 30, 30]]])                                       # two boxes
    maps = torch.as_tensor(realistic_maps([resize_boxes(b, s, 28) for b, s in zip(boxes, sizes)], seed=5, size=28, grid=28))
    return maps, boxes, sizes, cam_thresholds(0.01)

@pytest.mark.parametrize('threads', [1, 2, 3])
def test_grouped_paper_box_hits_equal_the_loop(mixed_sizes, threads):
    maps, boxes, sizes, thr = mixed_sizes
    ref = _paper_box_hits_loop(maps, boxes, sizes, thr)
    assert 0 < ref.mean() < 1
    assert np.array_equal(paper_box_hits(maps, boxes, sizes, thr, threads=threads), ref)
    assert np.array_equal(paper_box_hits(maps.double().numpy(), boxes, torch.as_tensor(sizes), thr, threads=threads),
                          _paper_box_hits_loop(maps.double().numpy(), boxes, sizes, thr))
    mixed = [m if i % 3 else torch.nn.functional.avg_pool2d(m[None], 2)[0] for i, m in enumerate(maps)]   # 28x28 and 14x14
    assert np.array_equal(paper_box_hits(mixed, boxes, sizes, thr, threads=threads), _paper_box_hits_loop(mixed, boxes, sizes, thr))
    raw = maps * 7 - 2                                                                       # raw (unnormalised) maps
    assert np.array_equal(paper_box_hits(raw, boxes, sizes, thr, iou=0.7, mode='bicubic', threads=threads),
                          _paper_box_hits_loop(raw, boxes, sizes, thr, iou=0.7, mode='bicubic'))

def test_paper_box_hits_edges():
    thr = cam_thresholds(0.1)
    assert paper_box_hits(torch.zeros(0, 8, 8), [], np.zeros((0, 2)), thr).shape == (0, 10)
    with pytest.raises(ValueError, match='2 maps but 1 box lists'): paper_box_hits(torch.rand(2, 8, 8), [[[0, 0, 5, 5]]], [(9, 9)] * 2, thr)

def test_v1_only_sweep_gives_the_same_v1():
    g = np.random.default_rng(3)
    gts = [resize_boxes([[g.integers(0, 100), g.integers(0, 100), g.integers(150, 300), g.integers(150, 300)]], (300, 300)) for _ in range(60)]
    maps = np.concatenate([realistic_maps(gts[:50], seed=3), g.random((10, 224, 224)).astype(np.float32)])   # noise: holes, ties
    thr = cam_thresholds(0.01)
    v1, v2, n_ask = box_classes(maps, gts, thr, threads=2)
    w1, w2, m_ask = box_classes(maps, gts, thr, threads=2, with_v2=False)
    assert np.array_equal(v1, w1) and w2 is None and n_ask == m_ask and n_ask > 0
