# shellcheck shell=bash
# The compose part of scripts/test: a Docker engine, the images, and the compose stack's story.
#
#   source scripts/lib/compose.sh
#   compose_tools              docker (Debian's docker.io) and docker-compose, installed with apt when missing
#   compose_engine_up <dir>    use the engine that answers (DOCKER_HOST, else /var/run/docker.sock); if
#                              none does, start a dockerd of our own (root only): data root
#                              $STOCKFLOW_CACHE/docker/data (kept: the next run's build is warm), exec
#                              root, socket, pid file and log in <dir>; exports DOCKER_HOST
#   compose_engine_down        stop that dockerd by its recorded pid (nothing when we reused one)
#   compose_base_images        for every base image (compose.yaml, Dockerfile): the real one if present
#                              or pullable, else a local stand-in (scripts/standins/), exported as the
#                              *_IMAGE variables compose.yaml and the Dockerfile read; COMPOSE_STANDINS
#                              lists the stand-ins used
#   compose_cmd <args...>      docker-compose (v1) or `docker compose` (v2), with this project's files
#                              and project name
#   compose_wait_healthy <timeout_s> <service...>
#                              poll `docker inspect` until every container of those services is healthy
#                              (Compose v1 has no --wait); fails naming the unhealthy ones
#
# Engine: `dockerd --storage-driver=vfs --iptables=false --ip-masq=false` works where no other
# driver does (a VM or container without overlayfs); STOCKFLOW_DOCKERD_ARGS replaces those three.
# A dockerd we start runs under `nice -n ${STOCKFLOW_DOCKER_NICE:-10}`.

CP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Free ports and stopping our dockerd: scripts/test's `devstack` function (stockflow-devstack).
CP_DOCKERD_PID=""        # the dockerd we started, if any
CP_BUILD_HOST_NETWORK=0  # 1: image builds on the host's network (compose_cmd)
COMPOSE_STANDINS=""      # "<stand-in> for <image>, ..." where a stand-in image was used
COMPOSE_MISSING=""       # images neither present, pullable nor stood in for (what needs them is not run)

_cp_say() { printf '[compose] %s\n' "$*" >&2; }

# The Debian docker client: /usr/bin/docker (a newer client elsewhere on PATH may not speak to
# the 20.10 engine Debian installs). Any docker works when no Debian one is installed.
cp_docker() {
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

_cp_apt() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  _cp_say "apt-get install $*"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"; } >&2 \
    || { _cp_say "ERROR: could not install $* (Debian packages; install them by hand)"; return 1; }
}

compose_tools() {
  local want=()
  [ -x /usr/bin/docker ] || command -v dockerd >/dev/null 2>&1 || want+=(docker.io)
  command -v docker-compose >/dev/null 2>&1 || cp_docker compose version >/dev/null 2>&1 || want+=(docker-compose)
  [ "${#want[@]}" = 0 ] || _cp_apt "${want[@]}"
}

_cp_engine_ok() { cp_docker info >/dev/null 2>&1; }

