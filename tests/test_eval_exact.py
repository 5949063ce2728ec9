"The fast box evaluator (component-tree sweep) equals wsolevaluation's per-threshold OpenCV loop, digit for digit."
import os
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, cv2, pytest
from i2c_nb.eval import cam_thresholds, resize_boxes, reference_box_hits, check_scoremaps
from i2c_nb.fast_eval import box_hits, box_classes, realistic_maps, evaluate_boxes, BoxAccumulator
from i2c_nb.data import DataFormatError

def assert_same(maps, gts, step=0.01, iou_thresholds=(30, 50, 70), threads=1):
    thr = cam_thresholds(step)
    fast = box_hits(maps, gts, thr, iou_thresholds, threads=threads)
    ref = reference_box_hits(maps, gts, thr, iou_thresholds)
    for name, a, b in zip(('V1', 'V2'), fast, ref):
        if not np.array_equal(a, b):
            i, k = [int(v[0]) for v in np.nonzero((a != b).any(-1))]
            raise AssertionError(f'{name} differs first at map {i}, tau {thr[k]}: fast {a[i, k]}, reference {b[i, k]}')

def cub_like_boxes(n, seed):
    "n images of random original sizes (non-square) with 1-3 boxes each, rescaled to 224 as wsolevaluation does."
    g = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w, h = g.integers(120, 600, 2)
        bs = []
        for _ in range(g.choice([1, 1, 1, 2, 3])):
            bw, bh = g.integers(10, w), g.integers(10, h)
            x0, y0 = g.integers(0, w - bw + 1), g.integers(0, h - bh + 1)
            bs.append([x0, y0, x0 + bw, y0 + bh])
        out.append(resize_boxes(bs, (w, h)))
    return out

@pytest.mark.parametrize('seed', range(4))
def test_realistic_maps_step_001(seed):
    "1,000 realistic maps in all (4 x 250), several boxes per image, non-square originals: identical hits at step 0.01."
    gts = cub_like_boxes(250, seed)
    assert_same(realistic_maps(gts, seed=100 + seed), gts, 0.01)

def test_realistic_maps_step_0001():
    gts = cub_like_boxes(40, 7)
    assert_same(realistic_maps(gts, seed=7), gts, 0.001)

