#!/bin/sh
# make bench: build the release CLI and both benchmark examples, run the end-to-end benchmark
# (1k, 10k and 100k incidents; pass --no-100k to leave out the largest), and keep the Markdown
# report in target/bench-results.md. Arguments go to bench-sync (see its --help).
# Exit status: non-zero when the build failed or a run broke; budget misses only show in the
# report.
set -eu
cd "$(dirname "$0")/../.."
cargo build --release --locked --bin disinfox-sync --example bench-stage --example bench-sync
mkdir -p target
# The report (stdout) is kept; progress (stderr) only shows. Keep bench-sync's exit status
# through the pipe.
status_file=$(mktemp)
trap 'rm -f "$status_file"' EXIT
{ target/release/examples/bench-sync "$@" && s=0 || s=$?; echo "$s" >"$status_file"; } | tee target/bench-results.md
status=$(cat "$status_file")
echo "report written to target/bench-results.md" >&2
exit "${status:-1}"
