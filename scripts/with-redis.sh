#!/usr/bin/env bash
# Runs "$@" with a throwaway redis-server and a 3-master Redis Cluster on free
# loopback ports, exporting PATTERNS_REDIS_ADDR and PATTERNS_REDIS_CLUSTER for
# it, and stops them afterwards whatever "$@" returns. Without redis-server on
# PATH it runs "$@" alone (the Redis suites then use miniredis only). A
# variable already set by the caller is kept: that server is used instead.
set -u
command -v redis-server >/dev/null 2>&1 || {
  echo "with-redis: redis-server not found; Redis suites run on miniredis only" >&2
  exec "$@"
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/patterns-redis.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    # the cluster bus uses port+10000, so that must be free too
    if port_free "$p" && port_free $((p + 10000)); then echo "$p"; return 0; fi
  done
  return 1
}

# start_server PORT [extra redis-server args...]: starts one server and waits
# until it answers PING.
start_server() {
  local port=$1; shift
  local d="$dir/$port"; mkdir -p "$d"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$d" --logfile "$d/log" --daemonize no "$@" &
  pids+=($!)
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "with-redis: redis-server on port $port did not start:" >&2
  cat "$d/log" >&2
  return 1
}

if [ -z "${PATTERNS_REDIS_ADDR:-}" ]; then
  port=$(free_port) && start_server "$port" || exit 1
  export PATTERNS_REDIS_ADDR="127.0.0.1:$port"
fi

if [ -z "${PATTERNS_REDIS_CLUSTER:-}" ]; then
  nodes=()
  for _ in 1 2 3; do
    port=$(free_port) && start_server "$port" --cluster-enabled yes \
      --cluster-config-file "nodes-$port.conf" --cluster-node-timeout 2000 || exit 1
    nodes+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/cluster-create.log" 2>&1 || {
    echo "with-redis: cluster create failed:" >&2; cat "$dir/cluster-create.log" >&2; exit 1; }
  first=${nodes[0]#127.0.0.1:}
  for _ in $(seq 1 200); do
    ok=1
    for n in "${nodes[@]}"; do
      redis-cli -p "${n#127.0.0.1:}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.05
  done
  [ "$ok" = 1 ] || { echo "with-redis: cluster did not become ready" >&2; redis-cli -p "$first" cluster info >&2; exit 1; }
  export PATTERNS_REDIS_CLUSTER=$(IFS=,; echo "${nodes[*]}")
fi

echo "with-redis: PATTERNS_REDIS_ADDR=$PATTERNS_REDIS_ADDR PATTERNS_REDIS_CLUSTER=$PATTERNS_REDIS_CLUSTER" >&2
"$@"
