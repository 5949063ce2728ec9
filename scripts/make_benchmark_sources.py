"""Rebuild the bundled benchmark's *sources* (fmnist_items.npz, backgrounds.npz) from their origins.

Maintainers only: needs Debian's `dataset-fashion-mnist` (apt-get install dataset-fashion-mnist) and
scikit-image (pip install scikit-image). Users never run this: the two .npz files are committed, and
`i2c_nb.benchmark` builds the images from them. Deterministic: no randomness is used here.

    python scripts/make_benchmark_sources.py
"""
import gzip, hashlib, json
from pathlib import Path
import numpy as np

HERE = Path(__file__).parent.parent/"data"
FMNIST = Path('/usr/share/datasets/fashion-mnist')
PER_CLASS = dict(train=1000, val=100, test=200)  # items kept per class and split
BG_NAMES = ['astronaut', 'brick', 'camera', 'cell', 'chelsea', 'clock', 'coffee', 'coins', 'grass',
            'gravel', 'hubble_deep_field', 'immunohistochemistry', 'retina', 'rocket', 'text']
BG_SHORT_SIDE = 192

def read_idx(path):
    "Read an IDX file (the MNIST format): magic, dims, then raw uint8 data."
    raw = gzip.open(path).read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4+4*i:8+4*i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4+4*ndim).reshape(dims)

def take_per_class(labels, n, start=None):
    "Indices of the first `n` items of each class after the items in `start` (file order)."
    taken = set() if start is None else set(start.tolist())
    out = []
    for c in range(10):
        idx = [i for i in np.flatnonzero(labels == c) if i not in taken][:n]
        assert len(idx) == n
        out += idx
    return np.array(sorted(out))

def fmnist_items():
    tr_x, tr_y = read_idx(FMNIST/'train-images-idx3-ubyte.gz'), read_idx(FMNIST/'train-labels-idx1-ubyte.gz')
    te_x, te_y = read_idx(FMNIST/'t10k-images-idx3-ubyte.gz'), read_idx(FMNIST/'t10k-labels-idx1-ubyte.gz')
    tr = take_per_class(tr_y, PER_CLASS['train'])
    va = take_per_class(te_y, PER_CLASS['val'])
    te = take_per_class(te_y, PER_CLASS['test'], start=va)
    return dict(train_x=tr_x[tr], train_y=tr_y[tr], train_src=tr,
                val_x=te_x[va], val_y=te_y[va], val_src=va,
                test_x=te_x[te], test_y=te_y[te], test_src=te)

def resize_short(im, short):
    from skimage.transform import resize
    h, w = im.shape[:2]
    s = short / min(h, w)
    out = resize(im, (round(h*s), round(w*s)), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)

def backgrounds():
    import skimage.data as skd
    out = {}
    for n in BG_NAMES:
        im = getattr(skd, n)()
        if im.ndim == 2: im = np.stack([im]*3, -1)
        out[n] = resize_short(im[..., :3], BG_SHORT_SIDE)
    return out

if __name__ == '__main__':
    items = fmnist_items()
    np.savez_compressed(HERE/'fmnist_items.npz', **items)
    bgs = backgrounds()
    np.savez_compressed(HERE/'backgrounds.npz', **bgs)
    for f in ['fmnist_items.npz', 'backgrounds.npz']:
        print(f, (HERE/f).stat().st_size, hashlib.sha256((HERE/f).read_bytes()).hexdigest()[:16])
