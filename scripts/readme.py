#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb, the one source of both (the markdown cells, in order; paths made relative to the
repository root). `--check`: write nothing, exit 1 if README.md is not what the notebook gives (scripts/test.sh runs it).

    python scripts/readme.py [--check]
"""
import argparse, json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_text(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    "The README of the index notebook: its markdown cells joined by blank lines; `../` links (from nbs/) made root-relative."
    cells = json.loads(Path(nb_path).read_text(encoding='utf-8'))['cells']
    text = '\n\n'.join(''.join(c['source']).strip('\n') for c in cells if c['cell_type'] == 'markdown')
    return text.replace('](../', '](') + '\n'


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--check', action='store_true', help='exit 1 if README.md differs from what nbs/index.ipynb gives')
    a = p.parse_args(argv)
    text, readme = readme_text(), ROOT/'README.md'
    if a.check:
        if readme.read_text(encoding='utf-8') == text: return 0
        print('README.md is not what nbs/index.ipynb gives: edit the notebook, then run python scripts/readme.py', file=sys.stderr)
        return 1
    readme.write_text(text, encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main())
