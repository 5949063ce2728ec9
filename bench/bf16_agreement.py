"""bf16 autocast against float32 on one trained checkpoint: the dtypes of the maps and logits under autocast, how far the
normalised class maps move, how many object seeds stay the same (same generator), top-1 agreement, and MaxBoxAcc /
MaxBoxAccV2 of both sets of maps (the first 500 val images of the checkpoint's own data).

    python bench/bf16_agreement.py runs/tiny/sc_gc.pt
"""
import sys, torch, numpy as np
from i2c_nb.report import load_checkpoint, config_from_checkpoint, model_from_checkpoint
from i2c_nb.pipeline import Data
from i2c_nb.cam import class_maps, normalize_maps
from i2c_nb.seeds import sample_seeds
from i2c_nb.eval import wsoleval_maps
from i2c_nb.fast_eval import evaluate_boxes
torch.set_num_threads(2)
ck = load_checkpoint(sys.argv[1]); cfg = config_from_checkpoint(ck, device='cpu', progress=False)   # a stage file of any run
model = model_from_checkpoint(ck); data = Data(cfg); data.mean, data.std = list(ck['mean']), list(ck['std'])
sp = data.splits['val']; n = min(len(sp), 500)
x = data.normalize(data.images['val'][:n]).contiguous(memory_format=torch.channels_last); y = torch.as_tensor(sp.labels[:n])
with torch.no_grad():
    o32 = model(x)
    with torch.autocast('cpu', dtype=torch.bfloat16): o16 = model(x)
print(o16.maps.dtype, o16.logits.dtype)
m32, m16 = normalize_maps(class_maps(o32.maps, y)), normalize_maps(class_maps(o16.maps, y))
print('normalised map max diff', float((m32 - m16).abs().max()), 'mean', float((m32 - m16).abs().mean()))
i32, v32 = sample_seeds(m32, 3, 0.7, generator=torch.Generator().manual_seed(0))
i16, v16 = sample_seeds(m16, 3, 0.7, generator=torch.Generator().manual_seed(0))
print('same seeds', float((i32 == i16).float().mean()), 'valid same', bool((v32 == v16).all()))
print('top1 agree', float((o32.logits.argmax(1) == o16.logits.argmax(1)).float().mean()))
r32 = evaluate_boxes(wsoleval_maps(class_maps(o32.maps, y)), sp.boxes[:n], sp.sizes[:n])
r16 = evaluate_boxes(wsoleval_maps(class_maps(o16.maps, y)), sp.boxes[:n], sp.sizes[:n])
print('MaxBoxAcc', r32['MaxBoxAcc'], r16['MaxBoxAcc'], 'V2', r32['MaxBoxAccV2'], r16['MaxBoxAccV2'])
