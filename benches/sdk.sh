#!/usr/bin/env bash
# SDK benchmark: Store SET and GET through nexo-client against Nexo, and through ioredis (default options, so no
# auto-pipelining) against redis-server, measured in the same run on the same machine by the same Node script
# (sdk-ts/bench/store-bench.mjs) with the same shapes, op counts, key space, value size and warm-up:
#   - WORKERS async loops sharing one client, each awaiting every call before making the next;
#   - one loop making WINDOW calls without awaiting, then awaiting them all, repeated.
# Nexo runs with each shard count of SHARD_COUNTS. Every measurement gets a fresh server in a fresh data directory;
# ROUNDS rounds each measure every target once (the order rotates from round to round), and the table reports the
# median of the rounds. Writes its section of docs/benchmarks.md (between the bench-sdk markers; see
# benches/lib.sh). Tunables: OPS, WARMUP_OPS, WORKERS, WINDOW, KEYSPACE, VALUE_BYTES, ROUNDS, SHARD_COUNTS.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

OPS=${OPS:-200000}
WARMUP_OPS=${WARMUP_OPS:-20000}
WORKERS=${WORKERS:-50}
WINDOW=${WINDOW:-100}
KEYSPACE=${KEYSPACE:-100000}
VALUE_BYTES=${VALUE_BYTES:-16}
ROUNDS=${ROUNDS:-3}
SHARD_COUNTS=${SHARD_COUNTS:-"1 $(nproc)"}
NEXO_BIN=target/release/nexo
SDK=sdk-ts
BENCH=bench/store-bench.mjs
SDK_ENTRY=$SDK/dist/esm/index.js

install_redis
[ -x "$NEXO_BIN" ] || cargo build --release --bins
build_sdk "$SDK" "$SDK_ENTRY" "$SDK/node_modules/ioredis"

make_work

# launch_server CONFIG DIR PORT: starts the server of CONFIG (nexo-N for N shards, or redis) in the background, its
# data in DIR, listening on PORT (see start_server in benches/lib.sh).
launch_server() {
    local config=$1 dir=$2 port=$3
    case $config in
        nexo-*) launch_nexo "$dir" "$port" --shards "${config#nexo-}" ;;
        redis)
            # Same durability as Nexo's default store policy (WAL written at once, fsync every second).
            launch_redis "$dir" "$port" --save '' --appendonly yes --appendfsync everysec
            ;;
    esac
}

configs=()
for shards in $SHARD_COUNTS; do configs+=("nexo-$shards"); done
configs+=(redis)

# results.csv: config,round, then the columns of store-bench.mjs
# (target,shape,op,ops,ops_per_sec,p50_ms,p99_ms,latency_of,cpu_us_per_op).
results="$work/results.csv"
: > "$results"
for round in $(seq 1 "$ROUNDS"); do
    for config in $(rotated "$round" "${configs[@]}"); do
        target=nexo
        [ "$config" = redis ] && target=ioredis
        echo "round $round/$ROUNDS: $target against $config"
        start_server "$config" "$config-$round"
        (cd "$SDK" && node "$BENCH" --target "$target" --host 127.0.0.1 --port "$server_port" --ops "$OPS" \
            --warmup-ops "$WARMUP_OPS" --workers "$WORKERS" --window "$WINDOW" --keyspace "$KEYSPACE" \
            --value-bytes "$VALUE_BYTES") | tail -n +2 | sed "s/^/$config,$round,/" | tee -a "$results"
        stop_server
    done
done

# Column numbers in results.csv.
COL_CONFIG=1 COL_SHAPE=4 COL_OP=5 COL_RATE=7 COL_P50=8 COL_P99=9 COL_CPU=11
# median CONFIG SHAPE OP COLUMN FORMAT: the median over the rounds of one column of one test, printf-formatted.
median() { results_column "$4" $COL_CONFIG="$1" $COL_SHAPE="$2" $COL_OP="$3" | median_of "$5"; }

