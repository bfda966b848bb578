#!/usr/bin/env bash
# Runs the performance scenarios of the README against fresh servers on
# this machine and prints one table. Every figure comes from
# `chateau bench --json` or `go test -bench`. Takes about three minutes.
#
#   scripts/bench.sh            # all scenarios
#   DURATION=5s scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
IDLE=${IDLE:-20000}
work=$(mktemp -d)
bin=$work/chateau
go build -o "$bin" ./cmd/chateau
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# serve starts a fresh server on a new file with the given flags.
serve() {
  [ -n "$server_pid" ] && { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }
  rm -f "$work/bench.db"
  "$bin" serve -data "$work/bench.db" -addr 127.0.0.1:18999 -admin-addr 127.0.0.1:18998 -rate-limit 0 -max-conns 0 "$@" 2>"$work/serve.log" &
  server_pid=$!
  for _ in $(seq 100); do grep -q "msg=listening" "$work/serve.log" && return; sleep 0.1; done
  echo "server did not start" >&2; cat "$work/serve.log" >&2; exit 1
}
bench() { "$bin" bench -url ws://127.0.0.1:18999/ws -json "$@" 2>/dev/null; }
# server_share prints the running server's p50 / p99 of
# chateau_request_duration_seconds for group messages, as the upper bounds
# of the histogram buckets they fall in ("<= 1.6 / <= 6.4").
server_share() {
  node -e '
    require("http").get("http://127.0.0.1:18998/metrics", res => {
      let body = ""; res.on("data", d => body += d); res.on("end", () => {
        const b = [...body.matchAll(/^chateau_request_duration_seconds_bucket\{type="GroupMessageRequest",le="([^"]+)"\} (\d+)/gm)]
          .map(m => [m[1] === "+Inf" ? Infinity : +m[1] * 1000, +m[2]]);
        const n = b[b.length - 1][1], at = q => b.find(([, c]) => c >= q * n)[0];
        console.log(`<= ${+at(0.5).toFixed(2)} / <= ${+at(0.99).toFixed(2)}`);
      });
    });'
}
field() { node -e 'const r=JSON.parse(require("fs").readFileSync(0));const v=process.argv[1].split(".").reduce((o,k)=>o[k],r);console.log(typeof v=="number"?+v.toFixed(2):v)' "$1"; }

serve
durable=$(bench -duration "$DURATION")
serve -unsafe-no-fsync
nosync=$(bench -duration "$DURATION")
serve
half_rate=$(echo "$durable" | field accepted_per_s | awk '{printf "%d", $1/2}')
half=$(bench -duration "$DURATION" -rate "$half_rate")
half_server=$(server_share)
serve
half_target=$(bench -duration "$DURATION" -rate 15000)
half_target_server=$(server_share)
serve
light=$(bench -duration "$DURATION" -rate 1000)
light_server=$(server_share)
serve
idle=$(bench -idle "$IDLE" -duration 5s -server-pid "$server_pid")
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
startup=$(go test -run XXX -bench Startup -benchtime 3x ./cmd/chateau | awk '/BenchmarkStartup/ {for (i=1;i<NF;i++) if ($(i+1)=="ms/start") print $i}')
commit=$(go test -run XXX -bench 'Log_Append/batch=1$' -benchtime 3000x ./eventlog | awk '/BenchmarkLog_Append/ {for (i=1;i<NF;i++) {if ($(i+1)=="p50-ms") a=$i; if ($(i+1)=="p99-ms") b=$i}; print a " / " b}')

d=$(echo "$durable" | field accepted_per_s); n=$(echo "$nosync" | field accepted_per_s)
printf '%-46s %s\n' "scenario (100 senders, 10 chats of 10)" "result"
printf '%-46s %s\n' "durable, flat out: accepted/s" "$d"
printf '%-46s %s\n' "durable, flat out: deliveries/s" "$(echo "$durable" | field deliveries_per_s)"
printf '%-46s %s\n' "durable, flat out: lost / duplicates" "$(echo "$durable" | field lost) / $(echo "$durable" | field duplicates)"
printf '%-46s %s\n' "no fsync, flat out: accepted/s" "$n"
printf '%-46s %s\n' "durable / no fsync" "$(awk -v a="$d" -v b="$n" 'BEGIN {printf "%.2f", a/b}')"
printf '%-46s %s\n' "durable at $half_rate/s (half): ack p50 / p99 ms" "$(echo "$half" | field ack_latency_ms.p50) / $(echo "$half" | field ack_latency_ms.p99) (server's share: $half_server)"
printf '%-46s %s\n' "durable at 15000/s (half of 30,000): ack p50 / p99 ms" "$(echo "$half_target" | field ack_latency_ms.p50) / $(echo "$half_target" | field ack_latency_ms.p99) (server's share: $half_target_server)"
printf '%-46s %s\n' "durable at 1000/s: ack p50 / p99 ms" "$(echo "$light" | field ack_latency_ms.p50) / $(echo "$light" | field ack_latency_ms.p99) (server's share: $light_server)"
printf '%-46s %s\n' "one commit of 1 event, alone: p50 / p99 ms" "$commit"
printf '%-46s %s\n' "$IDLE idle connections: server bytes each" "$(echo "$idle" | field bytes_per_conn)"
printf '%-46s %s\n' "start-up on 1,000,000 events: ms" "$startup"
