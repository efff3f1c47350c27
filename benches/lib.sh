# Helpers shared by the benchmark scripts (sourced, not run).
#
# docs/benchmarks.md holds one section per benchmark script, each between its own pair of markers:
#   <!-- bench-NAME:begin -->
#   ...
#   <!-- bench-NAME:end -->
# A script replaces only its own section, so running one benchmark keeps the figures of the others.

BENCH_DOC=${BENCH_DOC:-docs/benchmarks.md}

# machine_description: CPU model, cores, memory and kernel of this machine, in one line.
machine_description() {
    local cpu memory
    cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
    memory=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
    echo "${cpu:-unknown CPU}, $(nproc) cores, ${memory:-unknown memory}, Linux $(uname -r)"
}

# Heading and introduction of the benchmarks file, naming this machine.
bench_doc_header() {
    echo "# Benchmarks"
    echo
    echo "Machine: $(machine_description); \`make bench\` of $(date -u +%Y-%m-%d)."
    echo
    echo "Figures from \`make bench\` on the machine named above. Absolute numbers depend on the machine; the ratio"
    echo "against the peer measured in the same run is what to compare across runs."
}

# rewrite_doc_header: replaces everything before the first section of $BENCH_DOC with bench_doc_header.
rewrite_doc_header() {
    local tmp
    tmp=$(mktemp)
    bench_doc_header > "$tmp"
    if [ -f "$BENCH_DOC" ]; then
        echo >> "$tmp"
        awk '/^<!-- bench-.*:begin -->$/ { found = 1 } found { print }' "$BENCH_DOC" >> "$tmp"
    fi
    cat "$tmp" > "$BENCH_DOC"
    rm -f "$tmp"
}

