"`i2c-compare` end to end on a small config: the search on the first seed, the choice on val, the other seeds, the read-back, bad input."
import json
from functools import partial
import pytest
from conftest import cli

SMALL = dict(preset='tiny', subset=100, warmup_epochs=1, epochs=1, images_per_class=2, progress=False)


compare = partial(cli, cmd='i2c-compare', check=False)


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp('compare')
    (d/'small.json').write_text(json.dumps(SMALL))
    args = ['--config', d/'small.json', '--seeds', '0,1', '--methods', 'plain,acol,sc+gc', '--out', d/'methods.json', '--runs', d/'runs']
    r = compare(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    return d, args, r


def test_search_choice_and_seeds(small):
    d, _, r = small
    res = json.loads((d/'methods.json').read_text())
    assert res['format'] == 'i2c_nb.compare/1' and res['complete'] and res['seeds'] == [0, 1]
    s0 = {x['tag']: x for x in res['runs'] if x['seed'] == 0}
    assert sorted(s0) == sorted(['plain', 'plain_lr=0.003', 'plain_lr=0.000333333', 'acol', 'acol_lr=0.003', 'acol_acol_delta=0.5',
                                 'sc+gc', 'sc+gc_lr=0.003', 'sc+gc_lambda1=0.02'])
    for m in ('plain', 'acol', 'sc+gc'):                     # the chosen setting is the best on val, whatever test says
        trials = [x for x in s0.values() if x['method'] == m]
        best = max(trials, key=lambda x: x['results']['val']['MaxBoxAcc'])
        assert res['chosen'][m] == best['overrides']
        assert all(x['results']['val']['MaxBoxAcc'] <= best['results']['val']['MaxBoxAcc'] for x in trials)
    s1 = [x for x in res['runs'] if x['seed'] == 1]
    assert sorted((x['method'], json.dumps(x['overrides'], sort_keys=True)) for x in s1 if not (x['warmup'] and res['chosen']['plain'])) == \
        sorted((m, json.dumps(o, sort_keys=True)) for m, o in res['chosen'].items())
    for x in res['runs']:
        assert 0 <= x['results']['test']['PxAP'] <= 100 and x['config']['seed'] == x['seed']
    assert 'chosen on val' in r.stdout


def test_rerun_reads_back(small):
    d, args, _ = small
    before = json.loads((d/'methods.json').read_text())
    r = compare(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    after = json.loads((d/'methods.json').read_text())
    assert after['chosen'] == before['chosen'] and 'read back' in r.stdout and 's so far' in r.stdout
    strip = lambda res: sorted((x['seed'], x['tag'], x['results']['test']['MaxBoxAcc']) for x in res['runs'])
    assert strip(after) == strip(before)


@pytest.mark.parametrize('extra,msg', [(['--methods', 'plain,acl'], '--methods plain,acl'), (['--seeds', '0,0'], 'distinct seeds'),
                                       (['--jobs', '0'], '--jobs and --threads')])
def test_bad_input(small, tmp_path, extra, msg):
    d, _, _ = small
    r = compare('--config', d/'small.json', '--out', tmp_path/'o.json', '--runs', tmp_path/'runs', *extra)
    assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'o.json').exists() and not (tmp_path/'runs').exists()


def test_other_settings_refused(small, tmp_path):
    d, _, _ = small
    (tmp_path/'other.json').write_text(json.dumps(dict(SMALL, lambda1=0.05)))
    r = compare('--config', tmp_path/'other.json', '--seeds', '0,1', '--methods', 'plain,acol,sc+gc', '--out', tmp_path/'o.json',
                '--runs', d/'runs')
    assert r.returncode == 2 and 'made with other settings' in r.stderr
