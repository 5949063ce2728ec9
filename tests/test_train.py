"""i2c-train / i2c-test / i2c-cams end to end on a tiny config (200 train images, a few steps): the files a run writes, exact
resume (at an epoch's end and in the middle of one), --config repeating a run, the NaN guard, settings and data checked before
anything is written, TensorBoard, atomic checkpoints read with weights_only=True, and score maps."""
import json, os, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest, torch
from i2c_nb.train import save_checkpoint, load_checkpoint, CheckpointError
from i2c_nb.config import get_config
from conftest import ENV, cli, one_line_error   # `cli`: i2c_train as `python -m i2c_nb.cli`, the others by their function

TINY = ['--preset', 'tiny', '--subset', '200', '--warmup-epochs', '1', '--epochs', '1', '--images-per-class', '2',
        '--no-progress', '--threads', '1', '--tensorboard']


def untimed(folder):
    return [{k: v for k, v in json.loads(l).items() if not k.endswith('_s')} for l in (folder/'metrics.jsonl').read_text().splitlines()]


@pytest.fixture(scope='module')
def run_a(tmp_path_factory):
    out = tmp_path_factory.mktemp('train')/'a'
    r = cli(*TINY, '--out', out)
    return out, r


def test_cli_writes_the_run(run_a):
    out, r = run_a
    assert {'checkpoint.pt', 'metrics.jsonl', 'report.json', 'results.png', 'warmup.pt', 'plain.pt', 'sc_gc.pt'} <= set(os.listdir(out))
    rep = json.loads((out/'report.json').read_text())
    assert set(rep['results']) == {'warmup', 'plain', 'sc+gc'}
    for name in ('plain', 'sc+gc'):
        t = rep['results'][name]['test']
        assert 0 <= t['top1'] <= 100 and 0 <= t['top5'] <= 100 and t['top5'] >= t['top1']
        loc = rep['results'][name]['loc']
        assert loc['Top-1 Loc'] <= loc['GT-known Loc'] and loc['chosen_on'].startswith('val')
    assert rep['data']['train']['images'] == 200 and rep['data']['layout'] == 'bundled' and rep['threshold']
    assert rep['batch']['global_batch'] == 20 and rep['batch']['world_size'] == 1
    assert 'stage' in r.stdout and 'Cls top-1' in r.stdout and 'batch: 10 classes x 2 images' in r.stdout
    kinds = [json.loads(l)['kind'] for l in (out/'metrics.jsonl').read_text().splitlines()]
    assert kinds[0] == 'config' and kinds.count('epoch') == 3


def test_tensorboard_holds_the_logged_numbers(run_a):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = run_a[0]
    ea = EventAccumulator(str(out/'tensorboard')).Reload()
    lines = [json.loads(l) for l in (out/'metrics.jsonl').read_text().splitlines()]
    steps = [l for l in lines if l['kind'] == 'step' and l['stage'] == 'sc+gc']
    epoch = [l for l in lines if l['kind'] == 'epoch' and l['stage'] == 'sc+gc'][0]
    assert [e.value for e in ea.Scalars('sc+gc/loss/sc')] == pytest.approx([l['sc'] for l in steps], rel=1e-6)
    assert [e.value for e in ea.Scalars('sc+gc/lr')] == pytest.approx([l['lr'] for l in steps], rel=1e-6)
    assert ea.Scalars('sc+gc/epoch_val/MaxBoxAcc')[0].value == pytest.approx(epoch['val_MaxBoxAcc'], rel=1e-6)


def test_checkpoint_holds_the_training_state(run_a):
    ck = load_checkpoint(run_a[0]/'checkpoint.pt')
    for k in ('model', 'optimizer', 'scheduler', 'objective', 'sampler', 'epoch', 'batch', 'step', 'config', 'n_classes'):
        assert k in ck, k
    assert 'memory.centers' in ck['objective'] and 'memory.counts' in ck['objective']   # GC memory
    assert ck['stage'] == 'sc+gc' and ck['objective']['memory.counts'].sum() > 0


