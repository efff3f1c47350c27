#!/usr/bin/env bash
# Queue benchmark: durable push → deliver → ack through nexo-client against Nexo (`--queue-fsync always`), and the
# same workload through BullMQ against redis-server with `appendonly yes` and `appendfsync always`, then
# `appendfsync everysec`, measured in the same run on the same machine by the same Node script
# (benches/queue/queue-bench.mjs) with the same shape: one producer keeping WINDOW pushes awaiting their reply,
# CONSUMERS consumers (a client or Worker each) with CONCURRENCY callbacks each, JOB_BYTES-byte JSON jobs carrying
# their push time, every job acked (completed) as soon as it is delivered; JOBS measured jobs after WARMUP_JOBS.
# Every measurement gets a fresh server in a fresh data directory; ROUNDS rounds each measure every configuration
# once (the order rotates from round to round); the table reports the median of the rounds and lists every round.
# Writes its section of docs/benchmarks.md (between the bench-queue markers; see benches/lib.sh). Tunables: JOBS,
# WARMUP_JOBS, CONSUMERS, CONCURRENCY, WINDOW, JOB_BYTES, ROUNDS, NEXO_SHARDS; NEXO_BIN points at another build.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

JOBS=${JOBS:-100000}
WARMUP_JOBS=${WARMUP_JOBS:-10000}
CONSUMERS=${CONSUMERS:-4}
CONCURRENCY=${CONCURRENCY:-16}
WINDOW=${WINDOW:-64}
JOB_BYTES=${JOB_BYTES:-256}
ROUNDS=${ROUNDS:-3}
NEXO_SHARDS=${NEXO_SHARDS:-2}
NEXO_BIN=${NEXO_BIN:-target/release/nexo}
SDK=sdk-ts
SDK_ENTRY=$SDK/dist/esm/index.js
GENERATOR=benches/queue

install_redis
[ -x "$NEXO_BIN" ] || cargo build --release --bins
build_sdk "$SDK" "$SDK_ENTRY" "$SDK/node_modules"
# benches/queue/package.json pins msgpackr-extract (the optional native part of BullMQ's msgpackr) to 3.0.4, the
# newest version the registry has for every platform: with a newer one the lock file lacks the other platforms'
# packages and `npm ci` refuses it.
install_generator "$GENERATOR"

make_work

# launch_server CONFIG DIR PORT: starts the server of CONFIG (nexo, bullmq-always or bullmq-everysec) in the
# background, its data in DIR, listening on PORT (see start_server in benches/lib.sh).
launch_server() {
    local config=$1 dir=$2 port=$3
    case $config in
        nexo) launch_nexo "$dir" "$port" --shards "$NEXO_SHARDS" --queue-fsync always ;;
        bullmq-*) launch_redis "$dir" "$port" --save '' --appendonly yes --appendfsync "${config#bullmq-}" ;;
    esac
}

configs=(nexo bullmq-always bullmq-everysec)

# results.csv: config,round,server_cpu_s, then the columns of queue-bench.mjs
# (target,jobs,jobs_per_sec,p50_ms,p99_ms,peak_backlog,duplicates,client_cpu_us_per_job).
results="$work/results.csv"
: > "$results"
for round in $(seq 1 "$ROUNDS"); do
    for config in $(rotated "$round" "${configs[@]}"); do
        echo "round $round/$ROUNDS: $config"
        start_server "$config" "$config-$round"
        cpu_before=$(server_cpu)
        line=$(node "$GENERATOR/queue-bench.mjs" --target "${config%%-*}" --host 127.0.0.1 --port "$server_port" \
            --jobs "$JOBS" --warmup-jobs "$WARMUP_JOBS" --consumers "$CONSUMERS" --concurrency "$CONCURRENCY" \
            --window "$WINDOW" --job-bytes "$JOB_BYTES" | tail -n +2)
        cpu=$(server_cpu_since "$cpu_before")
        echo "$config,$round,$cpu,$line" | tee -a "$results"
        stop_server
    done
done

