"""What a learner sees of the widgets. Every widget view in every notebook's saved outputs has its model in the
notebook's saved widget state (else a trusted notebook shows "Error displaying widget: model not found"). And after
Run All in a real kernel, `09_explore`'s displayed explorer shows its defaults: the first image of the first class,
K 3, δ 0.7, each model's τ at the threshold chosen on val."""
import json
from pathlib import Path
import pytest
from conftest import REPO

VIEW, STATE = 'application/vnd.jupyter.widget-view+json', 'application/vnd.jupyter.widget-state+json'


def saved_state(nb:dict)->dict:
    return nb.get('metadata', {}).get('widgets', {}).get(STATE, {}).get('state', {})


def views(nb:dict)->list:
    "(cell index, model id) of every widget view in the notebook's outputs."
    return [(i, o['data'][VIEW]['model_id']) for i, c in enumerate(nb['cells']) for o in c.get('outputs', []) if VIEW in o.get('data', {})]


@pytest.mark.parametrize('path', sorted((REPO/'nbs').glob('*.ipynb')), ids=lambda p: p.name)
def test_every_widget_view_has_its_model(path):
    nb = json.loads(path.read_text())
    state = saved_state(nb)
    missing = [(i, m) for i, m in views(nb) if m not in state]
    assert not missing, f'{path.name}: widget views without a saved model (cell, model id): {missing[:5]}'


def test_the_explorer_chapter_saves_its_widgets():
    nb = json.loads((REPO/'nbs'/'09_explore.ipynb').read_text())
    assert len(views(nb)) == 2 and saved_state(nb)


def descendants(state:dict, model_id:str)->list:
    "The model and every model under it (children and other IPY_MODEL_ references)."
    out, todo = [], [model_id]
    while todo:
        m = todo.pop(); out.append(m)
        refs = json.dumps(state[m]['state'])
        todo += [r for r in (s.split('"')[0] for s in refs.split('IPY_MODEL_')[1:]) if r in state and r not in out]
    return out


def test_run_all_leaves_the_displayed_explorer_at_its_defaults(tmp_path):
    import nbformat
    from nbclient import NotebookClient
    import torch
    from i2c_nb.explore import committed_models, find_run
    from i2c_nb.report import load_checkpoint
    nb = nbformat.read(REPO/'nbs'/'09_explore.ipynb', as_version=4)
    NotebookClient(nb, timeout=600, resources={'metadata': {'path': str(REPO/'nbs')}}).execute()
    state = saved_state(nb)
    shown = views(nb)[0][1]                                          # the Explorer, displayed by its own cell
    sub = {state[m]['state'].get('description'): state[m]['state'].get('value') for m in descendants(state, shown)}
    run = find_run([str(REPO/'runs'/'tiny')]) or committed_models()
    for name, stage in (('plain', 'plain'), ('I2C', 'sc_gc')):
        ck = load_checkpoint(run/f'{stage}.pt')
        tau = ck['results'][ck['stage']]['test_at_val']['threshold']['V1']['50']
        assert sub[f'τ {name}'] == pytest.approx(round(tau, 2), abs=1e-9), (name, sub)
    assert sub['K'] == 3 and sub['δ'] == pytest.approx(0.7) and sub['image'] == 0