def test_resume_gives_the_same_final_metrics(run_a, tmp_path):
    out = tmp_path/'b'
    r = cli(*TINY, '--out', out, '--stop-after', '1')
    assert 'stopped after 1 epoch' in r.stdout and not (out/'report.json').exists()
    assert load_checkpoint(out/'checkpoint.pt')['stage'] == 'warmup'
    cli(*TINY, '--out', out, '--resume')
    a, b = (json.loads((d/'report.json').read_text())['results'] for d in (run_a[0], out))
    assert a == b
    assert untimed(out) == untimed(run_a[0])
    sa, sb = (load_checkpoint(d/'sc_gc.pt') for d in (run_a[0], out))
    for k in sa['model']: assert torch.equal(sa['model'][k], sb['model'][k]), k
    assert torch.equal(sa['objective']['memory.centers'], sb['objective']['memory.centers'])


def test_mid_epoch_resume_is_exact(run_a, tmp_path):
    "Stop in the middle of the I2C branch's epoch (a mid-epoch checkpoint), resume: the same weights, GC memory and metrics."
    out = tmp_path/'mid'
    ends = {l['stage']: l['step'] for l in map(json.loads, (run_a[0]/'metrics.jsonl').read_text().splitlines()) if l['kind'] == 'epoch'}
    stop = ends['plain'] + 3                                          # 3 steps into the I2C branch's epoch
    r = cli(*TINY, '--out', out, '--stop-after-steps', stop)
    assert f'stopped after {stop} step(s)' in r.stdout
    ck = load_checkpoint(out/'checkpoint.pt')
    assert ck['stage'] == 'sc+gc' and 0 < ck['batch'] and ck['partial']['n'] == ck['batch']      # inside the I2C epoch
    cli(*TINY, '--out', out, '--resume')
    a, b = (json.loads((d/'report.json').read_text())['results'] for d in (run_a[0], out))
    assert a == b and untimed(out) == untimed(run_a[0])
    sa, sb = (load_checkpoint(d/'sc_gc.pt') for d in (run_a[0], out))
    for k in sa['model']: assert torch.equal(sa['model'][k], sb['model'][k]), k
    assert torch.equal(sa['objective']['memory.centers'], sb['objective']['memory.centers'])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator   # TensorBoard too: no gap, no repeat
    ta, tb = (EventAccumulator(str(d/'tensorboard')).Reload() for d in (run_a[0], out))
    for tag in ('sc+gc/loss/sc', 'plain/loss/cls', 'sc+gc/epoch_val/MaxBoxAcc'):
        assert [(e.step, e.value) for e in ta.Scalars(tag)] == [(e.step, e.value) for e in tb.Scalars(tag)], tag


def test_save_every_writes_mid_epoch_checkpoints(tmp_path):
    from i2c_nb.train import train
    out, seen = tmp_path/'s', []
    cfg = get_config('tiny', subset=200, warmup_epochs=1, epochs=1, methods=('plain',), images_per_class=2, progress=False,
                     save_every=4)
    import i2c_nb.train as T
    orig = T.save_checkpoint
    T.save_checkpoint = lambda state, path: (seen.append((state['stage'], state['step'], state['batch'])), orig(state, path))[1]
    try: train(cfg, out)
    finally: T.save_checkpoint = orig
    mids = [s for s in seen if s[2]]
    assert len(mids) >= 5 and all(step % 4 == 0 for _, step, _ in mids)    # every 4 optimiser steps, inside the epochs


def test_config_file_repeats_the_run(run_a, tmp_path):
    out = tmp_path/'again'
    cli('--config', run_a[0]/'report.json', '--out', out, '--no-progress', '--threads', '1')
    a, b = (json.loads((d/'report.json').read_text()) for d in (run_a[0], out))
    assert a['config'] == b['config'] and a['results'] == b['results']


def test_resume_refuses_other_settings(run_a, tmp_path):
    out = tmp_path/'c'
    cli(*TINY, '--out', out, '--stop-after', '1')
    r = cli(*TINY, '--out', out, '--resume', '--lambda1', '0.5', check=False)
    one_line_error(r, 'lambda1')


def test_nan_loss_stops_with_step_and_component(tmp_path):
    out = tmp_path/'nan'
    r = cli(*TINY, '--out', out, '--lambda1', '1e38', check=False)      # a legal setting whose product overflows float32
    one_line_error(r, 'non-finite loss at step', "stage 'sc+gc'", 'component sc (lambda1 * L_sc) = inf')
    ck = load_checkpoint(out/'checkpoint.pt')                       # the last good checkpoint (end of the plain branch)
    assert ck['stage'] == 'plain' and all(torch.isfinite(v).all() for v in ck['model'].values() if v.is_floating_point())


