# Helpers shared by the benchmark scripts (sourced, not run).
#
# docs/benchmarks.md holds one section per benchmark script, each between its own pair of markers:
#   <!-- bench-NAME:begin -->
#   ...
#   <!-- bench-NAME:end -->
# A script replaces only its own section, so running one benchmark keeps the figures of the others.

BENCH_DOC=${BENCH_DOC:-docs/benchmarks.md}

# Heading and introduction of a benchmarks file that does not exist yet.
bench_doc_header() {
    echo "# Benchmarks"
    echo
    echo "Figures from \`make bench\` on the machine named below. Absolute numbers depend on the machine; the ratio"
    echo "against the peer measured in the same run is what to compare across runs."
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