compose_engine_up() {
  local dir="${1:?usage: compose_engine_up <dir>}" data deadline
  if _cp_engine_ok; then
    _cp_say "using the Docker engine that answers ($(cp_docker version --format '{{.Server.Version}}' 2>/dev/null), ${DOCKER_HOST:-/var/run/docker.sock})"
    return 0
  fi
  command -v dockerd >/dev/null 2>&1 || { _cp_say "ERROR: no Docker engine answers and dockerd is not installed"; return 1; }
  [ "$(id -u)" = 0 ] || { _cp_say "ERROR: no Docker engine answers; start one (a dockerd of our own needs root)"; return 1; }
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  data="${STOCKFLOW_CACHE:-$HOME/.cache/stockflow}/docker/data"
  mkdir -p "$data" "$dir/exec"
  export DOCKER_HOST="unix://$dir/docker.sock"
  _cp_say "no Docker engine answers: starting dockerd (data root $data, socket $dir/docker.sock, log $dir/dockerd.log)"
  rm -f "$dir/dockerd.launch.pid"
  # setsid: its own session (a Ctrl-C of scripts/test does not hit it before we stop it); the
  # inner bash records its own pid, which nice and dockerd keep (setsid forks when it leads a group).
  # shellcheck disable=SC2016,SC2086  # expanded by the inner bash; STOCKFLOW_DOCKERD_ARGS is a list of words
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/dockerd.launch.pid" \
    nice -n "${STOCKFLOW_DOCKER_NICE:-10}" dockerd ${STOCKFLOW_DOCKERD_ARGS:---storage-driver=vfs --iptables=false --ip-masq=false} \
    --data-root "$data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" -H "$DOCKER_HOST" \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 50); do [ -s "$dir/dockerd.launch.pid" ] && break; sleep 0.1; done
  CP_DOCKERD_PIDFILE="$dir/dockerd.launch.pid"
  CP_DOCKERD_PID="$(cat "$CP_DOCKERD_PIDFILE" 2>/dev/null || true)"
  deadline=$(( $(date +%s) + 60 ))
  until _cp_engine_ok; do
    if ! kill -0 "$CP_DOCKERD_PID" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      _cp_say "ERROR: dockerd did not answer within 60 s; last lines of $dir/dockerd.log:"
      tail -n 20 "$dir/dockerd.log" >&2
      compose_engine_down
      return 1
    fi
    sleep 0.5
  done
  _cp_say "dockerd $(cp_docker version --format '{{.Server.Version}}') up (pid $CP_DOCKERD_PID)"
}

compose_engine_down() {
  [ -n "$CP_DOCKERD_PID" ] || return 0
  _cp_say "stopping the dockerd we started (pid $CP_DOCKERD_PID)"
  devstack stop-pid "$CP_DOCKERD_PIDFILE" --expect dockerd --grace 30 || true
  CP_DOCKERD_PID=""
}

# ---------------------------------------------------------------- base images and stand-ins
# The base images and their defaults are read from where they are declared: `ARG X_IMAGE=...`
# in the Dockerfile, `${X_IMAGE:-...}` in compose.yaml. Prints "VARIABLE default" lines.
_cp_declared_images() {
  {
    sed -n 's/^ARG \([A-Z_]*_IMAGE\)=\(.*\)$/\1 \2/p' "$CP_ROOT/Dockerfile"
    grep -o '\${[A-Z_]*_IMAGE:-[^}]*}' "$CP_ROOT/compose.yaml" | sed 's/^\${\(.*\):-\(.*\)}$/\1 \2/'
  } | grep -v '^STOCKFLOW_' | sort -u   # STOCKFLOW_*_IMAGE: the images built here
}

# The stand-in for a variable: "<image name> <how>", or nothing when there is none (grafana: not
# in Debian; the observability check then runs the dashboard's queries against Prometheus
# itself). <how> is rootfs:<kind> (a Debian root file system imported as one layer: vfs copies
# every layer whole, so the big toolchain images are one) or the Dockerfile in scripts/standins.
_cp_standin_for() {
  case "$1" in
    RUNTIME_IMAGE) echo "stockflow-standin/debian:bookworm rootfs:debian" ;;
    RUST_IMAGE) echo "stockflow-standin/rust:1.95 rootfs:rust" ;;
    NODE_IMAGE) echo "stockflow-standin/node:20 rootfs:node" ;;
    MYSQL_IMAGE) echo "stockflow-standin/mariadb:10.11 mariadb" ;;
    LOCALSTACK_IMAGE) echo "stockflow-standin/localstack:4.13.1 localstack" ;;
    PROMETHEUS_IMAGE) echo "stockflow-standin/prometheus:2.42 prometheus" ;;
  esac
}

