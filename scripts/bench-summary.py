#!/usr/bin/env python3
"""Summarises the JSON reports of scripts/bench-compare.sh as Markdown
tables for docs/benchmarks.md: per load and server the median of the runs
and the range, and our server's ratios to each C server measured in the
same session.

    scripts/bench-summary.py OUT_DIR
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

OURS = "chatroom-json"
OTHERS = ["chatroom-irc", "chatroom-ws", "ngircd", "inspircd"]
C_SERVERS = ["ngircd", "inspircd"]


def load_reports(out):
    """(kind, key, server) -> list of reports, from NAME.json files."""
    reports = defaultdict(list)
    for path in sorted(Path(out).glob("*.json")):
        text = path.read_text()
        if not text.strip():
            continue
        parts = path.stem.split("-")
        kind = parts[0]
        if kind == "matrix":
            key, server = parts[1], "-".join(parts[2:-1])
        else:
            key, server = "", "-".join(parts[1:])
        reports[(kind, key, server)].append(json.loads(text))
    return reports


def server_process(report):
    """The report's server figures; empty when it has none (no --server-pid:
    the field is null)."""
    return report.get("server_process") or {}


def ms(us):
    return f"{us / 1000:.1f}"


def span(values, fmt):
    lo, hi = min(values), max(values)
    return fmt(lo) if lo == hi or len(values) == 1 else f"{fmt(lo)}-{fmt(hi)}"


def rate(v):
    return f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.0f}k"


def offered(load):
    """Deliveries per second a CLIENTSxSENDERSxRATE load offers."""
    clients, senders, per_sender = (float(x) for x in load.split("x"))
    return clients * senders * per_sender


def matrix(reports):
    loads = sorted(
        {k for (kind, k, _) in reports if kind == "matrix"},
        key=offered,
    )
    print("| load (clients x senders x msg/s) | server | offered/s | delivered/s | lost | p50 ms | p99 ms | p99.9 ms | server cores | bench cores |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    medians = {}
    for load in loads:
        for server in [OURS] + OTHERS:
            runs = reports.get(("matrix", load, server))
            if not runs:
                continue
            p99 = [r["latency"]["p99_us"] for r in runs]
            delivered = [r["delivered_per_s"] for r in runs]
            lost = [r["loss_pct"] for r in runs]
            medians[(load, server)] = (statistics.median(delivered), statistics.median(p99), max(lost))
            failed = max(r["failed"] for r in runs)
            note = f" ({failed} failed to connect)" if failed else ""
            print(
                f"| {load.replace('x', ' x ')} | {server}{note} | {rate(runs[0]['offered_deliveries_per_s'])}"
                f" | {span(delivered, rate)} | {span(lost, lambda v: f'{v:.2f} %')}"
                f" | {span([r['latency']['p50_us'] for r in runs], ms)} | {span(p99, ms)}"
                f" | {span([r['latency']['p999_us'] for r in runs], ms)}"
                f" | {span([server_process(r).get('cores', 0) for r in runs], lambda v: f'{v:.2f}')}"
                f" | {span([r['bench_cores'] for r in runs], lambda v: f'{v:.2f}')} |"
            )
    print()
    print("Ratios, medians of the same session (ours over JSON against each C server):")
    print()
    print("| load | vs | delivered/s ratio | p99 ratio (theirs / ours) |")
    print("|---|---|---|---|")
    for load in loads:
        ours = medians.get((load, OURS))
        if not ours:
            continue
        for other in C_SERVERS:
            theirs = medians.get((load, other))
            if not theirs:
                continue
            print(
                f"| {load.replace('x', ' x ')} | {other} | {ours[0] / theirs[0]:.2f} x"
                f" | {theirs[1] / max(ours[1], 1):.1f} x |"
            )


def verdict(v):
    """One find-max step's verdict in a few words."""
    kind = v["kind"]
    if kind == "slow_p99":
        return f"p99 {ms(v['p99_us'])} ms"
    if kind == "clean":
        return "clean"
    detail = next((f" {value}" for key, value in v.items() if key != "kind"), "")
    return f"{kind.replace('_', ' ')}{detail}"


def findmax(reports):
    print("| server | best clean rate per sender | offered/s | delivered/s | steps |")
    print("|---|---|---|---|---|")
    for server in [OURS] + OTHERS:
        for r in reports.get(("findmax", "", server), []):
            steps = ", ".join(f"{s['rate']:g} {verdict(s['verdict'])}" for s in r["steps"])
            if r["best_rate"] is None:
                # No step was clean: the best figures are null.
                print(f"| {server} | none | - | - | {steps} |")
                continue
            print(
                f"| {server} | {r['best_rate']:g} msg/s | {rate(r['best_offered_deliveries_per_s'])}"
                f" | {rate(r['best_delivered_per_s'])} | {steps} |"
            )


def idle(reports):
    print("| server | connected | failed | time to connect | RSS before | RSS with all | per connection |")
    print("|---|---|---|---|---|---|---|")
    for server in [OURS] + OTHERS:
        for r in reports.get(("idle", "", server), []):
            p = server_process(r)
            print(
                f"| {server} | {r['connected']} | {r['failed']} | {r['connect_s']:.1f} s"
                f" | {p.get('rss_before_kib', 0) / 1024:.1f} MiB | {p.get('rss_joined_kib', 0) / 1024:.1f} MiB"
                f" | {p.get('rss_per_client_bytes', 0) / 1024:.2f} KiB |"
            )


def main():
    reports = load_reports(sys.argv[1])
    for title, table in (("Fan-out matrix", matrix), ("--find-max at 1,000 clients", findmax), ("Idle connections", idle)):
        print(f"### {title}\n")
        table(reports)
        print()


if __name__ == "__main__":
    main()
