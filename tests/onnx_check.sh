#!/usr/bin/env bash
# The shipped model's ONNX export, checked by ONNX Runtime: `fer export` writes it,
# onnx.checker.check_model must pass, and ONNX Runtime must get exactly as many PrivateTest faces
# right as fer does (tests/onnx_check.py), on PrivateTest's pixels as fer decodes them (written by
# the example fer-core/examples/private_test_faces.rs). Sets up what it needs, skipping what is
# there: onnx, onnxruntime and NumPy in the virtual environment tests/notebooks.sh uses.
#
#   bash tests/onnx_check.sh            the check
#   bash tests/onnx_check.sh --bench    also ONNX Runtime's speed (batches of 256, one face)
#
# Environment: FER2013_DIR (the data set; default data/fer2013), FER_NOTEBOOK_HOME (the virtual
# environment; default ~/.cache/fer/notebooks). The fer binary and the example are cargo's debug
# builds, which `cargo test` has just made.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so a new release cannot change the verdict under us.
PYTHON_PACKAGES=(onnx==1.23.1 onnxruntime==1.30.0 numpy==2.4.6)

export FER2013_DIR="${FER2013_DIR:-$PWD/data/fer2013}"
if [ ! -d "$FER2013_DIR/test" ]; then
  echo "onnx_check.sh: FER2013 not found at $FER2013_DIR (set FER2013_DIR; see data/README.md)" >&2
  exit 1
fi

venv="${FER_NOTEBOOK_HOME:-$HOME/.cache/fer/notebooks}/venv"
if ! "$venv/bin/python" -c "import onnx, onnxruntime, numpy" 2>/dev/null; then
  echo "onnx_check.sh: installing ${PYTHON_PACKAGES[*]} into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/fer-onnx.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cargo run --quiet --bin fer -- export --model data/models/fer-cnn --onnx "$work/fer-cnn.onnx"
cargo run --quiet -p fer-core --example private_test_faces -- "$FER2013_DIR" "$work"
"$venv/bin/python" tests/onnx_check.py check "$work/fer-cnn.onnx" "$work"
if [ "${1:-}" = "--bench" ]; then
  "$venv/bin/python" tests/onnx_check.py bench "$work/fer-cnn.onnx" "$work"
fi