@pytest.mark.parametrize('args,msg', [(['--lambda1', 'nan'], '--lambda1 must be a finite number >= 0, got nan'),
                                      (['--delta', '1.5'], '--delta must be a number in (0, 1), got 1.5'),
                                      (['--alpha', '0'], '--alpha must be a number in (0, 1), got 0'),
                                      (['--k', '0'], '--k must be an integer >= 1'),
                                      (['--backbone', 'resnet18'], '--backbone must be one of'),
                                      (['--weights', 'IMAGENET1K_V1'], "backbone 'small' has no torchvision weights"),
                                      (['--init', 'nowhere.pt'], '--init nowhere.pt: no such checkpoint file'),
                                      (['--preset', 'cub-resnet50'], "preset 'cub-resnet50' trains on real data: give its folder with --data"),
                                      (['--preset', 'ilsvrc-vgg16'], "give its folder with --data"),
                                      (['--method', 'cutmix+sc'], "--method: 'cutmix+sc': CutMix does not combine with SC or GC"),
                                      (['--method', 'acol2'], "--method: unknown method 'acol2'"),
                                      (['--method', 'has', '--has-drop', '1'], '--has-drop must be a number in [0, 1)'),
                                      (['--method', 'cutmix', '--cutmix-beta', '0'], '--cutmix-beta must be a finite number > 0'),
                                      (['--method', 'adl', '--adl-gamma', '0'], '--adl-gamma must be a number in (0, 1]')])
def test_bad_settings_stop_before_anything(tmp_path, args, msg):
    t0 = time.time()
    r = cli(*TINY, *args, '--out', tmp_path/'run', check=False)
    one_line_error(r, msg)
    assert not (tmp_path/'run').exists() and time.time() - t0 < 60


def test_missing_data_fails_before_training(tmp_path):
    out = tmp_path/'run'
    r = cli(*TINY, '--out', out, '--data', tmp_path/'nowhere', check=False)
    one_line_error(r, 'does not exist')
    assert not out.exists()


def test_malformed_data_fails_before_training(tmp_path):
    root, out = tmp_path/'data', tmp_path/'run'
    for s in ('train', 'val', 'test'):
        (root/'metadata'/s).mkdir(parents=True)
        (root/'metadata'/s/'image_ids.txt').write_text('a.png\n')
        (root/'metadata'/s/'class_labels.txt').write_text('a.png,zero\n')
        (root/'metadata'/s/'image_sizes.txt').write_text('a.png,10,10\n')
        (root/'metadata'/s/'localization.txt').write_text('a.png,0,0,5,5\n')
    r = cli(*TINY, '--out', out, '--data', root, check=False)
    one_line_error(r, 'class_labels.txt line 1')
    assert not out.exists()


def test_checkpoint_is_atomic(tmp_path, monkeypatch):
    p = tmp_path/'ck.pt'
    save_checkpoint({'w': torch.ones(3)}, p)
    def boom(obj, f, *a, **k): f.write(b'partial'); raise KeyboardInterrupt('killed during the save')
    monkeypatch.setattr(torch, 'save', boom)
    with pytest.raises(KeyboardInterrupt): save_checkpoint({'w': torch.zeros(3)}, p)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(p)['w'], torch.ones(3))      # the old checkpoint is intact


def test_checkpoint_loads_with_weights_only(tmp_path):
    p = tmp_path/'evil.pt'
    torch.save({'cfg': get_config('tiny')}, p)                      # an arbitrary object: refused
    with pytest.raises(CheckpointError, match='evil.pt: not a readable checkpoint'): load_checkpoint(p)


def test_cams_writes_wsolevaluation_scoremaps(run_a, tmp_path):
    out = tmp_path/'cams'
    r = cli('--checkpoint', run_a[0]/'sc_gc.pt', '--split', 'test', '--out', out, '--device', 'cpu', cmd='i2c_cams')
    files = sorted(out.rglob('*.npy'))
    assert len(files) == 100 and 'wrote 100 score maps' in r.stdout
    m = np.load(files[0])
    assert m.shape == (224, 224) and m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1 and np.isfinite(m).all()


