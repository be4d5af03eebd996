#!/usr/bin/env bash
# The project's test command (README.md): formatting, lints, and every test, including the
# full-data checks on FER2013 read from FER2013_DIR (default: data/fer2013).
set -euo pipefail
cd "$(dirname "$0")/.."

export FER2013_DIR="${FER2013_DIR:-$PWD/data/fer2013}"
if [ ! -d "$FER2013_DIR/train" ]; then
  echo "error: FER2013 not found at $FER2013_DIR (set FER2013_DIR; see data/README.md)" >&2
  exit 1
fi

# Each step's seconds are printed, so a slow CI run says where its time went.
step() {
  local started=$SECONDS
  "$@"
  echo "run.sh: $* took $((SECONDS - started)) s"
}

step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets -- -D warnings
step cargo test --workspace

# The shipped model exported to ONNX, checked by onnx.checker and scored by ONNX Runtime.
step bash tests/onnx_check.sh

# The course notebooks, executed headless in quick mode (the script sets up the Rust kernel),
# their outputs then checked by tests/notebook_check.py.
step bash tests/notebooks.sh
