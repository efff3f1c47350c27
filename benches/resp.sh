#!/usr/bin/env bash
# RESP benchmark: redis-benchmark with identical flags against Nexo's Redis-compatible port and against a
# redis-server started here, in the same run on the same machine: SET, GET, INCR, MSET (10 keys) and PUBLISH, with
# CONNECTIONS clients, unpipelined (-P 1) and pipelined (-P PIPELINE), with VALUE_SIZES-byte values. Both servers
# persist the same way: Nexo's default store WAL (written at once, fdatasync every second) and Redis'
# `appendonly yes` with `appendfsync everysec`. Servers and order alternate per row, starting with a fresh pair.
# Writes its section of docs/benchmarks.md (between the bench-resp markers; see benches/lib.sh). Tunables:
# CONNECTIONS, PIPELINE, REQUESTS, VALUE_SIZES, TESTS, NEXO_SHARDS; NEXO_BIN points at another build.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

CONNECTIONS=${CONNECTIONS:-50}
PIPELINE=${PIPELINE:-16}
REQUESTS=${REQUESTS:-200000}
VALUE_SIZES=${VALUE_SIZES:-16 1024}
TESTS=${TESTS:-set get incr mset publish}
# redis-benchmark is one busy thread on the same machine: Nexo gets the other cores, one shard each. A shard that
# shares its core with the load generator stalls whenever the generator runs, and so does every request the other
# shards forward to it (on 2 cores, 2 shards measure 0.6x of 1 shard at -P 16).
NEXO_SHARDS=${NEXO_SHARDS:-$(($(nproc) > 1 ? $(nproc) - 1 : 1))}
NEXO_BIN=${NEXO_BIN:-target/release/nexo}
# Ratios the issue asks for: at least 1.0 unpipelined and 1.3 pipelined.
TARGET_UNPIPELINED=1.0
TARGET_PIPELINED=1.3

install_redis
[ -x "$NEXO_BIN" ] || cargo build --release --bins

make_work
nexo_pid=
redis_pid=
trap 'kill $nexo_pid $redis_pid 2>/dev/null || true; remove_work' EXIT

nexo_port=$(free_port)
nexo_native_port=$(free_port)
"$NEXO_BIN" --host 127.0.0.1 --port "$nexo_native_port" --resp-port "$nexo_port" --dashboard off \
    --shards "$NEXO_SHARDS" --data-dir "$work/nexo" >"$work/nexo.log" 2>&1 &
nexo_pid=$!
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
    --dir "$work" --daemonize no --loglevel warning >"$work/redis.log" 2>&1 &
redis_pid=$!
wait_port "$nexo_port"
wait_port "$redis_port"

# run PORT TEST PIPELINE BYTES: redis-benchmark's CSV line for one test (test,rps,avg,min,p50,p95,p99,max).
# PUBLISH is not one of redis-benchmark's built-in tests: it runs as a command line publishing BYTES bytes.
run() {
    local test=(-t "$2")
    [ "$2" = publish ] && test=(PUBLISH bench-channel "$(head -c "$4" /dev/zero | tr '\0' x)")
    redis-benchmark -h 127.0.0.1 -p "$1" -c "$CONNECTIONS" -n "$REQUESTS" -P "$3" -d "$4" -r 100000 --csv "${test[@]}" |
        tail -n +2 | tr -d '"'
}

# results: system,test,pipeline,bytes,rps,p50,p99
results="$work/results.csv"
: > "$results"
flip=0
for bytes in $VALUE_SIZES; do
    for pipeline in 1 "$PIPELINE"; do
        for test in $TESTS; do
            order=(nexo redis)
            [ $((flip % 2)) = 1 ] && order=(redis nexo)
            flip=$((flip + 1))
            for system in "${order[@]}"; do
                port=$nexo_port
                [ "$system" = redis ] && port=$redis_port
                line=$(run "$port" "$test" "$pipeline" "$bytes")
                rps=$(echo "$line" | cut -d, -f2) p50=$(echo "$line" | cut -d, -f5) p99=$(echo "$line" | cut -d, -f7)
                echo "$system,$test,$pipeline,$bytes,$rps,$p50,$p99" | tee -a "$results"
            done
        done
    done
done

# value SYSTEM TEST PIPELINE BYTES COLUMN: one figure of one measurement.
value() {
    awk -F, -v s="$1" -v t="$2" -v p="$3" -v b="$4" -v c="$5" '$1 == s && $2 == t && $3 == p && $4 == b { print $c }' \
        "$results"
}
COL_RPS=5 COL_P50=6 COL_P99=7

{
    echo "## Redis protocol: redis-benchmark against Nexo's RESP port and redis-server (\`make bench-resp\`)"
    echo
    echo "- Date: $(date -u +%Y-%m-%d); machine: $(nproc) cores, $(uname -r); redis-benchmark and the servers share it."
    echo "- The same command for both: \`redis-benchmark -c $CONNECTIONS -n $REQUESTS -r 100000 -P <1|$PIPELINE> -d <bytes> -t <test>\`."
    echo "- Nexo: \`nexo --shards $NEXO_SHARDS --resp-port <port>\` with its default store durability (WAL written into the page cache at once,"
    echo "  \`--store-fsync interval:1000\`). Redis: \`redis-server $(redis_server_version) --appendonly yes --appendfsync"
    echo "  everysec\`: the same durability on both sides. Both run for the whole benchmark; each row measures both"
    echo "  back to back, alternating which goes first. \`MSET\` sets 10 keys; \`PUBLISH\` has no subscriber."
    echo "- Shards: one per core that redis-benchmark (single-threaded, on the same machine) leaves free, as Redis'"
    echo "  single main thread also runs beside it; NEXO_SHARDS=<n> measures another count."
    echo
    echo "Targets: Nexo / Redis ≥ $TARGET_UNPIPELINED unpipelined and ≥ $TARGET_PIPELINED at \`-P $PIPELINE\`, with a p99 no worse than Redis'."
    echo
    echo "| test | -P | -d | Nexo ops/s | Nexo p50 ms | Nexo p99 ms | Redis ops/s | Redis p50 ms | Redis p99 ms | Nexo / Redis | target met |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for bytes in $VALUE_SIZES; do
        for pipeline in 1 "$PIPELINE"; do
            target=$TARGET_UNPIPELINED
            [ "$pipeline" = 1 ] || target=$TARGET_PIPELINED
            for test in $TESTS; do
                nexo_rps=$(value nexo "$test" "$pipeline" "$bytes" $COL_RPS)
                redis_rps=$(value redis "$test" "$pipeline" "$bytes" $COL_RPS)
                nexo_p99=$(value nexo "$test" "$pipeline" "$bytes" $COL_P99)
                redis_p99=$(value redis "$test" "$pipeline" "$bytes" $COL_P99)
                r=$(ratio "$nexo_rps" "$redis_rps")
                met=no
                at_least "$r" "$target" && at_least "$redis_p99" "$nexo_p99" && met=yes
                printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${test^^}" "$pipeline" "$bytes" \
                    "$nexo_rps" "$(value nexo "$test" "$pipeline" "$bytes" $COL_P50)" "$nexo_p99" "$redis_rps" \
                    "$(value redis "$test" "$pipeline" "$bytes" $COL_P50)" "$redis_p99" "$r" "$met"
            done
        done
    done
    echo
} > "$work/section.md"
splice_section resp "$work/section.md"
cat "$work/section.md"
