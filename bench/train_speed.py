"""Training speed of the real loop: `i2c_nb.train.Learner` on synthetic in-memory tensors, ResNet50 at output stride 8,
224 px, the paper's batch (40 classes x 2 = 80 images), 1000 classes, head width 1024.

One run times four cases with the same code path the runs use: fp32 eager (the authors' way: no autocast, NCHW, no
compile) and the optimised path (bf16 autocast, channels_last, cudnn.benchmark, torch.compile), each with the plain loss
and with I2C (SC+GC). A first epoch warms up (compilation, cuDNN autotuning); the second is timed. It prints images/s,
peak GPU memory, the ratios optimised / fp32 (goal >= 3x) and I2C / plain step time (goal <= 1.05), the model FLOP
utilisation of the optimised path against the GPU's dense bf16 peak (goal >= 35%), and what that means per epoch of
CUB-200-2011 (5,994 training images) and ImageNet (1,281,167): compute only, data loading not included.

    python bench/train_speed.py                   # on a GPU: the real measurement
    python bench/train_speed.py --small           # CPU smoke run at a reduced size (the code path, not the GPU figures)
    python bench/train_speed.py --json FILE       # also write the figures to FILE (bench/gpu_checks.sh does)
"""
import argparse, dataclasses, json, math, time
import numpy as np, torch
from pathlib import Path
from i2c_nb.data import WSOLSplit
from i2c_nb.config import get_config, build_model
from i2c_nb.pipeline import Data
from i2c_nb.model import count_macs
from i2c_nb.train import Learner, Callback, MethodCB, CompileCB

PEAK_BF16_TFLOPS = {'H100': 989., 'H200': 989., 'B200': 2250., 'A100': 312., 'L40S': 362., 'L4': 121., 'A10': 125.}  # dense


def synthetic_data(cfg, steps:int, n_classes:int, device)->Data:
    "`steps` batches of random uint8 images in memory, `cfg.classes_per_batch` x `cfg.images_per_class` each."
    c = cfg.classes_per_batch; n = c * cfg.images_per_class * steps
    labels = np.arange(n) % c
    split = WSOLSplit([f'{i}.jpg' for i in range(n)], labels, np.full((n, 2), cfg.crop), [np.zeros((0, 4))] * n,
                      class_names=[str(i) for i in range(n_classes)], name='synthetic')
    imgs = torch.randint(0, 256, (n, 3, cfg.crop, cfg.crop), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return Data(cfg, splits=dict(train=split, val=split, test=split), device=device, images=dict(train=imgs), info={})


class EpochTimer(Callback):
    "Seconds and peak GPU memory (GB) of each epoch."
    def __init__(self): self.times, self.memory = [], []
    def before_epoch(self, learn):
        if learn.device.type == 'cuda': torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
        self.t = time.perf_counter()
    def after_epoch(self, learn):
        if learn.device.type == 'cuda': torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self.t)
        self.memory.append(torch.cuda.max_memory_allocated() / 2**30 if learn.device.type == 'cuda' else float('nan'))


