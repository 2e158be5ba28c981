#!/bin/sh
# make bench: build the release CLI and both benchmark examples, run the end-to-end benchmark
# (1k, 10k and 100k incidents; pass --no-100k to leave out the largest), and keep the Markdown
# report in bench-results.md in cargo's target directory (target/ unless CARGO_TARGET_DIR says
# otherwise). Arguments go to bench-sync (see its --help).
# Exit status: non-zero when the build failed or a run broke; budget misses only show in the
# report.
set -eu
cd "$(dirname "$0")/../.."
. tests/cargo-paths.sh
built=$(cargo build --release --locked --bin disinfox-sync --example bench-stage --example bench-sync \
  --message-format=json-render-diagnostics)
bench_sync=$(built_executable bench-sync "$built")
[ -x "$bench_sync" ] || { echo "cargo did not report the bench-sync example" >&2; exit 1; }
report="$(cargo_target_dir)/bench-results.md"
# The report (stdout) is kept; progress (stderr) only shows. Keep bench-sync's exit status
# through the pipe.
status_file=$(mktemp)
trap 'rm -f "$status_file"' EXIT
{ "$bench_sync" "$@" && s=0 || s=$?; echo "$s" >"$status_file"; } | tee "$report"
status=$(cat "$status_file")
echo "report written to $report" >&2
exit "${status:-1}"
