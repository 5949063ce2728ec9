"""`i2c_nb.datasets` from the outside: folders in the real CUB-200-2011, raw ImageNet and wsolevaluation layouts,
built at test time by the package's own builders, read through `open_dataset`."""
import os, shutil
import numpy as np
import pytest
from PIL import Image
from i2c_nb.data import DataFormatError, read_wsol_metadata
from i2c_nb.datasets import (IMG_EXTENSIONS, hold_out, make_cub_folder, make_imagenet_folder, open_dataset, read_cub, read_ilsvrc_val,
                             read_imagenet_train, read_synset_names, read_voc_xml, write_wsol_layout)

SPLITS = ('train', 'val', 'test')

@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    d = tmp_path_factory.mktemp('datasets')
    return dict(cub=make_cub_folder(d/'CUB_200_2011'), inet=make_imagenet_folder(d/'imagenet'),
                boxed=make_imagenet_folder(d/'imagenet_boxed', train_boxes=True), tmp=d)

def message(f, *contains):
    "The one-line message of the DataFormatError raised by `f()`, checked to contain each of `contains`."
    with pytest.raises(DataFormatError) as e: f()
    msg = str(e.value)
    for c in contains: assert c in msg, (c, msg)
    assert '\n' not in msg, msg
    return msg

def sizes(splits): return [len(splits[s]) for s in SPLITS]

# --- builders

def test_builders_are_deterministic(folders, tmp_path):
    again = make_cub_folder(tmp_path/'cub')
    for f in ('images.txt', 'bounding_boxes.txt', 'train_test_split.txt', 'classes.txt', 'image_class_labels.txt'):
        assert (again/f).read_text() == (folders['cub']/f).read_text()
    inet2 = make_imagenet_folder(tmp_path/'inet')
    assert sorted(p.relative_to(inet2) for p in inet2.rglob('*')) == sorted(p.relative_to(folders['inet']) for p in folders['inet'].rglob('*'))
    x = 'val/ILSVRC2012_val_00000002.xml'
    assert (inet2/x).read_text() == (folders['inet']/x).read_text()
    assert make_cub_folder(tmp_path/'cub_s1', seed=1).joinpath('bounding_boxes.txt').read_text() != (again/'bounding_boxes.txt').read_text()

def test_builders_write_real_layouts(folders):
    cub = read_cub(folders['cub'], 'all')
    assert cub.counts() == dict(images=30, boxes=30, classes=3)
    assert (folders['cub']/'classes.txt').read_text().splitlines()[0] == '1 001.Black_footed_Albatross'
    modes = sorted(Image.open(cub.image_path(i)).mode for i in range(len(cub)))
    assert modes.count('L') == 1 and modes.count('CMYK') == 1
    assert {tuple(s) for s in cub.sizes.tolist()} == {(500, 375), (375, 500), (500, 333), (333, 500)}
    inet = folders['inet']
    assert sorted(os.listdir(inet)) == ['LOC_synset_mapping.txt', 'train', 'val']
    assert len(list((inet/'val').glob('ILSVRC2012_val_????????.JPEG'))) == 9 == len(list((inet/'val').glob('*.xml')))
    wh, objs = read_voc_xml(inet/'val'/'ILSVRC2012_val_00000001.xml')
    assert wh == Image.open(inet/'val'/'ILSVRC2012_val_00000001.JPEG').size and objs[0][0].startswith('n0')
    assert len(list((folders['boxed']/'train').rglob('*.xml'))) == 9

# --- raw ImageNet train, as ImageFolder

