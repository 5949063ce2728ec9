"""A run folder defends itself, through `i2c-train` in fresh processes: a second run on a folder that a run is
writing stops at once naming the holder; a folder holding a finished run is refused unless --resume or --overwrite;
Ctrl-C ends a run with one line and exit status 130, and --resume finishes it with the config line of metrics.jsonl
kept; a half-written temporary file of a killed save is removed; a run that fails before its first checkpoint leaves
no folder behind."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
from conftest import ENV, cli, one_line_error

RUN = ['--preset', 'tiny', '--subset', '300', '--warmup-epochs', '1', '--epochs', '1', '--no-progress', '--threads', '1']


def start(out, *extra):
    return subprocess.Popen([sys.executable, '-m', 'i2c_nb.cli', *RUN, *extra, '--out', str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def wait_for(path, p, timeout=120):
    t = time.time()
    while not Path(path).exists():
        assert p.poll() is None, p.communicate()
        assert time.time() - t < timeout, f'{path} did not appear'
        time.sleep(0.05)


def test_two_runs_on_one_folder_and_a_finished_folder(tmp_path):
    out = tmp_path/'run'
    p1 = start(out)
    wait_for(out/'.lock', p1)
    r2 = cli(*RUN, '--out', out, check=False)
    one_line_error(r2, f'another run is writing this folder (pid {p1.pid} on')
    o1, e1 = p1.communicate(timeout=600)
    assert p1.returncode == 0, e1
    assert not (out/'.lock').exists() and (out/'report.json').exists()
    first = [json.loads(l) for l in (out/'metrics.jsonl').read_text().splitlines()]
    assert first[0]['kind'] == 'config' and sum(r['kind'] == 'config' for r in first) == 1
    rep = (out/'report.json').read_text()
    r3 = cli(*RUN, '--out', out, check=False)                    # a finished run: refused, untouched
    one_line_error(r3, 'holds a run already', 'report.json', '--resume', '--overwrite')
    assert (out/'report.json').read_text() == rep
    (out/'.checkpoint.pt.99999.tmp').write_bytes(b'half')         # a save killed half-way
    (out/'notes.txt').write_text('mine')
    r4 = cli(*RUN, '--overwrite', '--stop-after', '1', '--out', out, check=False)
    assert r4.returncode == 0, r4.stderr
    assert not (out/'.checkpoint.pt.99999.tmp').exists() and not (out/'report.json').exists()   # the old run's files are gone
    assert (out/'notes.txt').read_text() == 'mine' and (out/'checkpoint.pt').exists() and not (out/'sc_gc.pt').exists()


def test_ctrl_c_then_resume(tmp_path):
    out = tmp_path/'run'
    p = start(out)
    wait_for(out/'warmup.pt', p)                                  # interrupted after the warm-up's checkpoint
    p.send_signal(signal.SIGINT)
    o, e = p.communicate(timeout=120)
    assert p.returncode == 130, (o, e)
    assert e.strip().splitlines() == ['i2c-train: interrupted; continue with --resume'], e
    assert not (out/'.lock').exists()
    r = cli(*RUN, '--resume', '--out', out)
    assert 'sc+gc' in r.stdout
    recs = [json.loads(l) for l in (out/'metrics.jsonl').read_text().splitlines()]
    assert recs[0]['kind'] == 'config' and sum(x['kind'] == 'config' for x in recs) == 1
    assert [x['stage'] for x in recs if x['kind'] == 'epoch'] == ['warmup', 'plain', 'sc+gc']


def test_a_failed_start_leaves_nothing(tmp_path):
    out = tmp_path/'new'/'run'
    bad = tmp_path/'bad.pt'
    r = cli(*RUN, '--init', tmp_path/'none.pt', '--out', out, check=False)
    one_line_error(r, 'none.pt')
    assert not (tmp_path/'new').exists()
    bad.write_bytes(b'not a checkpoint')
    r = cli(*RUN, '--init', bad, '--out', out, check=False)
    one_line_error(r, 'bad.pt')
    assert not (tmp_path/'new').exists()


ABLATE = {"preset": "tiny", "subset": 100, "warmup_epochs": 1, "epochs": 1, "progress": False}


def test_ablate_meets_a_run_of_other_settings_and_ctrl_c(tmp_path):
    (tmp_path/'c.json').write_text(json.dumps(ABLATE))
    cli('--config', tmp_path/'c.json', '--lr', '0.5', '--stop-after', '1', '--out', tmp_path/'R'/'seed0'/'plain')
    args = ['--config', tmp_path/'c.json', '--seeds', '0', '--methods', 'sc', '--no-grid', '--jobs', '2', '--out', tmp_path/'o.json']
    r = cli(*args, '--runs', tmp_path/'R', cmd='i2c-ablate', check=False)
    one_line_error(r, 'R/seed0/plain: --resume with different settings than the checkpoint (lr: 0.5 -> ')
    p = subprocess.Popen([sys.executable, '-c', 'from i2c_nb.ablate_runs import i2c_ablate; i2c_ablate()', *map(str, args),
                          '--runs', str(tmp_path/'R2')], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    wait_for(tmp_path/'R2'/'seed0'/'plain'/'record.json', p)    # the warm-up done, the branch running
    p.send_signal(signal.SIGINT)
    o, e = p.communicate(timeout=120)
    assert p.returncode == 130 and 'Traceback' not in e, (o, e)
    assert e.strip().splitlines() == ['i2c-ablate: interrupted; the same command continues: finished runs are kept, an interrupted one resumes']
    assert sorted(d.name for d in (tmp_path/'R2').iterdir()) == ['seed0']             # --seeds 0 --no-grid: seed 0 alone
    r = cli(*args, '--runs', tmp_path/'R2', cmd='i2c-ablate')                          # the same command finishes the table
    assert 'seed 0 plain' in r.stdout and 'read back' in r.stdout and 'seed 0 sc:' in r.stdout


HELD = """
import multiprocessing as mp, os, signal
from concurrent.futures import ProcessPoolExecutor
from i2c_nb.runner import held_sigint
pool = ProcessPoolExecutor(1, mp_context=mp.get_context('spawn'))
try:
    with held_sigint():
        os.kill(os.getpid(), signal.SIGINT)          # Ctrl-C arrives while the pool starts its process
        f = pool.submit(abs, -3)
    print('not raised')
except KeyboardInterrupt:
    print('raised after the start;', f.result(timeout=120))
pool.shutdown()
assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
"""


def test_ctrl_c_during_a_process_start_waits_for_it():
    "`run_tasks` starts pool processes with Ctrl-C held: the start completes (no child left reading a cut pipe), then Ctrl-C is raised."
    r = subprocess.run([sys.executable, '-c', HELD], capture_output=True, text=True, env=ENV, timeout=180)
    assert r.returncode == 0 and r.stdout.strip() == 'raised after the start; 3' and 'Traceback' not in r.stderr, (r.stdout, r.stderr)