_cp_have_image() { cp_docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror apt uses on this machine (deb822 or one-line sources), for debootstrap.
_cp_mirror() {
  local m
  m="$(grep -hoE '^URIs: *http[^ ]*debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | sed 's/^URIs: *//')"
  [ -n "$m" ] || m="$(grep -hoE '^deb +http[^ ]*debian/? +bookworm' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')"
  printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# _cp_standin_rootfs <name> <kind> <dir>: debootstrap --variant=minbase bookworm (with the
# packages the kind needs), this machine's CA bundle (its registries sit behind a TLS proxy),
# what the kind copies from this machine, then `docker import` as one layer:
#   debian  the base of every stand-in (for debian:bookworm-slim);
#   rust    for rust:1.95-bookworm: a C toolchain and this machine's Rust toolchain (rustc
#           --print sysroot, without its docs) at the official image's paths; it proves the
#           build with this machine's rustc of the pinned version, not the official image's;
#   node    for node:20-bookworm-slim: this machine's node and npm at the official image's paths.
_cp_standin_rootfs() {
  local name="$1" kind="$2" dir="$3/rootfs-$2" log="$3/rootfs-$2.log" include="" changes=() npm t0
  t0=$(date +%s)
  command -v debootstrap >/dev/null 2>&1 || _cp_apt debootstrap || return 1
  case "$kind" in
    rust)
      command -v rustc >/dev/null 2>&1 || { _cp_say "ERROR: no rustc on this machine to stand in for the rust image"; return 1; }
      case "$(rustc --version)" in
        "rustc ${name##*:}."*) ;;
        *) _cp_say "ERROR: this machine's $(rustc --version) cannot stand in for Rust ${name##*:} (install it with rustup)"; return 1 ;;
      esac
      include="--include=gcc,g++,libc6-dev,make,pkg-config,curl,ca-certificates"
      changes=(-c 'ENV CARGO_HOME=/usr/local/cargo'
        -c 'ENV PATH=/usr/local/rustup/toolchain/bin:/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin') ;;
    node)
      command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
        || { _cp_say "ERROR: no node and npm on this machine to stand in for the node image"; return 1; }
      changes=(-c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt') ;;
  esac
  _cp_say "building stand-in $name: debootstrap bookworm from $(_cp_mirror) ${include:+($include) }(log: $log)"
  rm -rf "$dir"
  mkdir -p "${STOCKFLOW_CACHE:-$HOME/.cache/stockflow}/debootstrap"
  # shellcheck disable=SC2086  # $include is one word or none
  if ! debootstrap --variant=minbase $include --cache-dir="${STOCKFLOW_CACHE:-$HOME/.cache/stockflow}/debootstrap" \
      bookworm "$dir" "$(_cp_mirror)" >"$log" 2>&1; then
    _cp_say "ERROR: debootstrap failed; last lines of $log:"; tail -n 20 "$log" >&2
    return 1
  fi
  mkdir -p "$dir/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  case "$kind" in
    rust)
      mkdir -p "$dir/usr/local/rustup/toolchain" "$dir/usr/local/cargo/bin"
      tar -C "$(rustc --print sysroot)" --exclude=./share/doc -c . | tar -C "$dir/usr/local/rustup/toolchain" -x ;;
    node)
      npm="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
      mkdir -p "$dir/usr/local/lib/node_modules"
      cp "$(readlink -f "$(command -v node)")" "$dir/usr/local/bin/node"
      cp -a "$npm" "$dir/usr/local/lib/node_modules/npm"
      ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
      ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx" ;;
  esac
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | cp_docker import "${changes[@]}" -c 'CMD ["bash"]' - "$name" >/dev/null || return 1
  rm -rf "$dir"
  _cp_say "$name imported in $(( $(date +%s) - t0 )) s"
}

