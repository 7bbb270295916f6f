"""The costliest documents the default limits accept, against a home feed's work.

Run by bench/costliest.sh, which starts the gateway (default limits, no budget) on the
benchmark data and passes its address. Each candidate is a document shape with a size N in
it; the largest N the gateway accepts (no errors: the cost maximum, the page size maximum
and the document limits all say yes) is found by bisection, then the document is sent
again and again by one client for a few seconds. The gateway's own counters, read before
and after, give its CPU and the time its MySQL, Elasticsearch and partner calls took; each
is divided by the requests sent and compared with the home feed's (operations/HomeFeed).
Backend work is the MySQL and Elasticsearch processes' own CPU, read from /proc: the time
their calls take would count a call queued behind its siblings as work.

Prints one table; exits 1 when a document does more than --limit times a feed's work in
gateway CPU or in backend CPU. Backend CPU is MySQL's and Elasticsearch's together: the
home feed asks only MySQL, so a search's Elasticsearch work is weighed against the feed's
MySQL work, the one backend work a feed does.
"""

import argparse
import json
import os
import re
import sys
import time
import urllib.request

# Shapes that make the backends work hard for few points: unpaginated lists (assumed sizes),
# counts, searches and their facets, similar products, autocompletion, nodes by id, the
# partner's offers. {N} is the size the bisection raises.
CANDIDATES = [
    (
        "category tree: products and their collages",
        "{ categories { name children { name products(first: {N}) { totalCount nodes { name "
        "brand { name } collages(first: 5) { nodes { title } } } } } } }",
    ),
    (
        "category tree: products and their brands",
        "{ categories { name children { name products(first: {N}) { totalCount nodes { name "
        "brand { name } } } } } }",
    ),
    (
        "product counts of two category levels",
        "{ categories { products(first: {N}) { totalCount } children { products(first: {N}) "
        "{ totalCount } } } }",
    ),
    (
        "product counts of three category levels",
        "{ categories { products(first: {N}) { totalCount } children { products(first: {N}) "
        "{ totalCount } children { products(first: {N}) { totalCount } } } } }",
    ),
    (
        "20 aliased searches with every facet",
        "{ "
        + " ".join(
            f"s{i}: searchProducts(query: \"{term}\", first: {{N}}) {{ totalCount nodes {{ name }} "
            "facets { brands { count } categories { count } colors { count } "
            "priceRanges { count } } }"
            for i, term in enumerate(
                ["dress", "shoe", "bag", "coat", "shirt", "skirt", "jeans", "boot", "top",
                 "scarf", "hat", "belt", "jacket", "sandal", "sneaker", "blouse", "sweater",
                 "short", "watch", "ring"]
            )
        )
        + " }",
    ),
    (
        "similar products of similar products",
        "{ searchProducts(first: {N}) { nodes { name similar(first: 50) { name "
        "similar(first: 50) { name } } } } }",
    ),
    (
        "10 aliased autocompletions",
        "{ "
        + " ".join(
            f"a{i}: suggest(prefix: \"{p}\", first: {{N}}) {{ __typename }}"
            for i, p in enumerate("abcdefghij")
        )
        + " }",
    ),
    (
        "20 aliased autocompletions",
        "{ "
        + " ".join(
            f"a{i}: suggest(prefix: \"{p}\", first: {{N}}) {{ __typename }}"
            for i, p in enumerate("abcdefghijklmnoprstu")
        )
        + " }",
    ),
    (
        "collages' authors with their likes and collages",
        "{ collages(first: {N}) { nodes { title author { username likedProducts(first: 100) "
        "{ totalCount nodes { name } } collages(first: 100) { totalCount nodes { title } } } } } }",
    ),
    (
        "products' collages with every item",
        "{ searchProducts(first: {N}) { nodes { name collages(first: 10) { totalCount nodes "
        "{ title items(first: 20) { product { name brand { name } } } } } } } }",
    ),
    (
        "offers of a search page",
        "{ searchProducts(first: {N}) { nodes { name offers { offers { price { amount } } } } } }",
    ),
]


def post(url, body, timeout=60):
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        return json.load(error)


def accepted(url, query):
    """The answer's requested cost when the gateway answers without errors, else None."""
    answer = post(url, {"query": query})
    if answer.get("errors") or answer.get("data") is None:
        return None
    return answer.get("extensions", {}).get("cost", {}).get("requested")


def largest(url, shape, top=10_000):
    """The document of `shape` with the largest size accepted, and its requested cost."""
    low, best = 0, None
    high = top
    while low < high:
        size = (low + high + 1) // 2
        query = shape.replace("{N}", str(size))
        cost = accepted(url, query)
        if cost is None:
            high = size - 1
        else:
            low, best = size, (size, query, cost)
    return best


