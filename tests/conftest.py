"""Helpers the test files share: run a command of this checkout in a fresh process (`cli`), and check that it failed as
every command fails on a bad input (`one_line_error`). Import them with `from conftest import cli, one_line_error, ENV`."""
import configparser, os, subprocess, sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONUNBUFFERED='1')


def entry_points() -> dict:
    "{function name: module} of the console scripts in settings.ini, e.g. {'i2c_train': 'i2c_nb.cli', 'i2c_ablate': 'i2c_nb.ablate_runs'}."
    cfg = configparser.ConfigParser(); cfg.read(REPO/'settings.ini')
    scripts = [l.split('=', 1)[1].strip() for l in cfg['DEFAULT']['console_scripts'].splitlines() if '=' in l]
    return {fn: mod for mod, fn in (s.split(':') for s in scripts)}


def cli(*args, cmd='i2c_train', check=True, env=None, timeout=900):
    """Run the command `cmd` ('i2c_train' or 'i2c-train', ...) of this checkout, not an installed script, in a fresh process:
    `i2c_train` as `python -m i2c_nb.cli` (what torchrun runs), the others by calling their console script's function."""
    fn = cmd.replace('-', '_')
    head = ['-m', 'i2c_nb.cli'] if fn == 'i2c_train' else ['-c', f'from {entry_points()[fn]} import {fn}; {fn}()']
    r = subprocess.run([sys.executable, *head, *map(str, args)], capture_output=True, text=True, env=env or ENV, timeout=timeout)
    if check and r.returncode: raise AssertionError(f"{cmd} exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def one_line_error(r, *contains):
    "A command that stopped on a bad input: exit status 2, one line on stderr holding each of `contains`, no traceback."
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for c in contains: assert c in r.stderr, (c, r.stderr)
