"""bf16 autocast on the CPU against float32, on a trained checkpoint: the class maps and logits leave the network in
float32 under autocast, and what the training reads from them (normalised maps, the object seeds) and what the
evaluation reads (wsolevaluation's score maps, MaxBoxAcc) agree with float32's within stated tolerances.

Tolerances, from the same comparison on this project's checkpoints (`python bench/bf16_agreement.py CHECKPOINT`, 500 val images, this 2-core
machine): the tiny run's SC+GC model: mean |Δ| of normalised maps 0.0007 (max 0.011), 99% of seeds identical,
MaxBoxAcc 59.6 vs 59.8; a fine-tuned EfficientNet-Lite0 (tiny-pretrained): mean |Δ| 0.010 (max 0.28), 91% of seeds
identical, MaxBoxAcc 27.4 vs 27.0. Asserted here for a briefly trained small network: mean |Δ| < 0.01, at least 95%
of seeds identical, the same images without an object seed, top-1 agreeing on 98% of images, MaxBoxAcc and MaxBoxAccV2
within 1.5 points."""
import pytest, torch
from i2c_nb.config import get_config
from i2c_nb.train import train, load_checkpoint, model_from_checkpoint, stage_file
from i2c_nb.pipeline import Data
from i2c_nb.cam import class_maps, normalize_maps
from i2c_nb.seeds import sample_seeds
from i2c_nb.eval import wsoleval_maps
from i2c_nb.fast_eval import evaluate_boxes


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp('bf16')
    cfg = get_config('tiny', subset=600, warmup_epochs=2, epochs=1, progress=False)
    train(cfg, out)
    ck = load_checkpoint(out/stage_file('sc+gc'))
    data = Data(cfg); data.mean, data.std = list(ck['mean']), list(ck['std'])
    return model_from_checkpoint(ck), data


def test_bf16_maps_seeds_and_evaluation_match_float32(trained):
    model, data = trained
    sp = data.splits['val']
    x, y = data.normalize(data.images['val']).contiguous(memory_format=torch.channels_last), torch.as_tensor(sp.labels)
    with torch.no_grad():
        o32 = model(x)
        with torch.autocast('cpu', dtype=torch.bfloat16): o16 = model(x)
    assert o16.maps.dtype == o16.logits.dtype == torch.float32                 # FloatConv2d: the head's last layer
    m32, m16 = normalize_maps(class_maps(o32.maps, y)), normalize_maps(class_maps(o16.maps, y))
    assert float((m32 - m16).abs().mean()) < 0.01
    i32, v32 = sample_seeds(m32, 3, 0.7, generator=torch.Generator().manual_seed(0))
    i16, v16 = sample_seeds(m16, 3, 0.7, generator=torch.Generator().manual_seed(0))
    assert torch.equal(v32, v16) and float((i32 == i16).float().mean()) >= 0.95
    assert float((o32.logits.argmax(1) == o16.logits.argmax(1)).float().mean()) >= 0.98
    r32 = evaluate_boxes(wsoleval_maps(class_maps(o32.maps, y)), sp.boxes, sp.sizes)
    r16 = evaluate_boxes(wsoleval_maps(class_maps(o16.maps, y)), sp.boxes, sp.sizes)
    for k in ('MaxBoxAcc', 'MaxBoxAccV2'): assert abs(r32[k] - r16[k]) <= 1.5, (k, r32[k], r16[k])
