#!/usr/bin/env python3
"""The checks of scripts/test's compose part (scripts/lib/compose.sh), against a running stack.

Each subcommand polls with a deadline, prints what it saw and exits 1 with the reason when the
stack does not do what the README says:

  story SALES_URL              the README's curl story up to the out-of-stock answer: a sale, the
                               legacy body, a 409; prints the restock request id
  restocked SALES_URL SKU N    the stock of SKU rises above N (the restock arrived); prints seconds
  factory-order FACTORY_URL ID the factory's production order ID has reached stage 종료
  problem SALES_URL            quantity 0 is a 422 application/problem+json with type/title/status/detail
  sqs-count ENDPOINT QUEUE     prints the queue's visible message count
  sqs-send ENDPOINT QUEUE BODY sends BODY to the queue (a poison message, for the DLQ alert)
  targets PROM JOB=N ...       Prometheus has exactly N active targets per job, every one up
  alert PROM NAME firing|gone  the alert NAME is firing in Prometheus, or is not listed at all
  dashboard PROM DIR           every query of the Grafana dashboards in DIR returns data

Only the standard library: it runs on any machine scripts/test runs on.
"""

import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

DEADLINE_S = 180


def say(msg):
    print(f"[compose] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    say(f"FAIL: {msg}")
    sys.exit(1)


def http(method, url, body=None, headers=None):
    """(status, content type, parsed JSON body or text) of one request; (0, "", error) when no answer."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if isinstance(body, (dict, list)):
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, ctype, raw = resp.status, resp.headers.get("content-type", ""), resp.read()
    except urllib.error.HTTPError as err:
        status, ctype, raw = err.code, err.headers.get("content-type", ""), err.read()
    except (urllib.error.URLError, OSError) as err:
        return 0, "", str(err)
    try:
        return status, ctype, json.loads(raw)
    except ValueError:
        return status, ctype, raw.decode(errors="replace")


def poll(what, check, deadline_s=DEADLINE_S, every_s=2.0):
    """Calls check() until it returns something other than None; fails with `what` at the deadline."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < deadline_s:
        result, last = check()
        if result is not None:
            return result, time.monotonic() - t0
        time.sleep(every_s)
    fail(f"{what} not seen within {deadline_s} s (last: {last})")


def expect(answer, status, field=None, value=None):
    got_status, _, body = answer
    if got_status != status or (field and (not isinstance(body, dict) or body.get(field) != value)):
        fail(f"expected {status}{f' with {field}={value!r}' if field else ''}, got {got_status} {body}")
    return body


def story(sales):
    sku = "CP-502101"
    checkout = f"{sales}/checkout"
    stock = expect(http("GET", f"{sales}/products/{sku}"), 200)["stock"]
    say(f"GET /products/{sku}: stock {stock}")
    if stock < 2:
        fail(f"the story needs a fresh stack (stock of {sku} is {stock}, the seed has 3)")
    sold = expect(http("POST", checkout, {"sku": sku, "quantity": 1}), 200, "status", "sold")
    say(f"sale: 200 {sold['message']}, remaining {sold['remaining_stock']}")
    legacy = {"MessageAttributeProductId": sku, "MessageAttributeProductCnt": "1",
              "MessageAttributeFactoryId": "FF-500293", "MessageAttributeRequester": "홍길동"}
    sold = expect(http("POST", checkout, legacy), 200, "status", "sold")
    say(f"legacy body: 200 {sold['message']}, remaining {sold['remaining_stock']}")
    remaining = sold["remaining_stock"]
    short = expect(http("POST", checkout, {"sku": sku, "quantity": remaining + 5}), 409, "status", "out_of_stock")
    say(f"more than there is: 409 {short['message']}, restock request {short['restock_request_id']}")
    print(short["restock_request_id"], remaining)


def restocked(sales, sku, before):
    def check():
        status, _, body = http("GET", f"{sales}/products/{sku}")
        stock = body.get("stock") if status == 200 and isinstance(body, dict) else None
        return (stock if stock is not None and stock > int(before) else None), (status, body)
    stock, secs = poll(f"the restock of {sku} (stock above {before})", check, 120, 0.5)
    say(f"restock arrived after {secs:.1f} s: stock {stock}")
    print(f"{secs:.1f}")


def factory_order(factory, order_id):
    def check():
        status, _, body = http("GET", f"{factory}/api/manufactures/{order_id}")
        text = json.dumps(body, ensure_ascii=False)
        return (True if status == 200 and "종료" in text else None), (status, text[:300])
    poll(f"production order {order_id} at stage 종료", check, 60)
    say(f"factory: production order {order_id} reached 종료")


def problem(sales):
    status, ctype, body = http("POST", f"{sales}/checkout", {"sku": "CP-502101", "quantity": 0})
    if status != 422 or not ctype.startswith("application/problem+json"):
        fail(f"quantity 0: expected 422 application/problem+json, got {status} {ctype} {body}")
    missing = [k for k in ("type", "title", "status", "detail") if k not in body]
    if missing:
        fail(f"the problem lacks {missing}: {body}")
    say(f"quantity 0: 422 problem+json: {body['detail']}")


def sqs(endpoint, action, queue, **params):
    """An SQS query-protocol call; LocalStack reads the service and region from the credential scope."""
    form = {"Action": action, "Version": "2012-11-05",
            "QueueUrl": f"{endpoint}/000000000000/{queue}", **params}
    auth = ("AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host, Signature=0")
    status, _, body = http("POST", endpoint, urllib.parse.urlencode(form).encode(), {
        "content-type": "application/x-www-form-urlencoded", "authorization": auth,
        "accept": "application/json"})
    if status != 200:
        fail(f"SQS {action} on {queue}: {status} {body}")
    return body


def sqs_count(endpoint, queue):
    body = sqs(endpoint, "GetQueueAttributes", queue, **{"AttributeName.1": "ApproximateNumberOfMessages"})
    text = json.dumps(body)
    match = re.search(r'ApproximateNumberOfMessages\D+(\d+)', text)
    if not match:
        fail(f"no ApproximateNumberOfMessages in {text[:300]}")
    print(match.group(1))


def sqs_send(endpoint, queue, message):
    sqs(endpoint, "SendMessage", queue, MessageBody=message)
    say(f"sent {message!r} to {queue}")


def prom(base, path):
    status, _, body = http("GET", f"{base}{path}")
    if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
        return None
    return body["data"]


def targets(base, *expected):
    want = {job: int(n) for job, n in (e.split("=") for e in expected)}

    def check():
        data = prom(base, "/api/v1/targets?state=active")
        if data is None:
            return None, "no answer"
        seen = {}
        for t in data["activeTargets"]:
            seen.setdefault(t["labels"]["job"], []).append(t["health"])
        ok = all(len(seen.get(job, [])) == n and set(seen[job]) == {"up"} for job, n in want.items())
        return (seen if ok else None), seen
    seen, secs = poll(f"Prometheus targets {want}, all up", check)
    say(f"Prometheus scrapes {sum(map(len, seen.values()))} targets, every one up "
        f"({', '.join(f'{j} {len(h)}' for j, h in sorted(seen.items()))}) after {secs:.0f} s")


def alert(base, name, want):
    def check():
        data = prom(base, "/api/v1/alerts")
        if data is None:
            return None, "no answer"
        states = [a["state"] for a in data["alerts"] if a["labels"].get("alertname") == name]
        ok = "firing" in states if want == "firing" else not states
        return (True if ok else None), states
    _, secs = poll(f"alert {name} {want}", check, 300, 5)
    say(f"alert {name} {want} in Prometheus after {secs:.0f} s")


def dashboard(base, folder):
    # Grafana's interval variables, as it would fill them for a 10 s scrape interval.
    variables = {"$__rate_interval": "1m", "$__interval": "10s", "$__range": "1h"}
    queries = []
    for path in sorted(Path(folder).glob("*.json")):
        for panel in json.loads(path.read_text()).get("panels", []):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    queries.append((path.name, panel.get("title", "?"), target["expr"]))
    if not queries:
        fail(f"no queries found in {folder}/*.json")
    empty = []
    for name, title, expr in queries:
        q = expr
        for var, value in variables.items():
            q = q.replace(var, value)
        if "$" in q:
            fail(f"{name}, panel {title!r}: a variable this check does not know: {expr}")
        data = prom(base, "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        if data is None:
            fail(f"{name}, panel {title!r}: Prometheus refused the query {q}")
        if not data["result"]:
            empty.append(f"{title!r}: {q}")
    for e in empty:
        say(f"no data: {e}")
    if empty:
        fail(f"{len(empty)} of {len(queries)} dashboard queries return no data (above)")
    say(f"every one of the {len(queries)} dashboard queries returns data")


COMMANDS = {"story": story, "restocked": restocked, "factory-order": factory_order, "problem": problem,
            "sqs-count": sqs_count, "sqs-send": sqs_send, "targets": targets, "alert": alert,
            "dashboard": dashboard}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
