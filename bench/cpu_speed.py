"""CPU speed: the machine's matrix-multiply rate in float32 and bf16, the training step's achieved rate (FLOPs counted by
torch's FlopCounterMode) in float32 and on the fast path (bf16 autocast where the CPU computes bf16 natively,
channels_last), at one thread and at all cores; and the share of a tiny-preset epoch spent outside the training step
(evaluation, data, logging). The CPU's analogue of the GPU bench's MFU: achieved / matmul rate.

    python bench/cpu_speed.py                  # the tiny preset's step (small_net, 10 classes x 6 images, 64 px)
    python bench/cpu_speed.py --steps 20 --no-epoch

All numbers come from this one run on this machine; compare the ratios, not absolute times across machines.
"""
import argparse, dataclasses, os, statistics, tempfile, time
from pathlib import Path
import torch
from torch.utils.flop_counter import FlopCounterMode
from i2c_nb.config import get_config
from i2c_nb.pipeline import Data
from i2c_nb.inference import cpu_bf16, dtype_path
from i2c_nb.train import Learner, Callback, MethodCB, EvalCB, Recorder, CheckpointCB, FiniteLossCB, CancelFitException


def matmul_gflops(dtype, n:int=2048, reps:int=5)->float:
    "Best of `reps` timed n x n matrix products, in GFLOP/s."
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _timed(f)->float:
    t = time.perf_counter(); f(); return time.perf_counter() - t


class StepTimes(Callback):
    "Wall time of each of the first `n` training steps (from before the batch's callbacks to after them); then the run ends."
    order = -100
    def __init__(self, n:int): self.n, self.times = n, []
    def before_batch(self, learn): self.t = time.perf_counter()
    def after_batch(self, learn):
        self.times.append(time.perf_counter() - self.t)
        if len(self.times) >= self.n: raise CancelFitException()


class CountFlops(Callback):
    "FLOPs of the first training step (forward, losses, backward, optimiser step), counted by FlopCounterMode."
    order = -100
    def before_batch(self, learn):
        if learn.step == 0: self.mode = FlopCounterMode(display=False); self.mode.__enter__()
    def after_batch(self, learn):
        if learn.step == 1: self.mode.__exit__(None, None, None); self.flops = self.mode.get_total_flops(); raise CancelFitException()


class CompileCPU(Callback):
    "torch.compile the stage's network on the CPU too (`CompileCB` compiles on CUDA only: measured here)."
    order = 11
    def before_stage(self, learn): learn.net = torch.compile(learn.net)


def step_cfg(amp:bool):
    return get_config('tiny', amp=amp, progress=False, warmup_epochs=0, methods=('sc+gc',), epochs=1)


def step_rate(data, amp:bool, steps:int, compile:bool=False)->tuple:
    "(median seconds per step after 3 warm-up steps, FLOPs per step, seconds of the first step) of the tiny preset's I2C step."
    cfg = step_cfg(amp); data.cfg = cfg
    fl = CountFlops(); Learner(cfg, data, [MethodCB(), fl]).fit()
    st = StepTimes(steps + 3); Learner(cfg, data, [MethodCB(), st] + ([CompileCPU()] if compile else [])).fit()
    return statistics.median(st.times[3:]), fl.flops, st.times[0]


class EpochShare(Callback):
    "Seconds of each epoch in all (training, evaluation, logging, checkpoint), and inside its training steps."
    order = 100
    def __init__(self): self.total, self.steps = [], []
    def before_epoch(self, learn): self.t0 = time.perf_counter(); self.steps.append(0.)
    def before_batch(self, learn): self.t = time.perf_counter()
    def after_batch(self, learn): self.steps[-1] += time.perf_counter() - self.t
    def after_epoch(self, learn): self.total.append(time.perf_counter() - self.t0)


def epoch_share(data, amp:bool)->tuple:
    "Seconds of two tiny-preset epochs (the first evaluates val, the last val and test in full) and inside their steps."
    cfg = dataclasses.replace(step_cfg(amp), methods=('plain',), epochs=2); data.cfg = cfg
    es = EpochShare()
    with tempfile.TemporaryDirectory() as d:
        Learner(cfg, data, [MethodCB(), FiniteLossCB(), EvalCB(), Recorder(d), CheckpointCB(d), es]).fit()
    return es.total, es.steps


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--steps', type=int, default=20, help='timed steps per case (after 3 warm-up steps)')
    p.add_argument('--no-epoch', dest='epoch', action='store_false', help='skip the whole-epoch measurement')
    p.add_argument('--compile', action='store_true', help='also time the fast step under torch.compile (all cores)')
    a = p.parse_args()
    cores = os.cpu_count()
    data = Data(get_config('tiny', progress=False))
    print(f"{cores} CPUs; native bf16: {cpu_bf16()}; the fast path: {dtype_path('cpu', True)}, channels_last; "
          f"load average {os.getloadavg()[0]:.2f}")
    rows = {}
    for threads in sorted({1, cores}):
        torch.set_num_threads(threads)
        mm = {n: matmul_gflops(dt) for n, dt in (('float32', torch.float32), ('bf16', torch.bfloat16))}
        for path, amp in (('float32', False), ('fast', True)):
            s, flops, _ = step_rate(data, amp, a.steps)
            rows[threads, path] = s
            peak = mm['bf16' if amp and cpu_bf16() else 'float32']
            print(f"{threads} thread(s): matmul {mm['float32']:6.1f} GFLOP/s float32, {mm['bf16']:6.1f} bf16 | {path:7s} step "
                  f"{s*1e3:6.1f} ms, {flops/1e9:.1f} GFLOP -> {flops/s/1e9:6.1f} GFLOP/s = {flops/s/1e9/peak:.0%} of its matmul rate", flush=True)
        print(f"{threads} thread(s): fast / float32 step time {rows[threads, 'fast'] / rows[threads, 'float32']:.2f}")
    if a.compile:
        torch.set_num_threads(cores)
        s, _, first = step_rate(data, True, a.steps, compile=True)
        print(f"{cores} thread(s): fast step under torch.compile {s*1e3:6.1f} ms ({s / rows[cores, 'fast']:.2f} of eager), "
              f"compiling took {first:.0f} s")
    if a.epoch:
        torch.set_num_threads(cores)
        for path, amp in (('float32', False), ('fast', True)):
            total, steps = epoch_share(data, amp)
            for what, t, st in zip(('an epoch with val', "a stage's last epoch (val and test in full)"), total, steps):
                print(f"tiny preset, {cores} threads, {path}: {what}: {t:.1f} s, {100 * (t - st) / t:.0f}% of it outside the training "
                      f"steps (evaluation, data, logging, checkpoint)")


if __name__ == '__main__': main()
