#!/usr/bin/env bash
# Runs the fan-out comparison of docs/benchmarks.md: our server (over JSON
# and over IRC, and over JSON on a WebSocket through its HTTP listener),
# ngIRCd and InspIRCd, each started fresh on loopback for
# every run and driven by `chatroom bench`, load by load, so every server is
# measured under the same conditions within minutes of the others.
#
#   scripts/bench-compare.sh [OUT_DIR]      (default target/bench-compare)
#
# Environment: REPS (2) runs per load and server; DURATION (10s) of each
# run; SERVERS and LOADS (CLIENTSxSENDERSxRATE) to narrow the matrix;
# PHASES ("matrix findmax idle") to run only some; BENCH_INSTALL=1 installs
# ngircd and inspircd with apt-get first; DOCS_IMG (docs/img) is where the
# comparison charts are copied for docs/benchmarks.md (empty: not copied).
# Every server listens on 127.0.0.1 only and every run is bounded by
# `timeout`.
#
# Besides the JSON reports, OUT_DIR gets a chart of every matrix and
# find-max run (NAME.svg, from `chatroom bench --plot`) and the comparison
# charts of all servers: bench-matrix-p99.svg (p99 against offered load
# over the matrix, one line per server through the median of the
# repetitions) and bench-findmax-p99.svg (the same for every --find-max
# step).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/bench-compare}
reps=${REPS:-2}
duration=${DURATION:-10s}
servers=${SERVERS:-"chatroom-json chatroom-irc chatroom-ws ngircd inspircd"}
loads=${LOADS:-"200x200x1 1000x1000x1 2000x20x20 1000x20x100 1000x20x200"}
phases=${PHASES:-"matrix findmax idle"}
docs_img=${DOCS_IMG-docs/img}

if [[ ${BENCH_INSTALL:-0} == 1 ]]; then
    apt-get install -y ngircd inspircd
fi
cargo build --release -p chatroom
bin=target/release/chatroom
mkdir -p "$out"
work=$(mktemp -d)
trap 'stop_server; rm -rf "$work"' EXIT

port=16990
pid=""

# Configurations that lift each IRC server's flood protection and
# connection caps, which would otherwise be measured instead of fan-out.
cat >"$work/ngircd.conf" <<EOF
[Global]
Name = irc.bench.local
Info = chatroom bench
Listen = 127.0.0.1
Ports = $port
PidFile = $work/ngircd.pid
ServerUID = $(id -u)
ServerGID = $(id -g)
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 9
MaxPenaltyTime = 0
PingTimeout = 120
PongTimeout = 20
[Options]
DNS = no
Ident = no
PAM = no
EOF
cat >"$work/inspircd.conf" <<EOF
<server name="irc.bench.local" description="chatroom bench" network="Bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="$port" type="clients">
<power diepass="bench" restartpass="bench">
<connect name="bench" allow="127.0.0.1" timeout="60" pingfreq="120"
         threshold="1000000" commandrate="100000000" fakelag="no"
         hardsendq="67108864" softsendq="8388608" recvq="65536"
         localmax="100000" globalmax="100000" limit="100000"
         maxchans="20" resolvehostnames="no" useident="no">
<channels users="20" opers="60">
<dns server="127.0.0.1" timeout="1">
<pid file="$work/inspircd.pid">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes" hostintopic="yes"
         pingwarning="15" splitwhois="no" exemptchanops="">
<security hideserver="" userstats="Pu" customversion="" flatlinks="no" hidesplits="no"
          hideulines="no" hidebans="no" maxtargets="20">
<performance quietbursts="yes" softlimit="20000" somaxconn="4096" netbuffersize="10240"
             clonesonconnect="no">
<limits maxnick="30" maxchan="64">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$work/inspircd.log">
EOF

