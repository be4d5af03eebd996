#!/usr/bin/env bash
# Executes the course notebooks (notebooks/*.ipynb) headless with the Rust (evcxr) kernel and
# fails if any cell errors or the executed outputs break a rule of tests/notebook_check.py
# (plotly charts without their PNG, stderr, paths of this machine, ...). Sets up what it needs
# on a fresh machine, skipping what is there: evcxr_jupyter (cargo install, about 10 minutes on
# 2 cores), a Python virtual environment with nbconvert, and the kernel spec.
#
#   bash tests/notebooks.sh                   quick mode (FER_QUICK=1) into a temporary folder
#   bash tests/notebooks.sh 03-cnn            only the notebooks whose names start so
#   bash tests/notebooks.sh --out DIR         keep the executed copies in DIR
#   bash tests/notebooks.sh --full --in-place full mode, outputs written back into notebooks/
#                                             (how the committed outputs are made)
#
# Environment: FER2013_DIR (the data set; default data/fer2013), FER_NOTEBOOK_HOME (the virtual
# environment; default ~/.cache/fer/notebooks), FER_EVCXR_DIR (evcxr's build folder; default
# /var/tmp/fer-evcxr).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

EVCXR_VERSION="0.22.0"
# nbconvert's executor (nbclient) is what runs the cells; pinned so a new release cannot change
# how errors are reported under us.
PYTHON_PACKAGES=(nbconvert==7.17.2 nbclient==0.11.0)

quick=1
in_place=0
keep_dir=""
selected=()
while [ $# -gt 0 ]; do
  arg="$1"
  shift
  case "$arg" in
    --full) quick=0 ;;
    --in-place) in_place=1 ;;
    --out)
      keep_dir="${1:?--out needs a folder}"
      shift
      ;;
    -h | --help)
      awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
      exit 0
      ;;
    -*)
      echo "notebooks.sh: unknown option $arg (see --help)" >&2
      exit 2
      ;;
    *) selected+=("$arg") ;;
  esac
done

# The output checker runs on the executed copies at the end, after what can be an hour of
# kernels; its self-test takes a second, so a broken checker fails here instead of there.
python3 tests/notebook_check.py --self-test

export FER2013_DIR="${FER2013_DIR:-$ROOT/data/fer2013}"
if [ ! -d "$FER2013_DIR" ] && [ ! -f "$FER2013_DIR" ]; then
  echo "notebooks.sh: FER2013 not found at $FER2013_DIR (set FER2013_DIR; see data/README.md)" >&2
  exit 1
fi

# --- setup ---------------------------------------------------------------------------------
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# An evcxr_jupyter already installed is used as it is (it has no --version to check).
if ! command -v evcxr_jupyter >/dev/null; then
  echo "notebooks.sh: installing evcxr_jupyter $EVCXR_VERSION (about 10 minutes)"
  nice -n 10 cargo install evcxr_jupyter --locked --version "$EVCXR_VERSION" --quiet
fi

venv="${FER_NOTEBOOK_HOME:-$HOME/.cache/fer/notebooks}/venv"
if ! "$venv/bin/python" -c "import nbconvert, nbclient" 2>/dev/null; then
  echo "notebooks.sh: creating $venv with ${PYTHON_PACKAGES[*]}"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
fi
jupyter="$venv/bin/jupyter"

if ! "$jupyter" kernelspec list 2>/dev/null | grep -qw rust; then
  evcxr_jupyter --install >/dev/null
fi

# --- the shared build ------------------------------------------------------------------------
# Each evcxr kernel compiles its dependencies (fer-core, dfdx, linfa, plotly, image: about eight
# minutes on 2 cores) into its own temporary folder and deletes it at exit, so five notebooks
# would build everything five times. With EVCXR_TMPDIR fixed, every kernel reuses one cargo
# target folder: only the first notebook of the first run pays for the build, later kernels
# start in seconds. The folder must be outside this workspace (cargo would take evcxr's crate
# for an undeclared member) and must not share a parent folder other than / with the Rust
# toolchain: evcxr moves each compiled cell one folder up from where rustc set its relative
# library path, which then resolves only when it climbs to /.
export EVCXR_TMPDIR="${FER_EVCXR_DIR:-/var/tmp/fer-evcxr}"
mkdir -p "$EVCXR_TMPDIR"
# Kernels sharing the folder must not run at once (evcxr rewrites its crate's source per cell).
exec 9>"$EVCXR_TMPDIR.lock"
if ! flock --nonblock 9; then
  echo "notebooks.sh: waiting for another run using $EVCXR_TMPDIR"
  flock 9
fi

