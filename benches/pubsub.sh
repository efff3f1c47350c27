#!/usr/bin/env bash
# Pub/sub fan-out benchmark: Nexo (native protocol) against redis-server (RESP2 SUBSCRIBE/PSUBSCRIBE/PUBLISH) and
# mosquitto (MQTT 3.1.1, QoS 0), measured in the same run on the same machine by the same load generator
# (nexo-pubsub-bench) with the same shape: one publisher connection, CONNECTIONS subscriber connections with
# SUBSCRIPTIONS distinct subscriptions each that all match the one topic, PAYLOAD_BYTES-byte payloads, PUBLISHES
# measured publishes after WARMUP unmeasured ones, the same pacing (see src/bin/nexo-pubsub-bench/main.rs).
# Every measurement gets a fresh broker with persistence off; ROUNDS rounds each measure every broker once (the
# order rotates from round to round); the table reports the median of the rounds and lists every round.
# Writes its section of docs/benchmarks.md (between the bench-pubsub markers; see benches/lib.sh). Tunables:
# CONNECTIONS, SUBSCRIPTIONS, PUBLISHES, WARMUP, PAYLOAD_BYTES, BATCH, WINDOW, IN_FLIGHT, READERS, ROUNDS,
# NEXO_SHARDS; NEXO_BIN and PUBSUB_BENCH point at other builds of the server and the generator.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

CONNECTIONS=${CONNECTIONS:-100}
SUBSCRIPTIONS=${SUBSCRIPTIONS:-10}
PUBLISHES=${PUBLISHES:-50000}
WARMUP=${WARMUP:-5000}
PAYLOAD_BYTES=${PAYLOAD_BYTES:-64}
BATCH=${BATCH:-16}
WINDOW=${WINDOW:-64}
IN_FLIGHT=${IN_FLIGHT:-256}
READERS=${READERS:-2}
ROUNDS=${ROUNDS:-3}
NEXO_SHARDS=${NEXO_SHARDS:-2}
NEXO_BIN=${NEXO_BIN:-target/release/nexo}
PUBSUB_BENCH=${PUBSUB_BENCH:-target/release/nexo-pubsub-bench}

install_redis
install_mosquitto
[ -x "$NEXO_BIN" ] && [ -x "$PUBSUB_BENCH" ] || cargo build --release --bins

make_work

# launch_server BROKER DIR PORT: starts BROKER (nexo, redis or mosquitto) with persistence off in the background,
# its files in DIR, listening on PORT (see start_server in benches/lib.sh).
launch_server() {
    local broker=$1 dir=$2 port=$3
    case $broker in
        nexo)
            # Nothing is retained, so nothing is written; the data directory only has to exist.
            launch_nexo "$dir" "$port" --shards "$NEXO_SHARDS"
            ;;
        redis) launch_redis "$dir" "$port" --save '' --appendonly no ;;
        mosquitto)
            printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$dir/mosquitto.conf"
            mosquitto -c "$dir/mosquitto.conf" >"$dir/server.log" 2>&1 &
            ;;
    esac
}

declare -A protocol=([nexo]=nexo [redis]=redis [mosquitto]=mqtt)
brokers=(nexo redis mosquitto)

# results.csv: broker,round,server_cpu_s, then the columns of nexo-pubsub-bench
# (target,publishes,deliveries,deliveries_per_sec,p50_ms,p99_ms,frames_per_message,lost,client_cpu_s).
results="$work/results.csv"
: > "$results"
for round in $(seq 1 "$ROUNDS"); do
    for broker in $(rotated "$round" "${brokers[@]}"); do
        echo "round $round/$ROUNDS: $broker"
        start_server "$broker" "$broker-$round"
        cpu_before=$(server_cpu)
        line=$("$PUBSUB_BENCH" --target "${protocol[$broker]}" --host 127.0.0.1 --port "$server_port" \
            --connections "$CONNECTIONS" --subscriptions "$SUBSCRIPTIONS" --publishes "$PUBLISHES" --warmup "$WARMUP" \
            --payload-bytes "$PAYLOAD_BYTES" --batch "$BATCH" --window "$WINDOW" --in-flight "$IN_FLIGHT" \
            --readers "$READERS" | tail -n +2 | tr -d '"')
        cpu=$(server_cpu_since "$cpu_before")
        echo "$broker,$round,$cpu,$line" | tee -a "$results"
        stop_server
    done
done