# Column numbers in results.csv.
COL_CONFIG=1 COL_ROUND=2 COL_SERVER_CPU=3 COL_RATE=6 COL_P50=7 COL_P99=8 COL_BACKLOG=9 COL_DUPLICATES=10 COL_CLIENT_CPU=11
# column CONFIG ROUND COLUMN: one value of one round.
column() { results_column "$3" $COL_CONFIG="$1" $COL_ROUND="$2"; }
# median CONFIG COLUMN FORMAT: the median over the rounds of one column of one configuration, printf-formatted.
median() { results_column "$2" $COL_CONFIG="$1" | median_of "$3"; }
# per_job CPU_SECONDS: server CPU microseconds per job served (warm-up and measured jobs alike).
per_job() { awk -v cpu="$1" -v n=$((JOBS + WARMUP_JOBS)) 'BEGIN { printf "%.1f\n", cpu * 1e6 / n }'; }

declare -A rate
for config in "${configs[@]}"; do rate[$config]=$(median "$config" $COL_RATE %d); done
vs_always=$(ratio "${rate[nexo]}" "${rate[bullmq-always]}")
vs_everysec=$(ratio "${rate[nexo]}" "${rate[bullmq-everysec]}")
redis_version=$(redis_server_version)
bullmq_version=$(package_version "$GENERATOR" bullmq)
ioredis_version=$(package_version "$GENERATOR" ioredis)
declare -A label=(
    [nexo]="Nexo ($NEXO_SHARDS shards), fsync always"
    [bullmq-always]="BullMQ, appendfsync always"
    [bullmq-everysec]="BullMQ, appendfsync everysec"
)
slots=$((CONSUMERS * CONCURRENCY))

