# shellcheck shell=bash
# The Postman collection (tests/postman) run by newman against the api test stack.
#
#   source scripts/lib/newman.sh   (from scripts/test, whose `devstack` function it calls)
#   newman_ensure        # newman from package.json/package-lock.json (npm ci, cached in node_modules/)
#   newman_stack_up      # take the lock, stockflow-devstack api-stack up (services/devstack/src/api_stack.rs:
#                        # own ports, databases, prefix, CloudFormation stack; debug binaries, built already)
#   newman_stack_down    # stop that stack, release the lock
#   newman_run           # run the collection against it (cli reporter); its exit status
#   stack_env cmd...     # cmd with the stack's addresses (NEWMAN_RUN_DIR/stack.env) in its environment
#
# Settings: NEWMAN_RUN_DIR (.run/newman), NEWMAN_PORT_BASE, NEWMAN_DB_SUFFIX, NEWMAN_PREFIX,
# NEWMAN_STACK_SUFFIX (stockflow-devstack api-stack up --help), NEWMAN_ARGS (extra newman
# arguments, e.g. "--folder Errors"). Two scripts/test runs on one machine take turns for the
# stack (a lock file next to its run dir).

NM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NEWMAN_RUN_DIR="${NEWMAN_RUN_DIR:-.run/newman}"

_nm_say() { printf '[newman] %s\n' "$*" >&2; }

newman_ensure() {
  local marker want
  command -v npm >/dev/null 2>&1 || { _nm_say "ERROR: npm not found: install Node.js 18 or later (https://nodejs.org) to run the API tests"; return 1; }
  marker="$NM_ROOT/node_modules/.stockflow-package-lock.sha256"
  want="$(cat "$NM_ROOT/package.json" "$NM_ROOT/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$NM_ROOT/node_modules/.bin/newman" ] || [ "$(cat "$marker" 2>/dev/null)" != "$want" ]; then
    _nm_say "npm ci (newman pinned in package-lock.json) ..."
    (cd "$NM_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || { _nm_say "ERROR: npm ci failed"; return 1; }
    printf '%s\n' "$want" >"$marker"
  fi
  _nm_say "newman $("$NM_ROOT/node_modules/.bin/newman" --version) (in node_modules/)"
}

stack_env() {
  local vars
  mapfile -t vars <"$NEWMAN_RUN_DIR/stack.env"
  env "${vars[@]}" "$@"
}

newman_stack_up() {
  # One api stack per machine at a time: a second scripts/test waits here (the lock is this
  # shell's fd 9, released when it exits; the services do not inherit it).
  mkdir -p "$(dirname "$NEWMAN_RUN_DIR")"
  exec 9>"$NM_ROOT/$NEWMAN_RUN_DIR.lock"
  if ! flock -n 9; then
    _nm_say "another scripts/test runs the api tests ($NEWMAN_RUN_DIR): waiting for it (up to ${NEWMAN_LOCK_TIMEOUT:-900} s)"
    flock -w "${NEWMAN_LOCK_TIMEOUT:-900}" 9 || { _nm_say "ERROR: still busy; giving up"; return 1; }
  fi
  rm -f "$NEWMAN_RUN_DIR/stack.env"
  devstack --run-dir "$NEWMAN_RUN_DIR" api-stack up --bin-dir "${CARGO_TARGET_DIR:-$NM_ROOT/target}/debug" 9>&- || return 1
  NEWMAN_PORT_BASE="$(sed -n 's/^NEWMAN_PORT_BASE=//p' "$NEWMAN_RUN_DIR/stack.env")"
}

newman_stack_down() {
  local rc=0
  devstack --run-dir "$NEWMAN_RUN_DIR" api-stack down 9>&- || rc=$?
  exec 9>&-   # let a waiting run have the stack
  return "$rc"
}

newman_run() {
  # shellcheck disable=SC2086  # NEWMAN_ARGS is a list of words
  "$NM_ROOT/node_modules/.bin/newman" run "$NM_ROOT/tests/postman/stockflow.postman_collection.json" \
    --environment "$NM_ROOT/tests/postman/local.postman_environment.json" \
    --env-var "sales_url=http://127.0.0.1:$NEWMAN_PORT_BASE" \
    --env-var "factory_url=http://127.0.0.1:$((NEWMAN_PORT_BASE + 1))" \
    --reporters cli --timeout-request 15000 --color on ${NEWMAN_ARGS:-}
}
