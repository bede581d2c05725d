"""Every metric named in the Grafana dashboards and the Prometheus rules is one the
services really export: scrapes each given /metrics URL of a live stack and fails,
naming each one, on a metric no service exports. Also checks that every rule has a
runbook_url whose anchor exists in docs/operations.md, and that exported names follow
Prometheus conventions (counters end in _total; nothing ends in a unit other than
_seconds).

  python metric_names.py --rules deploy/prometheus/alerts.yml \
      --dashboards deploy/grafana/dashboards --runbook docs/operations.md \
      http://127.0.0.1:8080/metrics http://127.0.0.1:8081/metrics ...

`up` is not exported by a service: Prometheus records it for every scrape.
"""

import argparse
import json
import pathlib
import re
import sys
import urllib.request

import yaml

SYNTHETIC = {"up"}  # recorded by Prometheus itself for every target
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan", "le", "atan2",
}
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression (label matchers, ranges, strings,
    function names, keywords and the label lists of by/without/on/ignoring left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings
    text = re.sub(r"\{[^}]*\}", "", text)                      # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)                     # ranges, subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)                          # Grafana variables
    names = set()
    for match in IDENT.finditer(text):
        name, rest = match.group(0), text[match.end():].lstrip()
        if rest.startswith("("):                               # a function
            continue
        if name.lower() in KEYWORDS or re.fullmatch(r"\d.*", name):
            continue
        if re.fullmatch(r"[0-9]+[smhdwy]", name):
            continue
        names.add(name)
    return names


def dashboard_exprs(path: pathlib.Path):
    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield f"{path.name}: panel {panel.get('title')!r}", target["expr"]
            yield from walk(panel.get("panels", []))
    yield from walk(json.loads(path.read_text(encoding="utf-8")).get("panels", []))


def rule_exprs(path: pathlib.Path):
    for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            yield rule, f"{path.name}: {rule.get('alert') or rule.get('record')}", rule["expr"]


def scrape(url: str) -> dict[str, str]:
    """Exported sample names (histogram series included) -> their TYPE's family type."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    types, names = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            types[family] = kind
        elif line and not line.startswith("#"):
            names[IDENT.match(line).group(0)] = ""
    for name in names:
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        names[name] = types.get(name) or types.get(family, "untyped")
    return names


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=pathlib.Path, required=True)
    parser.add_argument("--dashboards", type=pathlib.Path, required=True)
    parser.add_argument("--runbook", type=pathlib.Path, required=True)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    problems = []

    exported = {}
    for url in args.urls:
        try:
            exported.update(scrape(url))
        except OSError as err:
            problems.append(f"cannot scrape {url}: {err}")

    used = {}  # name -> where
    for dashboard in sorted(args.dashboards.glob("*.json")):
        for where, expr in dashboard_exprs(dashboard):
            for name in metric_names(expr):
                used.setdefault(name, where)
    anchors = set(re.findall(r'<a id="([^"]+)"', args.runbook.read_text(encoding="utf-8")))
    for rule, where, expr in rule_exprs(args.rules):
        for name in metric_names(expr):
            used.setdefault(name, where)
        runbook = rule.get("annotations", {}).get("runbook_url", "")
        anchor = runbook.partition("#")[2]
        if not runbook.startswith("docs/operations.md#") or anchor not in anchors:
            problems.append(f"{where}: runbook_url {runbook!r} is not an anchor of {args.runbook}")

    for name, where in sorted(used.items()):
        if name not in exported and name not in SYNTHETIC:
            problems.append(f"{where}: metric {name} is not exported by any scraped service")
    for name, kind in sorted(exported.items()):
        if kind == "counter" and not name.endswith("_total"):
            problems.append(f"exported counter {name} does not end in _total")
        if kind != "counter" and name.endswith("_total"):
            problems.append(f"exported {kind} {name} ends in _total but is not a counter")
        if re.search(r"_(ms|milliseconds|minutes|hours|bytes_total_bytes)$", name):
            problems.append(f"exported {name}: use base units (seconds, bytes)")

    checked = sorted(n for n in used if n not in SYNTHETIC)
    print(f"[metrics] {len(checked)} metric names in {args.rules} and {args.dashboards}/*.json; "
          f"{len(exported)} sample names exported by {len(args.urls)} services")
    for problem in problems:
        print(f"[metrics] FAIL {problem}", file=sys.stderr)
    if not problems:
        print("[metrics] OK: every metric named is exported; every runbook link resolves; names follow the conventions")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
