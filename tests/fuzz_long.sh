#!/usr/bin/env bash
# The long fuzz run (issue 26): every fuzz target (the tests named random_and_mutated_*, in the
# library and in the fer command) with FER_FUZZ_SCALE times its usual inputs, in release mode.
# Prints one JSON object: per parser the inputs tried, panics, errors, values, other failures,
# the largest allocation one input caused (bytes) and the seconds; then the totals. A panic or
# a broken bound also fails the cargo test run, with the input that caused it.
#
#   bash tests/fuzz_long.sh          scale 254: 3,940 inputs per scale unit, 1,000,760 in all
#   FER_FUZZ_SCALE=10 bash tests/fuzz_long.sh
#
# Needs jq. Not part of tests/run.sh (it takes tens of minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

export FER_FUZZ_SCALE="${FER_FUZZ_SCALE:-254}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release -p fer-core --lib --bins random_and_mutated -- --nocapture 2>"$log" \
  || status=$?
grep '^{"parser"' "$log" | jq -s --argjson scale "$FER_FUZZ_SCALE" '{
  scale: $scale,
  parsers: .,
  total: {
    inputs: (map(.inputs) | add),
    panics: (map(.panics) | add),
    failures: (map(.failures) | add),
    seconds: (map(.seconds) | add)
  }
}'
if [ "$status" -ne 0 ]; then
  grep -v '^{"parser"' "$log" >&2
fi
exit "$status"
