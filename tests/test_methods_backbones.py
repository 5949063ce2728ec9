"""A CPU smoke run of every Table-1 method with every backbone family (random weights, the bundled
images at the smallest size each network takes (32 px, InceptionV3 64), a couple of steps per method): each trains through the real loop and evaluation and ends finite."""
import math
import pytest, torch
from i2c_nb.config import get_config
from i2c_nb.train import train, load_checkpoint, model_from_checkpoint, stage_file

METHODS = ('has', 'cutmix', 'adl', 'acol', 'spg', 'sc+gc', 'adl+sc+gc')


@pytest.mark.parametrize('backbone,crop', [('vgg16', 32), ('resnet50', 32), ('inceptionv3', 64), ('efficientnet_lite0', 32)])   # the smallest input each takes
def test_every_method_with_every_backbone(backbone, crop, tmp_path):
    torch.set_num_threads(1)
    cfg = get_config('tiny', backbone=backbone, width=32, subset=40, warmup_epochs=0, epochs=1, images_per_class=2,
                     methods=METHODS, progress=False, crop=crop, resize=crop)
    rep = train(cfg, tmp_path)
    assert list(rep['results']) == list(METHODS)
    for m, r in rep['results'].items():
        assert math.isfinite(r['test_at_val']['MaxBoxAcc']) and 0 <= r['test']['top1'] <= 100, m
        ck = load_checkpoint(tmp_path/stage_file(m))
        net = model_from_checkpoint(ck)
        with torch.no_grad(): o = net(torch.randn(1, 3, 64, 64))
        assert o.maps.shape[-2:] == (8, 8) and bool(torch.isfinite(o.maps).all()), m     # stride 8
