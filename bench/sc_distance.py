"""How large SC is at the start of an I2C branch, with both distances of Eq. 1: the squared L2 distance the paper prints
and the plain (non-squared) one of the authors' code. For each warm-up checkpoint given, over the first 8 training batches
of the branch (the run's own data and batch, the network in training mode, no update): L_cls, λ1·L_sc with each distance,
and their ratio to L_cls.

    python bench/sc_distance.py runs/pretrained/seed0/plain/warmup.pt runs/tiny/warmup.pt
"""
import argparse
import numpy as np, torch, torch.nn.functional as F
from i2c_nb.report import load_checkpoint, config_from_checkpoint, model_from_checkpoint
from i2c_nb.pipeline import Data
from i2c_nb.objective import I2CObjective


def magnitudes(path:str, batches:int=8)->dict:
    "Mean L_cls and λ1·L_sc (squared, euclidean) over the first `batches` batches after the warm-up in `path`."
    ck = load_checkpoint(path); cfg = config_from_checkpoint(ck, device='cpu', progress=False)
    model, data = model_from_checkpoint(ck).train(), Data(cfg)
    data.mean, data.std = list(ck['mean']), list(ck['std'])
    objs = {d: I2CObjective(model.n_classes, model.backbone.out_dim, method='sc', lambda1=cfg.lambda1, squared=d == 'squared')
            for d in ('squared', 'euclidean')}
    cls, sc = [], {d: [] for d in objs}
    try:
        with torch.no_grad():
            for b, (x, y) in zip(range(batches), data.train_batches(data.sampler(), stage=1)):
                o = model(x, y)
                cls.append(float(F.cross_entropy(o.logits.float(), y)))
                for d, obj in objs.items():
                    r = obj(o.logits.float(), o.maps.float(), o.feats.float(), y, generator=torch.Generator().manual_seed(b))
                    sc[d].append(cfg.lambda1 * float(r['sc']))
    finally: data.close()
    return dict(dim=model.backbone.out_dim, cls=float(np.mean(cls)), **{d: float(np.mean(v)) for d, v in sc.items()})


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('checkpoints', nargs='+', help='warm-up checkpoints (warmup.pt of a run)')
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    for c in a.checkpoints:
        m = magnitudes(c)
        print(f"{c}: D={m['dim']}, L_cls {m['cls']:.3f} | λ1·L_sc squared {m['squared']:.3f} ({m['squared'] / m['cls']:.2f} x L_cls), "
              f"euclidean {m['euclidean']:.3f} ({m['euclidean'] / m['cls']:.2f} x L_cls)")


if __name__ == '__main__': main()
