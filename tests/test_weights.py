"""Pretrained weights (i2c_nb.weights) without internet: an offline fetch fails in seconds with a one-line message and
leaves the cache empty; a cached file is used with no network; under torch.distributed (two gloo processes) both ranks
fail together when rank 0 cannot fetch, and read the same state_dict when the file is cached. Every test closes the
network (HTTPS through a proxy on a closed local port), so nothing is ever downloaded, with or without internet."""
import hashlib, json, os, socket, subprocess, sys, textwrap, time
from datetime import timedelta
from pathlib import Path
import pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torchvision
from i2c_nb.model import ResNet50Backbone, SmallBackbone, load_torchvision
from i2c_nb.weights import (WEIGHT_NAMES, weight_names, WeightsError, check_weights, fetch_weights, load_weights, resolve_weights,
                            weights_enum, weights_file)

CLOSED = 'http://127.0.0.1:9'    # nothing listens on the discard port: a connection is refused at once
V1_FILE, V1_URL = 'resnet50-0676ba61.pth', 'https://download.pytorch.org/models/resnet50-0676ba61.pth'
V2_FILE = 'resnet50-11ad3fa6.pth'


def _offline_env(torch_home) -> dict:
    "The environment of a process with the network closed and its own TORCH_HOME."
    env = {k: v for k, v in os.environ.items() if k not in ('no_proxy', 'NO_PROXY')}
    return {**env, 'TORCH_HOME': str(torch_home), 'https_proxy': CLOSED, 'HTTPS_PROXY': CLOSED}


@pytest.fixture
def offline(monkeypatch, tmp_path):
    "This process offline, TORCH_HOME in tmp_path/'home'; returns the cache folder."
    for k in ('no_proxy', 'NO_PROXY'): monkeypatch.delenv(k, raising=False)
    for k in ('https_proxy', 'HTTPS_PROXY'): monkeypatch.setenv(k, CLOSED)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'home'))
    return tmp_path/'home'/'hub'/'checkpoints'


@pytest.fixture(scope='module')
def cached(tmp_path_factory):
    "A TORCH_HOME whose cache holds a random-weights torchvision ResNet50 under IMAGENET1K_V1's name; and that state_dict."
    home = tmp_path_factory.mktemp('cached_home')
    torch.manual_seed(0)
    sd = torchvision.models.resnet50().state_dict()
    (home/'hub'/'checkpoints').mkdir(parents=True)
    torch.save(sd, home/'hub'/'checkpoints'/V1_FILE)
    return home, sd