# _cp_standin_build <name> <Dockerfile kind> <dir> <base>: a stand-in from scripts/standins (layer
# cache: seconds when nothing changed). Its build context: this machine's CA bundle and the files
# its Dockerfile copies.
_cp_standin_build() {
  local name="$1" kind="$2" ctx="$3/standin-$2" log="$3/standin-$2.log" base="$4" t0
  t0=$(date +%s)
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
  case "$kind" in
    mariadb) cp "$CP_ROOT/scripts/standins/mariadb-entrypoint.sh" "$ctx/" ;;
    localstack) cp "$CP_ROOT/localstack/requirements.txt" "$ctx/" ;;
  esac
  _cp_say "building stand-in $name (scripts/standins/$kind.Dockerfile; log: $log)"
  if ! DOCKER_BUILDKIT=1 cp_docker build --network host --build-arg "BASE_IMAGE=$base" -t "$name" \
      -f "$CP_ROOT/scripts/standins/$kind.Dockerfile" "$ctx" >"$log" 2>&1; then
    _cp_say "ERROR: building $name failed; last lines of $log:"; tail -n 30 "$log" >&2
    return 1
  fi
  rm -rf "$ctx"
  _cp_say "$name ready in $(( $(date +%s) - t0 )) s"
}

compose_base_images() {
  local dir="${1:?usage: compose_base_images <dir>}" var image standin name kind base
  mkdir -p "$dir"
  COMPOSE_STANDINS="" COMPOSE_MISSING=""
  base="$(_cp_standin_for RUNTIME_IMAGE | cut -d' ' -f1)"
  while read -r var image; do
    [ -z "${!var:-}" ] || { _cp_say "$var=${!var} (set by you)"; continue; }
    if _cp_have_image "$image" || cp_docker pull -q "$image" >/dev/null 2>&1; then
      _cp_say "$var: $image"
      continue
    fi
    standin="$(_cp_standin_for "$var")"
    if [ -z "$standin" ]; then
      _cp_say "$var: $image cannot be pulled and has no stand-in: what needs it is not run"
      COMPOSE_MISSING="${COMPOSE_MISSING:+$COMPOSE_MISSING }$image"
      continue
    fi
    read -r name kind <<<"$standin"
    _cp_say "$var: $image cannot be pulled: stand-in $name"
    case "$kind" in
      rootfs:*) _cp_have_image "$name" || _cp_standin_rootfs "$name" "${kind#rootfs:}" "$dir" || return 1 ;;
      *) { _cp_have_image "$base" || _cp_standin_rootfs "$base" debian "$dir"; } \
           && _cp_standin_build "$name" "$kind" "$dir" "$base" || return 1 ;;
    esac
    export "$var=$name"
    COMPOSE_STANDINS="${COMPOSE_STANDINS:+$COMPOSE_STANDINS, }$name for $image"
  done < <(_cp_declared_images)
}

# ---------------------------------------------------------------- compose
# COMPOSE_PROJECT_NAME (set by the caller) keeps this stack apart from any other on the engine.
# Compose v2 (`docker compose`) when the docker client has it, else docker-compose (v1);
# STOCKFLOW_COMPOSE="docker-compose" or "docker compose" chooses. With CP_BUILD_HOST_NETWORK=1
# image builds use the host's network (scripts/standins/compose.build-host-network.yaml): set
# where the engine's containers have no NAT (a dockerd of our own, --iptables=false) or no
# registry answers (the stand-ins' machine), or by STOCKFLOW_BUILD_NETWORK=host.
compose_cmd() {
  local files=(-f "$CP_ROOT/compose.yaml")
  [ "$CP_BUILD_HOST_NETWORK" != 1 ] || files+=(-f "$CP_ROOT/scripts/standins/compose.build-host-network.yaml")
  _cp_compose "${files[@]}" "$@"
}

compose_version() { _cp_compose version --short; }

_cp_compose() {
  case "${STOCKFLOW_COMPOSE:-}" in
    "docker compose") cp_docker compose "$@" ;;
    docker-compose) _cp_compose_v1 "$@" ;;
    *) if cp_docker compose version >/dev/null 2>&1; then cp_docker compose "$@"; else _cp_compose_v1 "$@"; fi ;;
  esac
}