# --- run -------------------------------------------------------------------------------------
if [ "$quick" = 1 ]; then
  export FER_QUICK=1
  mode="quick"
else
  unset FER_QUICK
  mode="full"
fi
if [ "$in_place" = 1 ]; then
  out_dir="$ROOT/notebooks"
elif [ -n "$keep_dir" ]; then
  mkdir -p "$keep_dir"
  out_dir="$(cd "$keep_dir" && pwd)"
else
  out_dir="$(mktemp -d "${TMPDIR:-/tmp}/fer-notebooks.XXXXXX")"
fi

notebooks=()
for nb in notebooks/[0-9]*.ipynb; do
  name="$(basename "$nb" .ipynb)"
  if [ "${#selected[@]}" -eq 0 ]; then
    notebooks+=("$nb")
  else
    for prefix in "${selected[@]}"; do
      case "$name" in "$prefix"*) notebooks+=("$nb") && break ;; esac
    done
  fi
done
if [ "${#notebooks[@]}" -eq 0 ]; then
  echo "notebooks.sh: no notebook matches ${selected[*]}" >&2
  exit 2
fi

# evcxr numbers a fresh kernel's first cell 2 (its counter is incremented before each cell,
# evcxr_jupyter/src/core.rs), where every other kernel starts at 1. The executed copies are
# renumbered 1, 2, 3, ... in the order they ran, so the committed notebooks read as a fresh
# run does; out-of-order or repeated counts are left as they are, for the checker to report.
renumber='
import json, sys
path = sys.argv[1]
nb = json.load(open(path))
cells = [c for c in nb["cells"] if c["cell_type"] == "code" and c.get("execution_count")]
counts = [c["execution_count"] for c in cells]
if counts and counts == list(range(counts[0], counts[0] + len(counts))):
    shift = counts[0] - 1
    for c in cells:
        c["execution_count"] -= shift
        for o in c.get("outputs", []):
            if o.get("execution_count"):
                o["execution_count"] -= shift
    with open(path, "w") as out:
        json.dump(nb, out, indent=1, ensure_ascii=False)
        out.write("\n")
'

passed=0
failed=0
executed=()
started=$(date +%s)
for nb in "${notebooks[@]}"; do
  name="$(basename "$nb")"
  t0=$(date +%s)
  log="$out_dir/${name%.ipynb}.log"
  # --ExecutePreprocessor.timeout: the first cell of the first kernel may build all of
  # fer-core's dependencies; --record_timing=False keeps timestamps out of committed outputs.
  if "$jupyter" nbconvert --to notebook --execute \
    --ExecutePreprocessor.kernel_name=rust \
    --ExecutePreprocessor.timeout=3600 \
    --ExecutePreprocessor.record_timing=False \
    --output-dir "$out_dir" "$nb" >"$log" 2>&1 &&
    "$venv/bin/python" -c "$renumber" "$out_dir/$name" >>"$log" 2>&1; then
    passed=$((passed + 1))
    executed+=("$out_dir/$name")
    echo "notebook $name: ok ($mode mode, $(($(date +%s) - t0)) s)"
  else
    failed=$((failed + 1))
    echo "notebook $name: FAILED ($mode mode, $(($(date +%s) - t0)) s); last lines of $log:"
    tail -n 30 "$log" | sed 's/^/    /'
  fi
  [ "$in_place" = 1 ] && rm -f "$log"
done
echo "notebooks took $(($(date +%s) - started)) s; executed copies in $out_dir"

# A notebook can run without an error and still read badly where its outputs are published
# (GitHub, nbviewer, HTML exports): a plotly chart with no static PNG is blank there, stderr shows
# as a red box, a path of this machine means nothing to a reader, and out-of-order execution
# counts say the outputs are not from one fresh run. tests/notebook_check.py lists the rules.
# Only the notebooks that executed are checked: a failed one has already been reported, and
# with --in-place its file is still the committed one.
checked=1
if [ "${#executed[@]}" -gt 0 ]; then
  if python3 tests/notebook_check.py "${executed[@]}"; then
    echo "notebook outputs: ok (${#executed[@]} checked)"
  else
    checked=0
    echo "notebook outputs: FAILED (problems above, from tests/notebook_check.py)"
  fi
fi
# The temporary copies are kept when something failed, so they can be looked at.
if [ "$failed" = 0 ] && [ "$checked" = 1 ] && [ "$in_place" = 0 ] && [ -z "$keep_dir" ]; then
  rm -rf "$out_dir"
fi
echo "notebooks: $passed passed, $failed failed$([ "$checked" = 1 ] || echo ", outputs check failed")"
[ "$failed" = 0 ] && [ "$checked" = 1 ]
