# shellcheck shell=bash
# MySQL reachability for the scripts.
#   source scripts/lib/mysql.sh
#   mysql_check                    # fails with advice when MYSQL_URL's server does not answer
#   mysql_drop_databases db...     # DROP DATABASE IF EXISTS each (the services create and seed
#                                  # them again at start); uses the built stockflow-devstack

MYSQL_URL="${MYSQL_URL:-mysql://root@127.0.0.1:3306}"

mysql_check() {
  local hostport host port
  hostport="${MYSQL_URL#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
  host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=3306
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    echo "[mysql] $host:$port answers" >&2
  else
    echo "[mysql] ERROR: nothing answers at $host:$port (MYSQL_URL=$MYSQL_URL)." >&2
    echo "[mysql] Start MySQL 8 or MariaDB 10.11 there, or point MYSQL_URL at one (mysql://user:pass@host:port)." >&2
    return 1
  fi
}

mysql_drop_databases() {
  # MYSQL_URL is read by stockflow-devstack, as the services read it (built by scripts/test
  # and scripts/up before this runs).
  local root devstack
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  for devstack in "${CARGO_TARGET_DIR:-$root/target}"/{debug,release}/stockflow-devstack ""; do
    [ -x "$devstack" ] && break
  done
  if [ -z "$devstack" ]; then
    echo "[mysql] ERROR: stockflow-devstack is not built (cargo build --bins) to drop $*" >&2
    return 1
  fi
  MYSQL_URL="$MYSQL_URL" "$devstack" mysql-drop "$@" || { echo "[mysql] ERROR: could not drop $*" >&2; return 1; }
}