# Starts server $1 on $port; sets pid, proto and addr. Our server listens
# for JSON on $port, IRC on $port + 1 and HTTP (WebSocket at /ws) on
# $port + 2, whichever one is measured.
start_server() {
    case $1 in
    chatroom-json | chatroom-irc | chatroom-ws)
        local listen=(--listen "127.0.0.1:$port" --irc-listen "127.0.0.1:$((port + 1))"
            --http-listen "127.0.0.1:$((port + 2))")
        "$bin" serve --in-memory "${listen[@]}" --messages-per-second 0 \
            --max-connections-per-ip 0 --max-connections 20000 2>"$work/chatroom.log" &
        pid=$!
        ;;
    ngircd)
        ngircd --nodaemon -f "$work/ngircd.conf" >"$work/ngircd.log" 2>&1 &
        pid=$!
        ;;
    inspircd)
        inspircd --nofork --runasroot --config="$work/inspircd.conf" >"$work/insp.out" 2>&1 &
        pid=$!
        ;;
    esac
    proto=irc
    local at=$port
    if [[ $1 == chatroom-json ]]; then proto=json; fi
    if [[ $1 == chatroom-irc ]]; then at=$((port + 1)); fi
    if [[ $1 == chatroom-ws ]]; then
        proto=ws
        at=$((port + 2))
    fi
    addr=127.0.0.1:$at
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$at") 2>/dev/null; then return; fi
        sleep 0.1
    done
    echo "$1 did not start listening on $addr" >&2
    exit 1
}

stop_server() {
    if [[ -n $pid ]]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    fi
}

# Runs `chatroom bench` against server $1 with the remaining arguments;
# the JSON report goes to $out/$name.json.
bench() {
    local server=$1 name=$2
    shift 2
    start_server "$server"
    echo "== $name: $server $*" >&2
    timeout 600 "$bin" bench --proto "$proto" --server "$addr" --server-pid "$pid" --json "$@" \
        >"$out/$name.json" || echo "== $name failed" >&2
    stop_server
}

for phase in $phases; do
    case $phase in
    matrix)
        for load in $loads; do
            IFS=x read -r clients senders rate <<<"$load"
            for rep in $(seq "$reps"); do
                for server in $servers; do
                    name=matrix-$load-$server-$rep
                    bench "$server" "$name" --clients "$clients" --senders "$senders" \
                        --rate "$rate" --duration "$duration" --plot "$out/$name.svg"
                done
            done
        done
        ;;
    findmax)
        for server in $servers; do
            bench "$server" "findmax-$server" --find-max --clients 1000 --senders 20 \
                --rate 50 --duration 5s --plot "$out/findmax-$server.svg"
        done
        ;;
    idle)
        for server in $servers; do
            bench "$server" "idle-$server" --idle --clients 10000 --ramp 200 --duration 10s \
                --connect-timeout 60s
        done
        ;;
    esac
done

# Draws p99 against offered load for every server's reports named
# $out/PREFIX-SERVER-SUFFIX.json (SUFFIX a glob), one line per server, into
# $out/CHART.svg, and copies it to $docs_img. Empty reports (failed runs)
# are left out.
chart() {
    local chart=$1 prefix=$2 suffix=$3 inputs=() server report
    for server in $servers; do
        for report in "$out"/$prefix"$server"$suffix.json; do
            if [[ -s $report ]]; then inputs+=("$server=$report"); fi
        done
    done
    if ((${#inputs[@]} == 0)); then return; fi
    if ! "$bin" bench plot "${inputs[@]}" -o "$out/$chart.svg"; then
        echo "== chart $chart failed" >&2
        return
    fi
    if [[ -n $docs_img ]]; then
        mkdir -p "$docs_img"
        cp "$out/$chart.svg" "$docs_img/$chart.svg"
    fi
}

chart bench-matrix-p99 "matrix-*-" "-[0-9]*"
chart bench-findmax-p99 "findmax-" ""

python3 scripts/bench-summary.py "$out"
