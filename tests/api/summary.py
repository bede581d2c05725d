"""Summary of one schemathesis run, for apicheck.py (scripts/test part `schema`).

summarize(<report.json>, <report.har>, <url of openapi.json>, file) prints: test cases, the answers per documented operation (status codes counted from the HAR
recording), each failure kind, the warnings, and every operation whose generated requests
the API never accepted (its success answers were then never checked against the schema).
apicheck.py decides pass/fail from schemathesis's exit status.
"""

import collections
import functools
import json
import re
import urllib.request
from urllib.parse import urlsplit


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def operation_matcher(document):
    """(regex, "METHOD /template") for each documented operation."""
    ops = []
    for template, item in (document or {}).get("paths", {}).items():
        regex = re.compile("^" + re.sub(r"\\{[^}]*\\}", "[^/]+", re.escape(template)) + "$")
        for method in item:
            if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
                ops.append((regex, method.upper(), template))

    def match(method, path):
        for regex, m, template in ops:
            if m == method and regex.match(path):
                return f"{m} {template}"
        return None

    return match


def summarize(report_path, har_path, doc_url, file):
    """Prints the summary of the run to file."""
    emit = functools.partial(print, file=file)

    report = load(report_path)
    if report is None:
        emit("    no run report: schemathesis did not finish (see its output above)")
        return
    har = load(har_path) or {}
    try:
        with urllib.request.urlopen(doc_url, timeout=10) as answer:
            document = json.load(answer)
    except (OSError, ValueError) as err:
        emit(f"    (could not read {doc_url}: {err})")
        document = None
    match = operation_matcher(document)

    cases = report.get("test_cases", {})
    emit(
        f"    test cases: {cases.get('generated', '?')} generated, "
        f"{cases.get('with_failures', '?')} with failures ({cases.get('unique_failures', '?')} unique), "
        f"{cases.get('errored', '?')} errored; seed {report.get('seed', '?')}; "
        f"{report.get('running_time', 0):.1f} s; stop reason: {report.get('stop_reason', '?')}"
    )

    statuses = collections.defaultdict(collections.Counter)
    undocumented = collections.Counter()
    for entry in har.get("log", {}).get("entries", []):
        method = entry["request"]["method"]
        path = urlsplit(entry["request"]["url"]).path
        status = entry["response"]["status"]
        op = match(method, path)
        if op:
            statuses[op][status] += 1
        else:
            undocumented[status] += 1
    if statuses:
        emit("    answers per operation (status: count):")
        for op in sorted(statuses):
            counts = ", ".join(f"{s}: {n}" for s, n in sorted(statuses[op].items()))
            flag = "  <-- 5xx!" if any(s >= 500 for s in statuses[op]) else ""
            emit(f"      {op:<24} {counts}{flag}")
        if undocumented:
            counts = ", ".join(f"{s}: {n}" for s, n in sorted(undocumented.items()))
            emit(f"      {'(undocumented methods)':<24} {counts}")

    failures = report.get("failures", [])
    if failures:
        emit("    FAILURES (requests, answers and curl reproductions are listed above):")
        for failure in failures:
            emit(
                f"      {failure.get('code', '?')} {failure.get('title', failure.get('type', '?'))}: "
                f"{failure.get('count', '?')}x in {', '.join(failure.get('operations', []))}"
            )
    for error in report.get("errors", []):
        emit(f"    ERROR: {json.dumps(error, ensure_ascii=False)[:300]}")

    for kind, items in (report.get("warnings") or {}).items():
        if items:
            emit(f"    warning {kind}: {', '.join(map(str, items))}")
    for op, phases in (report.get("valid_rates") or {}).items():
        accepted = sum(p.get("accepted", 0) for p in phases.values())
        rejected = sum(p.get("rejected", 0) for p in phases.values())
        if accepted == 0 and rejected > 0:
            emit(
                f"    warning: {op}: the API rejected all {rejected} schema-valid requests generated for it, "
                "so its success answers were never checked (the request schema does not describe "
                "what the API accepts)"
            )
