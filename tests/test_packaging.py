"Packaging: the wheel carries the benchmark sources and console scripts, and imports without nbdev."
import os, shutil, subprocess, sys, zipfile, json
from pathlib import Path
import pytest
from conftest import cli

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent/'shared'/'data'/'wsol_metadata'

@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    src = out/'src'
    # build from a copy so no build/ or egg-info lands in the checkout
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns('.git', '.ci-venv', 'build', '*.egg-info', '__pycache__', 'runs'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', str(out), str(src)], check=True)
    whl, = out.glob('i2c_nb-*.whl')
    return whl

def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for f in ['i2c_nb/__init__.py', 'i2c_nb/data.py', 'i2c_nb/benchmark.py', 'i2c_nb/loaders.py',
              'i2c_nb/_bundled/fmnist_items.npz', 'i2c_nb/_bundled/backgrounds.npz', 'i2c_nb/_bundled/benchmark.json',
              'i2c_nb/_bundled/photos/chelsea.jpg', 'i2c_nb/_bundled/photos/metadata/test/localization.txt',
              'i2c_nb/_bundled/explore/plain.pt', 'i2c_nb/_bundled/explore/sc_gc.pt']:
        assert f in names, f
    ep = next(n for n in names if n.endswith('entry_points.txt'))
    eps = zipfile.ZipFile(wheel).read(ep).decode()
    for cmd in ('i2c-train = i2c_nb.cli:i2c_train', 'i2c-test = i2c_nb.cli:i2c_test', 'i2c-cams = i2c_nb.cli:i2c_cams',
                'i2c-evaluate = i2c_nb.cli:i2c_evaluate', 'i2c-data = i2c_nb.cli:i2c_data', 'i2c-check-metadata = i2c_nb.cli:i2c_check_metadata'):
        assert cmd in eps, cmd

def test_installed_wheel_imports_without_nbdev(wheel, tmp_path):
    site = tmp_path/'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target', str(site), str(wheel)], check=True)
    code = ("import sys; sys.modules['nbdev'] = None\n"   # any 'import nbdev' now fails
            "import i2c_nb, i2c_nb.data, i2c_nb.benchmark, i2c_nb.loaders, i2c_nb.datasets, i2c_nb.weights, i2c_nb.cli\n"
            "from i2c_nb.benchmark import sources_dir, load_sources\n"
            "items, bgs = load_sources()\n"
            "from i2c_nb.cam import photo_split\n"
            "photos = photo_split(); photos.load_image(3)\n"
            "print(i2c_nb.__version__, sources_dir(), items['train_x'].shape, len(bgs), len(photos), 'photos')")
    env = {**os.environ, 'PYTHONPATH': str(site)}
    r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    src = r.stdout.split()[1]
    assert Path(src).resolve() == (site/'i2c_nb'/'_bundled').resolve()
    assert '(10000, 28, 28)' in r.stdout and ' 4 photos' in r.stdout

def test_version_matches_settings():
    import i2c_nb, configparser
    cfg = configparser.ConfigParser(); cfg.read(REPO/'settings.ini')
    assert i2c_nb.__version__ == cfg['DEFAULT']['version']

def test_check_metadata_cli_on_fixtures():
    r = cli('--root', REPO/'tests'/'fixtures'/'wsol', cmd='i2c-check-metadata', check=False)
    assert r.returncode == 0, r.stderr
    assert 'test' in r.stdout and '5' in r.stdout

@pytest.mark.skipif(not SHARED.exists(), reason='the real wsolevaluation metadata is not beside this checkout')
def test_check_metadata_cli_on_real_metadata():
    r = subprocess.run([sys.executable, str(REPO/'scripts'/'check_metadata.py'), '--root', str(SHARED)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert '5,794' in r.stdout or '5794' in r.stdout
    assert '50,000' in r.stdout or '50000' in r.stdout

def test_i2c_data_cli(tmp_path):
    out = tmp_path/'fw'
    r = cli('--out', out, '--verify', cmd='i2c-data', check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'files match the manifest: True' in r.stdout and 'matches the recorded build: True' in r.stdout
    assert (out/'preview.png').exists()
    m = json.loads((out/'manifest.json').read_text())
    assert m['counts'] == {'train': 10000, 'val': 1000, 'test': 2000}