declare -A shape_label=(
    [workers]="$WORKERS awaiting workers"
    [windows]="windows of $WINDOW"
)
declare -A latency_label=([workers]="call" [windows]="window of $WINDOW")
declare -A misses
table_rows() {
    local shape op shards nexo_rate redis_rate r
    for shape in workers windows; do
        for op in set get; do
            redis_rate=$(median redis "$shape" "$op" $COL_RATE %d)
            for shards in $SHARD_COUNTS; do
                nexo_rate=$(median "nexo-$shards" "$shape" "$op" $COL_RATE %d)
                r=$(ratio "$nexo_rate" "$redis_rate")
                at_least "$r" 1 ||
                    misses[$shards]+="${misses[$shards]:+, }${shape_label[$shape]} ${op^^} $r"
                printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${shape_label[$shape]}" \
                    "${op^^}" "$shards" "$nexo_rate" "$(median "nexo-$shards" "$shape" "$op" $COL_P50 %.3f)" \
                    "$(median "nexo-$shards" "$shape" "$op" $COL_P99 %.3f)" \
                    "$(median "nexo-$shards" "$shape" "$op" $COL_CPU %.2f)" "$redis_rate" \
                    "$(median redis "$shape" "$op" $COL_P50 %.3f)" "$(median redis "$shape" "$op" $COL_P99 %.3f)" \
                    "$(median redis "$shape" "$op" $COL_CPU %.2f)" "${latency_label[$shape]}" "$r"
            done
        done
    done
}

# The rows go to a file first: table_rows fills `misses`, which a pipeline or command substitution would lose.
table_rows > "$work/rows.md"
{
    echo "## SDK: Store SET and GET through the client (\`make bench-sdk\`)"
    echo
    echo "- Date: $(date -u +%Y-%m-%d); machine: $(nproc) cores, $(uname -r), Node $(node --version); client and server share"
    echo "  the machine."
    echo "- Parameters: $OPS calls per test after $WARMUP_OPS warm-up calls of the same shape, random keys from a"
    echo "  $KEYSPACE-key space (all preloaded before the GET tests), $VALUE_BYTES-byte string values, one client (one"
    echo "  connection) per run, every run against a fresh server. Median of $ROUNDS rounds; each round measures every"
    echo "  target once, in an order that rotates from round to round. Each latency column is the median over the rounds"
    echo "  of that run's percentile. *CPU µs/call*: CPU time (user + system) of the Node process during the measured"
    echo "  calls, divided by their number."
    echo "- Shapes: *$WORKERS awaiting workers* — $WORKERS async loops share the client, each awaits every call before"
    echo "  making the next (latency per call). *Windows of $WINDOW* — one loop makes $WINDOW calls without awaiting, then"
    echo "  awaits them all, repeated (latency per window: from its first call until all $WINDOW replies are in)."
    echo "- nexo-client: \`client.store.map.set(key, value)\` / \`.get(key)\` from the built package (\`$SDK_ENTRY\`),"
    echo "  against \`nexo --shards N\` for N in $SHARD_COUNTS with its default store durability (\`--store-fsync interval:1000\`)."
    echo "- ioredis $(package_version "$SDK" ioredis) with default options (no auto-pipelining):"
    echo "  \`redis.set(key, value)\` / \`redis.get(key)\`, against \`redis-server $(redis_server_version)\`"
    echo "  with \`appendonly yes, appendfsync everysec\` (the same durability)."
    echo
    for shards in $SHARD_COUNTS; do
        if [ -z "${misses[$shards]:-}" ]; then
            echo "- Status with $shards shard(s): **met** — nexo-client ops/s ≥ ioredis+redis-server ops/s for both shapes"
            echo "  (SET and GET)."
        else
            echo "- Status with $shards shard(s): **not met** — the target is nexo-client ops/s ≥ ioredis+redis-server ops/s"
            echo "  for both shapes (SET and GET); below it: ${misses[$shards]}."
        fi
    done
    echo
    echo "| shape | op | Nexo shards | nexo-client ops/s | p50 ms | p99 ms | CPU µs/call | ioredis ops/s | p50 ms | p99 ms | CPU µs/call | latency of | nexo-client / ioredis |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    cat "$work/rows.md"
    echo
} > "$work/section.md"
splice_section sdk "$work/section.md"
cat "$work/section.md"