def test_test_command_reproduces_the_report(run_a, tmp_path):
    "i2c-test on the I2C branch's checkpoint gives the numbers the run reported for that branch (files vs memory: same pixels)."
    res = tmp_path/'t.json'
    r = cli('--checkpoint', run_a[0]/'sc_gc.pt', '--json', res, '--device', 'cpu', cmd='i2c_test')
    assert 'MaxBoxAcc' in r.stdout and 'sc+gc' in r.stdout
    got = json.loads(res.read_text())['results']['sc+gc']
    want = json.loads((run_a[0]/'report.json').read_text())['results']['sc+gc']
    for part in ('test', 'test_at_val', 'loc', 'val'): assert got[part] == want[part], part


@pytest.mark.parametrize('cmd', ['i2c_cams', 'i2c_test'])
def test_eval_commands_refuse_bad_checkpoints(tmp_path, cmd):
    (tmp_path/'corrupt.pt').write_bytes(b'not a checkpoint')
    torch.save({'w': torch.ones(1)}, tmp_path/'other.pt')
    extra = ['--out', tmp_path/'cams'] if cmd == 'i2c_cams' else []
    for name, msg in (('missing.pt', 'no such checkpoint file'), ('corrupt.pt', 'not a readable checkpoint'),
                      ('other.pt', 'not an i2c_nb training checkpoint')):
        one_line_error(cli('--checkpoint', tmp_path/name, *extra, cmd=cmd, check=False), name, msg)
    assert not (tmp_path/'cams').exists()


def test_test_command_under_torchrun(run_a, tmp_path):
    "i2c-test on 2 CPU processes (gloo), each evaluating its share: the numbers of one process."
    one, two = tmp_path/'one.json', tmp_path/'two.json'
    cli('--checkpoint', run_a[0]/'sc_gc.pt', '--json', one, '--device', 'cpu', cmd='i2c_test')
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29541', '--no-python',
                        'i2c-test', '--checkpoint', str(run_a[0]/'sc_gc.pt'), '--json', str(two), '--device', 'cpu'],
                       capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    a, b = (json.loads(p.read_text()) for p in (one, two))
    assert b['world_size'] == 2 and a['results'] == b['results']


def test_baselines_in_the_loop(tmp_path):
    "HaS, CutMix and ADL branches from the same warm-up (and HaS with SC+GC), stopped inside the CutMix epoch and resumed exactly."
    from i2c_nb.train import train, StopAfterSteps
    kw = dict(subset=200, warmup_epochs=1, epochs=1, images_per_class=2, progress=False, methods=('has', 'cutmix', 'has+sc+gc', 'adl'))
    full = train(get_config('tiny', **kw), tmp_path/'full')
    assert list(full['results']) == ['warmup', 'has', 'cutmix', 'has+sc+gc', 'adl']
    assert sorted(os.listdir(tmp_path/'full')) == ['adl.pt', 'checkpoint.pt', 'cutmix.pt', 'has.pt', 'has_sc_gc.pt', 'metrics.jsonl',
                                                  'report.json', 'results.png', 'warmup.pt']
    assert list(load_checkpoint(tmp_path/'full'/'adl.pt')['model']) == list(load_checkpoint(tmp_path/'full'/'has.pt')['model'])
    ep = {l['stage']: l for l in map(json.loads, (tmp_path/'full'/'metrics.jsonl').read_text().splitlines()) if l['kind'] == 'epoch'}
    assert ep['has+sc+gc']['sc'] > 0 and ep['has']['sc'] == 0 and ep['cutmix']['sc'] == 0
    assert len({ep[m]['cls'] for m in ('has', 'cutmix', 'adl')}) == 3        # the branches trained differently
    assert train(get_config('tiny', **kw), tmp_path/'mid', cbs=[StopAfterSteps(ep['has']['step'] + 4)]) is None
    again = train(get_config('tiny', **kw), tmp_path/'mid', resume=True)
    assert again['results'] == full['results']


