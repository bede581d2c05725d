# shellcheck shell=bash
# LocalStack without Docker: a cached Python venv, start/wait/stop of one LocalStack process.
#
# Source it (it sets no shell options of its own):
#   source scripts/lib/localstack.sh
#   ls_ensure_venv                      # venv with localstack-core 4.13.1 (cached)
#   ls_start <run_dir> [port]           # start (or reuse) LocalStack, wait until the ready hook deployed the stack
#   ls_stop  <run_dir>                  # stop the LocalStack that ls_start started (only its recorded pid)
#   ls_endpoint [port]                  # prints http://127.0.0.1:<port>
#   ls_aws [port] -- <aws cli args...>  # aws CLI from the venv against that endpoint, test credentials
#
# Environment:
#   STOCKFLOW_CACHE                (default ~/.cache/stockflow) where the venv lives
#   STOCKFLOW_METRICS_INTERVAL     (default 60) SQS -> CloudWatch metrics interval, seconds (alarm speed)
#   STOCKFLOW_LS_START_TIMEOUT     (default 120) seconds to wait for health + ready hooks
#   STOCKFLOW_PREFIX, STOCKFLOW_STACK_SUFFIX, STOCKFLOW_MAX_RECEIVE_COUNT,
#   STOCKFLOW_ALARM_PERIOD_SECONDS are passed through to the ready hook
#   (localstack/init/ready.d/10-deploy-stockflow.sh).
#
# Files in <run_dir>: localstack.pid, localstack.log, localstack.started-by-us (marker),
# localstack-fs/ (FILESYSTEM_ROOT; the hook is copied to localstack-fs/etc/localstack/init/ready.d/
# and the template to localstack-fs/etc/localstack/stockflow.yaml, where the hook looks for it).

LS_VERSION=4.13.1
LS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LS_REQUIREMENTS="$LS_ROOT/localstack/requirements.txt"
# shellcheck source=scripts/lib/venv.sh
source "$LS_ROOT/scripts/lib/venv.sh"
# shellcheck source=scripts/lib/procs.sh
source "$LS_ROOT/scripts/lib/procs.sh"

_ls_say() { printf '[localstack] %s\n' "$*" >&2; }

ls_venv_dir() { printf '%s/localstack-%s-venv\n' "${STOCKFLOW_CACHE:-$HOME/.cache/stockflow}" "$LS_VERSION"; }

ls_endpoint() { printf 'http://127.0.0.1:%s\n' "${1:-4566}"; }

_ls_now() { date +%s.%N; }
_ls_since() { awk -v a="$1" -v b="$(_ls_now)" 'BEGIN { printf "%.1f", b - a }'; }

# ls_ensure_venv: create/refresh the venv when localstack/requirements.txt changed (sha256 marker).
ls_ensure_venv() {
  venv_ensure "$(ls_venv_dir)" "$LS_REQUIREMENTS" localstack python -c 'import localstack.runtime.main'
}

# ls_aws [port] -- args...: the venv's aws CLI against LocalStack with test credentials.
ls_aws() {
  local port=4566
  if [ "${1:-}" != "--" ] && [ $# -gt 0 ]; then port="$1"; shift; fi
  [ "${1:-}" = "--" ] && shift
  local aws_bin
  aws_bin="$(ls_venv_dir)/bin/aws"
  [ -x "$aws_bin" ] || aws_bin="aws"
  AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}" \
    AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}" \
    "$aws_bin" --endpoint-url "$(ls_endpoint "$port")" "$@"
}

_ls_health_ok() { curl -fsS -m 2 "$(ls_endpoint "$1")/_localstack/health" >/dev/null 2>&1; }

# Prints one word for the READY-stage hooks: done | running | failed | none,
# from the JSON of /_localstack/init/ready, e.g.
#   {"completed": true, "scripts": [{"stage": "READY", "name": "10-deploy-stockflow.sh", "state": "SUCCESSFUL"}]}
_ls_init_state() {
  local json
  json="$(curl -fsS -m 2 "$(ls_endpoint "$1")/_localstack/init/ready" 2>/dev/null)" || { echo running; return; }
  printf '%s' "$json" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    print("running"); sys.exit()
scripts = d.get("scripts") or []
if any(s.get("state") in ("ERROR", "FAILED") for s in scripts):
    print("failed")
elif not d.get("completed"):
    print("running")
elif not scripts:
    print("none")
else:
    print("done")
'
}


_ls_fail() {
  local run_dir="$1"; shift
  _ls_say "ERROR: $*"
  if [ -f "$run_dir/localstack.log" ]; then
    _ls_say "last lines of $run_dir/localstack.log:"
    tail -n 40 "$run_dir/localstack.log" >&2
  fi
  return 0
}