def _cache_files(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------- (1) offline, in a fresh process
def test_offline_fresh_process_fails_fast_with_one_line(tmp_path):
    code = textwrap.dedent("""
        import time
        from i2c_nb.weights import fetch_weights, resolve_weights, WeightsError
        calls = (lambda: fetch_weights('resnet50', 'IMAGENET1K_V1', timeout=10, progress=False),
                 lambda: resolve_weights('resnet50', 'DEFAULT', timeout=10))
        for call in calls:
            t = time.perf_counter()
            try: call(); print('NO ERROR')
            except WeightsError as e: print(f'{time.perf_counter() - t:.3f}\\t{e}')
        """)
    home = tmp_path/'home'
    t = time.perf_counter()
    r = subprocess.run([sys.executable, '-c', code], env=_offline_env(home), capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - t
    assert r.returncode == 0, r.stderr
    assert 'Traceback' not in r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and 'NO ERROR' not in r.stdout, r.stdout
    cache = home/'hub'/'checkpoints'
    for line, file in zip(lines, (V1_FILE, V2_FILE)):
        secs, msg = line.split('\t')
        assert float(secs) < 10, line
        for s in (file, f'https://download.pytorch.org/models/{file}', 'Connection refused', str(cache),
                  f'TORCH_HOME={home}', '--weights FILE', 'state_dict'):
            assert s in msg, (s, msg)
    assert elapsed < 60
    assert _cache_files(cache) == []                    # no partial file left behind


def test_offline_message_names_the_default_torch_home(offline, monkeypatch, tmp_path):
    for k in ('TORCH_HOME', 'XDG_CACHE_HOME'): monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv('HOME', str(tmp_path/'user'))
    with pytest.raises(WeightsError) as e: fetch_weights('inceptionv3', 'IMAGENET1K_V1', progress=False)
    msg = str(e.value)
    assert str(tmp_path/'user'/'.cache'/'torch'/'hub'/'checkpoints') in msg
    assert 'TORCH_HOME, unset: default ~/.cache/torch' in msg and 'inception_v3_google-0cc3c7bd.pth' in msg
    assert '\n' not in msg


def test_offline_restores_the_socket_timeout(offline):
    before = socket.getdefaulttimeout()
    with pytest.raises(WeightsError): fetch_weights('vgg16', 'DEFAULT', timeout=3, progress=False)
    assert socket.getdefaulttimeout() == before
    assert _cache_files(offline) == []


def test_broken_downloads_leave_no_file(offline, monkeypatch):
    "A download that breaks halfway, or that is not a torch file, never becomes the cached file."
    def half(url, dst, **kw): Path(dst).write_bytes(b'PK\x03\x04half'); raise ConnectionResetError(104, 'Connection reset by peer')
    def html(url, dst, **kw): Path(dst).write_text('<html>log in</html>')
    for fake, says in ((half, 'Connection reset by peer'), (html, 'failed its check')):
        monkeypatch.setattr(torch.hub, 'download_url_to_file', fake)
        with pytest.raises(WeightsError, match=says): fetch_weights('resnet50', 'IMAGENET1K_V1', progress=False)
        assert _cache_files(offline) == []


def test_a_good_download_is_renamed_into_the_cache(offline, monkeypatch):
    sd = SmallBackbone().state_dict()
    monkeypatch.setattr(torch.hub, 'download_url_to_file', lambda url, dst, **kw: torch.save(sd, dst))
    f = fetch_weights('resnet50', 'IMAGENET1K_V1', progress=False)
    assert f == offline/V1_FILE and _cache_files(offline) == [V1_FILE]


# ---------------------------------------------------------------- (2) a cached file needs no network
def test_cached_file_is_used_without_network(cached, monkeypatch):
    home, ref = cached
    monkeypatch.setattr(torch.hub, 'download_url_to_file', lambda *a, **k: pytest.fail('tried to download'))
    for k, v in _offline_env(home).items(): monkeypatch.setenv(k, v)
    for k in ('no_proxy', 'NO_PROXY'): monkeypatch.delenv(k, raising=False)
    assert fetch_weights('resnet50', 'IMAGENET1K_V1') == home/'hub'/'checkpoints'/V1_FILE
    for sd in (load_weights('resnet50', 'IMAGENET1K_V1'), resolve_weights('resnet50', 'IMAGENET1K_V1', timeout=5),
               load_weights('resnet50', home/'hub'/'checkpoints'/V1_FILE)):
        assert list(sd) == list(ref) and all(torch.equal(sd[k], ref[k]) for k in ref)
        assert sd['conv1.weight'].device.type == 'cpu'
    net = ResNet50Backbone()
    assert load_torchvision(net, sd) == ['fc.weight', 'fc.bias']
    assert torch.equal(net.layer4[2].conv3.weight, ref['layer4.2.conv3.weight'])


# ---------------------------------------------------------------- (3) two processes, gloo
WORLD = 2


def _digest(sd) -> str:
    h = hashlib.sha256()
    for k, v in sd.items(): h.update(k.encode()); h.update(v.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _worker(rank, init_file, out_dir, env, name):
    os.environ.clear(); os.environ.update(env)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=60))
    try:
        torch.set_num_threads(1)
        t = time.perf_counter()
        try:
            sd = resolve_weights('resnet50', name, timeout=10)
            out = dict(ok=True, digest=_digest(sd))
        except WeightsError as e: out = dict(ok=False, msg=str(e))
        out['seconds'] = time.perf_counter() - t
        Path(out_dir, f'rank{rank}.json').write_text(json.dumps(out))
    finally:
        dist.destroy_process_group()


def _spawn(tmp_path, home, name='IMAGENET1K_V1'):
    t = time.perf_counter()
    mp.spawn(_worker, args=(str(tmp_path/'init'), str(tmp_path), _offline_env(home), name), nprocs=WORLD, join=True)
    return [json.loads((tmp_path/f'rank{r}.json').read_text()) for r in range(WORLD)], time.perf_counter() - t


gloo = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason='torch.distributed with gloo is not available')


@gloo
def test_distributed_offline_all_ranks_fail_fast(tmp_path):
    home = tmp_path/'home'
    (r0, r1), elapsed = _spawn(tmp_path, home)
    assert not r0['ok'] and not r1['ok']
    assert V1_FILE in r0['msg'] and V1_URL in r0['msg'] and 'Connection refused' in r0['msg']   # rank 0: the full story
    assert 'rank 0 could not fetch' in r1['msg'] and V1_FILE in r1['msg']                        # rank 1 did not try itself
    assert r0['seconds'] < 20 and r1['seconds'] < 20, (r0, r1)       # nobody waited for the 60 s group timeout
    assert elapsed < 55
    assert _cache_files(home/'hub'/'checkpoints') == []