def test_imagefolder_order_matches_torchvision(folders, tmp_path):
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS as TV_EXT
    assert set(IMG_EXTENSIONS) == set(TV_EXT)
    t = tmp_path/'train'
    for f in ('n2/n2_9.JPEG', 'n2/n2_10.JPEG', 'n2/n2_10.xml', 'n1/x.Png', 'n1/b.jpeg', 'n1/readme.txt', 'n1/a.JPG', 'n3/c.webp'):
        (t/f).parent.mkdir(parents=True, exist_ok=True); (t/f).touch()
    for root in (folders['inet']/'train', folders['boxed']/'train', t):
        ref = ImageFolder(str(root), loader=lambda p: p)
        ours = read_imagenet_train(root)
        assert ours.class_names == ref.classes
        assert [str(root.parent/i) for i in ours.image_ids] == [p for p, _ in ref.samples]
        assert ours.labels.tolist() == [y for _, y in ref.samples]

def test_imagenet_train_is_weak_without_opening_images(folders, tmp_path):
    t = tmp_path/'train'; (t/'n1').mkdir(parents=True); (t/'n1'/'not_a_jpeg.JPEG').write_text('x')
    s = read_imagenet_train(t)          # the broken file is never opened
    assert s.weak and s.sizes.tolist() == [[0, 0]] and s.image_ids == ['train/n1/not_a_jpeg.JPEG'] and s.image_root == tmp_path
    names = read_synset_names(folders['inet']/'LOC_synset_mapping.txt')
    s = read_imagenet_train(folders['inet']/'train', names)
    assert s.class_names[0] == 'tench, Tinca tinca' and s.image_ids[0].startswith('train/n01440764/n01440764_')

def test_imagenet_train_errors(tmp_path):
    t = tmp_path/'train'; t.mkdir()
    message(lambda: read_imagenet_train(t), str(t), 'no class folders')
    (t/'n1').mkdir(); (t/'n1'/'a.JPEG').touch(); (t/'n2').mkdir(); (t/'n2'/'a.xml').touch()
    message(lambda: read_imagenet_train(t), str(t/'n2'), 'empty class folder')
    message(lambda: read_imagenet_train(tmp_path/'nope'), 'nope', 'no such folder')

def test_synset_names(tmp_path):
    p = tmp_path/'LOC_synset_mapping.txt'
    p.write_text('n1 one, uno\nn2\r\n')
    assert read_synset_names(p) == {'n1': 'one, uno', 'n2': 'n2'}
    p.write_text('n1 one\nn1 again')
    message(lambda: read_synset_names(p), 'LOC_synset_mapping.txt line 2', 'duplicate wnid')

# --- the fixed hold-out

def test_hold_out_is_first_per_class_in_order(folders):
    tr = read_cub(folders['cub'], 'train')
    np.random.seed(1); rest, held = hold_out(tr, 5, 'CUB train')
    np.random.seed(2); rest2, held2 = hold_out(tr, 5, 'CUB train')
    assert held.image_ids == held2.image_ids and rest.image_ids == rest2.image_ids
    first = [i for c in range(3) for i in np.flatnonzero(tr.labels == c)[:5]]
    assert held.image_ids == [tr.image_ids[i] for i in sorted(first)]
    assert rest.image_ids == [x for k, x in enumerate(tr.image_ids) if k not in first]

def test_cub_layout(folders):
    splits, info = open_dataset(folders['cub'])
    assert sizes(splits) == [21 - 5*3, 5*3, 9]
    assert info['layout'] == 'cub' and info['holdout'] == 5 and info['root'] == str(folders['cub'])
    assert 'images.txt order' in info['val'] and isinstance(info['notes'], list)
    assert splits['train'].class_names == splits['val'].class_names == splits['test'].class_names
    assert [s.name for s in splits.values()] == ['CUB/train', 'CUB/val', 'CUB/test']
    tr = read_cub(folders['cub'], 'train')
    assert splits['val'].image_ids == hold_out(tr, 5, 'x')[1].image_ids
    assert not set(splits['val'].image_ids) & set(splits['train'].image_ids)
    assert open_dataset(folders['cub'])[0]['val'].image_ids == splits['val'].image_ids   # no seed anywhere
    assert sizes(open_dataset(folders['cub'], holdout=3)[0]) == [21 - 3*3, 9, 9]

