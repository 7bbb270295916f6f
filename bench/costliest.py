"""The costliest documents the default limits accept, against a home feed's work.

Run by bench/costliest.sh, which starts the gateway (default limits, no budget) on the
benchmark data and passes its address. Each candidate is a document shape with a size N in
it; the largest N the gateway accepts (no errors: the cost maximum, the page size maximum
and the document limits all say yes) is found by bisection, then the document is sent
again and again by one client for a few seconds. The gateway's own counters, read before
and after, give its CPU and the time its MySQL, Elasticsearch and partner calls took; each
is divided by the requests sent and compared with the home feed's (operations/HomeFeed).

Prints one table; exits 1 when a document does more than --limit times a feed's work in
any of gateway CPU, MySQL time or Elasticsearch time.
"""

import argparse
import json
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
        "{ searchProducts(first: {N}) { nodes { name collages(first: 100) { totalCount nodes "
        "{ title items(first: 50) { product { name brand { name } } } } } } } }",
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


COUNTERS = {
    "cpu": re.compile(r"^process_cpu_seconds_total (\S+)$"),
    "mysql": re.compile(r'^ogrom_backend_call_duration_seconds_sum\{backend="mysql"\} (\S+)$'),
    "elasticsearch": re.compile(
        r'^ogrom_backend_call_duration_seconds_sum\{backend="elasticsearch"\} (\S+)$'
    ),
    "partner": re.compile(
        r'^ogrom_backend_call_duration_seconds_sum\{backend="partner"\} (\S+)$'
    ),
}


def counters(metrics_url):
    with urllib.request.urlopen(metrics_url, timeout=10) as answer:
        text = answer.read().decode()
    found = dict.fromkeys(COUNTERS, 0.0)
    for line in text.splitlines():
        for name, pattern in COUNTERS.items():
            match = pattern.match(line)
            if match:
                found[name] += float(match.group(1))
    return found


def measure(url, metrics_url, body, seconds):
    """Per request, in ms: gateway CPU and each backend's call time; the requests sent; and
    the error codes of those answered with errors, by count."""
    for _ in range(2):
        post(url, body)
    before = counters(metrics_url)
    sent, failed = 0, {}
    end = time.monotonic() + seconds
    while time.monotonic() < end or sent < 3:
        answer = post(url, body)
        sent += 1
        for error in answer.get("errors") or []:
            code = (error.get("extensions") or {}).get("code", "no code")
            failed[code] = failed.get(code, 0) + 1
    after = counters(metrics_url)
    per = {name: (after[name] - before[name]) * 1000 / sent for name in COUNTERS}
    return per, sent, failed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--feed", required=True, help="the home feed's request body, JSON")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--limit", type=float, default=10)
    parser.add_argument("--json")
    args = parser.parse_args()
    metrics_url = args.url.rsplit("/", 1)[0] + "/metrics"

    with open(args.feed) as file:
        feed_body = json.load(file)
    feed, sent, failed = measure(args.url, metrics_url, feed_body, args.seconds)
    if failed:
        sys.exit(f"the home feed answered with errors: {failed}")
    feed_cost = post(args.url, feed_body)["extensions"]["cost"]["requested"]
    rows = [("home feed (operations/HomeFeed)", "-", feed_cost, feed, sent, "")]
    for name, shape in CANDIDATES:
        found = largest(args.url, shape)
        if found is None:
            rows.append((name, "refused at any size", None, None, 0, ""))
            continue
        size, query, cost = found
        per, sent, failed = measure(args.url, metrics_url, {"query": query}, args.seconds)
        # Accepted once, it may still fail when repeated (a deadline, an open breaker): its
        # work is measured all the same, and the errors are reported with it.
        errors = ", ".join(f"{code} ×{n}" for code, n in sorted(failed.items()))
        rows.append((name, size, cost, per, sent, errors))

    def ratio(per, key):
        return per[key] / feed[key] if feed[key] > 0 else (0.0 if per[key] == 0 else float("inf"))

    worst = 0.0
    header = ("document", "N", "cost", "requests", "CPU ms", "MySQL ms", "ES ms", "partner ms",
              "× feed CPU", "× feed MySQL", "× feed ES", "errors")
    lines = [header]
    results = []
    for name, size, cost, per, sent, errors in rows:
        if per is None:
            lines.append((name, size) + ("",) * (len(header) - 2))
            continue
        ratios = [ratio(per, key) for key in ("cpu", "mysql", "elasticsearch")]
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
                            ("cpu", "mysql", "elasticsearch"), ratios))})
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
