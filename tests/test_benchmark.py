"The bundled benchmark rebuilds byte-identically: full build in a temporary folder, checksum against data/benchmark.json."
import json, os, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from i2c_nb.benchmark import build_benchmark, benchmark_checksum, expected_manifest, bundled_split, CLASS_NAMES
from i2c_nb.data import read_wsol_metadata

@pytest.fixture(scope='module')
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp('bench')/'fashion-wsol'
    t = time.time()
    m = build_benchmark(root, progress=False)
    print(f'\nfull build: {time.time() - t:.1f} s')
    return root, m

def test_checksum_matches_recorded_build(built):
    root, m = built
    exp = expected_manifest()
    assert m['counts'] == exp['counts'] == {'train': 10000, 'val': 1000, 'test': 2000}
    assert m['split_sha256'] == exp['split_sha256']
    assert m['sha256'] == exp['sha256']

def test_checksum_recomputed_from_files(built):
    root, m = built
    assert benchmark_checksum(root) == m['sha256']

def test_no_temporary_folder_left(built):
    root, _ = built
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name]

def test_reads_as_wsol_metadata(built):
    root, _ = built
    for split, n in [('train', 10000), ('val', 1000), ('test', 2000)]:
        s = read_wsol_metadata(root/'metadata'/split, image_root=root/'images', mask_root=root/'masks', class_names=CLASS_NAMES)
        assert len(s) == n and s.n_classes == 10
        assert np.bincount(s.labels).tolist() == [n // 10] * 10
        assert all(len(b) == 1 for b in s.boxes)
        i = n // 3
        img, mask = s.load_image(i), s.load_mask(i)
        assert img.size == (64, 64) and img.mode == 'RGB'
        r, c = np.nonzero(mask)
        assert s.boxes[i][0].tolist() == [c.min(), r.min(), c.max() + 1, r.max() + 1]  # tight box of the mask

def test_box_sizes_follow_cub(built):
    root, _ = built
    s = read_wsol_metadata(root/'metadata'/'train')
    b = np.stack([x[0] for x in s.boxes])
    rel = np.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])) / 64
    p10, p50, p90 = np.percentile(rel, [10, 50, 90])
    # CUB train: 0.38 / 0.57 / 0.77; the object's own shape (a mask, not a full rectangle) and the fit inside 64 px shift it a little
    assert 0.30 < p10 < 0.45 and 0.48 < p50 < 0.65 and 0.68 < p90 < 0.85, (p10, p50, p90)

def test_bundled_split_builds_into_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('I2C_NB_DATA', str(tmp_path))
    from i2c_nb import benchmark
    monkeypatch.setattr(benchmark, 'build_benchmark', lambda root, **kw: build_benchmark(root, **{**kw, 'limit': 30}))
    s = bundled_split('val')
    assert len(s) == 30 and s.class_names == CLASS_NAMES
    assert (benchmark.bundled_root()/'manifest.json').exists()
    with pytest.raises(ValueError, match='split must be one of'): bundled_split('validation')
