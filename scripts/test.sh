#!/usr/bin/env bash
# The test command (README): package in sync with the notebooks, README in sync with nbs/index.ipynb, notebooks clean, every notebook
# pytest, then every notebook run by nbdev_test and again in a real Jupyter kernel. Run from the repository root, in an environment with the dev extra.
# Closing lines: 'notebooks: N passed, M failed' (nbdev_test), then 'real kernel: N passed, M failed'.
set -uo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
status=0

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "== nbdev_export: is i2c_nb/ in sync with the notebooks?"
  nbdev_export
  if ! git diff --quiet -- i2c_nb || [ -n "$(git status --porcelain --untracked-files=all -- i2c_nb)" ]; then
    echo "FAIL: nbdev_export changed i2c_nb/ (edit the notebooks, run nbdev_export, commit both):"
    git status --short -- i2c_nb; git diff --stat -- i2c_nb; status=1
  fi
  echo "== README.md: is it what scripts/readme.py makes of nbs/index.ipynb?"
  python scripts/readme.py --check || status=1
  echo "== nbdev_clean: are the notebooks clean?"
  nbdev_clean
  if ! git diff --quiet -- nbs; then
    echo "FAIL: nbdev_clean changed these notebooks (run nbdev_clean and commit):"; git diff --stat -- nbs; status=1
  fi
else
  echo "(not a git checkout: skipping the export and clean checks)"
fi

echo "== pytest tests/"
python -m pytest tests -q -p no:cacheprovider -o tmp_path_retention_policy=failed -n 2 --dist loadscope --durations=10
# two workers, each test file's tests on one of them (its module fixtures built once); passed tests leave no files
rc=$?
if [ $rc -ne 0 ]; then status=1; fi

echo "== nbdev_test (every notebook; slow and gpu cells skipped)"
log=$(mktemp)
nbdev_test --do_print --timing 2>&1 | tee "$log"
nbrc=${PIPESTATUS[0]}
total=$(grep -c '^Starting ' "$log" || true)
failed=$(awk '/Tests Failed On The Following Notebooks/{f=1; next} f && /^\t/{n++} END{print n+0}' "$log")
rm -f "$log"
if [ "$nbrc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$nbrc" -ne 0 ] || [ "$failed" -ne 0 ]; then status=1; fi
if [ "$total" -eq 0 ]; then echo "FAIL: no notebook ran"; status=1; fi
echo "notebooks: $((total - failed)) passed, $failed failed"

echo "== real Jupyter kernel: every notebook as JupyterLab runs it (slow and gpu cells skipped)"
kerr=$(mktemp)
python scripts/run_kernel.py --jobs 2 2> "$kerr"
krc=$?
grep -v 'without encryption' "$kerr" >&2 || true
rm -f "$kerr"
if [ $krc -ne 0 ]; then status=1; fi
exit $status
