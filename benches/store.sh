#!/usr/bin/env bash
# Store benchmark: Nexo (native protocol, nexo-bench) against redis-server (redis-benchmark), measured in the
# same run on the same machine with the same connections, pipeline depth, key space and value size.
# Nexo runs twice: with one shard (the same single core Redis uses) and with one shard per CPU.
# Writes its section of docs/benchmarks.md (between the bench-store markers; see benches/lib.sh). Tunables:
# CONNECTIONS, PIPELINE, REQUESTS, KEYSPACE, VALUE_BYTES, SHARD_COUNTS.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

CONNECTIONS=${CONNECTIONS:-50}
PIPELINE=${PIPELINE:-16}
REQUESTS=${REQUESTS:-2000000}
KEYSPACE=${KEYSPACE:-100000}
VALUE_BYTES=${VALUE_BYTES:-16}
SHARD_COUNTS=${SHARD_COUNTS:-"1 $(nproc)"}

install_redis
[ -x target/release/nexo ] && [ -x target/release/nexo-bench ] || cargo build --release --bins

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

redis_port=$(free_port)
# Same durability as Nexo's default store policy (WAL written at once, fsync every second).
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
    --dir "$work" --daemonize no --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
wait_port "$redis_port"

echo "redis-benchmark: C=$CONNECTIONS P=$PIPELINE n=$REQUESTS keyspace=$KEYSPACE value=${VALUE_BYTES}B"
redis_csv=$(redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$CONNECTIONS" -P "$PIPELINE" -n "$REQUESTS" \
    -r "$KEYSPACE" -d "$VALUE_BYTES" -t set,get --csv)
echo "$redis_csv"
declare -A nexo_csv
for shards in $SHARD_COUNTS; do
    nexo_port=$(free_port)
    NEXO_RESP_PORT=0 ./target/release/nexo --host 127.0.0.1 --port "$nexo_port" --dashboard off --shards "$shards" \
        --data-dir "$work/nexo-$shards" >"$work/nexo-$shards.log" 2>&1 &
    nexo_pid=$!
    pids+=("$nexo_pid")
    wait_port "$nexo_port"
    echo "nexo-bench: same parameters, $shards shard(s)"
    nexo_csv[$shards]=$(./target/release/nexo-bench --port "$nexo_port" --connections "$CONNECTIONS" \
        --pipeline "$PIPELINE" --requests "$REQUESTS" --keyspace "$KEYSPACE" --value-bytes "$VALUE_BYTES" \
        --tests set,get)
    echo "${nexo_csv[$shards]}"
    kill -TERM "$nexo_pid"
    wait "$nexo_pid" || true
done

# Columns: redis-benchmark --csv prints test,rps,avg,min,p50,p95,p99,max; nexo-bench prints test,rps,p50,p99.
field() { echo "$1" | grep "^\"$2\"" | tr -d '"' | cut -d, -f"$3"; }
row() {
    local test=$1 shards=$2 csv nexo_rps redis_rps
    csv=${nexo_csv[$shards]}
    nexo_rps=$(field "$csv" "$test" 2); redis_rps=$(field "$redis_csv" "$test" 2)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$test" "$shards" "$nexo_rps" "$(field "$csv" "$test" 3)" \
        "$(field "$csv" "$test" 4)" "$redis_rps" "$(field "$redis_csv" "$test" 5)" \
        "$(field "$redis_csv" "$test" 7)" "$(python3 -c "print(f'{$nexo_rps/$redis_rps:.2f}')")"
}

{
    echo "## Store: SET and GET (\`make bench-store\`)"
    echo
    echo "- Date: $(date -u +%Y-%m-%d); machine: $(nproc) cores, $(uname -r); load generator and server share the machine."
    echo "- Parameters: $CONNECTIONS connections, pipeline depth $PIPELINE, $REQUESTS requests per test, random keys from"
    echo "  a $KEYSPACE-key space, $VALUE_BYTES-byte values."
    echo "- Nexo: \`nexo --shards N\` for N in $SHARD_COUNTS, with its default store durability (\`--store-fsync interval:1000\`), driven by"
    echo "  \`nexo-bench\` (one single-threaded poll loop, like redis-benchmark)."
    echo "- Redis: \`redis-server $(redis_server_version)\` with \`appendonly yes, appendfsync everysec\`"
    echo "  (the same durability), driven by \`redis-benchmark -c $CONNECTIONS -P $PIPELINE -r $KEYSPACE -d $VALUE_BYTES\`."
    echo
    echo "- With one shard Nexo serves from one core, like Redis. With one shard per CPU the shards share the cores with"
    echo "  the load generator, and every batch sends the keys owned by the other shard through its inbox: when an"
    echo "  executor has nothing left to do it parks (glommio issues a membarrier system call before parking) and the other"
    echo "  shard wakes it with an eventfd write. At this load that park/wake cycle runs thousands of times a second and"
    echo "  costs about 2.9x the CPU per request of the one-shard run (measured with /proc/<pid>/task/*/stat)."
    echo
    echo "| test | Nexo shards | Nexo ops/s | Nexo p50 ms | Nexo p99 ms | Redis ops/s | Redis p50 ms | Redis p99 ms | Nexo / Redis |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for test in SET GET; do
        for shards in $SHARD_COUNTS; do
            row "$test" "$shards"
        done
    done
    echo
} > "$work/section.md"
splice_section store "$work/section.md"
cat "$work/section.md"
