"""i2c-train / i2c-cams end to end on a tiny config (200 train images, a few steps): the files a run writes, exact resume,
the NaN guard, bad data failing before training, atomic checkpoints read with weights_only=True, and score maps."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from i2c_nb.train import save_checkpoint, load_checkpoint, get_config, TrainConfig

TINY = ['--preset', 'tiny', '--subset', '200', '--warmup-epochs', '1', '--epochs', '1', '--images-per-class', '2',
        '--no-progress', '--threads', '1']
ENV = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONUNBUFFERED='1')


def cli(*args, cmd='i2c_train', check=True):
    "Run an entry point (`i2c_train` is also `python -m i2c_nb.train`) in a fresh process."
    head = ['-m', 'i2c_nb.train'] if cmd == 'i2c_train' else ['-c', f'import sys; from i2c_nb.train import {cmd}; {cmd}(sys.argv[1:])']
    r = subprocess.run([sys.executable, *head, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=300)
    if check and r.returncode: raise AssertionError(f"exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


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
    assert rep['data']['train']['images'] == 200 and rep['threshold']
    assert 'stage' in r.stdout and 'Cls top-1' in r.stdout            # the summary table
    kinds = [json.loads(l)['kind'] for l in (out/'metrics.jsonl').read_text().splitlines()]
    assert kinds[0] == 'config' and kinds.count('epoch') == 3


def test_checkpoint_holds_the_training_state(run_a):
    ck = load_checkpoint(run_a[0]/'checkpoint.pt')
    for k in ('model', 'optimizer', 'scheduler', 'objective', 'sampler', 'rng', 'epoch', 'step', 'config'):
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


def test_resume_refuses_other_settings(run_a, tmp_path):
    out = tmp_path/'c'
    cli(*TINY, '--out', out, '--stop-after', '1')
    r = cli(*TINY, '--out', out, '--resume', '--lambda1', '0.5', check=False)
    assert r.returncode != 0 and 'lambda1' in r.stderr


def test_nan_loss_stops_with_step_and_component(tmp_path):
    out = tmp_path/'nan'
    r = cli(*TINY, '--out', out, '--lambda1', 'nan', check=False)
    assert r.returncode == 2
    assert 'non-finite loss at step' in r.stderr and "stage 'sc+gc'" in r.stderr and 'component sc (lambda1 * L_sc) = nan' in r.stderr
    ck = load_checkpoint(out/'checkpoint.pt')                       # the last good checkpoint (end of the plain branch)
    assert ck['stage'] == 'plain' and all(torch.isfinite(v).all() for v in ck['model'].values() if v.is_floating_point())


def test_missing_data_fails_before_training(tmp_path):
    out = tmp_path/'run'
    r = cli(*TINY, '--out', out, '--data', tmp_path/'nowhere', check=False)
    assert r.returncode == 2 and 'does not exist' in r.stderr and not out.exists()


def test_malformed_data_fails_before_training(tmp_path):
    root, out = tmp_path/'data', tmp_path/'run'
    for s in ('train', 'val', 'test'):
        (root/'metadata'/s).mkdir(parents=True)
        (root/'metadata'/s/'image_ids.txt').write_text('a.png\n')
        (root/'metadata'/s/'class_labels.txt').write_text('a.png,zero\n')
        (root/'metadata'/s/'image_sizes.txt').write_text('a.png,10,10\n')
        (root/'metadata'/s/'localization.txt').write_text('a.png,0,0,5,5\n')
    r = cli(*TINY, '--out', out, '--data', root, check=False)
    assert r.returncode == 2 and 'class_labels.txt' in r.stderr and not out.exists()


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
    with pytest.raises(Exception): load_checkpoint(p)


def test_cams_writes_wsolevaluation_scoremaps(run_a, tmp_path):
    out = tmp_path/'cams'
    r = cli('--checkpoint', run_a[0]/'sc_gc.pt', '--split', 'test', '--out', out, '--device', 'cpu', cmd='i2c_cams')
    files = sorted(out.rglob('*.npy'))
    assert len(files) == 100 and 'wrote 100 score maps' in r.stdout
    m = np.load(files[0])
    assert m.shape == (224, 224) and m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1 and np.isfinite(m).all()
