"`i2c-ablate` end to end on a small config: the runs, the results file, resuming, and bad input."
import json, os, subprocess, sys
from functools import partial
import pytest
from conftest import ENV, cli, one_line_error

# the paper's kind of schedule: lr x0.1 after run epochs 1 and 2 (one drop during the warm-up, one inside the branches)
SMALL = dict(preset='tiny', subset=200, warmup_epochs=1, epochs=2, images_per_class=2, progress=False, schedule='step',
             milestones=[1, 2], lr=1e-3)


ablate = partial(cli, cmd='i2c-ablate', check=False)


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp('ablate')
    (d/'small.json').write_text(json.dumps(SMALL))
    args = ['--config', d/'small.json', '--seeds', '0', '--sens-seeds', '0', '--methods', 'plain,sc+gc', '--grid', 'k=3,8',
            '--out', d/'out'/'ablations.json', '--runs', d/'runs', '--jobs', '2']
    r = ablate(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    return d, args, r


def test_results_file(small):
    d, _, r = small
    ab = json.loads((d/'out'/'ablations.json').read_text())
    assert ab['format'] == 'i2c_nb.ablate/1' and ab['complete'] and ab['command'].startswith('i2c-ablate --config')
    assert sorted((x['seed'], x['tag']) for x in ab['runs']) == [(0, 'plain'), (0, 'sc+gc'), (0, 'sc+gc_k=8')]
    assert ab['grid'] == {'k': [3, 8]} and ab['seeds'] == [0] and ab['machine']['jobs'] == 2
    for x in ab['runs']:
        assert x['config']['seed'] == 0 and x['config']['subset'] == 200 and x['time_s'] > 0
        assert x['config']['k'] == (8 if x['tag'] == 'sc+gc_k=8' else 3)
        # the size study's boxes over all images are exactly the run's test MaxBoxAcc at the val threshold
        assert x['sizes']['all']['BoxAcc'] == pytest.approx(x['results']['test_at_val']['MaxBoxAcc'], abs=1e-9)
        assert sum(t['n'] for t in x['sizes']['thirds']) == 100
        assert [e['stage'] for e in x['epochs']] == (['warmup', 'plain', 'plain'] if x['warmup'] else [x['method']] * 2)
    sc = next(x for x in ab['runs'] if x['tag'] == 'sc+gc')
    assert sc['config']['milestones'] == [1] and sc['config']['lr'] == pytest.approx(1e-4)   # the run's schedule, from the branch's start
    assert sc['epochs'][0]['sc'] > 0 and sc['config']['init'].endswith(os.path.join('seed0', 'plain', 'warmup.pt'))
    assert r.stdout.count('[') >= 3 and '3/3' in r.stdout
    warm = next(x for x in ab['runs'] if x['warmup'])
    assert len(warm['warmup_sha256']) == 64 and warm['init_sha256'] is None
    for x in ab['runs']:                                      # provenance: code, threads, device, dtype path, the warm-up it started from
        assert x['code']['source'] == ab['machine']['code']['source'] and len(x['code']['source']) == 64
        assert x['threads'] == 1 and x['device'] == 'cpu' and x['dtype'].startswith(('bf16', 'float32'))
        if not x['warmup']: assert x['init_sha256'] == warm['warmup_sha256']


def test_branch_from_warmup_equals_branch_in_one_run(small, tmp_path):
    "A branch task (init = the seed's warm-up) gives the metrics of the same branch trained inside one i2c-train run."
    d, _, _ = small
    ab = json.loads((d/'out'/'ablations.json').read_text())
    cfg = dict(SMALL, methods=['plain', 'sc+gc'])
    (tmp_path/'c.json').write_text(json.dumps(cfg))
    r = subprocess.run([sys.executable, '-m', 'i2c_nb.cli', '--config', tmp_path/'c.json', '--out', tmp_path/'one'],
                       capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    one = json.loads((tmp_path/'one'/'report.json').read_text())['results']
    for x in ab['runs']:
        if x['tag'] in ('plain', 'sc+gc'):
            assert x['results']['test'] == one[x['tag']]['test']
            assert x['results']['test_at_val'] == one[x['tag']]['test_at_val']


def test_rerun_reads_back(small):
    d, args, _ = small
    before = json.loads((d/'out'/'ablations.json').read_text())
    r = ablate(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('read back') == 3
    after = json.loads((d/'out'/'ablations.json').read_text())
    strip = lambda ab: sorted((json.dumps({k: v for k, v in x.items() if k != 'reused'}, sort_keys=True) for x in ab['runs']))
    assert strip(after) == strip(before)


@pytest.mark.parametrize('extra, message', [
    (['--grid', 'width=8'], "--grid width=8: the grid changes one of"),
    (['--grid', 'lambda1=-1'], "--lambda1 must be a finite number >= 0"),
    (['--grid', 'k=two'], "--grid k=two: k takes int values"),
    (['--methods', 'plain,nonsense'], "--methods plain,nonsense: choose from"),
    (['--jobs', '0'], "--jobs and --threads must be >= 1"),
    (['--grid', 'lambda2=0.0010000001,0.001'], "values that agree to 6 digits name the same run"),
    (['--seeds', ''], "--seeds: at least one seed"),
])
def test_bad_input(tmp_path, extra, message):
    r = ablate('--out', tmp_path/'o'/'a.json', '--runs', tmp_path/'runs', *extra)
    assert r.returncode == 2 and r.stderr.startswith('i2c-ablate: ') and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path/'o').exists() and not (tmp_path/'runs').exists()


def test_config_with_init_refused(tmp_path):
    (tmp_path/'ck.pt').write_bytes(b'x')
    (tmp_path/'c.json').write_text(json.dumps(dict(SMALL, init=str(tmp_path/'ck.pt'))))
    r = ablate('--config', tmp_path/'c.json', '--out', tmp_path/'a.json', '--runs', tmp_path/'runs')
    assert r.returncode == 2 and "a config with 'init' cannot be used" in r.stderr, r.stderr
    assert not (tmp_path/'a.json').exists()


def test_out_is_a_folder_and_no_warmup(tmp_path):
    (tmp_path/'o').mkdir()
    r = ablate('--out', tmp_path/'o', '--runs', tmp_path/'runs')
    assert r.returncode == 2 and '--out' in r.stderr and 'a folder' in r.stderr, r.stderr
    (tmp_path/'c.json').write_text(json.dumps(dict(SMALL, warmup_epochs=0)))
    r = ablate('--config', tmp_path/'c.json', '--out', tmp_path/'a.json', '--runs', tmp_path/'runs')
    assert r.returncode == 2 and 'warmup_epochs must be >= 1' in r.stderr, r.stderr
    assert not (tmp_path/'a.json').exists() and not (tmp_path/'runs').exists()


def test_other_settings_refused(small, tmp_path):
    "A runs folder made with other settings is refused with one line, not silently reused or retrained."
    d, args, _ = small
    (tmp_path/'c.json').write_text(json.dumps(dict(SMALL, lambda1=0.02)))
    a = [x if x != d/'small.json' else tmp_path/'c.json' for x in args]
    a[a.index('--out') + 1] = tmp_path/'o.json'
    r = ablate(*a)
    assert r.returncode == 2 and 'made with other settings' in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_older_record_refused(small, tmp_path):
    "A record made before the final evaluation read the masks (no PxAP) is refused with one line, before anything runs."
    d, args, _ = small
    rec = json.loads((d/'runs'/'seed0'/'sc+gc'/'record.json').read_text())
    del rec['results']['test']['PxAP']
    (tmp_path/'runs'/'seed0'/'sc+gc').mkdir(parents=True)
    (tmp_path/'runs'/'seed0'/'sc+gc'/'record.json').write_text(json.dumps(rec))
    a = list(args)
    a[a.index('--runs') + 1], a[a.index('--out') + 1] = tmp_path/'runs', tmp_path/'o.json'
    one_line_error(ablate(*a), os.path.join('seed0', 'sc+gc') + ': made by an older version (no PxAP); remove it or use another --runs')
    assert not (tmp_path/'o.json').exists() and not (tmp_path/'runs'/'seed0'/'plain').exists()


def test_size_upsamples(tmp_path):
    "--size (the paper's Table 3): every run of the command sees the benchmark at that resolution, the shift scaled with it."
    (tmp_path/'c.json').write_text(json.dumps(dict(SMALL, warmup_epochs=1, epochs=1)))
    r = ablate('--config', tmp_path/'c.json', '--size', '96', '--seeds', '0', '--no-grid', '--methods', 'plain,sc+gc',
               '--out', tmp_path/'a.json', '--runs', tmp_path/'runs')
    assert r.returncode == 0, r.stderr[-3000:]
    ab = json.loads((tmp_path/'a.json').read_text())
    assert ab['base_config']['crop'] == ab['base_config']['resize'] == 96 and ab['base_config']['shift'] == 6
    assert ab['command'].split()[3:5] == ['--size', '96']
    assert {(x['config']['crop'], x['config']['shift']) for x in ab['runs']} == {(96, 6)} and len(ab['runs']) == 2