CPU = re.compile(r"^process_cpu_seconds_total (\S+)$")
PARTNER = re.compile(r'^ogrom_backend_call_duration_seconds_sum\{backend="partner"\} (\S+)$')
TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid):
    """The CPU seconds a process has used, user and system, all its threads."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def counters(metrics_url, backends):
    """The gateway's CPU seconds and its partner calls' seconds, from its metrics, and each
    backend process's CPU seconds."""
    with urllib.request.urlopen(metrics_url, timeout=10) as answer:
        text = answer.read().decode()
    found = {"cpu": 0.0, "partner": 0.0}
    for line in text.splitlines():
        for name, pattern in (("cpu", CPU), ("partner", PARTNER)):
            match = pattern.match(line)
            if match:
                found[name] += float(match.group(1))
    for name, pid in backends.items():
        found[name] = process_cpu(pid)
    return found


def measure(url, metrics_url, backends, body, seconds):
    """Per request, in ms: the gateway's, MySQL's and Elasticsearch's CPU and the partner
    calls' time; the requests sent; and the error codes of those answered with errors, by
    count."""
    for _ in range(2):
        post(url, body)
    before = counters(metrics_url, backends)
    sent, failed = 0, {}
    end = time.monotonic() + seconds
    while time.monotonic() < end or sent < 3:
        answer = post(url, body)
        sent += 1
        for error in answer.get("errors") or []:
            code = (error.get("extensions") or {}).get("code", "no code")
            failed[code] = failed.get(code, 0) + 1
    after = counters(metrics_url, backends)
    per = {name: (after[name] - before[name]) * 1000 / sent for name in after}
    per["backend"] = per["mysql"] + per["elasticsearch"]
    return per, sent, failed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--feed", required=True, help="the home feed's request body, JSON")
    parser.add_argument("--page", action="append", default=[],
                        help="another page's request body, JSON, measured for reference")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--limit", type=float, default=10)
    parser.add_argument("--json")
    parser.add_argument("--mysql-pid", type=int, required=True)
    parser.add_argument("--elasticsearch-pid", type=int, required=True)
    args = parser.parse_args()
    backends = {"mysql": args.mysql_pid, "elasticsearch": args.elasticsearch_pid}
    metrics_url = args.url.rsplit("/", 1)[0] + "/metrics"

    with open(args.feed) as file:
        feed_body = json.load(file)
    feed, sent, failed = measure(args.url, metrics_url, backends, feed_body, args.seconds)
    if failed:
        sys.exit(f"the home feed answered with errors: {failed}")
    feed_cost = post(args.url, feed_body)["extensions"]["cost"]["requested"]
    rows = [("home feed (operations/HomeFeed)", "-", feed_cost, feed, sent, "")]
    for path in args.page:
        with open(path) as file:
            body = json.load(file)
        per, sent, failed = measure(args.url, metrics_url, backends, body, args.seconds)
        cost = post(args.url, body).get("extensions", {}).get("cost", {}).get("requested")
        errors = ", ".join(f"{code} ×{n}" for code, n in sorted(failed.items()))
        rows.append((f"page: operations/{body['operationName']}", "-", cost, per, sent, errors))
    for name, shape in CANDIDATES:
        found = largest(args.url, shape)
        if found is None:
            rows.append((name, "refused at any size", None, None, 0, ""))
            continue
        size, query, cost = found
        per, sent, failed = measure(args.url, metrics_url, backends, {"query": query}, args.seconds)
        # Accepted once, it may still fail when repeated (a deadline, an open breaker): its
        # work is measured all the same, and the errors are reported with it.
        errors = ", ".join(f"{code} ×{n}" for code, n in sorted(failed.items()))
        rows.append((name, size, cost, per, sent, errors))

    def ratio(per, key):
        return per[key] / feed[key] if feed[key] > 0 else (0.0 if per[key] == 0 else float("inf"))

    worst = 0.0
    header = ("document", "N", "cost", "requests", "CPU ms", "MySQL CPU ms", "ES CPU ms", "partner ms",
              "× feed CPU", "× feed backend", "errors")
    lines = [header]
    results = []
    for name, size, cost, per, sent, errors in rows:
        if per is None:
            lines.append((name, size) + ("",) * (len(header) - 2))
            continue
        ratios = [ratio(per, "cpu"), ratio(per, "backend")]
        worst = max(worst, *ratios)
        lines.append(
            (name, str(size), str(cost), str(sent))
            + tuple(f"{per[k]:.2f}" for k in ("cpu", "mysql", "elasticsearch", "partner"))
            + tuple(f"{r:.1f}" for r in ratios)
            + (errors,)
        )
        results.append({"document": name, "size": size, "cost": cost, "requests": sent,
                        "errors": errors,
                        "per_request_ms": per, "times_feed": dict(zip(
                            ("cpu", "backend"), ratios))})
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())
    print(f"\nworst: {worst:.1f} × a home feed's work (target: at most {args.limit:g})")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"feed_cost": feed_cost, "documents": results, "worst": worst}, file,
                      indent=1)
    sys.exit(0 if worst <= args.limit else 1)


if __name__ == "__main__":
    main()
