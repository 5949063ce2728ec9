"""One test per kind of bad input to the readers of `i2c_nb.data` and `i2c_nb.datasets` (CUB, ILSVRC XML): each copies a good fixture into
`tmp_path`, corrupts one line (or file), and checks that a `DataFormatError` is raised whose message
names the file and, where lines apply, the 1-based line number."""
import shutil
from pathlib import Path
import numpy as np
import pytest
from i2c_nb.data import DataFormatError, WSOLSplit, load_rgb, read_wsol_metadata, write_wsol_metadata
from i2c_nb.datasets import read_cub, read_voc_xml, read_ilsvrc_val

FX = Path(__file__).parent/'fixtures'
META = FX/'wsol'/'metadata'/'test'

def corrupt_wsol(tmp_path, fname, old, new):
    "Copy of the fixture wsolevaluation split with `old` replaced by `new` (once) in `fname`."
    dst = shutil.copytree(META, tmp_path/'split')
    text = (dst/fname).read_text()
    assert text.count(old) == 1, (fname, old)
    (dst/fname).write_text(text.replace(old, new))
    return dst

def corrupt_cub(tmp_path, fname, old, new):
    "Copy of the fixture CUB folder with `old` replaced by `new` (once) in `fname`."
    dst = shutil.copytree(FX/'cub', tmp_path/'cub')
    if fname:
        text = (dst/fname).read_text()
        assert text.count(old) == 1, (fname, old)
        (dst/fname).write_text(text.replace(old, new))
    return dst

def message(f, *contains):
    "The message of the DataFormatError raised by `f()`, checked to contain each of `contains`."
    with pytest.raises(DataFormatError) as e: f()
    msg = str(e.value)
    for c in contains: assert c in msg, (c, msg)
    return msg

# --- the good fixtures read as expected (so the failures below are caused by the corruption)

def test_good_fixtures():
    s = read_wsol_metadata(META)
    assert s.counts() == dict(images=5, boxes=7, classes=2)
    assert len(read_cub(FX/'cub', 'all')) == 4
    assert len(read_ilsvrc_val(FX/'ilsvrc'/'ann', FX/'ilsvrc', FX/'ilsvrc'/'LOC_synset_mapping.txt')) == 3

def test_crlf_blank_lines_and_no_final_newline(tmp_path):
    dst = shutil.copytree(META, tmp_path/'split')
    for f in dst.iterdir(): f.write_bytes(f.read_bytes().replace(b'\n', b'\r\n') + b'\r\n\r\n')
    s, ref = read_wsol_metadata(dst), read_wsol_metadata(META)
    assert s.image_ids == ref.image_ids and (s.labels == ref.labels).all()
    assert all((a == b).all() for a, b in zip(s.boxes, ref.boxes))

# --- wsolevaluation metadata

@pytest.mark.parametrize('fname,old,new,words', [
    ('localization.txt', '16,10,28,30', '16,10,28', ('localization.txt line 5', "expected 'path,x0,y0,x1,y1'", "'disk/disk_0.jpg,16,10,28'")),
    ('image_sizes.txt', 'sq_1.jpg,40,40', 'sq_1.jpg,40,forty', ('image_sizes.txt line 2', "non-numeric field 'forty'")),
    ('class_labels.txt', 'disk_0.jpg,1', 'disk_0.jpg,bird', ('class_labels.txt line 3', "non-numeric field 'bird'")),
    ('localization.txt', '8,6,30,26', '30,6,8,26', ('localization.txt line 1', 'x1 < x0')),
    ('localization.txt', '10,12,40,36', '10,12,40,50', ('localization.txt line 7', 'outside the 48x48 image')),
    ('class_labels.txt', 'disk/disk_1.jpg', 'disk/disk_9.jpg', ('class_labels.txt line 4', 'not in image_ids.txt', 'disk/disk_9.jpg')),
    ('localization.txt', 'disk/disk_1.jpg', 'disk/disk_7.jpg', ('localization.txt line 7', 'not in image_ids.txt'))])
def test_bad_line(tmp_path, fname, old, new, words):
    "A malformed line, a non-numeric field, x1 < x0, a box outside its image, an id not in image_ids.txt: the file and line named."
    message(lambda: read_wsol_metadata(corrupt_wsol(tmp_path, fname, old, new)), *words)

def test_box_one_pixel_over_is_tolerated(tmp_path):
    dst = corrupt_wsol(tmp_path, 'localization.txt', '10,12,40,36', '10,12,49,49')
    assert read_wsol_metadata(dst).boxes[3].tolist() == [[10, 12, 49, 49]]

def test_image_without_size(tmp_path):
    dst = corrupt_wsol(tmp_path, 'image_sizes.txt', '\ndisk/disk_2.jpg,24,32', '')
    message(lambda: read_wsol_metadata(dst), 'image_sizes.txt', 'no size', 'disk/disk_2.jpg', 'image_ids.txt line 5')

def test_duplicate_id(tmp_path):
    dst = corrupt_wsol(tmp_path, 'image_ids.txt', 'disk/disk_1.jpg', 'disk/disk_0.jpg')
    message(lambda: read_wsol_metadata(dst), 'image_ids.txt line 4', 'duplicate image id (first on line 3)')

def test_missing_metadata_file(tmp_path):
    dst = shutil.copytree(META, tmp_path/'split'); (dst/'image_sizes.txt').unlink()
    message(lambda: read_wsol_metadata(dst), 'image_sizes.txt', 'missing file')

