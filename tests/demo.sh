#!/usr/bin/env bash
# `make demo`: the first five minutes of a new user, on loopback only. Builds the CLI and the
# stand-ins, then: first sync (everything), second sync (nothing new), five new incidents, third
# sync (only those). Shows each exit code, the stored state and what OpenCTI received. The
# stand-ins are stopped in every case, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building (debug profile: quicker to compile than release)"
. tests/cargo-paths.sh
built=$(cargo build --locked --quiet --bin disinfox-sync --example standins \
  --message-format=json-render-diagnostics)
BIN=$(built_executable disinfox-sync "$built")
STANDINS=$(built_executable standins "$built")
[ -x "$BIN" ] && [ -x "$STANDINS" ] || { echo "cargo did not report the built binaries"; exit 1; }

work=$(mktemp -d)
standins_pid=""
cleanup() {
  # Closing its stdin ends the stand-ins; the kill covers a stand-in that does not listen.
  exec 3>&- 2>/dev/null || true
  if [ -n "$standins_pid" ] && kill -0 "$standins_pid" 2>/dev/null; then
    kill "$standins_pid" 2>/dev/null || true
    wait "$standins_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

mkfifo "$work/in" "$work/out"
"$STANDINS" --incidents 20 --max-seconds 600 <"$work/in" >"$work/out" &
standins_pid=$!
exec 3>"$work/in" 4<"$work/out"

# KEY=VALUE lines until READY=1.
while IFS= read -r -t 30 line <&4; do
  case "$line" in
    READY=1) break ;;
    *=*) export "${line?}" ;;
  esac
done
[ -n "${OPENCTI_URL:-}" ] || { echo "the stand-ins did not start"; exit 1; }
export HOME="$work" XDG_CONFIG_HOME="$work/config" CONNECTOR_NAME="DISINFOX demo"
echo "DISINFOX stand-in: $DISINFOX_URL (${OBJECTS:-?} objects)"
echo "OpenCTI stand-in:  $OPENCTI_URL (version $OPENCTI_VERSION)"

# Sends one command to the stand-ins and prints its answer (lines up to OK / ERR).
ask() {
  echo "$*" >&3
  while IFS= read -r -t 30 line <&4; do
    case "$line" in
      OK) return 0 ;;
      ERR*) echo "$line"; return 1 ;;
      *) echo "    $line" ;;
    esac
  done
}

step() {
  echo
  echo "== $1"
  echo "\$ disinfox-sync sync"
  set +e
  "$BIN" sync
  code=$?
  set -e
  echo "exit status: $code"
  echo "stored state:"
  ask state "$CONNECTOR_ID"
  ask received-summary
  [ "$code" -eq 0 ] || exit "$code"
}

step "1. first sync: imports everything"
step "2. second sync: nothing new"
echo
echo "== five new incidents appear in DISINFOX"
ask add-incidents 5
step "3. third sync: only the new incidents"
echo
echo "demo finished; stopping the stand-ins"
