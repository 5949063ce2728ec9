"""The research path on real-format data, on the CPU: small but realistic CUB-200-2011 and raw ImageNet folders (JPEG photos at
500x375-like sizes, a grayscale and a CMYK one among them) built at test time; `i2c-train --preset cub-resnet50` and
`--preset ilsvrc-resnet50` end to end through the file-based DataLoader path (2 workers) with a random-weights ResNet50
state_dict file, a small crop and head, one plain epoch and one I2C epoch; then `i2c-test` and `i2c-cams` on the result.
Also the errors a researcher meets first: weights offline, no --data, a CUB class too small to hold images out."""
import json, os, time
import numpy as np, pytest, torch, torchvision
from conftest import ENV, cli, one_line_error
from i2c_nb.datasets import make_cub_folder, make_imagenet_folder

SMALL = ['--crop', '32', '--resize', '36', '--width', '32', '--warmup-epochs', '1', '--epochs', '1', '--method', 'sc+gc',
         '--no-baseline', '--workers', '2', '--eval-batch', '8', '--no-progress', '--threads', '2']


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    "A torchvision ResNet50 state_dict with random weights (no download anywhere)."
    p = tmp_path_factory.mktemp('w')/'resnet50_random.pth'
    torch.manual_seed(0); torch.save(torchvision.models.resnet50().state_dict(), p)
    return p


def check_run(out, r, layout, n_train):
    rep = json.loads((out/'report.json').read_text())
    assert rep['data']['layout'] == layout and rep['data']['train']['images'] == n_train
    assert set(rep['results']) == {'warmup', 'sc+gc'} and rep['config']['backbone'] == 'resnet50'
    t = rep['results']['sc+gc']
    assert 0 <= t['test']['top1'] <= 100 and 0 <= t['test_at_val']['MaxBoxAcc'] <= 100 and 'Top-1 Loc' in t['loc']
    ep = [json.loads(l) for l in (out/'metrics.jsonl').read_text().splitlines() if json.loads(l)['kind'] == 'epoch']
    assert [e['stage'] for e in ep] == ['warmup', 'sc+gc'] and ep[0]['sc'] == 0 and ep[1]['sc'] > 0
    assert {'warmup.pt', 'sc_gc.pt', 'results.png', 'metrics.jsonl'} <= set(os.listdir(out))
    assert 'sc+gc' in r.stdout and 'Cls top-1' in r.stdout
    return rep


def eval_commands(out, rep, tmp_path, n_test):
    "i2c-test reproduces the run's numbers for the branch; i2c-cams writes one score map per test image."
    cli('--checkpoint', out/'sc_gc.pt', '--json', tmp_path/'test.json', '--workers', '2', '--threads', '2', cmd='i2c-test')
    got = json.loads((tmp_path/'test.json').read_text())['results']['sc+gc']
    for part in ('test', 'test_at_val', 'loc'): assert got[part] == rep['results']['sc+gc'][part], part
    r = cli('--checkpoint', out/'sc_gc.pt', '--split', 'test', '--out', tmp_path/'cams', '--threads', '2', cmd='i2c-cams')
    maps = sorted((tmp_path/'cams').rglob('*.npy'))
    assert len(maps) == n_test and f'wrote {n_test} score maps' in r.stdout
    m = np.load(maps[0]); assert m.shape == (224, 224) and 0 <= m.min() and m.max() <= 1


def test_cub_resnet50_end_to_end(tmp_path, weights):
    cub = make_cub_folder(tmp_path/'CUB_200_2011', n_classes=3, train_per_class=7, test_per_class=3)
    out, t0 = tmp_path/'run', time.time()
    r = cli('--preset', 'cub-resnet50', '--data', cub, '--weights', weights, '--holdout', '2', *SMALL, '--out', out, cmd='i2c-train')
    print(f'cub-resnet50 on the realistic CUB folder: {time.time() - t0:.1f} s')
    rep = check_run(out, r, 'cub', 3 * (7 - 2))
    assert rep['data']['val']['images'] == 6 and rep['data']['test']['images'] == 9
    eval_commands(out, rep, tmp_path, 9)


def test_ilsvrc_resnet50_end_to_end(tmp_path, weights):
    root = make_imagenet_folder(tmp_path/'ILSVRC2012', n_classes=3, train_per_class=6, val_per_class=3)
    out, t0 = tmp_path/'run', time.time()
    r = cli('--preset', 'ilsvrc-resnet50', '--data', root, '--weights', weights, '--holdout', '1', *SMALL, '--out', out, cmd='i2c-train')
    print(f'ilsvrc-resnet50 on the realistic ImageNet folder: {time.time() - t0:.1f} s')
    rep = check_run(out, r, 'imagenet', 3 * 6)
    assert rep['data']['train']['weak'] and rep['data']['val']['images'] + rep['data']['test']['images'] == 9
    eval_commands(out, rep, tmp_path, rep['data']['test']['images'])


