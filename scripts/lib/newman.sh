# shellcheck shell=bash
# The Postman collection (tests/postman) run by newman against a live stack of its own.
#
#   source scripts/lib/newman.sh   (from scripts/test: it calls that script's `devstack` function,
#                                   the built stockflow-devstack, for ports, databases and queues)
#   newman_ensure            # newman from package.json/package-lock.json (npm ci, cached in node_modules/)
#   newman_stack_up          # take the lock, scripts/up with the settings below (debug binaries, no build)
#   newman_stack_down        # scripts/down for that stack (only what newman_stack_up started), release the lock
#   newman_run               # run the collection against it (cli reporter); its exit status
#
# The stack never meets a `scripts/up` stack or the Rust tests: its own run dir, ports,
# databases (dropped first, so every run starts from the seed), resource prefix (its queues
# purged first) and CloudFormation stack. It shares the caller's LocalStack
# (STOCKFLOW_LOCALSTACK_PORT: scripts/test's own) and the MySQL server. Two
# scripts/test runs on one machine take turns for it (a lock file next to the run dir).
#   NEWMAN_RUN_DIR    .run/newman
#   NEWMAN_PORT_BASE  the first of 18080, 18180, ... 18980 whose four ports are free (sales; factory +1,
#                     stock-worker +2, stock-inc-worker +3); a base you set must be free, or it fails
#   NEWMAN_DB_SUFFIX  _newman (databases stockflow_newman and factory_newman)
#   NEWMAN_PROFILE    debug (target/debug binaries; they must be built already)
#   NEWMAN_PREFIX     newman_ and NEWMAN_STACK_SUFFIX -newman (resource prefix, CloudFormation stack
#                     stockflow-newman; a second checkout on the same LocalStack needs its own)
# Extra newman arguments: NEWMAN_ARGS (e.g. "--folder Errors" or "--verbose").

NM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NEWMAN_RUN_DIR="${NEWMAN_RUN_DIR:-.run/newman}"
NEWMAN_PORT_BASE_GIVEN="${NEWMAN_PORT_BASE:-}"            # empty: newman_stack_up picks a free base
NEWMAN_PORT_BASE="${NEWMAN_PORT_BASE:-18080}"
NEWMAN_DB_SUFFIX="${NEWMAN_DB_SUFFIX:-_newman}"
NEWMAN_PROFILE="${NEWMAN_PROFILE:-debug}"
NEWMAN_PREFIX="${NEWMAN_PREFIX:-newman_}"                  # STOCKFLOW_PREFIX of the stack (queues, topics)
NEWMAN_STACK_SUFFIX="${NEWMAN_STACK_SUFFIX:--newman}"      # its CloudFormation stack: stockflow-newman

_nm_say() { printf '[newman] %s\n' "$*" >&2; }

