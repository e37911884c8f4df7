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
    # below Linux's ephemeral range (32768+), bus port included
    p=$((10000 + RANDOM % 12000))
    # the cluster bus uses port+10000, so that must be free too
    if port_free "$p" && port_free $((p + 10000)); then echo "$p"; return 0; fi
  done
  return 1
}

# start_server [extra redis-server args...]: starts one server on a free
# port, waits until it answers PING and sets $port. It must not run in a
# subshell ($(...)): the pid has to reach cleanup. A port taken
# between the check and the bind (another run racing us) means another try.
start_server() {
  local d
  for _ in 1 2 3 4 5; do
    port=$(free_port) || return 1
    d="$dir/$port"; mkdir -p "$d"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$d" --logfile "$d/log" --daemonize no "$@" </dev/null >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
      if redis-cli -p "$port" ping >/dev/null 2>&1; then return 0; fi
      kill -0 "${pids[-1]}" 2>/dev/null || break # it exited: port taken?
      sleep 0.05
    done
  done
  echo "with-redis: could not start redis-server:" >&2
  cat "$d/log" >&2
  return 1
}

if [ -z "${PATTERNS_REDIS_ADDR:-}" ]; then
  start_server || exit 1
  export PATTERNS_REDIS_ADDR="127.0.0.1:$port"
fi

if [ -z "${PATTERNS_REDIS_CLUSTER:-}" ]; then
  nodes=()
  for _ in 1 2 3; do
    start_server --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 2000 </dev/null >/dev/null || exit 1
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
