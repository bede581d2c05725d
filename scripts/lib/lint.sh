# shellcheck shell=bash
# The gates (scripts/test part `lint`): the code is formatted, clippy finds nothing, and no
# crate declares a dependency it does not use. Sourced by scripts/test: `lint_gates` runs
# every gate, even after one failed, records each with scripts/test's `record NAME RC T0 NOTE`,
# and returns non-zero when any failed. Each note says what fixes a failure; a false positive
# of cargo machete is named in the crate's [package.metadata.cargo-machete] ignored list.
# cargo-machete is installed once with `cargo install --locked` at the version pinned here.

LINT_MACHETE_VERSION=0.9.2

# _lint_gate <name> <pass note> <fail note> cmd...
_lint_gate() {
  local name="$1" pass="$2" fail="$3" t0 rc=0
  shift 3
  printf '\n==> lint: %s\n' "$*" >&2
  t0=$(date +%s)
  "$@" || rc=$?
  record "$name" "$rc" "$t0" "$([ "$rc" = 0 ] && echo "$pass" || echo "$fail (exit $rc; listed above)")"
  return "$rc"
}

lint_gates() {
  local rc=0
  _lint_gate fmt "cargo fmt --check: formatted" "not formatted: run cargo fmt --all" cargo fmt --all --check || rc=1
  _lint_gate clippy "cargo clippy --workspace --all-targets -D warnings: clean" "clippy warnings" \
    cargo clippy --workspace --all-targets --locked -- -D warnings || rc=1
  if ! cargo machete --version 2>/dev/null | grep -qF "$LINT_MACHETE_VERSION"; then
    printf '[lint] cargo-machete %s not found: installing it (once)\n' "$LINT_MACHETE_VERSION" >&2
    cargo install cargo-machete --version "$LINT_MACHETE_VERSION" --locked || true
  fi
  _lint_gate machete "cargo machete: no unused dependency" \
    "unused dependencies (or cargo-machete $LINT_MACHETE_VERSION missing): remove them from the Cargo.toml named" cargo machete || rc=1
  return "$rc"
}