@gloo
def test_distributed_cached_all_ranks_read_the_same_state_dict(tmp_path, cached):
    home, ref = cached
    (r0, r1), _ = _spawn(tmp_path, home)
    assert r0['ok'] and r1['ok'], (r0, r1)
    assert r0['digest'] == r1['digest'] == _digest(ref)


# ---------------------------------------------------------------- (4) check_weights: names, paths, 'none'
def test_check_weights(tmp_path):
    f = tmp_path/'w.pth'; f.write_bytes(b'x')
    assert check_weights('resnet50', None) == check_weights('vgg16', 'none') == check_weights('small', 'none') == 'none'
    for name in weight_names('resnet50'): assert check_weights('resnet50', name) == name
    assert check_weights('efficientnet_lite0', 'IMAGENET1K') == 'IMAGENET1K'
    for b in ('vgg16', 'inceptionv3'):
        assert check_weights(b, 'IMAGENET1K_V1') == 'IMAGENET1K_V1' and check_weights(b, 'DEFAULT') == 'DEFAULT'
        with pytest.raises(WeightsError, match=r'it has IMAGENET1K_V1, DEFAULT \(= IMAGENET1K_V1\)'): check_weights(b, 'IMAGENET1K_V2')
    with pytest.raises(WeightsError, match="backbone 'small' has no torchvision weights"): check_weights('small', 'DEFAULT')
    assert check_weights('resnet50', f) == check_weights('small', str(f)) == str(f)
    msg = ("--weights {}: neither a weight name of resnet50 (IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT) nor an existing file")
    for bad in (str(tmp_path/'missing.pth'), str(tmp_path), 'IMAGENET1K_FEATURES'):
        with pytest.raises(WeightsError) as e: check_weights('resnet50', bad)
        assert str(e.value) == msg.format(bad)
    with pytest.raises(WeightsError, match='did you mean IMAGENET1K_V1'): check_weights('resnet50', 'imagenet1k_v1')
    with pytest.raises(WeightsError, match='got a dict'): check_weights('resnet50', {})
    t = time.perf_counter()
    for _ in range(200): check_weights('resnet50', 'DEFAULT'); check_weights('resnet50', f)
    assert time.perf_counter() - t < 1                   # no network, no file read: fine inside a config's constructor


def test_default_is_v2_for_resnet50_only():
    assert weights_enum('resnet50', 'DEFAULT') is torchvision.models.ResNet50_Weights.IMAGENET1K_V2
    assert weights_enum('vgg16', 'DEFAULT') is torchvision.models.VGG16_Weights.IMAGENET1K_V1
    assert weights_enum('inceptionv3', 'DEFAULT') is torchvision.models.Inception_V3_Weights.IMAGENET1K_V1


def test_weights_file_honours_torch_home(monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    assert weights_file('resnet50', 'IMAGENET1K_V1') == tmp_path/'hub'/'checkpoints'/V1_FILE
    assert weights_file('resnet50', 'DEFAULT').name == V2_FILE


def test_bad_files_are_named_in_one_line(tmp_path):
    cases = {'truncated.pth': (b'PK\x03\x04' + bytes(100), 'not a readable torch file'),
             'text.pth': (b'see the shared drive', 'not a readable torch file')}
    for n, (data, _) in cases.items(): (tmp_path/n).write_bytes(data)
    torch.save({'model': SmallBackbone().state_dict(), 'epoch': 3}, tmp_path/'checkpoint.pth')
    torch.save(SmallBackbone().state_dict(), tmp_path/'small.pth')
    torch.save([torch.zeros(1)], tmp_path/'list.pth')
    cases.update({'checkpoint.pth': (None, "holds a dict with keys 'model', 'epoch', not a state_dict"),
                  'small.pth': (None, 'not a torchvision resnet50 state_dict: 318 missing (e.g. conv1.weight)'),
                  'list.pth': (None, 'holds a list, not a state_dict')})
    for n, (_, says) in cases.items():
        with pytest.raises(WeightsError) as e: load_weights('resnet50', tmp_path/n)
        msg = str(e.value)
        assert msg.startswith(f'--weights {tmp_path/n}: ') and says in msg and '\n' not in msg, msg
    assert list(load_weights('small', tmp_path/'small.pth')) == list(SmallBackbone().state_dict())
    assert load_weights('resnet50', 'none') is None


def test_corrupt_cached_file_says_delete_it(offline):
    offline.mkdir(parents=True); (offline/V2_FILE).write_bytes(b'\0' * 10)
    with pytest.raises(WeightsError) as e: resolve_weights('resnet50', 'DEFAULT')
    assert str(e.value).startswith(f'--weights DEFAULT: {offline/V2_FILE}: not a readable torch file') and 'delete it' in str(e.value)
