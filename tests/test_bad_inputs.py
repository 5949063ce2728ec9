"""Every command's bad inputs as one table: command, arguments, expected exit status, words the message must hold.
An error is one line on stderr (argparse's own usage errors: its usage line and one error line), no traceback, and
nothing written: the probe's working folder and the shared fixtures are the same before and after. A new command or
option gets its rows here. The commands run in this process (`i2c_nb.cli.COMMANDS` and the two runners), from a fresh
working folder per probe; the fixtures (a tiny trained run, a partly trained one, checkpoints and metadata damaged in
known ways, score maps) are built once."""
import contextlib, io, json, os, shlex, shutil, socket
from pathlib import Path
import numpy as np, pytest, torch
from i2c_nb.cli import COMMANDS
from i2c_nb.ablate_runs import i2c_ablate
from i2c_nb.compare_runs import i2c_compare
from i2c_nb.benchmark import bundled_root, bundled_split
from i2c_nb.datasets import make_cub_folder

RUNNERS = dict(COMMANDS, ablate=i2c_ablate, compare=i2c_compare)
TRAIN_FAST = '--preset tiny --subset 100 --warmup-epochs 1 --epochs 1 --no-progress --threads 2'


class Evil:
    "A pickle that would create a file if it were ever unpickled."
    def __init__(self, mark): self.mark = str(mark)
    def __reduce__(self): return (Path.touch, (Path(self.mark),))


def run(cmd:str, argv:list)->tuple:
    "(exit status, stdout, stderr) of one command, in this process."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: RUNNERS[cmd](argv); code = 0
        except SystemExit as e: code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def tree(*roots)->dict:
    "{path: (size, mtime)} of every file and folder under `roots`."
    return {str(p): (p.stat().st_size if p.is_file() else -1, p.stat().st_mtime_ns if p.is_file() else 0)
            for r in roots if Path(r).exists() for p in [Path(r), *Path(r).rglob('*')]}


def write_splits(meta:Path, rows:list, **kw)->Path:
    "`write_split` as the train, val and test splits of one metadata folder."
    for sp in ('train', 'val', 'test'): write_split(meta/sp, rows, **kw)
    return meta


def write_split(folder:Path, rows:list, sizes=None, boxes=None, labels=None, bom:bool=False):
    "A wsolevaluation metadata split of bundled test images `rows` (ids), with optional replaced sizes / boxes / labels lines."
    folder.mkdir(parents=True, exist_ok=True)
    src = bundled_root()/'metadata'/'test'
    keep = set(rows)
    pick = lambda f: [l for l in (src/f).read_text().splitlines() if l.split(',')[0] in keep]
    (folder/'image_ids.txt').write_text('\n'.join(rows) + '\n')
    (folder/'class_labels.txt').write_text(('\ufeff' if bom else '') + '\n'.join(labels or pick('class_labels.txt')) + '\n')
    (folder/'image_sizes.txt').write_text('\n'.join(sizes or pick('image_sizes.txt')) + '\n')
    (folder/'localization.txt').write_text('\n'.join(boxes or pick('localization.txt')) + '\n')
    return folder


