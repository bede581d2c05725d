# Stand-in for mysql:8.4 where no registry answers: Debian's MariaDB 10.11 on the Debian base
# stand-in, started like the official image (MYSQL_ROOT_PASSWORD for root@'%', data in
# /var/lib/mysql, port 3306, mysqladmin for the healthcheck). What it does not prove: that the
# schema and SQL behave the same on MySQL 8.4 (docs/decisions.md, "MySQL 8.4 and MariaDB 10.11").
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends mariadb-server mariadb-client \
 && rm -rf /var/lib/apt/lists/* /var/lib/mysql \
 && mkdir -p /var/lib/mysql /run/mysqld \
 && chown mysql:mysql /var/lib/mysql /run/mysqld
COPY mariadb-entrypoint.sh /usr/local/bin/mariadb-entrypoint
VOLUME /var/lib/mysql
EXPOSE 3306
ENTRYPOINT ["mariadb-entrypoint"]