# Column numbers in results.csv.
COL_BROKER=1 COL_ROUND=2 COL_SERVER_CPU=3 COL_DELIVERIES=6 COL_RATE=7 COL_P50=8 COL_P99=9 COL_FRAMES=10 COL_LOST=11 COL_CLIENT_CPU=12
# column BROKER ROUND COLUMN: one value of one round.
column() { results_column "$3" $COL_BROKER="$1" $COL_ROUND="$2"; }
# median BROKER COLUMN FORMAT: the median over the rounds of one column of one broker, printf-formatted.
median() { results_column "$2" $COL_BROKER="$1" | median_of "$3"; }
# per_kilo_delivery CPU_SECONDS COUNT: CPU microseconds per 1,000 deliveries (or frames).
per_kilo_delivery() { awk -v cpu="$1" -v n="$2" 'BEGIN { printf "%.1f\n", cpu * 1e9 / n }'; }

subscribers=$((CONNECTIONS * SUBSCRIPTIONS))
# Everything the broker served while its CPU was measured: probe, warm-up and measured publishes.
served=$(((PUBLISHES + WARMUP + 1) * subscribers))
declare -A rate
for broker in "${brokers[@]}"; do rate[$broker]=$(median "$broker" $COL_RATE %d); done
vs_redis=$(ratio "${rate[nexo]}" "${rate[redis]}")
vs_mosquitto=$(ratio "${rate[nexo]}" "${rate[mosquitto]}")
mosquitto_frames=$(median mosquitto $COL_FRAMES %d)
if [ "$mosquitto_frames" = 1 ]; then
    mosquitto_copies="one PUBLISH per connection (the connection's ${SUBSCRIPTIONS} matching subscriptions share it, so each counts as $SUBSCRIPTIONS deliveries)"
else
    mosquitto_copies="$mosquitto_frames PUBLISH frames per connection, one per matching subscription"
fi
declare -A label=([nexo]="Nexo ($NEXO_SHARDS shards)" [redis]="redis-server" [mosquitto]="mosquitto")

