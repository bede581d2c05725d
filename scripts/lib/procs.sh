# shellcheck shell=bash
# Background processes recorded by pid file: start, check, wait for an HTTP URL, stop.
#
#   source scripts/lib/procs.sh
#   proc_running <pidfile> <match>             # 0 if the pid in <pidfile> lives and its command line contains <match>
#   proc_start   <pidfile> <logfile> cmd...    # start cmd in its own session, append output to <logfile>, record its pid
#   proc_wait_http <url> <pidfile> <timeout_s> # wait until <url> answers 2xx; fails early if the process dies
#   proc_stop    <pidfile> <match> [grace_s]   # SIGTERM, SIGKILL after grace (default 10 s); removes <pidfile>
#   proc_terminate <pid> <grace_s> <label>     # the signalling of proc_stop, for a pid already checked
# proc_stop and proc_terminate return 3 when the process outlived SIGTERM and was killed: a
# service that ignores SIGTERM is a bug (it would not drain), and the caller decides what to say.
#
# Only the recorded pid (and the process group it leads) is ever signalled, and only when its
# command line still contains <match> (a stale pid file can name a recycled pid).

_proc_say() { printf '%s\n' "$*" >&2; }

_proc_pid() { cat "$1" 2>/dev/null || true; }

# Alive and not a zombie (an exited child not yet reaped still answers kill -0).
_proc_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  [ "$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)" != Z ]
}

_proc_matches() {
  local pid="$1" match="$2"
  _proc_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$match"
}

proc_running() { _proc_matches "$(_proc_pid "$1")" "$2"; }

proc_start() {
  local pidfile="$1" logfile="$2"; shift 2
  rm -f "$pidfile"
  printf '\n===== %s: %s\n' "$(date '+%F %T')" "$*" >>"$logfile"
  # setsid: own session, so a Ctrl-C in the calling terminal does not reach it. The inner bash
  # writes its own pid and execs the command (setsid forks when it already leads a group).
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 &
  local _i
  for _i in $(seq 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
  [ -s "$pidfile" ]
}

proc_wait_http() {
  local url="$1" pidfile="$2" timeout_s="$3" deadline pid
  deadline=$(( $(date +%s) + timeout_s ))
  pid="$(_proc_pid "$pidfile")"
  while :; do
    if curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! _proc_alive "$pid"; then return 2; fi
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    printf '.' >&2
    sleep 1
  done
}

# SIGTERM to <pid> (to the process group it leads, if it leads one: started with setsid),
# SIGKILL after <grace> s; then SIGKILL to what is left of its group.
proc_terminate() {
  local pid="$1" grace="$2" label="$3" pgid i target
  pgid="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $3 }' || true)"   # process group id
  if [ "$pgid" = "$pid" ]; then target="-$pid"; else target="$pid"; fi
  kill -TERM -- "$target" 2>/dev/null || true
  for ((i = 0; i < grace * 5; i++)); do
    _proc_alive "$pid" || break
    sleep 0.2
  done
  if _proc_alive "$pid"; then
    _proc_say "$label (pid $pid) still running after ${grace} s: SIGKILL"
    kill -KILL -- "$target" 2>/dev/null || true
    sleep 0.3
    return 3
  elif [ "$pgid" = "$pid" ]; then
    kill -KILL -- "-$pid" 2>/dev/null || true   # leftover children of the group, if any
  fi
}

proc_stop() {
  local pidfile="$1" match="$2" grace="${3:-10}" pid
  pid="$(_proc_pid "$pidfile")"
  if [ -z "$pid" ]; then return 0; fi
  if ! _proc_matches "$pid" "$match"; then
    _proc_say "  pid $pid (from $pidfile) is not running as $match: removing the stale pid file"
    rm -f "$pidfile"
    return 0
  fi
  local rc=0
  proc_terminate "$pid" "$grace" "  $match" || rc=$?
  rm -f "$pidfile"
  return "$rc"
}