# docker-compose 1.29 builds by running `docker build` from PATH: the Debian client first (a
# newer client there would want buildx for DOCKER_BUILDKIT=1).
_cp_compose_v1() {
  if [ -x /usr/bin/docker ]; then PATH="/usr/bin:$PATH" docker-compose "$@"; else docker-compose "$@"; fi
}

# compose_wait_healthy <timeout_s> <service...>: every container of each service healthy.
compose_wait_healthy() {
  local timeout="$1" deadline svc ids states bad t0
  shift
  t0=$(date +%s) deadline=$(( $(date +%s) + timeout ))
  while :; do
    bad=""
    for svc in "$@"; do
      ids="$(compose_cmd ps -q "$svc" 2>/dev/null)"
      if [ -z "$ids" ]; then bad+=" $svc(no container)"; continue; fi
      # shellcheck disable=SC2086  # one id per word
      states="$(cp_docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' $ids 2>/dev/null)"
      [ -z "$(printf '%s\n' "$states" | grep -vx healthy)" ] || bad+=" $svc($(printf '%s' "$states" | sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}'))"
    done
    if [ -z "$bad" ]; then
      _cp_say "healthy after $(( $(date +%s) - t0 )) s: $*"
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      _cp_say "ERROR: not healthy within $timeout s:$bad"
      return 1
    fi
    sleep 2
  done
}

# ---------------------------------------------------------------- the compose part of scripts/test
CP_UP=0   # 1 once our project has containers: compose_cleanup takes them down

_cp_checks() { python3 -B "$CP_ROOT/scripts/lib/compose_checks.py" "$@"; }

# A stack of its own beside whatever runs: its own project name, image tags and host ports, and
# every setting it relies on given here (a .env beside compose.yaml cannot change them).
_cp_settings() {
  unset COMPOSE_FILE COMPOSE_PROFILES
  export COMPOSE_PROJECT_NAME="${STOCKFLOW_TEST_PROJECT:-stockflow-test}"
  export STOCKFLOW_IMAGE="$COMPOSE_PROJECT_NAME:local" STOCKFLOW_E2E_IMAGE="$COMPOSE_PROJECT_NAME-e2e:local"
  export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1 COMPOSE_HTTP_TIMEOUT=300   # v1 on a busy machine
  export MYSQL_ROOT_PASSWORD=stockflow STOCKFLOW_PREFIX="" STOCKFLOW_MAX_RECEIVE_COUNT=5
  export STOCKFLOW_ALARM_PERIOD_SECONDS=60 STOCKFLOW_METRICS_INTERVAL=5
  read -r SALES_HOST_PORT FACTORY_HOST_PORT MYSQL_HOST_PORT LOCALSTACK_HOST_PORT PROMETHEUS_HOST_PORT GRAFANA_HOST_PORT < <(devstack free-ports 6)
  export SALES_HOST_PORT FACTORY_HOST_PORT MYSQL_HOST_PORT LOCALSTACK_HOST_PORT PROMETHEUS_HOST_PORT GRAFANA_HOST_PORT
}

# _cp_step <name> <command...>: runs it, output to <dir>/<name>.log (shown on failure), and
# adds "<name> N s" to CP_TIMES.
_cp_step() {
  local name="$1" t0 rc=0
  shift
  t0=$(date +%s)
  _cp_say "$name: $* (log: $CP_DIR/$name.log)"
  "$@" >"$CP_DIR/$name.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    _cp_say "ERROR: $name failed (exit $rc); last lines of $CP_DIR/$name.log:"
    tail -n 60 "$CP_DIR/$name.log" >&2
    CP_NOTE="$name FAILED: ${CP_NOTE:-exit $rc} ($CP_DIR/$name.log)${CP_TIMES:+ after: $CP_TIMES}"
    return "$rc"
  fi
  CP_TIMES="${CP_TIMES:+$CP_TIMES, }$name $(( $(date +%s) - t0 )) s"
}

_cp_fail() { CP_NOTE="$1"; return 1; }