{
    echo "## Pub/sub fan-out: 1 publisher → $subscribers subscribers (\`make bench-pubsub\`)"
    echo
    echo "- Date: $(date -u +%Y-%m-%d); machine: $(nproc) cores, $(uname -r); load generator and brokers share the machine."
    echo "- Command: \`make bench-pubsub\` (\`bash benches/pubsub.sh\`; tunables at the top of the script)."
    echo "- Shape: one publisher connection publishes $PAYLOAD_BYTES-byte payloads to the topic \`bench/p/t\`; $CONNECTIONS"
    echo "  subscriber connections each hold $SUBSCRIPTIONS distinct subscriptions that all match it ($subscribers subscribers)."
    echo "  A *delivery* is one (subscription, message) pair served. $PUBLISHES measured publishes after $WARMUP warm-up"
    echo "  publishes, the same for every broker. Median of $ROUNDS rounds, each against fresh brokers in an order that"
    echo "  rotates from round to round."
    echo "- Nexo: \`nexo --shards $NEXO_SHARDS --dashboard off\`; filters \`bench/p/t\`, \`bench/p/+\`, \`bench/+/t\`, \`+/p/t\`,"
    echo "  \`bench/+/+\`, \`+/+/t\`, \`+/p/+\`, \`+/+/+\`, \`bench/#\`, \`#\` (the first $SUBSCRIPTIONS). One push per connection carries"
    echo "  the ids of all its matching subscriptions and counts as that many deliveries."
    echo "- Redis: \`redis-server $(redis_server_version)\` with \`--save '' --appendonly no\`;"
    echo "  \`SUBSCRIBE bench/p/t\` plus \`PSUBSCRIBE\` of \`bench/p/*\`, \`bench/*/t\`, \`*/p/t\`, \`bench/*\`, \`*/t\`, \`*\`,"
    echo "  \`bench/?/t\`, \`b*t\`, \`bench/[pq]/t\` (the first $((SUBSCRIPTIONS - 1))); one \`message\`/\`pmessage\` frame per"
    echo "  matching subscription, each one delivery."
    echo "- mosquitto: \`$(mosquitto -h 2>/dev/null | head -1 || true)\`, MQTT 3.1.1, QoS 0, \`persistence false\`, otherwise its"
    echo "  defaults; the same filters as Nexo in one SUBSCRIBE. With its default \`allow_duplicate_messages false\` it sends"
    echo "  $mosquitto_copies."
    echo "- Load generator: \`nexo-pubsub-bench\`, one process for all three protocols: the publisher on one thread, the"
    echo "  subscriber connections shared by $READERS reader threads waiting in \`epoll_wait\`. Pacing: batches of $BATCH"
    echo "  publishes, at most $WINDOW not yet acknowledged by the broker (Nexo and Redis reply to every publish; MQTT QoS 0"
    echo "  has no reply, so a PINGREQ follows each batch and its PINGRESP acknowledges it) and at most $IN_FLIGHT not yet"
    echo "  received by every subscriber connection, so the broker always has work queued and no subscriber falls far"
    echo "  enough behind to be dropped or disconnected."
    echo "- *deliveries/s*: deliveries received from the first measured publish until every connection has the last one."
    echo "  *frames/s*: the frames (pushes, RESP messages, MQTT PUBLISH packets) that carried them. *p50/p99*: publish →"
    echo "  receipt of every delivery of the measured publishes (send time in the payload, same process clock); with a fixed"
    echo "  in-flight window these follow the throughput (Little's law) more than the broker's idle latency. *server CPU*:"
    echo "  the broker's user + system CPU over the whole generator run, per 1,000 deliveries served. *generator CPU*: the"
    echo "  generator's over the measured interval, per 1,000 deliveries counted. *lost*: deliveries of measured"
    echo "  publishes that never arrived."
    echo "- Nexo's lead in deliveries/s comes mostly from carrying all of a connection's matching subscription ids in one"
    echo "  push (Redis sends one frame per matching subscription): compare frames/s and server CPU per 1k frames."
    echo "  mosquitto also sends one frame per connection, but writes each PUBLISH with its own system call (strace: one"
    echo "  write and four epoll_ctl per frame), so it and the generator (see its CPU column) pay a small TCP segment per"
    echo "  frame on the 2 cores they share."
    echo
    status="met"
    at_least "$vs_redis" 2 && at_least "$vs_mosquitto" 5 || status="not met"
    echo "- Target (Nexo deliveries/s ≥ 2× redis-server's and ≥ 5× mosquitto's): **$status** — ${vs_redis}× redis-server,"
    echo "  ${vs_mosquitto}× mosquitto."
    echo
    echo "| broker | deliveries/s | frames/s | p50 ms | p99 ms | server CPU µs / 1k deliveries | server CPU µs / 1k frames | generator CPU µs / 1k deliveries | lost | Nexo / this |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for broker in "${brokers[@]}"; do
        frames=$(median "$broker" $COL_FRAMES %d)
        frames_rate=$(awk -v r="${rate[$broker]}" -v f="$frames" -v s="$SUBSCRIPTIONS" 'BEGIN { printf "%d\n", r / s * f }')
        server_cpu=$(median "$broker" $COL_SERVER_CPU %.2f)
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$broker]}" "${rate[$broker]}" "$frames_rate" \
            "$(median "$broker" $COL_P50 %.3f)" "$(median "$broker" $COL_P99 %.3f)" \
            "$(per_kilo_delivery "$server_cpu" "$served")" \
            "$(per_kilo_delivery "$server_cpu" $((served / SUBSCRIPTIONS * frames)))" \
            "$(per_kilo_delivery "$(median "$broker" $COL_CLIENT_CPU %.2f)" "$(median "$broker" $COL_DELIVERIES %d)")" \
            "$(median "$broker" $COL_LOST %d)" "$(ratio "${rate[nexo]}" "${rate[$broker]}")"
    done
    echo
    echo "Every round:"
    echo
    echo "| round | broker | deliveries/s | p50 ms | p99 ms | server CPU s | generator CPU s | lost |"
    echo "|---|---|---|---|---|---|---|---|"
    for round in $(seq 1 "$ROUNDS"); do
        for broker in "${brokers[@]}"; do
            printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$round" "${label[$broker]}" \
                "$(column "$broker" "$round" $COL_RATE)" "$(column "$broker" "$round" $COL_P50)" \
                "$(column "$broker" "$round" $COL_P99)" "$(column "$broker" "$round" $COL_SERVER_CPU)" \
                "$(column "$broker" "$round" $COL_CLIENT_CPU)" "$(column "$broker" "$round" $COL_LOST)"
        done
    done
    echo
} > "$work/section.md"
splice_section pubsub "$work/section.md"
cat "$work/section.md"
