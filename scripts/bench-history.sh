#!/usr/bin/env bash
# Runs the history-at-scale measurements of docs/benchmarks.md ("History at
# scale"): `chatroom bench history` on a fresh data directory of 100,000,
# 1,000,000 and 10,000,000 generated messages, each filled through the store,
# then measured through the real server (started by the bench on 127.0.0.1:
# start time, memory, joins, pages far back, IRC joins, searches, durable
# ingest at 100,000 msg/s with synchronous full and normal, ingest during a
# retention pass). At 10,000,000 it also measures ingest at a lower rate and
# times `chatroom backup` of the directory.
#
#   scripts/bench-history.sh [OUT_DIR] [DATA_DIR]
#       (defaults target/bench-history and target/bench-history-data)
#
# Environment: SIZES ("100000 1000000 10000000") to narrow it; LOW_RATE
# (25000) for the extra ingest run. The data directories take about 130
# bytes per message (1.7 GB at ten million, after the ingest runs) and are
# deleted first. Every run is bounded by `timeout`, and the machine's load
# is recorded before and after each (other work on the machine shows there).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/bench-history}
data=${2:-target/bench-history-data}
sizes=${SIZES:-"100000 1000000 10000000"}
low_rate=${LOW_RATE:-25000}

cargo build --release -p chatroom
bin=target/release/chatroom
mkdir -p "$out" "$data"

machine() {
    echo "== $(date -u +%FT%TZ) $1"
    uptime
    top -b -n1 -o %CPU | sed -n '7,12p'
    cat /proc/pressure/cpu 2>/dev/null || true
}

{
    echo "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (modified)')"
    echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x $(nproc)"
    free -g | sed -n 2p
    uname -sr
    rustc --version
} > "$out/machine.txt"

for n in $sizes; do
    dir="$data/h$n"
    rm -rf "$dir"
    machine "before $n" >> "$out/machine.txt"
    timeout 3600 "$bin" bench history --data-dir "$dir" --messages "$n" --json \
        > "$out/history-$n.json" 2> "$out/history-$n.log"
    machine "after $n" >> "$out/machine.txt"
done

last=${sizes##* }
dir="$data/h$last"
machine "before the low-rate ingest at $last" >> "$out/machine.txt"
timeout 1800 "$bin" bench history --data-dir "$dir" --messages "$last" --json \
    --joins 0 --pages 0 --searches 10 --starts 1 --retention-share 0 \
    --ingest-rate "$low_rate" > "$out/history-$last-low-rate.json" 2> "$out/history-$last-low-rate.log"
machine "after the low-rate ingest" >> "$out/machine.txt"

rm -f "$data/backup.db"
start=$(date +%s%N)
timeout 1800 "$bin" backup --data-dir "$dir" "$data/backup.db" > "$out/backup.txt"
end=$(date +%s%N)
echo "milliseconds $(( (end - start) / 1000000 ))" >> "$out/backup.txt"
ls -l "$data/backup.db" >> "$out/backup.txt"
rm -f "$data/backup.db"

python3 scripts/bench-history-summary.py "$out"