def test_weights_offline_stop_within_seconds_before_the_data(tmp_path):
    "No cached copy and no network: one line naming the file torchvision wanted, the cache folder (TORCH_HOME) and --weights FILE."
    env = dict(ENV, TORCH_HOME=str(tmp_path/'torch'), https_proxy='http://127.0.0.1:9', HTTPS_PROXY='http://127.0.0.1:9')
    env.pop('no_proxy', None); env.pop('NO_PROXY', None)
    t0 = time.time()
    r = cli('--preset', 'cub-resnet50', '--data', tmp_path/'not_read_yet', '--out', tmp_path/'run', cmd='i2c-train', env=env, check=False)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]                         # after torchvision-style 'Downloading ...' progress
    for c in ('i2c-train: --weights IMAGENET1K_V1', 'resnet50-0676ba61.pth', str(tmp_path/'torch'), '--weights FILE'): assert c in last, last
    assert time.time() - t0 < 60 and not (tmp_path/'run').exists()


def test_real_preset_without_data(tmp_path):
    one_line_error(cli('--preset', 'ilsvrc-resnet50', '--out', tmp_path/'run', cmd='i2c-train', check=False), '--data')
    assert not (tmp_path/'run').exists()


def test_small_cub_class(tmp_path, weights):
    cub = make_cub_folder(tmp_path/'CUB_200_2011', n_classes=3, train_per_class=4, test_per_class=2)
    r = cli('--preset', 'cub-resnet50', '--data', cub, '--weights', weights, '--out', tmp_path/'run', cmd='i2c-train', check=False)
    one_line_error(r, 'class', '--holdout')
    assert not (tmp_path/'run').exists()


def test_wsolevaluation_layout_with_weak_train(tmp_path):
    "wsolevaluation's ILSVRC layout: a train split with empty image_sizes.txt and localization.txt trains; val/test evaluate."
    from i2c_nb.datasets import open_dataset, write_wsol_layout
    raw = make_imagenet_folder(tmp_path/'raw', n_classes=3, train_per_class=6, val_per_class=3)
    root = write_wsol_layout(open_dataset(raw, holdout=1)[0], tmp_path/'wsol', weak_train=True)
    meta = next(p.parent.parent for p in root.rglob('image_ids.txt') if p.parent.name == 'train')
    assert (meta/'train'/'localization.txt').read_text() == '' and (meta/'train'/'image_sizes.txt').read_text() == ''
    out = tmp_path/'run'
    r = cli('--preset', 'ilsvrc-resnet50', '--data', root, '--metadata', meta, '--backbone', 'small', '--weights', 'none',
            '--crop', '64', '--resize', '72', '--width', '32', '--warmup-epochs', '1', '--epochs', '1', '--method', 'sc',
            '--no-baseline', '--workers', '2', '--eval-batch', '8', '--no-progress', '--threads', '2', '--out', out, cmd='i2c-train')
    rep = json.loads((out/'report.json').read_text())
    assert rep['data']['layout'] == 'wsol' and rep['data']['train']['weak'] and rep['data']['train']['images'] == 18
    assert 'MaxBoxAcc' in rep['results']['sc']['test_at_val']


def test_mid_epoch_resume_through_workers_is_exact(tmp_path):
    "Files read by 2 DataLoader workers that prefetch ahead: stop in the middle of the I2C epoch, resume: the same run, exactly."
    cub = make_cub_folder(tmp_path/'CUB_200_2011', n_classes=3, train_per_class=7, test_per_class=3)
    args = ['--preset', 'cub-resnet50', '--data', cub, '--holdout', '2', '--backbone', 'small', '--weights', 'none', '--crop', '64',
            '--resize', '72', '--width', '32', '--warmup-epochs', '1', '--epochs', '1', '--method', 'sc+gc', '--no-baseline',
            '--workers', '2', '--eval-batch', '8', '--no-progress', '--threads', '1']
    cli(*args, '--out', tmp_path/'a', cmd='i2c-train')
    r = cli(*args, '--out', tmp_path/'b', '--stop-after-steps', '4', cmd='i2c-train')        # 3 warm-up steps, then 1 of 3 I2C steps
    assert 'stopped after 4 step(s)' in r.stdout
    ck = torch.load(tmp_path/'b'/'checkpoint.pt', weights_only=True)
    assert (ck['stage'], ck['batch']) == ('sc+gc', 1)
    cli(*args, '--out', tmp_path/'b', '--resume', cmd='i2c-train')
    a, b = (json.loads((tmp_path/d/'report.json').read_text())['results'] for d in 'ab')
    assert a == b
    sa, sb = (torch.load(tmp_path/d/'sc_gc.pt', weights_only=True) for d in 'ab')
    for k in sa['model']: assert torch.equal(sa['model'][k], sb['model'][k]), k
    assert torch.equal(sa['objective']['memory.centers'], sb['objective']['memory.centers'])