{
    echo "## Queue: durable push → deliver → ack, 1 producer → $CONSUMERS consumers (\`make bench-queue\`)"
    echo
    echo "- Date: $(date -u +%Y-%m-%d); machine: $(nproc) cores, $(uname -r), Node $(node --version); the load generator and"
    echo "  the server share the machine, and other work may run on its cores too: compare the rounds below."
    echo "- Command: \`make bench-queue\` (\`bash benches/queue.sh\`; tunables at the top of the script)."
    echo "- Shape, the same for both systems: one Node process (\`benches/queue/queue-bench.mjs\`) holds one producer and"
    echo "  $CONSUMERS consumers, each consumer a client (Nexo) or \`Worker\` (BullMQ) with its own connections and"
    echo "  \`concurrency: $CONCURRENCY\` ($slots jobs handled at a time in all). The producer pushes $JOB_BYTES-byte JSON"
    echo "  jobs (\`{ i, t, pad }\`, \`t\` the time of the push call) one per call, keeping $WINDOW calls awaiting their"
    echo "  reply; the consumer callback records the job's push → deliver latency and resolves at once, which acks"
    echo "  (completes) it. $WARMUP_JOBS warm-up jobs are pushed and delivered first; then $JOBS measured jobs start from"
    echo "  an empty queue. Median of $ROUNDS rounds, each against fresh servers in fresh directories in an order that"
    echo "  rotates from round to round."
    echo "- Nexo: \`nexo --shards $NEXO_SHARDS --dashboard off --queue-fsync always\` (the default: every push and ack is"
    echo "  fdatasync'ed, with group commit, before its reply); the queue made with \`create()\` (default options);"
    echo "  \`queue.push(job)\` and \`queue.subscribe(callback, { concurrency: $CONCURRENCY })\` from the built SDK"
    echo "  (\`$SDK_ENTRY\`)."
    echo "- BullMQ $bullmq_version with ioredis $ioredis_version, against \`redis-server $redis_version --save '' --appendonly yes\`"
    echo "  with \`--appendfsync always\` (Redis fsyncs the AOF once per event-loop turn before it sends that turn's"
    echo "  replies: group commit too), then \`--appendfsync everysec\`; Redis' other settings are its defaults"
    echo "  (\`maxmemory-policy noeviction\`, AOF rewrite at 64 MB). \`new Queue(name, { connection, defaultJobOptions:"
    echo "  { removeOnComplete: true } })\` so completed jobs leave Redis like acked jobs leave Nexo; \`queue.add('job', job)\`;"
    echo "  \`new Worker(name, processor, { connection, concurrency: $CONCURRENCY })\` with every other option at its default"
    echo "  (30 s lock, stalled-job check every 30 s, an event stream capped at about 10,000 entries, a blocking"
    echo "  connection per Worker for its wake-ups)."
    echo "- *jobs/s*: measured jobs from the first measured push until the last one is settled: for BullMQ its Worker's"
    echo "  \`completed\` event (the completing script answered); for Nexo every subscription's \`stop()\` resolved after the last"
    echo "  delivery (it resolves once the running callbacks' acks are answered). *p50/p99*: push call → callback start of"
    echo "  every measured job, the same process clock; it includes the push's trip to the server and the wait in the queue"
    echo "  (what else it includes: see below). *peak backlog*: the most measured jobs pushed (reply received) but not yet"
    echo "  delivered — when the producer outruns the consumers the backlog grows and the latency follows it (Little's law)."
    echo "  *server CPU*: the server's user + system CPU over the whole generator run (all threads), per job served (warm-up"
    echo "  included). *client CPU*: the Node process' over the measured interval, per measured job. *duplicates*: measured"
    echo "  jobs delivered more than once."
    echo "- Both sides group-commit: one write + fdatasync covers every change made while the previous one ran (perf"
    echo "  tracepoints in a separate run of 5,000 + 20,000 jobs counted 1,255 fdatasyncs for Nexo and 1,241 for Redis with"
    echo "  \`always\`, about 20 jobs per sync). They differ in what waits for it. Nexo answers a push or an ack only once its"
    echo "  journal record is synced, but hands a pushed job to a consumer (and an acked slot its next job) as soon as the"
    echo "  operation has run, while the sync is under way. Redis with \`always\` sends no reply of an event-loop turn —"
    echo "  including the script reply that carries a Worker's next job — before that turn's sync. So Nexo's push → deliver"
    echo "  latency does not contain the push's sync, and BullMQ-always's does."
    echo "- BullMQ runs two Lua scripts per job (add; complete-and-fetch-next) and four event-stream \`XADD\`s on Redis'"
    echo "  single thread (see its server CPU per job), so that thread bounds its rate, not the sync: on this machine's"
    echo "  disk (fdatasync of a small append: about 0.2 ms) \`everysec\` gains little over \`always\`. Its producer"
    echo "  outruns its consumers, so its latency is mostly time spent waiting in the backlog."
    echo
    status="met"
    at_least "$vs_always" 5 && at_least "$vs_everysec" 1 || status="not met"
    echo "- Target (Nexo jobs/s ≥ 5× BullMQ's with \`appendfsync always\`, and ≥ BullMQ's with \`everysec\` while Nexo"
    echo "  still syncs every push and ack): **$status** — ${vs_always}× BullMQ-always, ${vs_everysec}× BullMQ-everysec."
    echo
    echo "| system | jobs/s | p50 ms | p99 ms | peak backlog | server CPU µs/job | client CPU µs/job | duplicates | Nexo / this |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for config in "${configs[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label[$config]}" "${rate[$config]}" \
            "$(median "$config" $COL_P50 %.3f)" "$(median "$config" $COL_P99 %.3f)" "$(median "$config" $COL_BACKLOG %d)" \
            "$(per_job "$(median "$config" $COL_SERVER_CPU %.2f)")" "$(median "$config" $COL_CLIENT_CPU %.2f)" \
            "$(median "$config" $COL_DUPLICATES %d)" "$(ratio "${rate[nexo]}" "${rate[$config]}")"
    done
    echo
    echo "Every round:"
    echo
    echo "| round | system | jobs/s | p50 ms | p99 ms | peak backlog | server CPU s | client CPU µs/job | duplicates |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for round in $(seq 1 "$ROUNDS"); do
        for config in "${configs[@]}"; do
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$round" "${label[$config]}" \
                "$(column "$config" "$round" $COL_RATE)" "$(column "$config" "$round" $COL_P50)" \
                "$(column "$config" "$round" $COL_P99)" "$(column "$config" "$round" $COL_BACKLOG)" \
                "$(column "$config" "$round" $COL_SERVER_CPU)" "$(column "$config" "$round" $COL_CLIENT_CPU)" \
                "$(column "$config" "$round" $COL_DUPLICATES)"
        done
    done
    echo
} > "$work/section.md"
splice_section queue "$work/section.md"
cat "$work/section.md"
