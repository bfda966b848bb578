#!/usr/bin/env bash
# cluster.sh runs a Chateau cluster on this machine: three NATS servers
# forming one JetStream cluster and three `chateau serve --nats` nodes,
# one beside each, all on loopback. It builds nats-server (from the Go
# module in go.mod) and chateau (from this checkout), so it needs nothing
# but Go and bash. Ctrl-C (SIGINT) or SIGTERM stops everything, nodes
# first.
#
# Node i (0, 1, 2) listens on these ports plus i; each is set by its
# environment variable:
#   CLUSTER_PORT          chateau's public listener (/ws, the web client)  8881
#   CLUSTER_ADMIN_PORT    chateau's admin listener (/metrics, /events)     9881
#   CLUSTER_NATS_PORT     NATS clients                                     4222
#   CLUSTER_ROUTE_PORT    NATS cluster routes                              6222
#   CLUSTER_MONITOR_PORT  NATS monitoring (/healthz, /jsz)                 8222
# CLUSTER_DIR is where the servers' config, stores and logs go; by default
# a new temporary directory, removed at the end. Give one to keep the
# stream from one run to the next.
set -euo pipefail

# A script started in the background by another one has SIGINT ignored,
# and bash cannot trap a signal ignored at its start: start again with
# SIGINT at its default, so that `kill -INT` stops the cluster as Ctrl-C
# does (where env cannot, go on: SIGTERM always works).
if [[ -z ${CLUSTER_SIGINT_RESET:-} ]] && env --default-signal=INT true 2>/dev/null; then
	CLUSTER_SIGINT_RESET=1 exec env --default-signal=INT bash "$0" "$@"
fi

port=${CLUSTER_PORT:-8881}
admin_port=${CLUSTER_ADMIN_PORT:-9881}
nats_port=${CLUSTER_NATS_PORT:-4222}
route_port=${CLUSTER_ROUTE_PORT:-6222}
monitor_port=${CLUSTER_MONITOR_PORT:-8222}
wait_seconds=60 # for the cluster to form, and for each node to be ready

checkout=$(cd "$(dirname "$0")/.." && pwd)
if [[ -n ${CLUSTER_DIR:-} ]]; then
	dir=$CLUSTER_DIR
	keep=1
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/chateau-cluster.XXXXXX")
	keep=0
fi
dir=$(cd "$dir" && pwd)

log() { printf 'cluster.sh: %s\n' "$*" >&2; }

# stop ends every process this script started and waits for them: the
# Chateau nodes first (SIGTERM: each answers what it has received, then
# closes), then the NATS servers, which the nodes used until the end.
stop() {
	trap - INT TERM EXIT
	end ${node_pids[@]+"${node_pids[@]}"}
	end ${nats_pids[@]+"${nats_pids[@]}"}
	if ((keep == 0)); then
		rm -rf "$dir"
	else
		log "the stores and logs stay in $dir"
	fi
}

# end sends SIGTERM to the processes $@ and waits until they have exited.
end() {
	local pid
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "$@"; do
		wait "$pid" 2>/dev/null || true
	done
}
node_pids=()
nats_pids=()
trap 'log "stopping"; stop; exit 0' INT TERM
# On a failure, the logs stay for a look.
trap 'status=$?; ((status == 0)) || keep=1; stop; exit $status' EXIT

# http_get prints the body of GET http://127.0.0.1:$1$2 if it answers 200
# within 5 s, or fails. It speaks HTTP/1.0 through bash's /dev/tcp, so
# that nothing else is needed.
http_get() {
	local response
	response=$(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
		while IFS= read -r -t 5 line <&3 || [[ -n $line ]]; do
			printf '%s\n' "$line"
			line=
		done
	) || return 1
	[[ $response == "HTTP/1."?" 200"* ]] || return 1
	printf '%s\n' "${response#*$'\r\n\r\n'}"
}

# wait_for runs its arguments until they succeed, for at most
# wait_seconds, and returns 1 then; what says what it waits for. A status
# of 2 from them ends the wait at once, with 2.
wait_for() {
	local what=$1 status
	shift
	local deadline=$((SECONDS + wait_seconds))
	while true; do
		status=0
		"$@" >/dev/null 2>&1 || status=$?
		((status == 0 || status == 2)) && return "$status"
		if ((SECONDS >= deadline)); then
			log "gave up waiting for $what after ${wait_seconds}s; logs in $dir/logs"
			return 1
		fi
		sleep 0.2
	done
}

build() {
	mkdir -p "$dir/bin" "$dir/logs"
	log "building nats-server and chateau into $dir/bin"
	(cd "$checkout" && go build -o "$dir/bin/nats-server" github.com/nats-io/nats-server/v2)
	(cd "$checkout" && go build -o "$dir/bin/chateau" ./cmd/chateau)
}

# nats_config writes the configuration of NATS server $1.
nats_config() {
	local i=$1 routes="" j
	for j in 0 1 2; do
		routes+="    nats-route://127.0.0.1:$((route_port + j))"$'\n'
	done
	mkdir -p "$dir/n$i"
	cat >"$dir/n$i/nats.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$((nats_port + i))
http: 127.0.0.1:$((monitor_port + i))
jetstream {
  store_dir: "$dir/n$i/jetstream"
  sync_interval: always
}
cluster {
  name: chateau
  listen: 127.0.0.1:$((route_port + i))
  routes: [
$routes  ]
}
EOF
}

