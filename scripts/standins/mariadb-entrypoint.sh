#!/bin/bash
# The mariadb stand-in's entrypoint (mariadb.Dockerfile): on an empty /var/lib/mysql, create the
# system tables, drop the anonymous users (they would hide root@'%') and give root the password
# MYSQL_ROOT_PASSWORD from anywhere, as the official mysql image does; then run the server.
set -euo pipefail
: "${MYSQL_ROOT_PASSWORD:?set MYSQL_ROOT_PASSWORD (the root password), as for the mysql image}"
datadir=/var/lib/mysql
if [ ! -d "$datadir/mysql" ]; then
  echo "[mariadb-standin] initialising $datadir"
  mariadb-install-db --datadir="$datadir" --user=mysql --auth-root-authentication-method=normal \
    --skip-test-db >/dev/null
  mariadbd --datadir="$datadir" --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  until mariadb-admin --socket=/run/mysqld/init.sock ping --silent 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { echo "[mariadb-standin] the server exited while initialising" >&2; exit 1; }
    sleep 0.5
  done
  pw="${MYSQL_ROOT_PASSWORD//\'/\'\'}"
  mariadb --socket=/run/mysqld/init.sock <<SQL
DELETE FROM mysql.global_priv WHERE User = '';
FLUSH PRIVILEGES;
CREATE USER 'root'@'%' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$pw';
SQL
  kill "$pid"
  wait "$pid" || true
  echo "[mariadb-standin] initialised"
fi
exec mariadbd --datadir="$datadir" --user=mysql --bind-address=0.0.0.0 --port=3306 "$@"