@pytest.fixture(scope='module')
def fx(tmp_path_factory):
    "The shared fixtures, and the folder they live in."
    b = tmp_path_factory.mktemp('probes')
    te = bundled_split('test')
    ids = list(te.image_ids[:24])
    for cmd, args in (('train', f'{TRAIN_FAST} --out {b}/run'), ('train', f'{TRAIN_FAST} --stop-after-steps 2 --out {b}/partial')):
        code, o, e = run(cmd, shlex.split(args)); assert code == 0, (o, e)
    meta = write_splits(b/'meta', ids)
    write_splits(b/'meta_dotdot', ['../' + ids[0]] + ids[1:])
    write_splits(b/'meta_abs', [str(bundled_root()/'images'/ids[0])] + ids[1:])
    write_splits(b/'meta_bom', ids, bom=True)
    write_splits(b/'meta_label', ids, labels=[f'{i},x' for i in ids])
    write_splits(b/'meta_size', ids, sizes=[f'{i},1,1' if n == 0 else f'{i},64,64' for n, i in enumerate(ids)])
    write_splits(b/'meta_box', ids, boxes=[f'{i},1,2,3' for i in ids])
    write_splits(b/'meta_big', ids, sizes=[f'{i},96,96' for i in ids])     # the files are 64x64
    cub = make_cub_folder(b/'CUB', n_classes=3, train_per_class=4, test_per_class=2)
    shutil.copytree(cub, b/'CUB_dotdot')
    lines = (cub/'images.txt').read_text().splitlines(); lines[1] = lines[1].split()[0] + ' ../../outside.jpg'
    (b/'CUB_dotdot'/'images.txt').write_text('\n'.join(lines) + '\n')
    maps = b/'maps'
    for i in ids:
        p = maps/(i + '.npy'); p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, np.random.default_rng(0).random((224, 224), dtype=np.float32))
    bad = b/'maps_bad'; shutil.copytree(maps, bad)
    np.save(bad/(ids[0] + '.npy'), np.zeros((10, 10), np.float32))
    nan = b/'maps_nan'; shutil.copytree(maps, nan); np.save(nan/(ids[0] + '.npy'), np.full((224, 224), np.nan, np.float32))
    miss = b/'maps_missing'; shutil.copytree(maps, miss); (miss/(ids[0] + '.npy')).unlink()
    evil_maps = b/'maps_evil'; shutil.copytree(maps, evil_maps)
    np.save(evil_maps/(ids[0] + '.npy'), np.array([Evil(b/'PWNED')], dtype=object), allow_pickle=True)
    ck = torch.load(b/'run'/'sc_gc.pt', weights_only=True)
    cks = b/'cks'; cks.mkdir()
    torch.save(dict(ck, config=dict(ck['config'], brand_new_setting=1)), cks/'unknown_key.pt')
    torch.save(dict(ck, n_classes=ck['n_classes'] + 5), cks/'wrong_classes.pt')
    torch.save({k: v for k, v in ck.items() if k != 'mean'}, cks/'no_mean.pt')
    torch.save(dict(ck, config=dict(ck['config'], lr='fast')), cks/'bad_value.pt')
    torch.save(ck['model'], cks/'state_dict.pt')
    torch.save(Evil(b/'PWNED'), cks/'evil.pt')
    torch.save(dict(ck, model={**ck['model'], 'extra': Evil(b/'PWNED')}), cks/'evil_nested.pt')
    (cks/'text.pt').write_text('not a checkpoint')
    (cks/'cut.pt').write_bytes((b/'run'/'sc_gc.pt').read_bytes()[:5000])
    (b/'afile').write_text('x')
    (b/'config.json').write_text(json.dumps(dict(preset='tiny', lr=0.1)))
    (b/'bad.json').write_text('{"lr": ')
    (b/'list.json').write_text('[1, 2]')
    (b/'unknown.json').write_text(json.dumps(dict(preset='tiny', no_such_setting=1)))
    return b