def test_cub_class_with_too_few_train_images(tmp_path):
    root = make_cub_folder(tmp_path/'cub', train_per_class=5)
    message(lambda: open_dataset(root), f'{root} (CUB train)', "class '001.Black_footed_Albatross' (label 0) has 5 image(s)",
            'holding out 5 per class', '--holdout N', '--metadata')
    root = make_cub_folder(tmp_path/'cub2', n_classes=4, train_per_class=8)
    lines = (root/'train_test_split.txt').read_text().splitlines()
    cls = (root/'image_class_labels.txt').read_text().splitlines()
    train3 = [k for k, (l, c) in enumerate(zip(lines, cls)) if c.split()[1] == '3' and l.split()[1] == '1']
    for k in train3[:3]: lines[k] = lines[k].split()[0] + ' 0'          # class 3 keeps 5 of its 8 train images
    (root/'train_test_split.txt').write_text('\n'.join(lines))
    message(lambda: open_dataset(root), "'003.Sooty_Albatross' (label 2) has 5 image(s)", '--holdout N', '--metadata')
    assert sizes(open_dataset(root, holdout=4)[0]) == [4*8 - 3 - 4*4, 16, 4*3 + 3]

def test_cub_grayscale_and_cmyk_load_as_rgb(folders):
    splits, _ = open_dataset(folders['cub'])
    seen = set()
    for sp in splits.values():
        for i in range(len(sp)):
            mode = Image.open(sp.image_path(i)).mode
            if mode != 'RGB':
                im = sp.load_image(i); seen.add(mode)
                assert im.mode == 'RGB' and im.size == tuple(sp.sizes[i])
    assert seen == {'L', 'CMYK'}

# --- raw ImageNet

def test_imagenet_val_from_ilsvrc_val(folders):
    root = folders['inet']
    splits, info = open_dataset(root, holdout=1)
    allval = read_ilsvrc_val(root/'val', root, sorted(os.listdir(root/'train')), prefix='val/')
    first = sorted(int(np.flatnonzero(allval.labels == c)[0]) for c in range(3))
    assert splits['val'].image_ids == [allval.image_ids[i] for i in first]
    assert splits['test'].image_ids == [x for k, x in enumerate(allval.image_ids) if k not in first]
    assert splits['test'].image_ids[0].startswith('val/ILSVRC2012_val_') and splits['test'].image_root == root
    assert sizes(splits) == [18, 3, 6] and splits['train'].weak and not splits['val'].weak
    assert info['layout'] == 'imagenet' and info['holdout'] == 1 and 'ILSVRC2012 val' in info['val']
    assert any('not the standard' in n for n in info['notes'])
    names = [s.class_names for s in splits.values()]
    assert names[0] == names[1] == names[2] and names[0][1] == 'goldfish, Carassius auratus'
    message(lambda: open_dataset(root), f"{root/'val'} (ILSVRC2012 val)", 'has 3 image(s)', '--holdout N', '--metadata')

def test_imagenet_val_from_boxed_train(folders):
    root = folders['boxed']
    splits, info = open_dataset(root)
    tr = read_imagenet_train(root/'train')
    boxed = [i for i in tr.image_ids if (root/i).with_suffix('.xml').exists()]
    assert splits['val'].image_ids == boxed and len(boxed) == 9
    assert splits['train'].image_ids == [i for i in tr.image_ids if i not in boxed]
    assert len(splits['test']) == 9 and info['holdout'] == 10 and 'bbox XML' in info['val']
    for i in range(len(splits['val'])):
        wh, objs = read_voc_xml((root/splits['val'].image_ids[i]).with_suffix('.xml'))
        assert tuple(splits['val'].sizes[i]) == wh and len(splits['val'].boxes[i]) == len(objs)
    assert sizes(open_dataset(root, holdout=2)[0]) == [12, 6, 9]

def test_imagenet_grayscale_and_cmyk_load_as_rgb(folders):
    splits, _ = open_dataset(folders['inet'], holdout=1)
    modes = {}
    for sp in splits.values():
        for i in range(len(sp)):
            m = Image.open(sp.image_path(i)).mode
            if m != 'RGB': modes[m] = sp.load_image(i).mode
    assert modes == {'L': 'RGB', 'CMYK': 'RGB'}