def time_case(cfg, data, method:str)->tuple:
    "(seconds per step, peak memory in GB) of the second of two epochs of the training loop (no evaluation, no files)."
    cfg = dataclasses.replace(cfg, warmup_epochs=0, epochs=2, methods=(method,), milestones=())
    timer = EpochTimer()
    learn = Learner(cfg, data, [MethodCB(), timer] + ([CompileCB()] if cfg.compile else []))
    learn.fit()
    return timer.times[1] / len(learn.sampler), timer.memory[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--backbone', default='resnet50'); p.add_argument('--size', type=int, default=224)
    p.add_argument('--classes', type=int, default=1000); p.add_argument('--steps', type=int, default=20)
    p.add_argument('--no-compile', dest='compile', action='store_false')
    p.add_argument('--json', default=None, help='also write the figures to this JSON file')
    p.add_argument('--small', action='store_true', help='CPU smoke run: 64 px, 4 classes x 2, 10 classes, width 128, 2 steps')
    a = p.parse_args()
    device = torch.device(a.device)
    kw = dict(backbone=a.backbone, weights='none', crop=a.size, resize=a.size, in_memory=True, norm_stats='imagenet', device=str(device),
              progress=False, log_every=10**9, classes_per_batch=40, images_per_class=2, width=1024)
    if a.small: a.size, a.steps, a.classes = 64, 2, 10; kw.update(crop=64, resize=64, classes_per_batch=4, width=128)
    if device.type == 'cuda': torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU (bf16 autocast and compile are CUDA-only: both paths are fp32 eager here)'
    base = get_config('ilsvrc-resnet50', **kw)
    cases = {'fp32 eager': dict(amp=False, channels_last=False, compile=False),
             'optimised': dict(amp=True, channels_last=True, compile=a.compile and device.type == 'cuda')}
    data = synthetic_data(base, a.steps, a.classes, device)
    batch = base.classes_per_batch * base.images_per_class
    print(f"{a.backbone} stride 8, {a.size} px, batch {batch}, {a.steps} timed steps per case on {name}")
    res, fig = {}, dict(device=name, backbone=a.backbone, size=a.size, batch=batch, steps=a.steps, cases={})
    for case, o in cases.items():
        cfg = get_config('ilsvrc-resnet50', **kw, **o)
        data.cfg = cfg
        for method in ('plain', 'sc+gc'):
            dt, mem = time_case(cfg, data, method)
            res[case, method] = dt
            fig['cases'][f'{case}, {method}'] = dict(ms_per_step=round(dt * 1e3, 2), images_per_s=round(batch / dt, 1), peak_gb=mem if mem == mem else None)
            m = f"{mem:6.1f} GB" if mem == mem else 'n/a (CPU)'
            print(f"  {case:10s} {method:6s}: {dt*1e3:8.1f} ms/step  {batch/dt:8.1f} images/s  peak memory {m}", flush=True)
    print(f"optimised / fp32 eager (I2C): {res['fp32 eager', 'sc+gc'] / res['optimised', 'sc+gc']:.2f}x   (goal >= 3)")
    print(f"I2C / plain step time (optimised): {res['optimised', 'sc+gc'] / res['optimised', 'plain']:.3f}   (goal <= 1.05)")
    print(f"I2C / plain step time (fp32 eager): {res['fp32 eager', 'sc+gc'] / res['fp32 eager', 'plain']:.3f}")
    macs = count_macs(build_model(base, a.classes), (1, 3, a.size, a.size))
    flops = 3 * 2 * macs * batch                 # forward + backward ~ 3x the forward's 2 FLOPs per multiply-accumulate
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if device.type == 'cuda' and k in name), None)
    tf = flops / res['optimised', 'sc+gc'] / 1e12
    print(f"model FLOPs per step {flops/1e12:.3f} TFLOP; optimised I2C: {tf:.1f} TFLOP/s" +
          (f", MFU {tf/peak*100:.0f}% of {peak:.0f} TFLOP/s dense bf16 (goal >= 35%)" if peak else " (no known GPU peak: MFU not estimated)"))
    fig.update(optimised_over_fp32=res['fp32 eager', 'sc+gc'] / res['optimised', 'sc+gc'], i2c_over_plain=res['optimised', 'sc+gc'] / res['optimised', 'plain'],
               tflops=tf, mfu=tf / peak if peak else None, epoch_min={})
    for what, n in (('CUB-200-2011', 5994), ('ImageNet', 1281167)):
        s = math.ceil(n / batch) * res['optimised', 'sc+gc']
        fig['epoch_min'][what] = round(s / 60, 2)
        print(f"one {what} epoch ({n:,} images) at this speed: {s/60:.1f} min of compute on one device")
    if a.json:
        with open(a.json + '.tmp', 'w') as f: json.dump(fig, f, indent=1)
        Path(a.json + '.tmp').replace(a.json)


if __name__ == '__main__': main()
