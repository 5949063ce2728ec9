"""`bench/gpu_checks.sh --dry-run`: the GPU machine's one script, run on the CPU at toy sizes under that machine's
constraints (no console scripts on PATH; fastprogress, ipywidgets, nbdev, tensorboard not importable; the package from
PYTHONPATH), so that it cannot rot before a GPU runs it. Every step passes, the summary says so, and what it leaves in
OUT is what the GPU machine sends back (at most 8 small files, two folders down)."""
import importlib.util, json, os, subprocess, sys
from pathlib import Path
from conftest import REPO


def gpu_checks():
    spec = importlib.util.spec_from_file_location('gpu_checks', REPO/'bench'/'gpu_checks.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m


def test_dry_run_passes_under_the_gpu_machines_constraints(tmp_path):
    out, scratch = tmp_path/'out', tmp_path/'scratch'
    env = dict(os.environ, OUT=str(out), SCRATCH=str(scratch), PYTHON=sys.executable)
    r = subprocess.run(['bash', 'bench/gpu_checks.sh', '--dry-run'], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    print(r.stdout[-3000:], r.stderr[-2000:])
    assert r.returncode == 0, r.stdout[-3000:]
    s = json.loads((out/'summary.json').read_text())
    assert s['overall'] == 'ok' and s['dry_run'] is True and s['out_problems'] == []
    assert list(s['steps']) == ['env', 'speed', 'preset', 'bf16', 'ddp', 'cells']
    assert all(v['status'] == 'ok' and v['seconds'] <= v['timeout_s'] for v in s['steps'].values())
    f = {k: v['figures'] for k, v in s['steps'].items()}
    assert {'fastprogress', 'ipywidgets', 'nbdev'} <= set(f['env']['absent']) and f['env']['console_scripts_on_path'] is False
    assert f['speed']['cases'].keys() == {'fp32 eager, plain', 'fp32 eager, sc+gc', 'optimised, plain', 'optimised, sc+gc'}
    assert f['preset']['test_vs_run_max_diff'] <= 1e-6 and f['bf16']['max_diff'] <= 1.5
    assert f['ddp']['ranks_in_sync'] is True and f['ddp']['two_vs_one_max_diff'] <= 1e-6 and f['ddp']['run_vs_one_max_diff'] <= 1e-6
    assert sorted(p.name for p in out.iterdir()) == sorted(['summary.json', 'scoremaps.png'] + [f'{k}.log' for k in s['steps']])
    assert 'overall: ok' in r.stdout


def test_out_problems_names_what_would_not_come_back(tmp_path):
    m = gpu_checks()
    for i in range(8): (tmp_path/f'f{i}.txt').write_text('x')
    assert m.out_problems(tmp_path) == []
    (tmp_path/'a'/'b'/'c').mkdir(parents=True); (tmp_path/'a'/'b'/'c'/'deep.txt').write_text('x')
    (tmp_path/'bad name.txt').write_text('x')
    (tmp_path/'big.bin').write_bytes(b'\0' * (16 * 2**20 + 1))
    got = m.out_problems(tmp_path)
    assert got[0] == '11 files (at most 8 come back)'
    assert any('deep.txt: more than two folders down' in g for g in got) and any(g.startswith('bad name.txt: a name') for g in got)
    assert any(g.startswith('big.bin: 16.0 MiB') for g in got)


def test_metric_diffs_compare_nested_numbers():
    m = gpu_checks()
    a = dict(test=dict(top1=50., MaxBoxAcc=40.), loc={'Top-1 Loc': 10., 'chosen_on': 'val'}, n=3)
    b = dict(test=dict(top1=50.5, MaxBoxAcc=40.), loc={'Top-1 Loc': 9., 'chosen_on': 'val'}, n=3)
    assert m.metric_diffs(a, b) == {'test/top1': 0.5, 'test/MaxBoxAcc': 0., 'loc/Top-1 Loc': 1., 'n': 0.}


def test_summary_fails_on_a_timed_out_or_missing_step(tmp_path):
    m = gpu_checks()
    scratch, out = tmp_path/'s', tmp_path/'o'; scratch.mkdir(); out.mkdir()
    rows = [('env', 0, 3), ('speed', 124, 150), ('preset', 0, 20), ('bf16', 1, 5), ('ddp', 0, 30)]     # no 'cells'
    (scratch/'steps.tsv').write_text(''.join(f'{n}\t{rc}\t{s}\t200\n' for n, rc, s in rows))
    (scratch/'env.json').write_text('{"gpu": "x"}')
    s = m.step_summary(scratch, out, dry=True)
    assert s['overall'] == 'FAILED' and s['seconds'] == 208
    assert [v['status'] for v in s['steps'].values()] == ['ok', 'timed out', 'ok', 'failed (exit 1)', 'ok']
    assert s['steps']['env']['figures'] == {'gpu': 'x'} and json.loads((out/'summary.json').read_text()) == s
