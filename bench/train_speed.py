"""Training-step speed of I2C: ResNet50 at output stride 8, 224 px, batch 80 (40 classes x 2), synthetic tensors.

One run times four cases: fp32 eager (the authors' way) and the optimised path (bf16 autocast, channels_last,
cudnn.benchmark, torch.compile), each with the plain loss and with I2C (SC+GC). It prints images/s, the ratios
optimised/fp32 (goal >= 3x) and I2C/plain step time (goal <= 1.05), and an estimate of model FLOP utilisation.

    python bench/train_speed.py                     # on a GPU: the real measurement
    python bench/train_speed.py --small             # CPU smoke run at a reduced size (no GPU figures)
"""
import argparse, time
import torch
from i2c_nb.model import WSOLNet, backbone, count_macs, paper_sgd
from i2c_nb.objective import I2CObjective

PEAK_BF16_TFLOPS = {'H100': 989., 'H200': 989., 'A100': 312., 'L4': 121., 'A10': 125.}   # dense bf16 tensor-core peaks


def make(args, device, optimised):
    torch.manual_seed(0)
    model = WSOLNet(backbone(args.backbone), args.classes, width=args.width).to(device)
    if optimised: model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if optimised and args.compile and device.type == 'cuda' else model
    return model, net


def time_case(args, device, optimised, method):
    model, net = make(args, device, optimised)
    obj = I2CObjective(args.classes, model.backbone.out_dim, method=method).to(device)
    opt = paper_sgd(model, 1e-3)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    if optimised: x = x.contiguous(memory_format=torch.channels_last)
    y = torch.arange(args.batch, device=device) // 2 % args.classes          # 40 classes x 2, pairs adjacent
    amp = torch.autocast('cuda', dtype=torch.bfloat16) if optimised and device.type == 'cuda' else torch.autocast('cpu', enabled=False)
    def step():
        with amp: o = net(x)
        loss = obj(o.logits.float(), o.maps.float(), o.feats, y)['loss']
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    for _ in range(args.warmup): step()
    if device.type == 'cuda': torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(args.steps): step()
    if device.type == 'cuda': torch.cuda.synchronize()
    dt = (time.perf_counter() - t) / args.steps
    macs = count_macs(model, (1, 3, args.size, args.size))
    return dt, macs


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--backbone', default='resnet50'); p.add_argument('--size', type=int, default=224)
    p.add_argument('--batch', type=int, default=80); p.add_argument('--classes', type=int, default=1000)
    p.add_argument('--width', type=int, default=1024)
    p.add_argument('--steps', type=int, default=20); p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--no-compile', dest='compile', action='store_false')
    p.add_argument('--small', action='store_true', help='CPU smoke run: 64 px, batch 8 (4 classes x 2), 2 steps')
    args = p.parse_args()
    if args.small: args.size, args.batch, args.steps, args.warmup, args.classes, args.width = 64, 8, 2, 1, 10, 256
    device = torch.device(args.device)
    if device.type == 'cuda': torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU (no GPU: the optimised path equals fp32 eager here)'
    print(f"{args.backbone} stride 8, {args.size} px, batch {args.batch}, {args.steps} timed steps on {name}")
    res = {}
    for optimised in (False, True):
        for method in ('plain', 'sc+gc'):
            dt, macs = time_case(args, device, optimised, method)
            res[optimised, method] = dt
            print(f"  {'optimised' if optimised else 'fp32 eager':10s} {method:6s}: {dt*1e3:8.1f} ms/step  {args.batch/dt:8.1f} images/s", flush=True)
    print(f"optimised / fp32 eager (plain): {res[False, 'plain'] / res[True, 'plain']:.2f}x   (goal >= 3)")
    print(f"I2C / plain step time (optimised): {res[True, 'sc+gc'] / res[True, 'plain']:.3f}   (goal <= 1.05)")
    print(f"I2C / plain step time (fp32 eager): {res[False, 'sc+gc'] / res[False, 'plain']:.3f}")
    flops = 3 * 2 * macs * args.batch            # forward + backward ~ 3x the forward's 2 FLOPs per MAC
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if device.type == 'cuda' and k in name), None)
    tf = flops / res[True, 'plain'] / 1e12
    print(f"model FLOPs per step {flops/1e12:.2f} TFLOP; optimised plain: {tf:.1f} TFLOP/s" +
          (f", MFU {tf/peak*100:.0f}% of {peak:.0f} TFLOP/s bf16" if peak else " (no known GPU peak: MFU not estimated)"))


if __name__ == '__main__': main()
