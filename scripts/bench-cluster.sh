#!/usr/bin/env bash
# Runs the cluster comparison of docs/benchmarks.md ("Two nodes and Redis
# beside one node"): the same fan-out loads against
#
#   one       one node, no Redis (the single-node path)
#   one+redis one node with --cluster (every message through Redis)
#   two       two nodes and Redis, the clients split between them
#   base      (with BASE_BIN) another build's single node, for a before/after
#
# each started fresh on loopback for every run, driven by `chatroom bench`,
# with the CPU of every server process (and of redis-server) measured.
#
#   scripts/bench-cluster.sh [OUT_DIR]      (default target/bench-cluster)
#
# Environment: BIN (target/release/chatroom, built if missing), BASE_BIN
# (none), REPS (1) runs per load and setup, DURATION (10s) of each run,
# LOADS (CLIENTSxSENDERSxRATE: "1000x20x100 1000x1000x1"), SETUPS ("one
# one+redis two", plus "base" with BASE_BIN). Everything listens on
# 127.0.0.1 only; every run is bounded by `timeout`; Redis runs from a
# temporary directory with appendfsync everysec and is stopped after each
# run.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/bench-cluster}
reps=${REPS:-1}
duration=${DURATION:-10s}
loads=${LOADS:-"1000x20x100 1000x1000x1"}
setups=${SETUPS:-"one one+redis two"}
bin=${BIN:-target/release/chatroom}
if [[ ! -x $bin ]]; then
    cargo build --release -p chatroom
fi
mkdir -p "$out"
work=$(mktemp -d)
pids=()
stop_all() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

# Waits until something listens on 127.0.0.1:$1.
wait_port() {
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# Starts redis-server on $1; its pid is the last of pids.
start_redis() {
    rm -rf "$work/redis" && mkdir -p "$work/redis"
    redis-server --port "$1" --bind 127.0.0.1 --dir "$work/redis" --save "" \
        --appendonly yes --appendfsync everysec --daemonize no \
        --loglevel warning --logfile "$work/redis/log" &
    pids+=($!)
    wait_port "$1"
}

# Starts a node of binary $1 on ports $2 (JSON) with the extra flags after.
start_node() {
    local node_bin=$1 port=$2
    shift 2
    "$node_bin" serve --in-memory --messages-per-second 0 --max-connections-per-ip 0 \
        --max-connections 20000 --listen "127.0.0.1:$port" --http-listen off "$@" \
        >"$work/node-$port.log" 2>&1 &
    pids+=($!)
    wait_port "$port"
}

for load in $loads; do
    IFS=x read -r clients senders rate <<<"$load"
    for setup in $setups; do
        for rep in $(seq 1 "$reps"); do
            servers=()
            measured=()
            case $setup in
                one)
                    start_node "$bin" 17001
                    servers=(--server 127.0.0.1:17001)
                    measured=(--server-pid "${pids[-1]}")
                    ;;
                base)
                    start_node "${BASE_BIN:?BASE_BIN is not set}" 17001
                    servers=(--server 127.0.0.1:17001)
                    measured=(--server-pid "${pids[-1]}")
                    ;;
                one+redis)
                    start_redis 17379
                    redis=${pids[-1]}
                    start_node "$bin" 17001 --cluster redis://127.0.0.1:17379/ --node-name a
                    servers=(--server 127.0.0.1:17001)
                    measured=(--server-pid "${pids[-1]}" --server-pid "$redis")
                    ;;
                two)
                    start_redis 17379
                    redis=${pids[-1]}
                    start_node "$bin" 17001 --cluster redis://127.0.0.1:17379/ --node-name a
                    a=${pids[-1]}
                    start_node "$bin" 17002 --cluster redis://127.0.0.1:17379/ --node-name b
                    b=${pids[-1]}
                    servers=(--server 127.0.0.1:17001 --server 127.0.0.1:17002)
                    measured=(--server-pid "$a" --server-pid "$b" --server-pid "$redis")
                    ;;
                *)
                    echo "unknown setup $setup" >&2
                    exit 2
                    ;;
            esac
            name="$setup-$load-$rep"
            echo "== $name" >&2
            timeout 180 "$bin" bench --proto json "${servers[@]}" "${measured[@]}" \
                --clients "$clients" --senders "$senders" --rate "$rate" \
                --duration "$duration" --json >"$out/$name.json" || true
            python3 - "$out/$name.json" "$name" <<'EOF'
import json, sys
path, name = sys.argv[1], sys.argv[2]
try:
    r = json.load(open(path))
except Exception as e:
    print(f"{name}: no report ({e})")
    sys.exit(0)
lat = r.get("latency", {})
procs = r.get("server_processes") or []
cpu = " ".join(f"{p.get('name')}={p.get('cores', 0):.2f}" for p in procs)
print(f"{name}: delivered/s={r.get('delivered_per_s', 0):.0f} "
      f"lost={r.get('lost', r.get('missing', 'n/a'))} "
      f"p50={lat.get('p50_us', 0)/1000:.1f}ms p99={lat.get('p99_us', 0)/1000:.1f}ms "
      f"cores: {cpu}")
EOF
            stop_all
        done
    done
done
