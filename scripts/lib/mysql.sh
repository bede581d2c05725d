# shellcheck shell=bash
# MySQL for the scripts: log in at MYSQL_URL, drop test databases.
#   source scripts/lib/mysql.sh
#   mysql_check                    # logs in at MYSQL_URL and runs SELECT VERSION(); fails with
#                                  # the client's error and advice when the server does not
#                                  # answer or refuses the login
#   mysql_drop_databases db...     # DROP DATABASE IF EXISTS each (the services create and seed
#                                  # them again at start); uses the built stockflow-devstack
# mysql_check needs the mariadb or mysql command-line client (Debian: apt-get install
# mariadb-client): a port that answers says nothing about the user, the password or the privileges.

MYSQL_URL="${MYSQL_URL:-mysql://root@127.0.0.1:3306}"

_mysql_say() { printf '[mysql] %s\n' "$*" >&2; }

# _mysql_sql <sql>: runs <sql> as MYSQL_URL's user (password percent-decoded, passed in
# MYSQL_PWD, never on the command line); the client's output on stdout, its errors on stderr.
_mysql_sql() {
  local client="" c host port user pass
  for c in mariadb mysql; do command -v "$c" >/dev/null 2>&1 && { client="$c"; break; }; done
  if [ -z "$client" ]; then
    _mysql_say "ERROR: no mariadb or mysql client on PATH to log in at MYSQL_URL (Debian: apt-get install mariadb-client)"
    return 1
  fi
  read -r host port user pass < <(python3 - "$MYSQL_URL" <<'PY'
import sys
from urllib.parse import urlsplit, unquote
u = urlsplit(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or 3306, unquote(u.username or "root"), unquote(u.password or "") or "-")
PY
  ) || { _mysql_say "ERROR: cannot parse MYSQL_URL=$MYSQL_URL (expected mysql://user[:password]@host[:port])"; return 1; }
  [ "$pass" = "-" ] && pass=""
  MYSQL_PWD="$pass" "$client" --protocol=TCP -h "$host" -P "$port" -u "$user" --connect-timeout=5 -N -e "$1"
}

# The URL with any password hidden, for messages.
_mysql_url_shown() { printf '%s' "$MYSQL_URL" | sed -E 's#(//[^:/@]*):[^@]*@#\1:***@#'; }

mysql_check() {
  local out
  if out="$(_mysql_sql 'SELECT VERSION()' 2>&1)"; then
    _mysql_say "logged in at $(_mysql_url_shown): server $(printf '%s' "$out" | head -n1)"
  else
    printf '%s\n' "$out" | sed 's/^/    /' >&2
    _mysql_say "ERROR: cannot log in at $(_mysql_url_shown)."
    _mysql_say "Start MySQL 8 or MariaDB 10.11 there (service mariadb start; with Docker: docker compose up -d mysql"
    _mysql_say "and MYSQL_URL=mysql://root:stockflow@127.0.0.1:23306), or point MYSQL_URL at a server"
    _mysql_say "and a user that may create databases: export MYSQL_URL=mysql://user:password@host:port"
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
