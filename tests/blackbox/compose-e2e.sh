#!/usr/bin/env bash
# The e2e container's command (Dockerfile target `e2e`, compose service `e2e`, profile `test`):
# the black-box suite, then the Postman collection with newman, against the compose services
# named by SALES_URL, FACTORY_URL, AWS_ENDPOINT_URL, MYSQL_URL, WAREHOUSE_DB, STOCKFLOW_PREFIX.
# Both run even when the first fails; the exit status is non-zero if either failed.
set -uo pipefail

rc=0
for suite in /usr/local/lib/blackbox/*; do
  printf '\n==> black-box suite: %s\n' "$(basename "$suite")"
  "$suite" --test-threads=4 || rc=1
done

printf '\n==> newman: tests/postman against %s and %s\n' "$SALES_URL" "$FACTORY_URL"
/e2e/node_modules/.bin/newman run /e2e/tests/postman/stockflow.postman_collection.json \
  --environment /e2e/tests/postman/local.postman_environment.json \
  --env-var "sales_url=$SALES_URL" --env-var "factory_url=$FACTORY_URL" \
  --reporters cli --timeout-request 15000 || rc=1

printf '\n==> e2e %s\n' "$([ "$rc" = 0 ] && echo PASSED || echo FAILED)"
exit "$rc"