_cp_story() {
  local sales factory rid remaining secs order
  sales="http://127.0.0.1:$SALES_HOST_PORT" factory="http://127.0.0.1:$FACTORY_HOST_PORT"
  read -r rid remaining < <(_cp_checks story "$sales") || true
  [ -n "${remaining:-}" ] || _cp_fail "the README's story failed before the restock" || return 1
  secs="$(_cp_checks restocked "$sales" CP-502101 "$remaining")" || { _cp_fail "no restock arrived"; return 1; }
  order="$(compose_cmd exec -T mysql mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -N -B \
    -e "SELECT production_order_id FROM stockflow.restock_requests WHERE id = '$rid'" 2>/dev/null | tail -n1)"
  [ -n "$order" ] && [ "$order" != NULL ] || { _cp_fail "restock request $rid has no production order id"; return 1; }
  _cp_checks factory-order "$factory" "$order" || { _cp_fail "the factory's order did not reach 종료"; return 1; }
  _cp_checks problem "$sales" || { _cp_fail "quantity 0 was not a 422 problem"; return 1; }
  CP_STORY="sale, legacy body, 409, restock after $secs s, factory order 종료, 422"
}

# The DLQ alert in the stack's own Prometheus: a poison message on stock_queue is dead-lettered
# (seen in the DLQ first), StockflowDeadLetters fires, `stockctl dlq purge` clears it.
_cp_dlq_alert() {
  local ls="http://127.0.0.1:$LOCALSTACK_HOST_PORT" prom="http://127.0.0.1:$PROMETHEUS_HOST_PORT" t0 n
  [ "$(_cp_checks sqs-count "$ls" dead_letter_queue)" = 0 ] || { _cp_fail "dead_letter_queue is not empty before the poison message"; return 1; }
  _cp_checks alert "$prom" StockflowDeadLetters gone || { _cp_fail "StockflowDeadLetters is listed before any dead letter"; return 1; }
  t0=$(date +%s)
  _cp_checks sqs-send "$ls" stock_queue 'poison: not a stock_empty event' || { _cp_fail "could not send the poison message"; return 1; }
  for _ in $(seq 60); do
    n="$(_cp_checks sqs-count "$ls" dead_letter_queue)"
    [ "$n" = 1 ] && break
    sleep 1
  done
  [ "$n" = 1 ] || { _cp_fail "the poison message did not reach dead_letter_queue within 60 s ($n there)"; return 1; }
  _cp_say "the poison message is in dead_letter_queue after $(( $(date +%s) - t0 )) s"
  _cp_checks alert "$prom" StockflowDeadLetters firing || { _cp_fail "StockflowDeadLetters did not fire in Prometheus"; return 1; }
  CP_ALERT="DLQ alert fired $(( $(date +%s) - t0 )) s after the poison message"
  t0=$(date +%s)
  compose_cmd --profile test run --rm -T --no-deps e2e stockctl dlq purge --yes >&2 || { _cp_fail "stockctl dlq purge failed"; return 1; }
  _cp_checks alert "$prom" StockflowDeadLetters gone || { _cp_fail "StockflowDeadLetters did not clear after the purge"; return 1; }
  CP_ALERT="$CP_ALERT, cleared $(( $(date +%s) - t0 )) s after stockctl dlq purge"
}

_cp_observability() {
  local prom="http://127.0.0.1:$PROMETHEUS_HOST_PORT" services=(prometheus)
  case " $COMPOSE_MISSING " in *" ${GRAFANA_IMAGE:-grafana/grafana}"*) ;; *) services+=(grafana) ;; esac
  compose_cmd --profile observability up -d "${services[@]}" >&2 || { _cp_fail "could not start ${services[*]}"; return 1; }
  compose_wait_healthy 180 "${services[@]}" || { _cp_fail "${services[*]} not healthy"; return 1; }
  _cp_checks targets "$prom" sales=1 factory=1 stock-worker=3 stock-inc-worker=3 \
    || { _cp_fail "Prometheus does not scrape every replica, all up"; return 1; }
  _cp_dlq_alert || return 1
  _cp_checks dashboard "$prom" "$CP_ROOT/deploy/grafana/dashboards" || { _cp_fail "a dashboard query returns no data"; return 1; }
}

