# shellcheck shell=bash
# Signalling a recorded pid, for LocalStack (scripts/lib/localstack.sh) and dockerd
# (scripts/lib/compose.sh), and finding free ports. The stockflow services themselves are
# started and stopped by stockflow-devstack (services/devstack), the same code the end-to-end
# tests and the bench use.
#
#   source scripts/lib/procs.sh
#   free_port [n]                              # prints n (default 1) distinct free TCP ports of 127.0.0.1
#   ports_free <port...>                       # 0 if nothing listens on any of them
#   _proc_alive <pid>                          # 0 if it lives and is not a zombie
#   _proc_matches <pid> <match>                # alive and its command line contains <match>
#   proc_terminate <pid> <grace_s> <label>     # SIGTERM to it (its process group if it leads one),
#                                              # SIGKILL after grace
#
# Only a recorded pid (and the process group it leads) is ever signalled, and callers check
# first that its command line still matches (a stale pid file can name a recycled pid).

_proc_say() { printf '%s\n' "$*" >&2; }

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

free_port() {
  python3 - "${1:-1}" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

ports_free() {
  local port
  for port in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 1; fi
  done
}
