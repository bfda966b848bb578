#!/usr/bin/env bash
# Measures the figures of README's "Several nodes" (under Performance)
# for three configurations, on this machine, in one run, and prints one
# table:
#   bbolt  one node on a file (serve -data)
#   R1     one node on a stream of one replica on one NATS server
#   R3     three nodes on a stream of three replicas on a cluster of three
#          NATS servers, the load spread over the three nodes
# Every NATS server fsyncs every write (sync_interval: always), as bbolt
# does every commit. For each configuration: flat out (accepted and
# delivered per second, lost and duplicated deliveries), then the
# acknowledgement latency at 1,000 messages/s, each on fresh servers and
# data. Every figure comes from `chateau bench -json`. Takes six times
# DURATION and a few seconds a run to start the servers.
#
#   scripts/bench-cluster.sh
#   DURATION=5s scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
# Node i listens on these ports plus i; NATS server i too.
ws_port=18911 admin_port=18921 nats_port=18931 route_port=18941 monitor_port=18951
node_pids=() nats_pids=()

# end sends SIGTERM to the processes $@ and waits until they have exited.
end() {
  local pid
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
# stop ends the nodes, then the NATS servers they used.
stop() {
  end ${node_pids[@]+"${node_pids[@]}"}
  end ${nats_pids[@]+"${nats_pids[@]}"}
  node_pids=() nats_pids=()
}
work=$(mktemp -d)
trap 'stop; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
go build -o "$work/chateau" ./cmd/chateau
go build -o "$work/nats-server" github.com/nats-io/nats-server/v2
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# fail prints why and the logs, and exits.
fail() {
  echo "bench-cluster.sh: $1" >&2
  tail -n 20 "$work"/run/*.log >&2 || true
  exit 1
}

# wait_for runs its arguments until they succeed, for at most 60 s, while
# process $2 runs; $1 says what it waits for.
wait_for() {
  local what=$1 pid=$2; shift 2
  for _ in $(seq 300); do
    "$@" >/dev/null 2>&1 && return
    kill -0 "$pid" 2>/dev/null || fail "$what exited"
    sleep 0.2
  done
  fail "gave up waiting for $what"
}

# start_nats starts $1 NATS servers with JetStream, fsyncing every write;
# more than one form a cluster. It returns once each is healthy and, in
# a cluster, its meta leader counts all of them.
start_nats() {
  local n=$1 i j routes=""
  for ((j = 0; j < n; j++)); do routes+="${routes:+, }nats-route://127.0.0.1:$((route_port + j))"; done
  for ((i = 0; i < n; i++)); do
    {
      echo "server_name: s$i"
      echo "listen: 127.0.0.1:$((nats_port + i))"
      echo "http: 127.0.0.1:$((monitor_port + i))"
      echo "jetstream { store_dir: \"$work/run/s$i\", sync_interval: always }"
      ((n == 1)) || echo "cluster { name: bench, listen: 127.0.0.1:$((route_port + i)), routes: [$routes] }"
    } >"$work/run/s$i.conf"
    "$work/nats-server" -c "$work/run/s$i.conf" >"$work/run/s$i.log" 2>&1 &
    nats_pids+=($!)
  done
  for ((i = 0; i < n; i++)); do
    wait_for "NATS server s$i" "${nats_pids[i]}" curl -sf "http://127.0.0.1:$((monitor_port + i))/healthz"
    ((n == 1)) || wait_for "NATS server s$i to see a cluster of $n" "${nats_pids[i]}" meta_ready "$i" "$n"
  done
}

# meta_ready succeeds once NATS server $1 sees a meta leader and a
# cluster of $2.
meta_ready() {
  curl -sf "http://127.0.0.1:$((monitor_port + $1))/jsz" |
    node -e 'const j=JSON.parse(require("fs").readFileSync(0)); process.exit(j.meta_cluster && j.meta_cluster.leader && j.meta_cluster.cluster_size == +process.argv[1] ? 0 : 1)' "$2"
}

# serve starts node $1 with the rest as flags, and waits until it listens.
serve() {
  local i=$1; shift
  "$work/chateau" serve -addr "127.0.0.1:$((ws_port + i))" -admin-addr "127.0.0.1:$((admin_port + i))" \
    -rate-limit 0 -max-conns 0 "$@" 2>"$work/run/node$i.log" &
  node_pids+=($!)
  wait_for "node $i" "$!" grep -q "msg=listening" "$work/run/node$i.log"
}

# fresh stops everything and starts configuration $1 on new data; ws is
# then its nodes' /ws URLs, comma-separated.
fresh() {
  stop
  rm -rf "$work/run" && mkdir "$work/run"
  ws="ws://127.0.0.1:$ws_port/ws"
  case $1 in
  bbolt) serve 0 -data "$work/run/bench.db" ;;
  r1)
    start_nats 1
    serve 0 -nats "nats://127.0.0.1:$nats_port" -replicas 1 ;;
  r3)
    start_nats 3
    local i j urls
    for i in 1 2; do ws+=",ws://127.0.0.1:$((ws_port + i))/ws"; done
    for i in 0 1 2; do
      # Each node lists its own NATS server first. Node 0 creates the
      # stream, the others find it.
      urls="nats://127.0.0.1:$((nats_port + i))"
      for j in 0 1 2; do ((j == i)) || urls+=",nats://127.0.0.1:$((nats_port + j))"; done
      serve "$i" -nats "$urls" -replicas 3
    done ;;
  esac
}

# bench runs `chateau bench -json` on fresh configuration $1 with the
# rest as flags; report is then its report. A run that lost or
# duplicated a delivery still reports (and exits 1); one without a
# report fails.
bench() {
  local config=$1; shift
  fresh "$config"
  report=$("$work/chateau" bench -url "$ws" -json -duration "$DURATION" "$@" 2>"$work/bench.log") || true
  [ -n "$report" ] || { cat "$work/bench.log" >&2; fail "bench on $config gave no report"; }
}
field() { node -e 'const r=JSON.parse(require("fs").readFileSync(0));const v=process.argv[1].split(".").reduce((o,k)=>o[k],r);console.log(typeof v=="number"?+v.toFixed(2):v)' "$1"; }

configs=(bbolt r1 r3)
declare -A flat light
for c in "${configs[@]}"; do
  bench "$c" && flat[$c]=$report
  bench "$c" -rate 1000 && light[$c]=$report
done
stop

row() { printf '%-38s %-22s %-22s %s\n' "$@"; }
flat_field() { echo "${flat[$1]}" | field "$2"; }
lost_dup() { echo "$(flat_field "$1" lost) / $(flat_field "$1" duplicates)"; }
errors() { echo "$(echo "${flat[$1]}" | error_count) / $(echo "${light[$1]}" | error_count)"; }
error_count() { node -e 'console.log(Object.values(JSON.parse(require("fs").readFileSync(0)).errors).reduce((a,b)=>a+b,0))'; }
ack() { echo "$(echo "${light[$1]}" | field ack_latency_ms.p50) / $(echo "${light[$1]}" | field ack_latency_ms.p99)"; }
row "100 senders, 10 chats of 10, $DURATION" "bbolt, 1 node" "JetStream R1, 1 node" "JetStream R3, 3 nodes"
row "flat out: accepted/s" "$(flat_field bbolt accepted_per_s)" "$(flat_field r1 accepted_per_s)" "$(flat_field r3 accepted_per_s)"
row "flat out: deliveries/s" "$(flat_field bbolt deliveries_per_s)" "$(flat_field r1 deliveries_per_s)" "$(flat_field r3 deliveries_per_s)"
row "flat out: lost / duplicates" "$(lost_dup bbolt)" "$(lost_dup r1)" "$(lost_dup r3)"
row "at 1000/s: ack p50 / p99 ms" "$(ack bbolt)" "$(ack r1)" "$(ack r3)"
row "errors: flat out / at 1000/s" "$(errors bbolt)" "$(errors r1)" "$(errors r3)"
