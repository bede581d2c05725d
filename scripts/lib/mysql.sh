# shellcheck shell=bash
# MySQL reachability for the scripts.
#   source scripts/lib/mysql.sh
#   mysql_check                    # fails with advice when MYSQL_URL's server does not answer
#   mysql_drop_databases db...     # DROP DATABASE IF EXISTS each (the services create and seed
#                                  # them again at start); needs the mariadb or mysql client

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
  local client="" c db host port user pass sql=""
  for c in mariadb mysql; do command -v "$c" >/dev/null 2>&1 && { client="$c"; break; }; done
  if [ -z "$client" ]; then
    echo "[mysql] ERROR: no mariadb or mysql client on PATH to drop $*" \
      "(Debian: apt-get install mariadb-client)" >&2
    return 1
  fi
  # host port user password from the URL (password percent-decoded)
  read -r host port user pass < <(python3 - "$MYSQL_URL" <<'PY'
import sys
from urllib.parse import urlsplit, unquote
u = urlsplit(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or 3306, unquote(u.username or "root"), unquote(u.password or "") or "-")
PY
  ) || { echo "[mysql] ERROR: cannot parse MYSQL_URL=$MYSQL_URL" >&2; return 1; }
  [ "$pass" = "-" ] && pass=""
  for db in "$@"; do
    case "$db" in *[!A-Za-z0-9_]* | "") echo "[mysql] ERROR: refusing database name '$db'" >&2; return 1 ;; esac
    sql+="DROP DATABASE IF EXISTS \`$db\`; "
  done
  MYSQL_PWD="$pass" "$client" --protocol=TCP -h "$host" -P "$port" -u "$user" --connect-timeout=5 -e "$sql" \
    || { echo "[mysql] ERROR: could not drop $*" >&2; return 1; }
  echo "[mysql] dropped (if present): $*" >&2
}