# splice_section NAME CONTENT_FILE: puts the lines of CONTENT_FILE between the markers of section NAME in
# $BENCH_DOC, replacing what was there. Appends the section (with its markers) at the end when the file has no
# such markers yet, and creates the file with its heading when it does not exist. Fails, leaving the file as it
# was, when the markers are not exactly one begin line followed by one end line.
splice_section() {
    local name=$1 content=$2 begin end begins ends tmp
    begin="<!-- bench-$name:begin -->"
    end="<!-- bench-$name:end -->"
    [ -f "$BENCH_DOC" ] || bench_doc_header > "$BENCH_DOC"
    begins=$(grep -cxF -- "$begin" "$BENCH_DOC" || true)
    ends=$(grep -cxF -- "$end" "$BENCH_DOC" || true)
    tmp=$(mktemp)
    if [ "$begins" = 0 ] && [ "$ends" = 0 ]; then
        { cat "$BENCH_DOC"; echo; echo "$begin"; cat "$content"; echo "$end"; } > "$tmp"
    elif [ "$begins" = 1 ] && [ "$ends" = 1 ] && \
        [ "$(grep -nxF -- "$begin" "$BENCH_DOC" | cut -d: -f1)" -lt "$(grep -nxF -- "$end" "$BENCH_DOC" | cut -d: -f1)" ]; then
        awk -v begin="$begin" -v end="$end" -v content="$content" '
            $0 == begin { print; while ((getline line < content) > 0) print line; inside = 1; next }
            $0 == end { inside = 0 }
            !inside { print }
        ' "$BENCH_DOC" > "$tmp"
    else
        rm -f "$tmp"
        echo "$BENCH_DOC: the markers of section $name are broken ($begins begin, $ends end lines, or end before begin)" >&2
        return 1
    fi
    # Writing through the existing file keeps its permissions.
    cat "$tmp" > "$BENCH_DOC"
    rm -f "$tmp"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT: returns once something accepts connections on 127.0.0.1:PORT; exits after WAIT_PORT_TRIES tries
# WAIT_PORT_INTERVAL seconds apart.
WAIT_PORT_TRIES=${WAIT_PORT_TRIES:-200}
WAIT_PORT_INTERVAL=${WAIT_PORT_INTERVAL:-0.05}
wait_port() {
    for _ in $(seq 1 "$WAIT_PORT_TRIES"); do
        (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep "$WAIT_PORT_INTERVAL"
    done
    echo "port $1 never opened" >&2
    exit 1
}

# install_redis: redis-server and redis-tools from Debian's packages when either command is missing.
install_redis() {
    if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools
    fi
}

# install_mosquitto: the mosquitto MQTT broker from Debian's packages when it is missing.
install_mosquitto() {
    if ! command -v mosquitto >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto
    fi
}

# build_sdk SDK ENTRY NEEDED: installs the npm packages of the SDK in directory SDK when NEEDED (a directory under
# its node_modules) is missing, then rebuilds its package when ENTRY is missing or older than anything it is built
# from.
build_sdk() {
    local sdk=$1 entry=$2 needed=$3
    [ -d "$needed" ] || (cd "$sdk" && npm ci)
    if [ ! -f "$entry" ] || [ -n "$(find "$sdk/src" "$sdk"/tsconfig*.json "$sdk/package.json" -newer "$entry" -print -quit)" ]; then
        (cd "$sdk" && npm run --silent build)
    fi
}

# install_generator DIR: installs the npm packages of the load generator in DIR unless the install is current (npm
# writes node_modules/.package-lock.json on every install, so that file is newer than package-lock.json then).
install_generator() {
    local installed=$1/node_modules/.package-lock.json
    if [ ! -f "$installed" ] || [ "$1/package-lock.json" -nt "$installed" ]; then
        (cd "$1" && npm ci)
    fi
}

# package_version DIR PACKAGE: the version of npm package PACKAGE installed in DIR/node_modules.
package_version() { node -p "require('./$1/node_modules/$2/package.json').version"; }

# redis_server_version: the version of the installed redis-server, e.g. 7.0.15.
redis_server_version() { redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2; }

# make_work: creates the run's scratch directory, $work, which the exit removes after stopping the server that is
# still running, if any.
make_work() {
    work=$(mktemp -d)
    server_pid=
    trap remove_work EXIT
}

# remove_work: stops the running server, if any, and removes $work.
remove_work() { [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }

# start_server CONFIG RUN: starts the server of CONFIG in a fresh directory under $work named after RUN, through the
# script's launch_server CONFIG DIR PORT (which starts it in the background); sets server_pid and server_port.
start_server() {
    local dir="$work/$2"
    mkdir -p "$dir"
    server_port=$(free_port)
    launch_server "$1" "$dir" "$server_port"
    server_pid=$!
    wait_port "$server_port"
}

# launch_nexo DIR PORT ARG...: starts $NEXO_BIN in the background on 127.0.0.1:PORT without its dashboard, its
# data in DIR and its output in DIR/server.log, with the ARGs added.
launch_nexo() {
    local dir=$1 port=$2
    shift 2
    NEXO_RESP_PORT=0 "$NEXO_BIN" --host 127.0.0.1 --port "$port" --dashboard off --data-dir "$dir" "$@" >"$dir/server.log" 2>&1 &
}

# launch_redis DIR PORT ARG...: starts redis-server in the background on 127.0.0.1:PORT, logging warnings only, its
# files in DIR and its output in DIR/server.log, with the ARGs added.
launch_redis() {
    local dir=$1 port=$2
    shift 2
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no --loglevel warning "$@" >"$dir/server.log" 2>&1 &
}

# stop_server: stops the running server and waits for it to exit.
stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=
}

# server_cpu: user + system CPU seconds the running server has used so far (every thread).
server_cpu() { awk -v tick="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / tick }' "/proc/$server_pid/stat"; }

# server_cpu_since BEFORE: the CPU seconds the running server has used since server_cpu printed BEFORE.
server_cpu_since() { awk -v a="$1" -v b="$(server_cpu)" 'BEGIN { printf "%.2f\n", b - a }'; }

# rotated ROUND ITEM...: the ITEMs, one a line, in the order of round ROUND: round 1 starts with the first item and
# each following round one item further on.
rotated() {
    local round=$1 index
    shift
    local items=("$@")
    for index in $(seq 0 $(($# - 1))); do echo "${items[$(((index + round - 1) % $#))]}"; done
}

# results_column COLUMN [FIELD=VALUE]...: column COLUMN of the lines of $results (CSV) whose field number FIELD is
# VALUE, for every FIELD=VALUE given.
results_column() {
    local column=$1 filter=1 vars=() pair count=0
    shift
    for pair in "$@"; do
        vars+=(-v "value$count=${pair#*=}")
        filter+=" && \$${pair%%=*} == value$count"
        count=$((count + 1))
    done
    awk -F, -v column="$column" "${vars[@]}" "$filter { print \$column }" "$results"
}

# median_of FORMAT: the median of the numbers on standard input, printf-formatted.
median_of() {
    sort -g | awk -v format="$1" '{ values[NR] = $1 }
        END { middle = NR % 2 ? values[(NR + 1) / 2] : (values[NR / 2] + values[NR / 2 + 1]) / 2
              printf format "\n", middle }'
}

# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }

# at_least R FLOOR: succeeds when R ≥ FLOOR.
at_least() { awk -v r="$1" -v floor="$2" 'BEGIN { exit !(r >= floor) }'; }
