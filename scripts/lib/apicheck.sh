# shellcheck shell=bash
# The API schema checks (scripts/test part `schema`): the OpenAPI documents validate, and
# schemathesis, run against each live API (sales, then the factory), finds no 5xx and no
# answer outside the document.
#
#   source scripts/lib/apicheck.sh
#   apicheck_ensure_venv                          # venv from tests/api/requirements.txt (cached)
#   apicheck_validate <out_dir> <name>=<url>...   # fetch each /openapi.json, openapi-spec-validator it
#   apicheck_schemathesis <out_dir> <url>         # schemathesis run against the API of that document
#
# The venv lives in ${STOCKFLOW_CACHE:-~/.cache/stockflow}/apicheck-venv and is rebuilt when the
# sha256 of tests/api/requirements.txt changes (openapi-spec-validator 0.9.0, schemathesis 4.32.5
# and their dependencies, all pinned). Python: python3.11 when present, else python3 >= 3.10.
#
# schemathesis runs every phase (examples, coverage, fuzzing, stateful), positive and negative
# data, with the checks below, and nothing excluded. It is bounded by
#   APICHECK_MAX_EXAMPLES  30   test cases per operation and phase (schemathesis --max-examples)
#   APICHECK_TIMEOUT       300  seconds for the whole run, a hard limit (a run that hits it fails);
#                               not schemathesis --max-time, which keeps fuzzing until it is spent
#   APICHECK_SEED          (random; the run prints it) to replay a run exactly
#   APICHECK_ARGS          extra schemathesis arguments, e.g. "--checks all" or "--phases fuzzing"
# Reports in <out_dir>: schemathesis.json (run report), schemathesis.har (every request and
# answer), junit.xml, and the fetched documents (<name>.openapi.json). schemathesis runs there
# (its .schemathesis/ and .hypothesis/ too): replay a failure with
#   (cd <out_dir> && ~/.cache/stockflow/apicheck-venv/bin/schemathesis replay <test case id>)

AC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AC_REQUIREMENTS="$AC_ROOT/tests/api/requirements.txt"
# shellcheck source=scripts/lib/venv.sh
source "$AC_ROOT/scripts/lib/venv.sh"
# The checks the part asks for: no 5xx; every answer's status code, content type and body
# are the ones the document declares for the operation.
APICHECK_CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance

_ac_say() { printf '[apicheck] %s\n' "$*" >&2; }

apicheck_venv_dir() { printf '%s/apicheck-venv\n' "${STOCKFLOW_CACHE:-$HOME/.cache/stockflow}"; }

apicheck_ensure_venv() {
  venv_ensure "$(apicheck_venv_dir)" "$AC_REQUIREMENTS" apicheck sh -c 'schemathesis --version && openapi-spec-validator --version'
}

# apicheck_validate <out_dir> name=url...: every document is fetched and validated (all of them,
# even after a failure); non-zero when any could not be fetched or is invalid.
apicheck_validate() {
  local out="$1" venv arg name url file rc=0
  shift
  venv="$(apicheck_venv_dir)"
  mkdir -p "$out"
  for arg in "$@"; do
    name="${arg%%=*}" url="${arg#*=}" file="$out/${arg%%=*}.openapi.json"
    if ! curl -fsS -m 15 -o "$file" "$url"; then
      _ac_say "FAIL $name: could not fetch $url"; rc=1; continue
    fi
    _ac_say "openapi-spec-validator $url"
    if "$venv/bin/openapi-spec-validator" --validation-errors all "$file" >"$file.validator.out" 2>&1; then
      _ac_say "  OK   $name: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("OpenAPI", d.get("openapi"), "-", d["info"]["title"], d["info"].get("version", ""), "-", sum(len([m for m in p if m in ("get","put","post","delete","patch")]) for p in d.get("paths", {}).values()), "operations")' "$file")"
    else
      _ac_say "  FAIL $name ($url):"; sed 's/^/      /' "$file.validator.out" >&2; rc=1
    fi
  done
  return "$rc"
}

# apicheck_schemathesis <out_dir> <url of openapi.json>: its exit status (124: time limit hit).
apicheck_schemathesis() {
  local out url="$2" venv rc=0 t0
  out="$(mkdir -p "$1" && cd "$1" && pwd)" || return 1
  venv="$(apicheck_venv_dir)"
  rm -f "$out/schemathesis.json" "$out/schemathesis.har" "$out/junit.xml"
  local cmd=("$venv/bin/schemathesis" run "$url"
    --checks "$APICHECK_CHECKS"
    --max-examples "${APICHECK_MAX_EXAMPLES:-30}"
    --request-timeout 15 --wait-for-schema 30
    --report "json,har,junit"
    --report-json-path "$out/schemathesis.json"
    --report-har-path "$out/schemathesis.har"
    --report-junit-path "$out/junit.xml")
  [ -n "${APICHECK_SEED:-}" ] && cmd+=(--seed "$APICHECK_SEED")
  # shellcheck disable=SC2206  # APICHECK_ARGS is a list of words
  [ -n "${APICHECK_ARGS:-}" ] && cmd+=(${APICHECK_ARGS})
  _ac_say "limit: ${APICHECK_TIMEOUT:-300} s; command:"
  printf '    %s\n\n' "${cmd[*]}" >&2
  t0=$(date +%s)
  # Run from <out_dir>: schemathesis keeps its replay cache in ./.schemathesis and Hypothesis its
  # database in ./.hypothesis, which belong there and not in the repository's root.
  (cd "$out" && HYPOTHESIS_STORAGE_DIRECTORY="$out/.hypothesis" \
    timeout --kill-after=10 "${APICHECK_TIMEOUT:-300}" "${cmd[@]}") || rc=$?
  printf '\n' >&2
  [ "$rc" = 124 ] && _ac_say "FAIL: schemathesis did not finish within ${APICHECK_TIMEOUT:-300} s (APICHECK_TIMEOUT)"
  _ac_say "schemathesis exited $rc after $(( $(date +%s) - t0 )) s; summary:"
  "$venv/bin/python" "$AC_ROOT/tests/api/summary.py" "$out/schemathesis.json" "$out/schemathesis.har" "$url" >&2 || true
  _ac_say "reports: $out/schemathesis.json, schemathesis.har, junit.xml"
  return "$rc"
}

# apicheck_warnings <out_dir>: prints the schemathesis warnings of the last run in one line
# ("" when none), e.g. "validation_mismatch: POST /checkout".
apicheck_warnings() {
  python3 - "$1/schemathesis.json" <<'PY' 2>/dev/null || true
import json, sys
report = json.load(open(sys.argv[1], encoding="utf-8"))
print("; ".join(f"{kind}: {', '.join(map(str, items))}" for kind, items in (report.get("warnings") or {}).items() if items))
PY
}