newman_ensure() {
  local marker want have t0
  command -v npm >/dev/null 2>&1 || {
    _nm_say "ERROR: npm not found: install Node.js 18 or later (https://nodejs.org) to run the API tests"
    return 1
  }
  marker="$NM_ROOT/node_modules/.stockflow-package-lock.sha256"
  want="$(cat "$NM_ROOT/package.json" "$NM_ROOT/package-lock.json" | sha256sum | cut -d' ' -f1)"
  have="$(cat "$marker" 2>/dev/null || true)"
  if [ -x "$NM_ROOT/node_modules/.bin/newman" ] && [ "$have" = "$want" ]; then
    _nm_say "newman $("$NM_ROOT/node_modules/.bin/newman" --version) (cached in node_modules/)"
    return 0
  fi
  t0=$(date +%s)
  _nm_say "npm ci (newman pinned in package-lock.json) ..."
  (cd "$NM_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || { _nm_say "ERROR: npm ci failed"; return 1; }
  printf '%s\n' "$want" >"$marker"
  _nm_say "newman $("$NM_ROOT/node_modules/.bin/newman" --version) installed in $(( $(date +%s) - t0 )) s"
}

# The environment of the newman stack, for scripts/up and scripts/down. Short SQS long polls:
# a stopped worker's poll stays open in LocalStack for up to WORKER_WAIT_SECONDS and takes
# the next message with it, which then reappears only after WORKER_VISIBILITY_SECONDS (with
# the defaults, 20 and 30, a run right after another waited 30 s for its restock).
_nm_env() {
  env STOCKFLOW_RUN_DIR="$NEWMAN_RUN_DIR" STOCKFLOW_PROFILE="$NEWMAN_PROFILE" STOCKFLOW_SKIP_BUILD=1 \
    STOCKFLOW_SKIP_TRY=1 STOCKFLOW_PREFIX="$NEWMAN_PREFIX" STOCKFLOW_STACK_SUFFIX="$NEWMAN_STACK_SUFFIX" \
    SALES_PORT="$NEWMAN_PORT_BASE" FACTORY_PORT="$((NEWMAN_PORT_BASE + 1))" \
    STOCK_WORKER_PORT="$((NEWMAN_PORT_BASE + 2))" STOCK_INC_WORKER_PORT="$((NEWMAN_PORT_BASE + 3))" \
    FACTORY_URL="http://127.0.0.1:$((NEWMAN_PORT_BASE + 1))" \
    WAREHOUSE_DB="stockflow$NEWMAN_DB_SUFFIX" FACTORY_DB="factory$NEWMAN_DB_SUFFIX" \
    FACTORY_PRODUCTION_SECONDS=1 WORKER_WAIT_SECONDS=1 WORKER_VISIBILITY_SECONDS=10 "$@"
}

# One api stack per machine at a time: a second scripts/test waits here for the first to
# finish its api part (the lock is this shell's fd 9, released when it exits; the
# services do not inherit it).
_nm_lock() {
  local lock="$NM_ROOT/$NEWMAN_RUN_DIR.lock"
  mkdir -p "$(dirname "$lock")"
  exec 9>"$lock"
  if ! flock -n 9; then
    _nm_say "another scripts/test is running the api tests on this stack ($NEWMAN_RUN_DIR): waiting for it (up to ${NEWMAN_LOCK_TIMEOUT:-900} s)"
    flock -w "${NEWMAN_LOCK_TIMEOUT:-900}" 9 || { _nm_say "ERROR: still busy; giving up"; return 1; }
  fi
}

# Empty the stack's queues: events left by an earlier run (interrupted, or a restock that never
# finished) name restock requests of databases that are gone, and would change this run's stock.
_nm_purge_queues() {
  devstack purge-queues --prefix "$NEWMAN_PREFIX" --endpoint "$AWS_ENDPOINT_URL" 9>&- || _nm_say "queues not purged"
}

# Sets NEWMAN_PORT_BASE to a base whose four ports nothing listens on (a `scripts/up` or
# another stack may hold 18080-18083), or fails saying which ports are taken.
_nm_pick_ports() {
  local given="$NEWMAN_PORT_BASE_GIVEN"
  if NEWMAN_PORT_BASE="$(devstack free-base "${given:-18080}" 100 "${given:-18980}" 4 9>&-)"; then return 0; fi
  if [ -n "$given" ]; then
    _nm_say "ERROR: NEWMAN_PORT_BASE=$given: one of ports $given-$((given + 3)) is taken; choose another base or unset it"
  else
    _nm_say "ERROR: no free ports for the api test stack (tried 18080-18083, 18180-18183, ... 18980-18983); set NEWMAN_PORT_BASE to a base with four free ports"
  fi
  return 1
}

newman_stack_up() {
  _nm_lock || return 1
  # A stack left over from an interrupted run would keep the old databases' connections.
  _nm_env "$NM_ROOT/scripts/down" >/dev/null 2>&1 9>&- || true
  _nm_pick_ports || return 1
  _nm_say "api test stack: sales :$NEWMAN_PORT_BASE, factory :$((NEWMAN_PORT_BASE + 1)), workers :$((NEWMAN_PORT_BASE + 2)), :$((NEWMAN_PORT_BASE + 3))"
  devstack mysql-drop "stockflow$NEWMAN_DB_SUFFIX" "factory$NEWMAN_DB_SUFFIX" 9>&- || return 1
  _nm_purge_queues
  _nm_env "$NM_ROOT/scripts/up" 9>&-
}

newman_stack_down() {
  local rc=0
  _nm_env "$NM_ROOT/scripts/down" 9>&- || rc=$?
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