# command, arguments ({b}: fixtures, {w}: this probe's working folder), exit status, words in the message
PROBES = [
    # i2c-data
    ('data', '--size 0', 2, 'must be an integer >= 1'),
    ('data', '--size -5', 2, 'must be an integer >= 1'),
    ('data', '--size abc', 2, 'invalid'),
    ('data', '--seed -1 --out {w}/d', 2, '--seed'),
    ('data', '--seed x', 2, 'invalid int'),
    ('data', '--out {b}/afile', 2, 'a file, not a folder'),
    ('data', '--out {b}/afile/sub', 2, 'afile'),
    ('data', '--out {w}/d --size 100000', 2, '--size'),
    ('data', '--bogus', 2, 'unrecognized arguments'),
    ('data', '--out {w}/damaged --no-preview', 2, 'manifest.json'),
    # i2c-check-metadata
    ('check_metadata', '--root {w}/none', 2, 'no such folder'),
    ('check_metadata', '--root {b}/afile', 2, 'no such folder'),
    ('check_metadata', '--root {w}/locked', 2, 'no metadata split'),
    ('check_metadata', '--root {b}/meta_dotdot', 2, "no '..' part"),
    ('check_metadata', '--root {b}/meta_abs', 2, 'not absolute'),
    ('check_metadata', '--root {b}/meta_label', 2, 'class_labels.txt line 1'),
    ('check_metadata', '--root {b}/meta_box', 2, 'localization.txt line 1'),
    ('check_metadata', '--root {b}/meta_size', 2, 'box outside the 1x1 image'),
    ('check_metadata', '--root {b}/meta_bom', 0, 'test'),
    ('check_metadata', '--root {w}/emptyids', 2, 'image_ids.txt: no image ids'),
    ('check_metadata', '--root {w}/dup', 2, 'duplicate image id'),
    ('check_metadata', '--bogus', 2, 'unrecognized arguments'),
    # i2c-train: settings
    ('train', '--preset nope', 2, 'nope'),
    ('train', '--lr x', 2, 'invalid float'),
    ('train', '--lr -1 --out {w}/r', 2, 'lr'),
    ('train', '--lr 0 --out {w}/r', 2, 'lr'),
    ('train', '--epochs 0 --out {w}/r', 2, 'epochs'),
    ('train', '--epochs -3 --out {w}/r', 2, 'epochs'),
    ('train', '--warmup-epochs -1 --out {w}/r', 2, 'warmup'),
    ('train', '--lambda1 -1 --out {w}/r', 2, 'lambda1'),
    ('train', '--lambda2 -1 --out {w}/r', 2, 'lambda2'),
    ('train', '--k 0 --out {w}/r', 2, 'k'),
    ('train', '--delta 1.5 --out {w}/r', 2, 'delta'),
    ('train', '--delta -0.1 --out {w}/r', 2, 'delta'),
    ('train', '--alpha 2 --out {w}/r', 2, 'alpha'),
    ('train', '--classes-per-batch 0 --out {w}/r', 2, 'classes'),
    ('train', '--images-per-class 0 --out {w}/r', 2, 'images'),
    ('train', '--method sc --images-per-class 1 --out {w}/r', 2, 'images_per_class'),
    ('train', '--method gc-backprop --images-per-class 1 --out {w}/r', 2, 'images_per_class'),
    ('train', '--method sc+gc --images-per-class 1 --out {w}/r', 2, 'images_per_class'),
    ('train', '--method sc --lambda1 0 --no-baseline --out {w}/r', 2, 'lambda1'),
    ('train', '--method gc --lambda2 0 --no-baseline --out {w}/r', 2, 'lambda2'),
    ('train', '--method bogus --out {w}/r', 2, 'bogus'),
    ('train', '--optimizer bogus --out {w}/r', 2, 'optimizer'),
    ('train', '--schedule bogus --out {w}/r', 2, 'schedule'),
    ('train', '--sc-distance cosine --out {w}/r', 2, '--sc-distance'),
    ('train', '--ddp-batch bogus --out {w}/r', 2, '--ddp-batch'),
    ('train', '--device bogus --out {w}/r', 2, 'device'),
    ('train', '--subset -1 --out {w}/r', 2, 'subset'),
    ('train', '--crop 0 --out {w}/r', 2, 'crop'),
    ('train', '--resize 0 --out {w}/r', 2, 'resize'),
    ('train', '--width 0 --out {w}/r', 2, 'width'),
    ('train', '--dropout 1.5 --out {w}/r', 2, 'dropout'),
    ('train', '--eval-batch 0 --out {w}/r', 2, '--eval-batch'),
    ('train', '--log-every 0 --out {w}/r', 2, '--log-every'),
    ('train', '--workers -1 --out {w}/r', 2, 'workers'),
    ('train', '--step 0 --out {w}/r', 2, 'step'),
    ('train', '--step 2 --out {w}/r', 2, 'step'),
    ('train', '--has-grid -1 --method has --out {w}/r', 2, '--has-grid'),
    ('train', '--has-drop 0 --method has --out {w}/r', 2, 'would never act'),
    ('train', '--cutmix-prob 0 --method cutmix --out {w}/r', 2, 'would never act'),
    ('train', '--adl-rate 0 --method adl+sc+gc --out {w}/r', 2, 'would never act'),
    ('train', '--has-drop 1.5 --method has --out {w}/r', 2, '--has-drop'),
    ('train', '--cutmix-prob 2 --method cutmix --out {w}/r', 2, '--cutmix-prob'),
    ('train', '--cutmix-beta 0 --method cutmix --out {w}/r', 2, '--cutmix-beta'),
    ('train', '--adl-rate 2 --method adl --out {w}/r', 2, '--adl-rate'),
    ('train', '--acol-delta 2 --method acol --out {w}/r', 2, '--acol-delta'),
    ('train', '--milestones a,b --out {w}/r', 2, '--milestones'),
    ('train', '--spg-thresholds 1,2 --method spg --out {w}/r', 2, '--spg-thresholds'),
    ('train', '--stop-after 0 --out {w}/r', 2, 'must be an integer >= 1'),
    ('train', '--stop-after-steps 0 --out {w}/r', 2, 'must be an integer >= 1'),
    ('train', '--threads 0 --out {w}/r', 2, 'must be an integer >= 1'),
    ('train', '--dist-timeout-min 0 --out {w}/r', 2, '--dist-timeout-min'),
    ('train', '--dist-backend mpi --out {w}/r', 2, 'invalid choice'),
    ('train', '--save-every -1 --out {w}/r', 2, '--save-every'),
    ('train', '--bogus', 2, 'unrecognized arguments'),
    ('train', '--resume --overwrite --out {w}/r', 2, 'exclude each other'),
    # i2c-train: files
    ('train', '--out {b}/afile', 2, 'is a file, not a folder'),
    ('train', '--out {b}/afile/run', 2, 'is a file, not a folder'),
    ('train', '--config {w}/none.json --out {w}/r', 2, 'none.json'),
    ('train', '--config {b}/bad.json --out {w}/r', 2, 'bad.json'),
    ('train', '--config {b}/list.json --out {w}/r', 2, 'list.json'),
    ('train', '--config {b}/unknown.json --out {w}/r', 2, 'no_such_setting'),
    ('train', '--config {b}/config.json --preset tiny --out {w}/r', 2, 'exclude each other'),
    ('train', '--data {w}/nodata --out {w}/r', 2, 'nodata'),
    ('train', '--data {b}/afile --out {w}/r', 2, 'afile'),
    ('train', '--data {r} --metadata {w}/nometa --out {w}/r', 2, 'nometa'),
    ('train', '--weights {w}/none.pth --out {w}/r', 2, 'none.pth'),
    ('train', '--weights NOT_A_NAME --out {w}/r', 2, 'NOT_A_NAME'),
    ('train', '--backbone resnet50 --weights {b}/cks/text.pt --out {w}/r', 2, 'text.pt'),
    ('train', '--backbone resnet50 --weights {b}/cks/evil.pt --out {w}/r', 2, 'evil.pt'),
    ('train', '--backbone nonet --out {w}/r', 2, 'nonet'),
    ('train', '--init {w}/none.pt --out {w}/r', 2, 'none.pt'),
    ('train', '--init {b}/cks/text.pt --out {w}/r', 2, 'text.pt'),
    ('train', '--init {b}/cks/cut.pt --out {w}/r', 2, 'cut.pt'),
    ('train', '--init {b}/cks/evil.pt --out {w}/r', 2, 'evil.pt'),
    ('train', '--init {b}/cks/evil_nested.pt --out {w}/r', 2, 'evil_nested.pt'),
    ('train', '--init {b}/cks/state_dict.pt --out {w}/r', 2, 'not an i2c_nb training checkpoint'),
    ('train', '--init {b}/cks/wrong_classes.pt --subset 100 --out {w}/r', 2, 'wrong_classes.pt'),
    ('train', '--init {b}/run/sc_gc.pt --width 32 --subset 100 --out {w}/r', 2, 'sc_gc.pt'),
    ('train', '--resume --lr 0.5 --out {b}/run', 2, '--resume with different settings'),
    ('train', '--preset tiny --out {b}/run', 2, 'holds a run already'),
    ('train', '--preset tiny --out {w}/locked', 2, 'another run is writing this folder'),
    ('train', '--resume --preset tiny --out {w}/locked', 2, 'another run is writing this folder'),
    ('train', '--tensorboard --out {w}/r --threads 1 --preset tiny --data {w}/nodata', 2, 'nodata'),
    # i2c-test
    ('test', '', 2, 'required'),
    ('test', '--checkpoint {w}/none.pt', 2, 'no such checkpoint file'),
    ('test', '--checkpoint {b}/afile', 2, 'not a readable checkpoint'),
    ('test', '--checkpoint {b}/cks/text.pt', 2, 'not a readable checkpoint'),
    ('test', '--checkpoint {b}/cks/cut.pt', 2, 'not a readable checkpoint'),
    ('test', '--checkpoint {b}/cks/evil.pt', 2, 'not a readable checkpoint'),
    ('test', '--checkpoint {b}/cks/evil_nested.pt', 2, 'not a readable checkpoint'),
    ('test', '--checkpoint {b}/cks/state_dict.pt', 2, 'not an i2c_nb training checkpoint'),
    ('test', '--checkpoint {b}/cks/unknown_key.pt --json {w}/t.json', 2, 'brand_new_setting'),
    ('test', '--checkpoint {b}/cks/wrong_classes.pt --json {w}/t.json', 2, 'wrong_classes.pt'),
    ('test', '--checkpoint {b}/cks/no_mean.pt --json {w}/t.json', 2, 'mean'),
    ('test', '--checkpoint {b}/cks/bad_value.pt --json {w}/t.json', 2, 'bad_value.pt'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --json {w}', 2, 'is a folder'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --json {b}/afile/t.json', 2, 'afile is a file'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --data {w}/nodata --json {w}/t.json', 2, 'nodata'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --data {r} --metadata {b}/meta_dotdot --json {w}/t.json', 2, "no '..' part"),
    ('test', '--checkpoint {b}/run/sc_gc.pt --data {r} --metadata {b}/meta_big --json {w}/t.json', 2, 'its metadata says 96x96'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --data {r} --metadata {b}/meta_abs --json {w}/t.json', 2, 'not absolute'),
    ('train', '--data {r} --metadata {b}/meta_dotdot --out {w}/r', 2, "no '..' part"),
    ('train', '--data {r} --metadata {b}/meta_big --out {w}/r', 2, 'its metadata says 96x96'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --data {b}/CUB --holdout 1 --json {w}/t.json', 2, 'its model has 10 classes, the data 3'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --data {b}/CUB --holdout 1 --out {w}/m', 2, 'its model has 10 classes, the data 3'),
    ('train', '--preset cub-resnet50 --weights none --data {b}/CUB_dotdot --holdout 1 --out {w}/r', 2, "images.txt line 2: an image id must stay inside"),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --data {b}/CUB_dotdot --holdout 1 --out {w}/m', 2, "images.txt line 2: an image id must stay inside"),
    ('test', '--checkpoint {b}/run/sc_gc.pt --eval-batch 0 --json {w}/t.json', 2, '--eval-batch'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --workers -1 --json {w}/t.json', 2, 'workers'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --device bogus --json {w}/t.json', 2, 'device'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --threads 0', 2, 'must be an integer >= 1'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --holdout -1 --json {w}/t.json', 2, 'holdout'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --dist-backend mpi', 2, 'invalid choice'),
    ('test', '--checkpoint {b}/run/sc_gc.pt --bogus', 2, 'unrecognized arguments'),
    ('test', '--checkpoint {b}/partial/checkpoint.pt --json {w}/t.json', 0, 'partly trained'),
    # i2c-cams
    ('cams', '--out {w}/m', 2, 'required'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt', 2, 'required'),
    ('cams', '--checkpoint {w}/none.pt --out {w}/m', 2, 'no such checkpoint file'),
    ('cams', '--checkpoint {b}/cks/evil.pt --out {w}/m', 2, 'not a readable checkpoint'),
    ('cams', '--checkpoint {b}/cks/state_dict.pt --out {w}/m', 2, 'not an i2c_nb training checkpoint'),
    ('cams', '--checkpoint {b}/cks/wrong_classes.pt --out {w}/m', 2, 'wrong_classes.pt'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --out {b}/afile', 2, 'is a file, not a folder'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --out {b}/afile/m', 2, 'is a file, not a folder'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --split bogus --out {w}/m', 2, 'invalid choice'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --cam bogus --out {w}/m', 2, 'invalid choice'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --target-layer head --out {w}/m', 2, '--target-layer needs --cam'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --cam gradcam --target-layer nolayer --out {w}/m', 2, 'nolayer'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --data {r} --metadata {b}/meta_dotdot --out {w}/m', 2, "no '..' part"),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --data {r} --metadata {b}/meta_abs --out {w}/m', 2, 'not absolute'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --data {w}/nodata --out {w}/m', 2, 'nodata'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --eval-batch 0 --out {w}/m', 2, '--eval-batch'),
    ('cams', '--checkpoint {b}/run/sc_gc.pt --out {w}/m --bogus', 2, 'unrecognized arguments'),
    # i2c-evaluate
    ('evaluate', '', 2, '--metadata and --scoremaps are required'),
    ('evaluate', '--metadata {b}/meta/test', 2, '--metadata and --scoremaps are required'),
    ('evaluate', '--metadata {w}/none --scoremaps {b}/maps', 2, 'none'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {w}/none', 2, 'none'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps_missing', 2, '.npy'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps_bad', 2, '224'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps_nan', 2, 'NaN'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps_evil', 2, '.npy'),
    ('evaluate', '--metadata {b}/meta_dotdot/test --scoremaps {b}/maps', 2, "no '..' part"),
    ('evaluate', '--metadata {b}/meta_abs/test --scoremaps {b}/maps', 2, 'not absolute'),
    ('evaluate', '--metadata {b}/meta_box/test --scoremaps {b}/maps', 2, 'localization.txt line 1'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --step 0', 2, '--step'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --step 1e-9', 2, '--step'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --step 2', 2, '--step'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --step x', 2, 'invalid float'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --batch 0', 2, '--batch'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --threads 0', 2, '--threads'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --val-metadata {b}/meta/test', 2, 'go together'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --masks {w}/nomasks', 2, 'nomasks'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --json {w}', 2, 'is a folder'),
    ('evaluate', '--metadata {b}/meta/test --scoremaps {b}/maps --json {b}/afile/r.json', 2, 'afile'),
    ('evaluate', '--bogus', 2, 'unrecognized arguments'),
    # i2c-ablate
    ('ablate', '--seeds x --out {w}/a.json --runs {w}/runs', 2, '--seeds'),
    ('ablate', '--seeds "" --out {w}/a.json --runs {w}/runs', 2, '--seeds'),
    ('ablate', '--seeds 0,0 --out {w}/a.json --runs {w}/runs', 2, 'distinct seeds'),
    ('ablate', '--methods bogus --out {w}/a.json --runs {w}/runs', 2, '--methods'),
    ('ablate', '--methods sc,sc --out {w}/a.json --runs {w}/runs', 2, '--methods'),
    ('ablate', '--grid bogus=1 --out {w}/a.json --runs {w}/runs', 2, 'bogus'),
    ('ablate', '--grid lambda1=x --out {w}/a.json --runs {w}/runs', 2, 'lambda1'),
    ('ablate', '--grid lambda1 --out {w}/a.json --runs {w}/runs', 2, '--grid lambda1: no values'),
    ('ablate', '--jobs 0 --out {w}/a.json --runs {w}/runs', 2, '--jobs'),
    ('ablate', '--threads 0 --out {w}/a.json --runs {w}/runs', 2, '--threads'),
    ('ablate', '--out {w} --runs {w}/runs', 2, 'a folder'),
    ('ablate', '--out {w}/a.json --runs {b}/afile', 2, 'a file, not a folder'),
    ('ablate', '--config {w}/none.json --out {w}/a.json --runs {w}/runs', 2, 'none.json'),
    ('ablate', '--config {b}/bad.json --out {w}/a.json --runs {w}/runs', 2, 'bad.json'),
    ('ablate', '--preset nope --out {w}/a.json --runs {w}/runs', 2, 'nope'),
    ('ablate', '--bogus', 2, 'unrecognized arguments'),
    # i2c-compare
    ('compare', '--seeds x --out {w}/c.json --runs {w}/runs', 2, '--seeds'),
    ('compare', '--seeds 1,1 --out {w}/c.json --runs {w}/runs', 2, 'distinct seeds'),
    ('compare', '--methods bogus --out {w}/c.json --runs {w}/runs', 2, '--methods'),
    ('compare', '--jobs 0 --out {w}/c.json --runs {w}/runs', 2, '--jobs'),
    ('compare', '--threads 0 --out {w}/c.json --runs {w}/runs', 2, '--threads'),
    ('compare', '--out {w} --runs {w}/runs', 2, 'a folder'),
    ('compare', '--out {w}/c.json --runs {b}/afile', 2, 'a file, not a folder'),
    ('compare', '--config {w}/none.json --out {w}/c.json --runs {w}/runs', 2, 'none.json'),
    ('compare', '--preset nope --out {w}/c.json --runs {w}/runs', 2, 'nope'),
    ('compare', '--bogus', 2, 'unrecognized arguments'),
]


def setup_work(w:Path, b:Path):
    "What some probes find in their working folder: a damaged benchmark build, metadata splits, a locked run folder."
    (w/'damaged').mkdir(); (w/'damaged'/'manifest.json').write_text('{"name": ')
    (w/'emptyids'/'test').mkdir(parents=True)
    for f in ('image_ids.txt', 'class_labels.txt', 'image_sizes.txt', 'localization.txt'): (w/'emptyids'/'test'/f).write_text('')
    (w/'emptyids'/'test'/'image_ids.txt').write_text('\n\n')
    dup = write_split(w/'dup'/'test', ['test/2_pullover/00000.png'])
    (dup/'image_ids.txt').write_text('test/2_pullover/00000.png\ntest/2_pullover/00000.png\n')
    (w/'locked').mkdir()
    (w/'locked'/'.lock').write_text(json.dumps(dict(pid=os.getpid(), host=socket.gethostname(), since='now')))


@pytest.mark.parametrize('cmd,args,code,words', PROBES, ids=[f'{i:03d}-{p[0]}' for i, p in enumerate(PROBES)])
def test_probe(fx, tmp_path, monkeypatch, cmd, args, code, words):
    w = tmp_path/'w'; w.mkdir(); setup_work(w, fx)
    monkeypatch.chdir(w)
    def no_training(self): raise AssertionError('the probe reached training: its input was accepted')
    monkeypatch.setattr('i2c_nb.train.Learner.fit', no_training)
    before = tree(w, fx)
    got, out, err = run(cmd, shlex.split(args.format(b=fx, w=w, r=bundled_root())))
    assert got == code, (got, out[-2000:], err[-2000:])
    assert 'Traceback' not in err and 'Traceback' not in out, err
    assert not (fx/'PWNED').exists()
    if code == 2:
        lines = [l for l in err.strip().splitlines() if l.strip()]
        assert lines and (len(lines) == 1 or lines[0].startswith('usage:') or lines[-1].startswith(f"{lines[-1].split(':')[0]}: error:")), err
        assert words in err, (words, err)
        assert tree(w, fx) == before, sorted(set(tree(w, fx).items()) ^ set(before.items()))[:5]
    else: assert words in out + err, (words, out, err)


def test_table_covers_every_command():
    counts = {c: sum(p[0] == c for p in PROBES) for c in RUNNERS}
    assert all(n >= 8 for n in counts.values()), counts
    assert len(PROBES) >= 150, len(PROBES)
