"""The API schema checks of scripts/test (part `schema`), run with the apicheck venv's python:

    python apicheck.py <out_dir> sales=<url of openapi.json> factory=<url of openapi.json>

1. every document is fetched and validated with openapi-spec-validator (all of them, even after
   a failure);
2. schemathesis runs against each API in turn, every phase (examples, coverage, fuzzing,
   stateful), positive and negative data, nothing excluded, with the checks in CHECKS: no 5xx,
   and every answer's status code, content type and body as the document declares;
3. after each run, the summary of summary.py and its warnings.

Progress on stderr; the note for scripts/test's summary is the last line of stdout; exit 0 when
every check passed. Knobs (environment):
    APICHECK_MAX_EXAMPLES  30   test cases per operation and phase (schemathesis --max-examples)
    APICHECK_TIMEOUT       300  seconds for one API's whole run, a hard limit (a run that hits it
                                fails); not schemathesis --max-time, which fuzzes until it is spent
    APICHECK_SEED          (random; the run prints it) to replay a run exactly
    APICHECK_ARGS          extra schemathesis arguments, e.g. "--checks all" or "--phases fuzzing"
Reports in <out_dir>/<name>/: schemathesis.json, schemathesis.har, junit.xml, and the documents
in <out_dir>. schemathesis runs in <out_dir>/<name>/ (its .schemathesis/ and .hypothesis/ too).
"""

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import summary

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
BIN = Path(sys.executable).parent
TIMEOUT = int(os.environ.get("APICHECK_TIMEOUT", "300"))


def say(message):
    print(f"[apicheck] {message}", file=sys.stderr, flush=True)


def validate(out, name, url):
    """True when the document at url could be fetched and is valid."""
    file = out / f"{name}.openapi.json"
    try:
        with urllib.request.urlopen(url, timeout=15) as answer:
            file.write_bytes(answer.read())
    except OSError as err:
        say(f"FAIL {name}: could not fetch {url}: {err}")
        return False
    say(f"openapi-spec-validator {url}")
    run = subprocess.run(
        [BIN / "openapi-spec-validator", "--validation-errors", "all", file],
        capture_output=True, text=True, check=False,
    )
    if run.returncode != 0:
        say(f"  FAIL {name} ({url}):")
        print("\n".join("      " + line for line in (run.stdout + run.stderr).splitlines()), file=sys.stderr)
        return False
    doc = json.loads(file.read_text(encoding="utf-8"))
    methods = ("get", "put", "post", "delete", "patch")
    operations = sum(len([m for m in item if m in methods]) for item in doc.get("paths", {}).values())
    info = doc["info"]
    say(f"  OK   {name}: OpenAPI {doc.get('openapi')} - {info['title']} {info.get('version', '')} - {operations} operations")
    return True


def schemathesis(out, url):
    """schemathesis's exit status for the API of the document at url (124: the time limit hit)."""
    out.mkdir(parents=True, exist_ok=True)
    for report in ("schemathesis.json", "schemathesis.har", "junit.xml"):
        (out / report).unlink(missing_ok=True)
    cmd = [
        str(BIN / "schemathesis"), "run", url, "--checks", CHECKS,
        "--max-examples", os.environ.get("APICHECK_MAX_EXAMPLES", "30"),
        "--request-timeout", "15", "--wait-for-schema", "30", "--report", "json,har,junit",
        "--report-json-path", str(out / "schemathesis.json"),
        "--report-har-path", str(out / "schemathesis.har"),
        "--report-junit-path", str(out / "junit.xml"),
    ]
    if os.environ.get("APICHECK_SEED"):
        cmd += ["--seed", os.environ["APICHECK_SEED"]]
    cmd += shlex.split(os.environ.get("APICHECK_ARGS", ""))
    say(f"limit: {TIMEOUT} s; command:\n    {shlex.join(cmd)}\n")
    start = time.monotonic()
    # Run from out: schemathesis keeps its replay cache in ./.schemathesis and Hypothesis its
    # database in ./.hypothesis, which belong there and not in the repository's root.
    env = dict(os.environ, HYPOTHESIS_STORAGE_DIRECTORY=str(out / ".hypothesis"))
    child = subprocess.Popen(cmd, cwd=out, env=env, stdout=sys.stderr)
    try:
        rc = child.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        rc = 124
        say(f"FAIL: schemathesis did not finish within {TIMEOUT} s (APICHECK_TIMEOUT)")
    say(f"schemathesis exited {rc} after {time.monotonic() - start:.0f} s; summary:")
    sys.stdout.flush()
    summary.summarize(out / "schemathesis.json", out / "schemathesis.har", url, sys.stderr)
    say(f"reports: {out}/schemathesis.json, schemathesis.har, junit.xml")
    return rc


def warnings(out):
    """The run's schemathesis warnings in one line ("" when none)."""
    report = summary.load(out / "schemathesis.json") or {}
    kinds = (report.get("warnings") or {}).items()
    return "; ".join(f"{kind}: {', '.join(map(str, items))}" for kind, items in kinds if items)


def main():
    out = Path(sys.argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    apis = dict(arg.split("=", 1) for arg in sys.argv[2:])
    ok = all([validate(out, name, url) for name, url in apis.items()])
    notes = [f"{len(apis)} documents valid" if ok else "an OpenAPI document could not be fetched or is INVALID (above)"]
    # Warnings are shown, not failed on: validation_mismatch comes from requests that are valid
    # by the schema yet refused by design (an Idempotency-Key schemathesis reuses with another
    # body, an unknown sku or production order).
    for name, url in apis.items():
        say(f"schemathesis run {url} ({name})")
        rc = schemathesis(out / name, url)
        if rc == 0:
            found = warnings(out / name)
            notes.append(f"{name}: no 5xx, every answer as documented" + (f" (warnings: {found})" if found else ""))
        elif rc in (124, 137):
            notes.append(f"{name}: schemathesis hit the time limit (APICHECK_TIMEOUT={TIMEOUT} s)")
        else:
            notes.append(f"{name}: schemathesis exited {rc} (failures above; reports in {out / name}/)")
        ok = ok and rc == 0
    print("; ".join(notes))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