def small_random_maps(n, seed):
    "Small maps of every kind: noise (many components and holes), blurred noise, few grey levels; any size from 1x1."
    g = np.random.default_rng(seed)
    items = []
    for i in range(n):
        h, w = g.integers(1, 41, 2)
        kind = i % 4
        if kind == 0: m = g.random((h, w))
        elif kind == 1:
            m = cv2.GaussianBlur(g.random((h, w)).astype(np.float32), (0, 0), g.uniform(.5, 3)).astype(np.float64)
            m = (m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else np.zeros_like(m)
        elif kind == 2: m = g.integers(0, 4, (h, w)) / 3
        else: m = (g.random((h, w)) < g.uniform(.2, .8)) * g.uniform(.3, 1)
        gt = []
        for _ in range(g.integers(1, 4)):
            x0, x1 = sorted(g.integers(0, w, 2)); y0, y1 = sorted(g.integers(0, h, 2)); gt.append([x0, y0, x1, y1])
        items.append((m.astype(np.float32), np.array(gt)))
    return items

@pytest.mark.parametrize('seed,step', [(0, 0.01), (1, 0.01), (2, 0.001)])
def test_small_random_maps(seed, step):
    "Ties, thin rings, nested holes: the hard cases for V1 (OpenCV is asked) and V2 (hole boxes)."
    items = small_random_maps(400 if step == 0.01 else 150, seed)
    by_shape = {}
    for m, g in items: by_shape.setdefault(m.shape, []).append((m, g))
    for group in by_shape.values():
        assert_same(np.stack([m for m, _ in group]), [g for _, g in group], step, (10, 30, 50, 70, 90))

def test_edge_cases():
    z = lambda: np.zeros((1, 224, 224), np.float32)
    assert_same(np.full((1, 224, 224), .5, np.float32), [[[0, 0, 223, 223]]])                # constant map
    assert_same(np.full((1, 224, 224), 1e-3, np.float32), [[[0, 0, 0, 0]]])                 # constant below 1/255: all zero in uint8
    assert_same(np.zeros((2, 224, 224), np.float32), [[[0, 0, 0, 0]], [[0, 0, 5, 5]]])       # all-zero map: box [0,0,0,0]
    hot = z(); hot[0, 0, 0] = 1.; assert_same(hot, [[[0, 0, 1, 1]]])                          # single hot pixel, in a corner
    hot = z(); hot[0, 223, 223] = 1.; assert_same(hot, [[[222, 222, 223, 223]]])
    hot = z(); hot[0, 100, 50] = .2; assert_same(hot, [[[50, 100, 51, 101], [0, 0, 223, 223]]])
    border = z(); border[0, :, :3] = 1.; border[0, :3, :] = .7; border[0, 220:, 100:] = .4
    assert_same(border, [[[0, 0, 2, 223], [0, 0, 223, 2], [100, 220, 223, 223]]])             # boxes on the border
    ring = z(); ring[0, 50:150, 60:170] = .9; ring[0, 70:130, 80:150] = .1; ring[0, 95:105, 110:120] = .95
    assert_same(ring, [[[80, 70, 150, 130]]])                                                 # a hole matching the box (V2)
    assert_same(ring, [[[110, 95, 120, 105]]])                                              # a nested component
    nonsq = realistic_maps([[[10, 20, 150, 90]]], seed=5, size=160)[:, :100]                   # 100x160 map (paper protocol)
    assert_same(nonsq, [[[10, 20, 150, 90]]], 0.001)

def test_hole_box_can_decide_v2():
    "A ring-shaped map whose hole box is the best V2 box: holes must be evaluated."
    m = np.zeros((1, 224, 224), np.float32); m[0, 40:180, 40:180] = 1.; m[0, 60:160, 60:160] = 0.
    thr = cam_thresholds(0.01)
    v1, v2 = box_hits(m, [[[59, 59, 160, 160]]], thr)
    assert not v1[0, :, 2].any() and v2[0, :, 2].all()  # only the hole's box [59,59,161,161] reaches IoU 0.7
    assert_same(m, [[[59, 59, 160, 160]]])

def test_threads_give_the_same():
    gts = cub_like_boxes(30, 3); maps = realistic_maps(gts, seed=3)
    thr = cam_thresholds(0.01)
    a, b = box_classes(maps, gts, thr, threads=1), box_classes(maps, gts, thr, threads=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])

def test_evaluate_boxes_equals_reference_accumulator():
    g = np.random.default_rng(0)
    sizes = g.integers(150, 500, (60, 2))
    boxes = [np.array([[s[0] // 4, s[1] // 5, s[0] - 10, s[1] - 3]]) for s in sizes]
    maps = realistic_maps([resize_boxes(b, s) for b, s in zip(boxes, sizes)], seed=9)
    masks = [np.zeros((s[1], s[0]), bool) for s in sizes]
    for mk, b in zip(masks, boxes): mk[b[0, 1]:b[0, 3], b[0, 0]:b[0, 2]] = True
    ref = BoxAccumulator(reference=True); ref.accumulate(maps, boxes, sizes, masks)
    res = evaluate_boxes(maps, boxes, sizes, masks=masks, batch=17)
    assert res == ref.compute()
    assert set(res) == {'n_images', 'step', 'MaxBoxAcc', 'MaxBoxAccV2', 'V1', 'V2', 'best_threshold', 'PxAP'}
    assert set(res['V1']) == set(res['V2']) == {'30', '50', '70'} and res['n_images'] == 60

def test_invalid_maps_name_the_image():
    m = np.random.default_rng(0).random((3, 224, 224)).astype(np.float32)
    bad = m.copy(); bad[1, 3, 3] = -0.1
    with pytest.raises(DataFormatError, match="image 'b.jpg' has values outside"):
        evaluate_boxes(bad, [[[0, 0, 5, 5]]] * 3, [(224, 224)] * 3, image_ids=['a.jpg', 'b.jpg', 'c.jpg'])
    bad = m.copy(); bad[2, 0, 0] = np.nan
    with pytest.raises(DataFormatError, match="image 'c.jpg' contains NaN"): check_scoremaps(bad, ['a.jpg', 'b.jpg', 'c.jpg'])
    with pytest.raises(DataFormatError, match='expected'): check_scoremaps(m[:, :200])
