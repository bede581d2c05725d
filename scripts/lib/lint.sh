# shellcheck shell=bash
# The gates (scripts/test part `lint`): the code is formatted, clippy finds nothing, and no
# crate declares a dependency it does not use.
#
#   source scripts/lib/lint.sh
#   lint_gates <record>   # runs every gate, even after one failed; for each calls
#                         #   <record> <name> PASS|FAIL <seconds> <note>
#                         # and returns non-zero when any failed
#
# The gates, each with the command that fixes or explains a failure:
#   fmt      cargo fmt --all --check                                  (fix: cargo fmt --all)
#   clippy   cargo clippy --workspace --all-targets --locked -- -D warnings
#   machete  cargo machete (unused dependencies in any Cargo.toml)    (fix: remove them; a false
#            positive is named in the crate's [package.metadata.cargo-machete] ignored list)
# cargo-machete is installed once with `cargo install --locked` at the version pinned here.

LINT_MACHETE_VERSION=0.9.2

_lint_say() { printf '[lint] %s\n' "$*" >&2; }

_lint_ensure_machete() {
  if cargo machete --version 2>/dev/null | grep -qF "$LINT_MACHETE_VERSION"; then return 0; fi
  _lint_say "cargo-machete $LINT_MACHETE_VERSION not found: installing it (once)"
  cargo install cargo-machete --version "$LINT_MACHETE_VERSION" --locked
}

# _lint_gate <record> <name> <pass note> <fail note> cmd...
_lint_gate() {
  local record="$1" name="$2" pass="$3" fail="$4" t0 rc=0
  shift 4
  printf '\n==> lint: %s\n' "$*" >&2
  t0=$(date +%s)
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then "$record" "$name" PASS $(( $(date +%s) - t0 )) "$pass"
  else "$record" "$name" FAIL $(( $(date +%s) - t0 )) "$fail (exit $rc; listed above)"; fi
  return "$rc"
}

lint_gates() {
  local record="$1" rc=0
  _lint_gate "$record" fmt "cargo fmt --check: formatted" "not formatted: run cargo fmt --all" \
    cargo fmt --all --check || rc=1
  _lint_gate "$record" clippy "cargo clippy --workspace --all-targets -D warnings: clean" \
    "clippy warnings" cargo clippy --workspace --all-targets --locked -- -D warnings || rc=1
  if _lint_ensure_machete; then
    _lint_gate "$record" machete "cargo machete: no unused dependency" \
      "unused dependencies: remove them from the Cargo.toml named" cargo machete || rc=1
  else
    "$record" machete FAIL 0 "cargo-machete $LINT_MACHETE_VERSION could not be installed"
    rc=1
  fi
  return "$rc"
}