def test_acol_spg_in_the_loop(tmp_path):
    "ACoL and SPG (networks with new layers) as branches of one warm-up: their own losses logged, their checkpoints rebuilt for evaluation, a resume inside the SPG epoch exact."
    from i2c_nb.train import train, model_from_checkpoint, StopAfterSteps
    from i2c_nb.heads import ACoLNet, SPGNet
    kw = dict(subset=200, warmup_epochs=1, epochs=1, images_per_class=2, progress=False, methods=('acol', 'spg', 'acol+sc+gc'))
    full = train(get_config('tiny', **kw), tmp_path/'full')
    assert list(full['results']) == ['warmup', 'acol', 'spg', 'acol+sc+gc']
    ep = {l['stage']: l for l in map(json.loads, (tmp_path/'full'/'metrics.jsonl').read_text().splitlines()) if l['kind'] == 'epoch'}
    assert ep['warmup']['aux'] == 0 and ep['acol']['aux'] > 0 and ep['spg']['aux'] > 0
    assert ep['acol+sc+gc']['sc'] > 0 and ep['acol']['sc'] == 0
    warm, acol = (load_checkpoint(tmp_path/'full'/f)['model'] for f in ('warmup.pt', 'acol.pt'))
    assert set(acol) - set(warm) == {k.replace('head.', 'head_b.', 1) for k in warm if k.startswith('head.')}
    spg = load_checkpoint(tmp_path/'full'/'spg.pt')
    assert any(k.startswith('spg_') for k in spg['model'])
    assert isinstance(model_from_checkpoint(spg), SPGNet)
    assert isinstance(model_from_checkpoint(load_checkpoint(tmp_path/'full'/'acol_sc_gc.pt')), ACoLNet)
    for m in ('acol', 'spg'):
        assert 0 < full['results'][m]['test_at_val']['MaxBoxAcc'] <= 100
    assert train(get_config('tiny', **kw), tmp_path/'mid', cbs=[StopAfterSteps(ep['acol']['step'] + 3)]) is None
    again = train(get_config('tiny', **kw), tmp_path/'mid', resume=True)
    assert again['results'] == full['results']


def test_gradcam_methods_on_the_tiny_model(run_a):
    "Two pytorch-grad-cam methods on the trained tiny model through the exact evaluator: boxes, PxAP, test at val's thresholds."
    from i2c_nb.cli import checkpoint_data
    from i2c_nb.train import model_from_checkpoint
    from i2c_nb.gradcam import evaluate_gradcam
    ck = load_checkpoint(run_a[0]/'sc_gc.pt')
    cfg, data = checkpoint_data(ck, device='cpu', progress=False)
    model = model_from_checkpoint(ck)
    res = {}
    for m in ('gradcam', 'layercam'):
        r = evaluate_gradcam(model, (data.eval_batches('val'), data.splits['val']), (data.eval_batches('test'), data.splits['test']), m)
        assert r['test']['n_images'] == 100 and r['val']['n_images'] == 100
        assert 0 < r['test']['MaxBoxAcc'] <= 100 and 0 < r['test']['PxAP'] <= 100 and 0 <= r['test_at_val']['MaxBoxAcc'] <= 100
        res[m] = r
    assert res['gradcam']['test']['V1'] != res['layercam']['test']['V1']       # two methods, two sets of maps
    data.close()


def test_cams_command_with_gradcam(run_a, tmp_path):
    "`i2c-cams --cam`: the files hold exactly the adapter's score maps of the ground-truth class; bad options are one line."
    from i2c_nb.cli import checkpoint_data
    from i2c_nb.train import model_from_checkpoint
    from i2c_nb.gradcam import gradcam_maps
    out = tmp_path/'gc'
    r = cli('--checkpoint', run_a[0]/'sc_gc.pt', '--split', 'test', '--out', out, '--device', 'cpu', '--cam', 'gradcam++', cmd='i2c_cams')
    assert 'wrote 100 score maps' in r.stdout
    ck = load_checkpoint(run_a[0]/'sc_gc.pt')
    cfg, data = checkpoint_data(ck, device='cpu', progress=False)
    x, y, idx = next(iter(data.eval_batches('test')))
    ref = gradcam_maps(model_from_checkpoint(ck), x[:4], y[:4], 'gradcam++')
    for i, m in zip(idx[:4], ref):
        assert np.allclose(np.load(out/(data.splits['test'].image_ids[i] + '.npy')), m, atol=1e-5)
    data.close()
    one_line_error(cli('--checkpoint', run_a[0]/'sc_gc.pt', '--out', tmp_path/'x', '--target-layer', 'backbone', cmd='i2c_cams', check=False),
                   '--target-layer needs --cam')
    one_line_error(cli('--checkpoint', run_a[0]/'sc_gc.pt', '--out', tmp_path/'y', '--cam', 'gradcam', '--target-layer', 'nope',
                       cmd='i2c_cams', check=False), '--target-layer nope: no such module')