def test_write_round_trip(tmp_path):
    s = read_wsol_metadata(META)
    s.boxes[0] = s.boxes[0] + 0.25
    out = write_wsol_metadata(s, tmp_path/'out')
    r = read_wsol_metadata(out)
    assert r.image_ids == s.image_ids and (r.labels == s.labels).all() and (r.sizes == s.sizes).all()
    assert all(np.array_equal(a, b) for a, b in zip(r.boxes, s.boxes))
    assert sorted(p.name for p in out.iterdir()) == ['class_labels.txt', 'image_ids.txt', 'image_sizes.txt', 'localization.txt']

# --- images

def test_missing_image_file():
    s = WSOLSplit(['square/none.jpg'], [0], [(4, 4)], [[]], image_root=FX/'wsol'/'images')
    message(lambda: s.load_image(0), "'square/none.jpg'", 'none.jpg', 'no such image file')

def test_corrupt_image():
    message(lambda: load_rgb(FX/'images'/'truncated.jpg'), 'truncated.jpg', 'cannot decode image')

def test_not_an_image(tmp_path):
    p = tmp_path/'fake.jpg'; p.write_text('not a jpeg')
    message(lambda: load_rgb(p), 'fake.jpg', 'cannot decode image')

@pytest.mark.parametrize('name', ['gray.jpg', 'cmyk.jpg', 'alpha.png', 'palette.png', 'gray16.png'])
def test_odd_images_load_as_rgb(name):
    im = load_rgb(FX/'images'/name)
    assert (im.mode, im.size) == ('RGB', (24, 16))

# --- CUB-200-2011

@pytest.mark.parametrize('fname,old,new,split,words', [
    ('bounding_boxes.txt', '3 10.0 2.0 30.0 30.0', '3 10.0 2.0 30.0', 'all', ('bounding_boxes.txt line 3', "expected 'id,x,y,w,h'")),
    ('image_class_labels.txt', '3 2', '3 two', 'all', ('image_class_labels.txt line 3', "non-numeric field 'two'")),
    ('bounding_boxes.txt', '1 6.0 5.0 24.0 18.0', '1 6.0 5.0 -4.0 18.0', 'test', ('bounding_boxes.txt line 1', 'x1 < x0')),
    ('bounding_boxes.txt', '3 10.0 2.0 30.0 30.0', '3 10.0 2.0 30.0 40.0', 'train', ('bounding_boxes.txt line 3', 'outside the 48x36 image')),
    ('train_test_split.txt', '2 1\n', '', 'all', ('train_test_split.txt', 'no is_train flag', 'images.txt line 2')),
    ('image_class_labels.txt', '4 2', '5 2', 'all', ('image_class_labels.txt line 4', 'not in images.txt'))])
def test_cub_bad_line(tmp_path, fname, old, new, split, words):
    "CUB's own files: a malformed line, a non-numeric field, a negative width, a box outside its image, a missing or unknown id."
    message(lambda: read_cub(corrupt_cub(tmp_path, fname, old, new), split), *words)

def test_cub_missing_image_file(tmp_path):
    dst = corrupt_cub(tmp_path, None, None, None)
    (dst/'images'/'002.Laysan_Albatross'/'Laysan_Albatross_0001_545.jpg').unlink()
    message(lambda: read_cub(dst, 'train'), 'images.txt line 3', 'Laysan_Albatross_0001_545.jpg', 'no such image file')

def test_cub_corrupt_image(tmp_path):
    dst = corrupt_cub(tmp_path, None, None, None)
    (dst/'images'/'002.Laysan_Albatross'/'Laysan_Albatross_0001_545.jpg').write_bytes(b'garbage')
    message(lambda: read_cub(dst, 'train'), 'images.txt line 3', 'Laysan_Albatross_0001_545.jpg', 'cannot read image header')

# --- ILSVRC XML

def test_malformed_xml(tmp_path):
    p = tmp_path/'ILSVRC2012_val_00000001.xml'
    p.write_text((FX/'ilsvrc'/'ann'/p.name).read_text().replace('</bndbox>', '</bndbx>'))
    message(lambda: read_voc_xml(p), 'ILSVRC2012_val_00000001.xml line 23', 'malformed XML')

def test_xml_non_numeric_box(tmp_path):
    p = tmp_path/'ILSVRC2012_val_00000001.xml'
    p.write_text((FX/'ilsvrc'/'ann'/p.name).read_text().replace('<xmax>30', '<xmax>thirty'))
    message(lambda: read_voc_xml(p), 'ILSVRC2012_val_00000001.xml', 'object 1: <xmax> is not a number')

def test_xml_box_outside_image(tmp_path):
    ann = shutil.copytree(FX/'ilsvrc'/'ann', tmp_path/'ann'); p = ann/'ILSVRC2012_val_00000002.xml'
    p.write_text(p.read_text().replace('<xmax>46', '<xmax>60'))
    message(lambda: read_ilsvrc_val(ann, FX/'ilsvrc', FX/'ilsvrc'/'LOC_synset_mapping.txt'),
            'ILSVRC2012_val_00000002.xml', 'object 2', 'outside the 48x40 image')

def test_xml_unknown_synset():
    message(lambda: read_ilsvrc_val(FX/'ilsvrc'/'ann', FX/'ilsvrc', ['n01440764', 'n01443537']),
            'ILSVRC2012_val_00000001.xml', "synset not in the synset list, got 'n01484850'")
