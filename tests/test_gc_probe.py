"bench/gc_probe.py on a small config: the probe measures the terms the step trains with, every λ2 gives a record, a rerun reads them back."
import json, subprocess, sys
from pathlib import Path
import pytest
from conftest import ENV, cli

ROOT = Path(__file__).resolve().parent.parent
SMALL = dict(preset='tiny', subset=100, warmup_epochs=1, epochs=1, images_per_class=2, progress=False)


def probe(*args):
    return subprocess.run([sys.executable, str(ROOT/'bench'/'gc_probe.py'), *map(str, args)], capture_output=True, text=True, env=ENV, timeout=900)


@pytest.fixture(scope='module')
def probed(tmp_path_factory):
    d = tmp_path_factory.mktemp('gc_probe')
    (d/'small.json').write_text(json.dumps(SMALL))
    r = cli('--config', d/'small.json', '--seeds', '0', '--no-grid', '--methods', 'plain', '--out', d/'a.json', '--runs', d/'runs',
            cmd='i2c-ablate', check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    args = ['--config', d/'small.json', '--runs', d/'runs', '--seeds', '0', '--lambda2', '0,0.01,1', '--every', '3',
            '--work', d/'work', '--out', d/'p.json']
    r = probe(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    return d, args, r


def test_records(probed):
    d, _, r = probed
    res = json.loads((d/'p.json').read_text())
    assert res['lambda2'] == [0, 0.01, 1] and len(res['runs']) == 3 and len(res['code']['source']) == 64
    for x in res['runs']:
        assert x['method'] == ('sc' if x['lambda2'] == 0 else 'sc+gc') and x['threads'] == 1 and x['init_sha256']
        assert len(x['probe']) >= 3 and all(row['step'] % 3 == 0 for row in x['probe'])
        for row in x['probe']:
            assert row['g_cls'] > 0 and row['g_sc'] > 0 and 0 <= row['within'] and row['between'] > 0
            if x['lambda2']:
                assert row['g_gc'] > 0 and -1 <= row['cos_sc_gc'] <= 1 and 0 < row['eta'] <= 1 and row['lag'] > 0
            else: assert 'g_gc' not in row and 'eta' not in row
        assert 0 <= x['test']['MaxBoxAcc'] <= 100
    one, hundred = (next(x for x in res['runs'] if x['lambda2'] == l) for l in (0.01, 1))
    # the same batches and seeds, the weights equal at the first measured step: GC's gradient scales with λ2 there
    assert hundred['probe'][0]['g_gc'] == pytest.approx(100 * one['probe'][0]['g_gc'], rel=1e-3)
    assert 'lambda2' in r.stdout and 'within/between' in r.stdout


def test_rerun_reads_back(probed):
    d, args, _ = probed
    before = json.loads((d/'p.json').read_text())
    r = probe(*args)
    assert r.returncode == 0 and r.stdout.count('read back') == 3, r.stderr
    assert json.loads((d/'p.json').read_text())['runs'] == before['runs']


def test_no_warmup(tmp_path):
    r = probe('--runs', tmp_path/'none', '--seeds', '0', '--out', tmp_path/'p.json')
    assert r.returncode == 2 and r.stderr.startswith('gc_probe: no warm-up') and 'Traceback' not in r.stderr and not (tmp_path/'p.json').exists()
