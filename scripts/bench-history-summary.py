#!/usr/bin/env python3
"""Prints the tables of docs/benchmarks.md ("History at scale") from the
JSON reports scripts/bench-history.sh wrote into OUT_DIR."""
import glob
import json
import os
import re
import sys


def ms(us):
    return f"{us / 1000:.2f}"


def lat(l):
    return f"{ms(l['p50_us'])} / {ms(l['p99_us'])} / {ms(l['max_us'])}"


def main(out):
    reports = []
    for path in glob.glob(os.path.join(out, "history-*.json")):
        m = re.search(r"history-(\d+)(-low-rate)?\.json$", path)
        if not m:
            continue
        with open(path) as f:
            reports.append((int(m.group(1)), bool(m.group(2)), json.load(f)))
    reports.sort(key=lambda r: (r[0], r[1]))
    main_runs = [r for r in reports if not r[1]]

    print("| stored | fill (store alone) | bytes/message | text bytes/message | on disk / text | on disk / plain log | starts (ms) | RSS started / after reads / peak (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for n, _, r in main_runs:
        s = r["filled"]
        per = s["file_bytes"] / max(s["messages"], 1)
        # `packing_seconds` in runs before the index was merged when idle.
        packing = r["fill"].get("settling_seconds", r["fill"].get("packing_seconds"))
        fill = f"{r['fill']['per_s']:,.0f}/s" + (f", settled in {packing:.1f} s" if packing else "")
        print(f"| {s['messages']:,} | {fill} | {per:.1f} | "
              f"{s['text_bytes'] / max(s['messages'], 1):.1f} | {s['file_bytes'] / max(s['text_bytes'], 1):.2f}x | "
              f"{s['file_bytes'] / max(s['log_bytes'], 1):.2f}x | "
              f"{', '.join(f'{x:.0f}' for x in r['starts_ms'])} | "
              f"{r['rss_started_kib'] / 1024:.1f} / {r['rss_read_kib'] / 1024:.1f} / {r['rss_peak_kib'] / 1024:.1f} |")
    print()
    print("Reads on a quiet server, ms (p50 / p99 / max):")
    print()
    print("| stored | join (replay 50) | page of 50, far back | IRC join (batch) | search (all) | mean hits |")
    print("|---|---|---|---|---|---|")
    for n, _, r in main_runs:
        print(f"| {r['filled']['messages']:,} | {lat(r['join'])} | {lat(r['page'])} | {lat(r['irc_join'])} | "
              f"{lat(r['search']['all'])} | {r['search']['mean_hits']:.1f} |")
    print()
    print("Search by kind of query, ms (p50 / p99 / max):")
    print()
    kinds = [k for k, _ in main_runs[0][2]["search"]["by_kind"]] if main_runs else []
    print("| stored | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for n, _, r in main_runs:
        by = dict((k, v) for k, v in r["search"]["by_kind"])
        print(f"| {r['filled']['messages']:,} | " + " | ".join(lat(by[k]) for k in kinds) + " |")
    print()
    print("Durable ingest, open loop; ack and meanwhile latencies ms (p50 / p99 / max):")
    print()
    print("| stored before | synchronous | offered/s | acked/s | time to ack | join meanwhile | page meanwhile | server cores (store thread, runtime) | bench cores |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, low, r in reports:
        runs = [(mode, i) for mode, i in r["ingest"]]
        if r.get("retention"):
            runs.append(("full, retention pass", r["retention"]["ingest"]))
        for mode, i in runs:
            threads = dict((t, c) for t, c in i["server_threads"])
            print(f"| {r['filled']['messages']:,} | {mode} | {i['config']['rate']:,.0f} | {i['acked_per_s']:,.0f} | "
                  f"{lat(i['ack'])} | {lat(i['join_meanwhile'])} | {lat(i['page_meanwhile'])} | "
                  f"{i['server_cores']:.2f} ({threads.get('history-store', 0):.2f}, {threads.get('tokio-rt-worker', 0):.2f}) | "
                  f"{i['bench_cores']:.2f} |")
    print()
    for n, low, r in main_runs:
        ret = r.get("retention")
        if ret:
            print(f"- {r['filled']['messages']:,}: retention `{ret['policy']}`: {ret['deleted']:,} deleted "
                  f"during the 10 s ingest, server started in {ret['start_ms']:.0f} ms")
        e = r["end"]
        print(f"- {r['filled']['messages']:,}: at the end {e['messages']:,} messages, "
              f"{e['file_bytes'] / max(e['messages'], 1):.1f} bytes/message, "
              f"{e['file_bytes'] / max(e['text_bytes'], 1):.2f}x text, {e['file_bytes'] / max(e['log_bytes'], 1):.2f}x plain log")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench-history")
