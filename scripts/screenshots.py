#!/usr/bin/env python
"""What a learner sees: each chapter opened in JupyterLab in headless Chromium, screenshots down the whole notebook.

Run it before committing a change to a chapter, and look at the pictures (broken images, overlapping titles, cut-off
tables, widgets that do not show). Needs JupyterLab in this environment, `pip install playwright` (no browser
download: it drives the system's Chromium, Debian's `chromium` package) and nothing else.

    python scripts/screenshots.py [nbs/09_explore.ipynb ...] [--out screenshots] [--trust]

`--trust` trusts the notebooks first (`jupyter trust`), as a learner who ran them would have them: saved widgets then
render from the notebook's widget state; untrusted, JupyterLab shows their static pictures. The pictures are
`<out>/<chapter>-NN.png`, one per screenful from the top of the notebook to its end.
"""
import argparse, os, shutil, socket, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def wait_up(port:int, proc, timeout:float=60):
    t = time.time()
    while time.time() - t < timeout:
        if proc.poll() is not None: sys.exit(f'jupyter lab exited with status {proc.returncode}')
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0: return
        time.sleep(0.5)
    sys.exit(f'jupyter lab did not answer on port {port} within {timeout:.0f} s')


def shoot(page, url:str, stem:str, out:Path, max_shots:int)->list:
    "Open one notebook and screenshot it screenful by screenful (JupyterLab renders the cells in view only)."
    outer = '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer'
    page.goto(url); page.wait_for_selector(outer + ' .jp-Cell >> nth=0', timeout=60_000); time.sleep(4)
    files, pos = [], 0
    for n in range(max_shots):
        page.eval_on_selector(outer, f'e => e.scrollTo(0, {pos})'); time.sleep(1.2)
        f = out/f'{stem}-{n:02d}.png'; page.screenshot(path=str(f)); files.append(f)
        top, height, view = page.eval_on_selector(outer, 'e => [e.scrollTop, e.scrollHeight, e.clientHeight]')
        if top + view >= height - 2: break
        pos = top + int(view * 0.9)
    return files


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebooks', nargs='*', help='notebooks (default: every nbs/*.ipynb)')
    p.add_argument('--out', default='screenshots', help='folder of the pictures (default: screenshots/)')
    p.add_argument('--trust', action='store_true', help='jupyter trust the notebooks first')
    p.add_argument('--browser', default=shutil.which('chromium') or shutil.which('chromium-browser'), help='the Chromium to drive')
    p.add_argument('--max-shots', type=int, default=40, help='screenfuls per notebook at most (default 40)')
    a = p.parse_args(argv)
    try: from playwright.sync_api import sync_playwright
    except ImportError: sys.exit('screenshots.py needs playwright: pip install playwright (the system Chromium is used)')
    if not a.browser: sys.exit('no Chromium found: apt install chromium, or give --browser')
    nbs = [Path(n).resolve() for n in a.notebooks] or sorted((ROOT/'nbs').glob('*.ipynb'))
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    if a.trust: subprocess.run([sys.executable, '-m', 'jupyter', 'trust', *map(str, nbs)], check=True, capture_output=True)
    port, token = free_port(), os.urandom(8).hex()
    lab = subprocess.Popen([sys.executable, '-m', 'jupyter', 'lab', '--no-browser', f'--port={port}', f'--ServerApp.token={token}',
                            f'--ServerApp.root_dir={ROOT}', '--allow-root'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(port, lab)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=a.browser, args=['--no-sandbox'])
            for nb in nbs:                       # a fresh page and workspace per notebook: only it is open
                page = browser.new_page(viewport={'width': 1400, 'height': 1000})
                rel = nb.relative_to(ROOT).as_posix()
                files = shoot(page, f'http://127.0.0.1:{port}/lab/tree/{rel}?reset&token={token}', nb.stem, out, a.max_shots)
                page.close()
                print(f'{rel}: {len(files)} screenshot(s) in {out}', flush=True)
            browser.close()
    finally:
        lab.terminate(); lab.wait(timeout=30)


if __name__ == '__main__': main()
