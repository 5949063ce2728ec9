"""Time a training step (forward, loss, backward, optimiser step) of the small network on the bundled
benchmark, plain CAM against I2C (SC+GC), in the same run, and print the ratio I2C / plain.

    python bench/step_overhead.py [--steps 20] [--rounds 3] [--threads 1] [--n-per-class 8]

Steps of the two methods alternate one by one (plain, I2C, plain, I2C, ...) on the same batches, so that
machine noise hits both alike; the ratio of the median step times is reported. Goal (issue 4): I2C/plain <= 1.05.
"""
import argparse, statistics, time
import numpy as np, torch
from i2c_nb.benchmark import bundled_split
from i2c_nb.loaders import ClassPairedSampler
from i2c_nb.model import small_net
from i2c_nb.objective import I2CObjective

def batches(n_per_class, n_batches, seed=0):
    split = bundled_split('train')
    sampler = ClassPairedSampler(split.labels, n_classes=split.n_classes, n_per_class=n_per_class, seed=seed)
    out = []
    for idx in list(sampler)[:n_batches]:
        x = torch.from_numpy(np.stack([np.asarray(split.load_image(i)) for i in idx])).permute(0, 3, 1, 2).float() / 255
        out.append(((x - 0.5) / 0.25, torch.as_tensor(split.labels[idx])))
    return out

def make(method, seed=0):
    torch.manual_seed(seed)
    net = small_net().to(memory_format=torch.channels_last)
    obj = I2CObjective(10, net.backbone.out_dim, method=method, lambda2=0.003)
    opt = torch.optim.SGD(list(net.parameters()) + list(obj.parameters()), lr=1e-3, momentum=0.9, nesterov=True, weight_decay=5e-4)
    return net, obj, opt

def step(net, obj, opt, x, y):
    out = net(x.contiguous(memory_format=torch.channels_last))
    loss = obj(out.logits, out.maps, out.feats, y)['loss']
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=20); p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--threads', type=int, default=1); p.add_argument('--n-per-class', type=int, default=8)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    data = batches(a.n_per_class, a.steps)
    runs = {m: make(m) for m in ('plain', 'sc+gc')}
    for m, r in runs.items():          # warm-up: allocator, kernels
        for x, y in data[:3]: step(*r, x, y)
    times = {m: [] for m in runs}
    for _ in range(a.rounds):
        for x, y in data:
            for m, r in runs.items():
                t = time.perf_counter(); step(*r, x, y); times[m].append(time.perf_counter() - t)
    pm, im = statistics.median(times['plain']), statistics.median(times['sc+gc'])
    B = len(data[0][1])
    print(f'small_net, batch {B} (10 classes x {a.n_per_class}), 64 px, {a.threads} threads, {a.steps} steps x {a.rounds} rounds')
    q = lambda ts: ', '.join(f'{v*1e3:.0f}' for v in statistics.quantiles(ts, n=4))
    print(f'plain  step median {pm*1e3:7.1f} ms  (quartiles {q(times["plain"])} ms)')
    print(f'I2C    step median {im*1e3:7.1f} ms  (quartiles {q(times["sc+gc"])} ms)')
    print(f'I2C/plain step time: {im/pm:.3f}  (goal <= 1.05)')