def test_imagenet_bad_inputs(folders, tmp_path):
    root = shutil.copytree(folders['boxed'], tmp_path/'inet')
    x = next((root/'train').rglob('*.xml'))
    x.write_text(x.read_text().replace('<name>n0', '<name>n9'))
    message(lambda: open_dataset(root), x.name, "no <object> of the folder's class")
    for f in (root/'val').glob('*.xml'): f.unlink()
    message(lambda: open_dataset(root), str(root/'val'), 'no Pascal-VOC .xml', 'bbox val archive', '--metadata')

# --- wsolevaluation layout

def test_wsol_layout_with_weak_train(folders, tmp_path):
    cub = open_dataset(folders['cub'])[0]
    root = write_wsol_layout(cub, tmp_path/'wsol', weak_train=True)
    assert (root/'metadata'/'train'/'image_sizes.txt').read_text() == '' == (root/'metadata'/'train'/'localization.txt').read_text()
    splits, info = open_dataset(root)
    assert splits['train'].weak and splits['train'].sizes.max() == 0 and not splits['val'].weak
    assert sizes(splits) == sizes(cub) and splits['train'].image_root == root/'images'
    assert info['layout'] == 'wsol' and info['holdout'] is None and any('weak' in n for n in info['notes'])
    assert splits['test'].class_names == cub['test'].class_names    # from the class folders of the ids
    assert splits['train'].class_names is splits['test'].class_names
    assert splits['train'].load_image(0).mode == 'RGB'
    s2, _ = open_dataset(root, metadata=root/'metadata')
    assert sizes(s2) == sizes(splits)
    with pytest.raises(ValueError, match='--holdout'): open_dataset(root, holdout=3)

def test_wsol_weak_train_keeps_sizes_when_given(folders, tmp_path):
    cub = open_dataset(folders['cub'])[0]
    root = write_wsol_layout(cub, tmp_path/'wsol')
    (root/'metadata'/'train'/'localization.txt').write_text('')
    tr = open_dataset(root)[0]['train']
    assert tr.weak and (tr.sizes == cub['train'].sizes).all()
    (root/'metadata'/'train'/'image_sizes.txt').write_text('\n'.join((root/'metadata'/'train'/'image_sizes.txt').read_text().splitlines()[:2]))
    message(lambda: open_dataset(root), 'image_sizes.txt', 'no size for image')

def test_wsol_val_or_test_without_boxes_is_refused(folders, tmp_path):
    cub = open_dataset(folders['cub'])[0]
    for s in ('val', 'test'):
        root = write_wsol_layout(cub, tmp_path/s)
        for f in ('image_sizes.txt', 'localization.txt'): (root/'metadata'/s/f).write_text('')
        message(lambda: open_dataset(root), str(root/'metadata'/s), 'weak labels cannot be evaluated')

def test_wsol_split_read_directly(folders, tmp_path):
    root = write_wsol_layout(open_dataset(folders['cub'])[0], tmp_path/'w', weak_train=True)
    s = read_wsol_metadata(root/'metadata'/'train')
    assert s.weak and 'weak labels' in repr(s) and s.subset([0]).weak and s.counts()['boxes'] == 0

# --- what is not a dataset

def test_missing_and_unknown_folders(tmp_path):
    message(lambda: open_dataset(tmp_path/'nope'), f"data folder {tmp_path/'nope'} does not exist")
    (tmp_path/'stuff').mkdir()
    msg = message(lambda: open_dataset(tmp_path/'stuff'), str(tmp_path/'stuff'), 'no known dataset layout')
    for layout in ('CUB-200-2011', 'raw ImageNet', 'wsolevaluation'): assert layout in msg
    message(lambda: open_dataset(tmp_path/'stuff', metadata=tmp_path/'nometa'), 'nometa', 'no such metadata folder')