# Copy the init hook and the template into the FILESYSTEM_ROOT layout LocalStack reads.
_ls_stage_fs() {
  local fs="$1"
  mkdir -p "$fs/etc/localstack/init/ready.d"
  rm -f "$fs/etc/localstack/init/ready.d/"*
  cp "$LS_ROOT"/localstack/init/ready.d/* "$fs/etc/localstack/init/ready.d/"
  chmod +x "$fs/etc/localstack/init/ready.d/"*.sh
  cp "$LS_ROOT/localstack/stockflow.yaml" "$fs/etc/localstack/stockflow.yaml"
}

# ls_start <run_dir> [port]
# Starts LocalStack (or reuses whatever answers on the port) and returns once the stockflow stack
# is deployed. On a LocalStack it did not start just now, it runs the (idempotent) hook itself.
ls_start() {
  local run_dir="${1:?usage: ls_start <run_dir> [port]}" port="${2:-4566}"
  local venv pid state deadline t0 fs started_now=0
  mkdir -p "$run_dir"
  run_dir="$(cd "$run_dir" && pwd)"
  venv="$(ls_venv_dir)"
  t0="$(_ls_now)"
  pid="$(cat "$run_dir/localstack.pid" 2>/dev/null || true)"

  if _ls_health_ok "$port"; then
    if _proc_alive "$pid"; then
      _ls_say "already running on 127.0.0.1:$port (pid $pid, from $run_dir): reusing it"
    else
      _ls_say "something already answers on 127.0.0.1:$port/_localstack/health (not started from $run_dir): reusing it"
      pid=""
    fi
  elif _proc_alive "$pid" && [ -f "$run_dir/localstack.started-by-us" ]; then
    _ls_say "LocalStack pid $pid (from $run_dir) is alive but not answering yet: waiting for it"
  else
    [ -x "$venv/bin/python" ] || { _ls_say "ERROR: no venv at $venv (run ls_ensure_venv first)"; return 1; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      _ls_say "ERROR: port $port is taken by something that is not LocalStack"; return 1
    fi
    fs="$run_dir/localstack-fs"
    _ls_stage_fs "$fs"
    rm -f "$run_dir/localstack.pid"
    _ls_say "starting LocalStack $LS_VERSION on 127.0.0.1:$port (log: $run_dir/localstack.log)"
    # shellcheck disable=SC2030,SC2031  # the environment is LocalStack's only
    (
      cd "$run_dir" || exit 1
      export PATH="$venv/bin:$PATH"
      export GATEWAY_LISTEN="127.0.0.1:$port"
      export LOCALSTACK_HOST="127.0.0.1:$port"
      export SERVICES="sns,sqs,cloudwatch,cloudformation,sts"
      export SQS_ENDPOINT_STRATEGY=path
      export SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL="${STOCKFLOW_METRICS_INTERVAL:-60}"
      export FILESYSTEM_ROOT="$fs"
      # LocalStack ignores FILESYSTEM_ROOT when it believes it runs in a container (this
      # machine may itself be one: /.dockerenv) and then uses /etc/localstack, /var/lib/localstack.
      export OVERRIDE_IN_DOCKER=0
      export DEBUG=0
      export DNS_ADDRESS=0                 # no DNS server (it would want port 53)
      export SKIP_SSL_CERT_DOWNLOAD=1      # no network here
      export DISABLE_EVENTS=1              # no analytics calls
      export LOCALSTACK_TELEMETRY_DISABLED=1
      export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
      export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
      export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
      unset AWS_ENDPOINT_URL AWS_PROFILE STOCKFLOW_TEMPLATE
      # The hook then uses the venv's `aws --endpoint-url` even if some awslocal is on PATH.
      export STOCKFLOW_AWS_ENDPOINT="http://127.0.0.1:$port"
      # setsid: own session and process group, so ls_stop can take LocalStack's children down too.
      # The inner bash records its own pid (setsid forks when it is already a group leader).
      # shellcheck disable=SC2016  # expanded by the inner bash
      exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$run_dir/localstack.pid" \
        "$venv/bin/python" -m localstack.runtime.main </dev/null >"$run_dir/localstack.log" 2>&1
    ) &
    for _ in $(seq 50); do [ -s "$run_dir/localstack.pid" ] && break; sleep 0.1; done
    pid="$(cat "$run_dir/localstack.pid" 2>/dev/null || true)"
    [ -n "$pid" ] || { _ls_fail "$run_dir" "LocalStack did not start (no pid)"; return 1; }
    printf '%s\n' "$port" >"$run_dir/localstack.port"
    : >"$run_dir/localstack.started-by-us"
    started_now=1
  fi

  deadline=$(( $(date +%s) + ${STOCKFLOW_LS_START_TIMEOUT:-120} ))
  printf '[localstack] waiting for /_localstack/health ' >&2
  until _ls_health_ok "$port"; do
    if [ -n "$pid" ] && ! _proc_alive "$pid"; then
      printf '\n' >&2; _ls_fail "$run_dir" "LocalStack (pid $pid) exited during start"
      rm -f "$run_dir/localstack.pid" "$run_dir/localstack.started-by-us"; return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      printf '\n' >&2; _ls_fail "$run_dir" "no health answer within ${STOCKFLOW_LS_START_TIMEOUT:-120} s"
      [ "$started_now" = 1 ] && ls_stop "$run_dir"
      return 1
    fi
    printf '.' >&2; sleep 1
  done
  printf ' up (%s s)\n' "$(_ls_since "$t0")" >&2

  printf '[localstack] waiting for ready hooks (/_localstack/init/ready) ' >&2
  while :; do
    state="$(_ls_init_state "$port")"
    case "$state" in
      done) printf ' done (%s s)\n' "$(_ls_since "$t0")" >&2; break ;;
      none) printf ' none ran (%s s)\n' "$(_ls_since "$t0")" >&2; break ;;
      failed) printf ' FAILED\n' >&2; break ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
      printf '\n' >&2; _ls_fail "$run_dir" "ready hooks not done within ${STOCKFLOW_LS_START_TIMEOUT:-120} s"
      [ "$started_now" = 1 ] && ls_stop "$run_dir"
      return 1
    fi
    printf '.' >&2; sleep 1
  done

  if [ "$state" = failed ] && [ "$started_now" = 1 ]; then
    _ls_say "init status: $(curl -fsS -m 2 "$(ls_endpoint "$port")/_localstack/init/ready" 2>/dev/null)"
    _ls_fail "$run_dir" "the ready hook failed (its output is in the log above)"
    ls_stop "$run_dir"
    return 1
  fi
  if [ "$started_now" = 0 ]; then
    # Reused: its hooks may have been others', may have failed, or the template may have changed
    # since. The hook is idempotent (about 1 s when nothing changed), so run it here.
    _ls_say "checking the stockflow stack on the reused LocalStack (hook state: $state)"
    # shellcheck disable=SC2031
    if ! PATH="$venv/bin:$PATH" STOCKFLOW_TEMPLATE="$LS_ROOT/localstack/stockflow.yaml" \
        STOCKFLOW_AWS_ENDPOINT="$(ls_endpoint "$port")" \
        bash "$LS_ROOT/localstack/init/ready.d/10-deploy-stockflow.sh" >&2; then
      _ls_say "ERROR: deploying the stockflow stack failed"; return 1
    fi
  fi
  _ls_say "ready at $(ls_endpoint "$port") after $(_ls_since "$t0") s${pid:+ (pid $pid)}"
}

# ls_stop <run_dir>: SIGTERM the recorded pid (and its process group), SIGKILL after a grace period.
ls_stop() {
  local run_dir="${1:?usage: ls_stop <run_dir>}" grace="${STOCKFLOW_STOP_GRACE:-10}"
  local pid
  pid="$(cat "$run_dir/localstack.pid" 2>/dev/null || true)"
  if [ -z "$pid" ]; then
    _ls_say "no LocalStack pid recorded in $run_dir: nothing to stop"
    return 0
  fi
  if ! _proc_alive "$pid"; then
    _ls_say "LocalStack pid $pid is not running"
    rm -f "$run_dir/localstack.pid" "$run_dir/localstack.started-by-us" "$run_dir/localstack.port"
    return 0
  fi
  # A stale pid file could name a recycled pid: only stop it if it is LocalStack.
  if ! _proc_matches "$pid" 'localstack.runtime.main'; then
    _ls_say "pid $pid is not LocalStack (stale pid file): not stopping it"
    rm -f "$run_dir/localstack.pid" "$run_dir/localstack.started-by-us" "$run_dir/localstack.port"
    return 0
  fi
  _ls_say "stopping LocalStack (pid $pid) ..."
  # LocalStack may ignore SIGTERM (docs: DESIGN.md); its SIGKILL loses nothing of ours.
  proc_terminate "$pid" "$grace" "[localstack] LocalStack" || true
  rm -f "$run_dir/localstack.pid" "$run_dir/localstack.started-by-us" "$run_dir/localstack.port"
  _ls_say "stopped"
}
