"`i2c-compare` end to end on a small config: the search on two seeds, the choice on their mean val score, the other seeds, a main seed, runs from scratch, the read-back, provenance, bad input."
import json
from functools import partial
import pytest
from conftest import cli, one_line_error

SMALL = dict(preset='tiny', subset=100, warmup_epochs=1, epochs=1, images_per_class=2, progress=False)


compare = partial(cli, cmd='i2c-compare', check=False)


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp('compare')
    (d/'small.json').write_text(json.dumps(SMALL))
    args = ['--config', d/'small.json', '--seeds', '0-2', '--main-seeds', '3', '--methods', 'plain,has', '--scratch', 'has',
            '--out', d/'methods.json', '--runs', d/'runs']
    r = compare(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    return d, args, r


def test_search_choice_and_seeds(small):
    d, _, r = small
    res = json.loads((d/'methods.json').read_text())
    assert res['format'] == 'i2c_nb.compare/1' and res['complete'] and res['seeds'] == [0, 1, 2]
    assert res['search_seeds'] == [0, 1] and res['main_seeds'] == [0, 1, 2, 3] and res['main_methods'] == ['plain']
    lrs = ['', '_lr=0.003', '_lr=0.000333333']
    for s in (0, 1):                                          # every trial on both search seeds: 3 for CAM, 6 for HaS
        tags = sorted(x['tag'] for x in res['runs'] if x['seed'] == s and not x['scratch'])
        assert tags == sorted(['plain' + l for l in lrs] + ['has' + l for l in lrs] + ['has_has_drop=0.25' + l for l in lrs])
    for m in ('plain', 'has'):                                # the chosen trial has the best mean val score over seeds 0 and 1
        mean = {}
        for x in res['runs']:
            if x['method'] == m and x['seed'] in (0, 1) and not x['scratch']:
                mean.setdefault(json.dumps(x['overrides'], sort_keys=True), []).append(x['results']['val']['MaxBoxAcc'])
        best = max(mean, key=lambda k: sum(mean[k]) / 2)
        assert json.loads(best) == res['chosen'][m] and all(len(v) == 2 for v in mean.values())
    def branches(s): return sorted((x['method'], json.dumps(x['overrides'], sort_keys=True)) for x in res['runs']
                                   if x['seed'] == s and not x['scratch'] and not (x['warmup'] and res['chosen']['plain']))
    assert branches(2) == sorted((m, json.dumps(o, sort_keys=True)) for m, o in res['chosen'].items())
    assert branches(3) == [('plain', json.dumps(res['chosen']['plain'], sort_keys=True))]   # a main seed: CAM only
    scratch = [x for x in res['runs'] if x['scratch']]
    assert sorted(x['seed'] for x in scratch) == [0, 1, 2] and {x['tag'] for x in scratch} == {'has_scratch'}
    for x in scratch:                                         # HaS in both stages, from no checkpoint
        assert x['config']['warmup_method'] == 'has' and x['config']['init'] is None and x['init_sha256'] is None
        assert [e['stage'] for e in x['epochs']] == ['warmup', 'has']
    warm = {x['seed']: x['warmup_sha256'] for x in res['runs'] if x['warmup']}
    for x in res['runs']:
        assert 0 <= x['results']['test']['PxAP'] <= 100 and x['config']['seed'] == x['seed'] and x['threads'] == 1
        assert x['code']['source'] == res['machine']['code']['source'] and x['device'] == 'cpu' and x['dtype']
        if not x['warmup'] and not x['scratch']: assert x['init_sha256'] == warm[x['seed']]   # the warm-up it started from
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


def _edit(d, tmp_path, path, change):
    "A copy of the runs folder with one record changed."
    import shutil
    shutil.copytree(d/'runs', tmp_path/'runs')
    p = tmp_path/'runs'/path/'record.json'
    rec = json.loads(p.read_text()); change(rec); p.write_text(json.dumps(rec))


@pytest.mark.parametrize('path, change, allowed, msg', [
    ('seed1/has', lambda r: r['code'].update(source='0' * 64), True, 'made by other code (source 000000000000'),
    ('seed1/has', lambda r: r.update(threads=2), True, 'made with 2 thread(s), this command runs 1'),
    ('seed1/has', lambda r: r.update(init_sha256='f' * 64), False, 'started from another warm-up'),
])
def test_provenance_refused(small, tmp_path, path, change, allowed, msg):
    "A record of other code, another thread count or another warm-up is refused before anything runs; --allow-mixed reads the first two back."
    d, args, _ = small
    _edit(d, tmp_path, path, change)
    a = list(args)
    a[a.index('--runs') + 1], a[a.index('--out') + 1] = tmp_path/'runs', tmp_path/'o.json'
    one_line_error(compare(*a), path.replace('/', __import__('os').sep), msg)
    assert not (tmp_path/'o.json').exists()
    r = compare(*a, '--allow-mixed')
    if allowed: assert r.returncode == 0 and r.stdout.count('read back') == len(json.loads((d/'methods.json').read_text())['runs']), r.stderr
    else: one_line_error(r, msg)


@pytest.mark.parametrize('extra,msg', [(['--methods', 'plain,acl'], '--methods plain,acl'), (['--seeds', '0,0'], 'distinct seeds'),
                                       (['--jobs', '0'], '--jobs and --threads'), (['--scratch', 'acol'], '--scratch acol'),
                                       (['--size', '4'], '--size 4'), (['--seeds', '0-x'], 'expected integers')])
def test_bad_input(small, tmp_path, extra, msg):
    d, _, _ = small
    r = compare('--config', d/'small.json', '--out', tmp_path/'o.json', '--runs', tmp_path/'runs', *extra)
    assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'o.json').exists() and not (tmp_path/'runs').exists()


def test_other_settings_refused(small, tmp_path):
    d, _, _ = small
    (tmp_path/'other.json').write_text(json.dumps(dict(SMALL, lambda1=0.05)))
    r = compare('--config', tmp_path/'other.json', '--seeds', '0,1', '--methods', 'plain,sc+gc', '--out', tmp_path/'o.json',
                '--runs', d/'runs')
    assert r.returncode == 2 and 'made with other settings' in r.stderr
