# shellcheck shell=bash
# MySQL reachability for the scripts.
#   source scripts/lib/mysql.sh
#   mysql_check    # fails with advice when MYSQL_URL's server does not answer

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
