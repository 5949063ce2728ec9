"""The package's shape (STYLE.md): imports between modules form no cycle, no module is over ~450 lines (the numba
appendix `fast_eval` aside), and outside numba kernels no function is over 40 lines or takes more than 6 required
parameters. Read from the exported sources, so a notebook change that breaks one of these fails here."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent/'i2c_nb'
REPO = PKG.parent
MODULES = {p.stem: p for p in PKG.glob('*.py') if not p.name.startswith('_')}


def imports_of(path: Path) -> set:
    "The package modules `path` imports, at the top or inside a function (`from .x import`, `from i2c_nb.x import`)."
    out = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.ImportFrom) and n.module:
            name = n.module.split('.')[-1] if (n.level == 1 or n.module.startswith('i2c_nb.')) else None
            if name in MODULES: out.add(name)
    return out


def test_no_import_cycle():
    graph = {m: imports_of(p) - {m} for m, p in MODULES.items()}
    state = {}
    def visit(m, path):
        if state.get(m) == 'done': return
        assert state.get(m) != 'open', f"import cycle: {' -> '.join(path + [m])}"
        state[m] = 'open'
        for d in sorted(graph[m]): visit(d, path + [m])
        state[m] = 'done'
    for m in sorted(graph): visit(m, [])
    assert graph['train'] and 'cli' not in graph['train']          # the loop does not know the commands


def test_module_sizes():
    big = {m: len(p.read_text().splitlines()) for m, p in MODULES.items() if m != 'fast_eval'}
    assert max(big.values()) <= 450, sorted(big.items(), key=lambda kv: -kv[1])[:3]


def _is_numba(f) -> bool:
    return any('jit' in ast.unparse(d) for d in f.decorator_list)


def test_function_sizes():
    bad = []
    for m, p in MODULES.items():
        for f in ast.walk(ast.parse(p.read_text())):
            if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) or _is_numba(f): continue
            a = f.args
            required = len(a.posonlyargs) + len(a.args) - len(a.defaults) + sum(d is None for d in a.kw_defaults)
            if a.args and a.args[0].arg in ('self', 'cls'): required -= 1
            lines = f.end_lineno - f.lineno + 1
            if lines > 40 or required > 6: bad.append(f"{m}.{f.name}: {lines} lines, {required} required parameters")
    assert not bad, bad


def test_no_machine_folders_in_results_or_outputs():
    "Results files and saved notebook outputs name paths relative to the repository, never a machine's own folders."
    import json, re
    pat = re.compile(r'(?<![\w.])/(?:work|root|home|Users)/[\w.-]+')
    found = [(f.name, m) for f in sorted((REPO/'results').glob('*')) if f.suffix in ('.json', '.txt') for m in pat.findall(f.read_text())[:1]]
    for f in sorted((REPO/'nbs').glob('*.ipynb')):
        for i, c in enumerate(json.loads(f.read_text())['cells']):
            for o in c.get('outputs', []):
                text = json.dumps(o.get('text', '')) + json.dumps({k: v for k, v in o.get('data', {}).items() if k.startswith('text/')})
                found += [(f'{f.name} cell {i}', m) for m in pat.findall(text)[:1]]
    assert not found, found[:5]
