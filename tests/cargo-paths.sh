# Sourced by tests/demo.sh and tests/bench/run.sh (POSIX sh). Where cargo put its output is
# cargo's business (CARGO_TARGET_DIR, build.target-dir, --target), so these ask it instead of
# assuming target/.

# The executable called $1 among the artifacts that `cargo build --message-format=json…`
# printed (its stdout, in $2).
built_executable() {
  printf '%s\n' "$2" | sed -n 's/.*"executable":"\([^"]*\/'"$1"'\)".*/\1/p' | tail -n 1
}

# Cargo's target directory for this project.
cargo_target_dir() {
  cargo metadata --locked --no-deps --format-version 1 |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}