# compose_suite <dir>: the compose part, start to end; CP_NOTE is its summary line.
compose_suite() {
  CP_DIR="$1" CP_NOTE="" CP_TIMES="" CP_STORY="" CP_ALERT=""
  local engine
  mkdir -p "$CP_DIR"
  compose_tools || { CP_NOTE="docker.io/docker-compose could not be installed"; return 1; }
  compose_engine_up "$CP_DIR/engine" || { CP_NOTE="no Docker engine (above)"; return 1; }
  engine="engine $(cp_docker version --format '{{.Server.Version}}')$([ -n "$CP_DOCKERD_PID" ] && echo ", a dockerd of its own")"
  compose_base_images "$CP_DIR/images" || { CP_NOTE="a stand-in image did not build (above)"; return 1; }
  _cp_settings
  if [ -n "$CP_DOCKERD_PID" ] || [ -n "$COMPOSE_STANDINS" ] || [ "${STOCKFLOW_BUILD_NETWORK:-}" = host ]; then
    CP_BUILD_HOST_NETWORK=1
  fi
  _cp_say "project $COMPOSE_PROJECT_NAME, compose $(compose_version), sales :$SALES_HOST_PORT, factory :$FACTORY_HOST_PORT, LocalStack :$LOCALSTACK_HOST_PORT, Prometheus :$PROMETHEUS_HOST_PORT"
  _cp_step build compose_cmd --profile test build || return 1
  CP_UP=1
  _cp_step up compose_cmd up -d || return 1
  _cp_step healthy compose_wait_healthy 300 mysql localstack sales factory stock-worker stock-inc-worker || return 1
  _cp_step story _cp_story || return 1
  _cp_step scale compose_cmd up -d --scale stock-worker=3 --scale stock-inc-worker=3 || return 1
  _cp_step scaled compose_wait_healthy 180 stock-worker stock-inc-worker || return 1
  _cp_step e2e compose_cmd --profile test run --rm -T e2e || return 1
  grep -E '^(==>|[[:space:]]*(test result|Summary|│ *(requests|assertions)))' "$CP_DIR/e2e.log" >&2 || true
  _cp_step observability _cp_observability || return 1
  CP_NOTE="compose $(compose_version), $engine: $CP_TIMES; $CP_STORY; workers scaled to 3; e2e (black-box suite, newman) passed; Prometheus scrapes all 8, $CP_ALERT, every dashboard query has data"
  [ -z "$COMPOSE_STANDINS" ] || CP_NOTE="$CP_NOTE; stand-in: $COMPOSE_STANDINS"
  [ -z "$COMPOSE_MISSING" ] || CP_NOTE="$CP_NOTE; not run (no image): $COMPOSE_MISSING (its dashboard's queries ran against Prometheus)"
}

# compose_logs: every service's log to <dir>/services.log (kept after down -v), its end shown.
compose_logs() {
  [ "$CP_UP" = 1 ] || return 0
  { compose_cmd --profile test --profile observability ps; compose_cmd --profile test --profile observability logs --no-color --timestamps; } \
    >"$CP_DIR/services.log" 2>&1
  _cp_say "every service's log is in $CP_DIR/services.log; its last lines:"
  tail -n 80 "$CP_DIR/services.log" >&2
}

# compose_cleanup: down -v of our project (every profile), then our dockerd if we started one.
compose_cleanup() {
  if [ "$CP_UP" = 1 ]; then
    _cp_say "down -v ($COMPOSE_PROJECT_NAME)"
    compose_cmd --profile test --profile observability down -v --remove-orphans >&2 || _cp_say "ERROR: down -v failed"
    CP_UP=0
  fi
  compose_engine_down
}
