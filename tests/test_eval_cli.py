"i2c-evaluate on a folder of score maps written here: wsolevaluation's layout, JSON keys, val-chosen thresholds, errors (one line, status 2), nothing written on failure."
import json, os
from functools import partial
import numpy as np, pytest
from PIL import Image
from conftest import cli, one_line_error
from i2c_nb.data import WSOLSplit, write_wsol_metadata
from i2c_nb.eval import resize_boxes
from i2c_nb.fast_eval import realistic_maps, evaluate_boxes, BoxAccumulator, boxacc_at_val_threshold

@pytest.fixture
def folder(tmp_path):
    g = np.random.default_rng(0)
    n = 25
    ids = [f'{c:03d}.Bird/img_{i:02d}.jpg' for i, c in enumerate(g.integers(1, 4, n))]
    sizes = g.integers(100, 400, (n, 2))
    boxes = [np.array([[s[0] // 5, s[1] // 6, s[0] - 5, s[1] - 8]]) for s in sizes]
    boxes[3] = np.vstack([boxes[3], [[1, 1, 20, 20]]])                      # several boxes for one image
    split = WSOLSplit(ids, g.integers(0, 3, n), sizes, boxes, name='toy')
    write_wsol_metadata(split, tmp_path/'meta')
    maps = realistic_maps([resize_boxes(b, s) for b, s in zip(boxes, sizes)], seed=1).astype(np.float64)
    for i, (iid, m) in enumerate(zip(ids, maps)):
        (tmp_path/'maps'/iid).parent.mkdir(parents=True, exist_ok=True)
        name = iid + '.npy' if i % 2 else iid[:-4] + '.npy'            # both layouts: x.jpg.npy and x.npy
        np.save(tmp_path/'maps'/name, m)
        mk = np.zeros((sizes[i][1], sizes[i][0]), np.uint8); b = boxes[i][0]; mk[b[1]:b[3], b[0]:b[2]] = 255
        (tmp_path/'masks'/iid).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mk).save((tmp_path/'masks'/iid).with_suffix('.png'))
    return tmp_path, split, maps

run = partial(cli, cmd='i2c-evaluate', check=False)

def assert_fails(r, *parts):
    "Exit status 2 and one line on stderr, `i2c-evaluate: ...`, holding every part; nothing on stdout."
    one_line_error(r, *parts)
    assert r.stderr.startswith('i2c-evaluate: ') and r.stdout == '', (r.stdout, r.stderr)

def test_cli_numbers_and_json(folder):
    d, split, maps = folder
    r = run('--metadata', d/'meta', '--scoremaps', d/'maps', '--masks', d/'masks', '--json', d/'out'/'res.json', '--quiet')
    assert r.returncode == 0, r.stderr
    res = json.loads((d/'out'/'res.json').read_text())
    assert {'n_images', 'step', 'MaxBoxAcc', 'MaxBoxAccV2', 'V1', 'V2', 'best_threshold', 'PxAP'} <= set(res)
    assert res['n_images'] == 25 and res['step'] == 0.01
    assert set(res['V1']) == {'30', '50', '70'} and set(res['best_threshold']) == {'V1', 'V2'}
    ref = evaluate_boxes(maps, split.boxes, split.sizes)
    assert {k: v for k, v in res.items() if k != 'PxAP'} == ref
    assert 'MaxBoxAcc' in r.stdout and 'PxAP' in r.stdout

def test_cli_step(folder):
    d, split, maps = folder
    r = run('--metadata', d/'meta', '--scoremaps', d/'maps', '--step', '0.001', '--json', d/'res.json', '--quiet')
    assert r.returncode == 0, r.stderr
    assert json.loads((d/'res.json').read_text()) == evaluate_boxes(maps, split.boxes, split.sizes, step=0.001)

def test_cli_missing_map(folder):
    d, split, _ = folder
    iid = split.image_ids[5]
    (d/'maps'/(iid + '.npy')).unlink()
    r = run('--metadata', d/'meta', '--scoremaps', d/'maps', '--json', d/'res.json', '--quiet')
    assert_fails(r, f'no score map for image {iid!r}', str(d/'maps'/(iid + '.npy')))
    assert not (d/'res.json').exists()

def test_cli_invalid_map(folder):
    d, split, maps = folder
    iid = split.image_ids[2]
    bad = maps[2].copy(); bad[0, 0] = 1.5
    np.save(d/'maps'/(iid[:-4] + '.npy'), bad)
    r = run('--metadata', d/'meta', '--scoremaps', d/'maps', '--json', d/'res.json', '--quiet')
    assert_fails(r, f'image {iid!r} has values outside [0,1]')
    assert not (d/'res.json').exists()

@pytest.fixture
def val_folder(folder):
    "A second split, 15 images: its maps choose the thresholds."
    d, _, _ = folder
    g = np.random.default_rng(1)
    ids = [f'val/img_{i:02d}.jpg' for i in range(15)]
    sizes = g.integers(100, 400, (15, 2))
    boxes = [np.array([[s[0] // 4, s[1] // 7, s[0] - 9, s[1] - 2]]) for s in sizes]
    split = WSOLSplit(ids, g.integers(0, 3, 15), sizes, boxes, name='toy-val')
    write_wsol_metadata(split, d/'vmeta')
    maps = realistic_maps([resize_boxes(b, s) for b, s in zip(boxes, sizes)], seed=2)
    (d/'vmaps'/'val').mkdir(parents=True)
    for iid, m in zip(ids, maps): np.save(d/'vmaps'/(iid + '.npy'), m)
    return split, maps

def test_cli_thresholds_chosen_on_val(folder, val_folder):
    d, split, maps = folder
    vsplit, vmaps = val_folder
    r = run('--metadata', d/'meta', '--scoremaps', d/'maps', '--val-metadata', d/'vmeta', '--val-scoremaps', d/'vmaps',
            '--json', d/'out'/'res.json', '--quiet')
    assert r.returncode == 0, r.stderr
    res = json.loads((d/'out'/'res.json').read_text())
    assert {k: v for k, v in res.items() if k != 'test_at_val'} == evaluate_boxes(maps, split.boxes, split.sizes)   # the per-split optimum
    val, test = BoxAccumulator(), BoxAccumulator()
    val.accumulate(vmaps, vsplit.boxes, vsplit.sizes); test.accumulate(maps, split.boxes, split.sizes)
    assert res['test_at_val'] == boxacc_at_val_threshold(val, test)
    assert res['test_at_val']['chosen_on'] == 'val' and 'thresholds chosen on val' in r.stdout
    assert os.listdir(d/'out') == ['res.json']                                    # no temporary file left

@pytest.mark.parametrize('given', ['--val-metadata', '--val-scoremaps'])
def test_cli_val_options_go_together(folder, given):
    d, _, _ = folder
    r = run('--metadata', d/'meta', '--scoremaps', d/'maps', given, d/'meta', '--json', d/'res.json', '--quiet')
    assert_fails(r, '--val-metadata and --val-scoremaps')
    assert not (d/'res.json').exists()

def test_cli_bad_inputs(folder, val_folder):
    d, split, _ = folder
    r = run('--metadata', d/'nowhere', '--scoremaps', d/'maps', '--json', d/'res.json', '--quiet')
    assert_fails(r, str(d/'nowhere'), 'no such metadata folder')
    r = run('--metadata', d/'meta', '--scoremaps', d/'nomaps', '--json', d/'res.json', '--quiet')
    assert_fails(r, 'no such score-map folder', str(d/'nomaps'))
    r = run('--metadata', d/'meta', '--scoremaps', d/'maps', '--val-metadata', d/'vmeta', '--val-scoremaps', d/'maps', '--json', d/'res.json', '--quiet')
    assert_fails(r, "no score map for image 'val/img_00.jpg'")                     # val maps looked up in the wrong folder
    with open(d/'meta'/'image_sizes.txt', 'a') as f: f.write('\nnot,a,size\n')
    r = run('--metadata', d/'meta', '--scoremaps', d/'maps', '--json', d/'res.json', '--quiet')
    assert_fails(r, 'image_sizes.txt')
    r = run('--scoremaps', d/'maps')
    assert_fails(r, '--metadata and --scoremaps are required')
    assert not (d/'res.json').exists()