# meta_ready succeeds once NATS server $1 knows the JetStream meta leader,
# the leader counts all three servers (so that a stream of three replicas
# can be placed) and every stream the server holds has a leader: a whole
# cluster that restarts elects them a moment after its meta leader, and
# a node that asks about a stream meanwhile gets no answer. It returns 2
# if the server has exited (a port in use, say).
meta_ready() {
	local jsz
	kill -0 "${nats_pids[$1]}" 2>/dev/null || return 2
	jsz=$(http_get "$((monitor_port + $1))" "/jsz?streams=true") || return 1
	[[ $jsz == *'"cluster_size": 3'* && $jsz == *'"leader": "n'* ]] || return 1
	# One "leader" for the meta leader, one in each stream's "cluster".
	(($(count '"leader": "n' "$jsz") == $(count '"cluster": {' "$jsz") + 1)) || return 1
	http_get "$((monitor_port + $1))" "/healthz" >/dev/null
}

# count prints how many times $1 occurs in $2.
count() {
	local rest=${2//"$1"/}
	printf '%d\n' $(((${#2} - ${#rest}) / ${#1}))
}

# urls prints the NATS URLs for node $1: its own server first.
urls() {
	local i=$1 j
	local list="nats://127.0.0.1:$((nats_port + i))"
	for j in 0 1 2; do
		((j == i)) || list+=",nats://127.0.0.1:$((nats_port + j))"
	done
	printf '%s\n' "$list"
}

start_nats() {
	local i
	for i in 0 1 2; do
		nats_config "$i"
		"$dir/bin/nats-server" -c "$dir/n$i/nats.conf" </dev/null >"$dir/logs/nats-n$i.log" 2>&1 &
		nats_pids+=($!)
	done
	for i in 0 1 2; do
		if ! wait_for "NATS server n$i to join the JetStream cluster" meta_ready "$i"; then
			log "NATS server n$i did not start: $(tail -n 1 "$dir/logs/nats-n$i.log")"
			return 1
		fi
	done
}

# start_node starts Chateau node $1 and records its pid in node_pids.
start_node() {
	local i=$1
	mkdir -p "$dir/node$i"
	(cd "$dir/node$i" && exec "$dir/bin/chateau" serve --nats "$(urls "$i")" --replicas 3 \
		--addr "127.0.0.1:$((port + i))" --admin-addr "127.0.0.1:$((admin_port + i))") \
		</dev/null >>"$dir/logs/node$i.log" 2>&1 &
	node_pids[i]=$!
}

# node_up succeeds once node $1 answers /readyz; it returns 2 if the
# node has exited.
node_up() {
	local i=$1
	if ! kill -0 "${node_pids[i]}" 2>/dev/null; then
		return 2
	fi
	http_get "$((port + i))" /readyz
}

# start_nodes starts the nodes one after the other, each once the one
# before is ready: the first creates the stream and the presence bucket.
# A node that exits at start is started again, twice at most, in case a
# request of its start was lost while the cluster settled.
start_nodes() {
	local i try status
	for i in 0 1 2; do
		for try in 1 2 3; do
			start_node "$i"
			status=0
			wait_for "node $i to be ready" node_up "$i" || status=$?
			((status == 0)) && break
			if ((status != 2 || try == 3)); then
				log "node $i did not start: $(tail -n 1 "$dir/logs/node$i.log")"
				return 1
			fi
			wait "${node_pids[i]}" 2>/dev/null || true # so that wait -n below does not see it
			log "node $i exited at start ($(tail -n 1 "$dir/logs/node$i.log")); starting it again"
		done
	done
}

# watch waits for Ctrl-C. A server or node that exits meanwhile (one
# killed to see what the others do, say) is reported, and the others go
# on; once none is left, the script ends.
watch() {
	local i alive
	local -a names=() files=() pids=() reported=()
	for i in 0 1 2; do
		names+=("NATS server n$i" "node $i")
		files+=("nats-n$i.log" "node$i.log")
		pids+=("${nats_pids[i]}" "${node_pids[i]}")
	done
	set +e
	while true; do
		wait -n
		alive=0
		for i in "${!pids[@]}"; do
			if kill -0 "${pids[i]}" 2>/dev/null; then
				alive=$((alive + 1))
			elif [[ -z ${reported[i]:-} ]]; then
				reported[i]=1
				log "${names[i]} exited; the others go on (its log: $dir/logs/${files[i]})"
			fi
		done
		if ((alive == 0)); then
			log "every server and node has exited"
			exit 1
		fi
	done
}

report() {
	local i
	printf 'Chateau cluster running (Ctrl-C stops it all):\n'
	for i in 0 1 2; do
		printf '  node %d  http://127.0.0.1:%d/  admin 127.0.0.1:%d  NATS %s\n' \
			"$i" "$((port + i))" "$((admin_port + i))" "nats://127.0.0.1:$((nats_port + i))"
	done
	printf '  NATS URLs for the tools: --nats %s\n' "$(urls 0)"
	printf '  logs: %s/logs\n' "$dir"
}

build
# Job control puts each server and node in a process group of its own, so
# that Ctrl-C reaches this script only, which stops them in order.
set -m
start_nats
start_nodes
report
watch
