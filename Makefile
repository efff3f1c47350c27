# Nexo — the two commands a fresh machine needs are `make run` and `make test`.

CARGO ?= cargo
NEXO_ARGS ?=

.PHONY: build run test test-rust redis-tools chromium test-sdk lint lint-rust lint-sdk lint-dashboard fmt bench bench-store bench-sdk bench-pubsub bench-queue bench-stream bench-resp bench-header clean

SDK := sdk-ts
## npm writes this file on every install, so it is newer than package-lock.json once the install is current
SDK_INSTALLED := $(SDK)/node_modules/.package-lock.json

## build: release build of the server and the load generator
build:
	$(CARGO) build --release --bins

## run: build and start the server (native protocol on :7654; pass flags with NEXO_ARGS="--shards 4")
run: build
	./target/release/nexo $(NEXO_ARGS)

## test: formatting, lints, every Rust test and every SDK suite
test: lint test-rust test-sdk

## test-rust: every test of the Rust workspace (the RESP tests drive redis-cli and redis-benchmark)
test-rust: redis-tools
	$(CARGO) test --workspace --all-targets

## redis-tools: redis-cli and redis-benchmark from Debian's packages when either is missing
redis-tools:
	@command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools; }

## chromium: Debian's Chromium, which the dashboard's browser test drives with playwright-core, when missing
chromium:
	@command -v chromium >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## test-sdk: the TypeScript SDK's vitest suites (their global setup builds the release server; the dashboard
## suite drives Chromium)
test-sdk: $(SDK_INSTALLED) chromium
	cd $(SDK) && npx vitest run

## lint: rustfmt check, clippy with warnings as errors, the SDK's type check, and the formatting of the SDK and
## of the dashboard page (with the SDK's prettier settings)
lint: lint-rust lint-sdk lint-dashboard

lint-rust:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

lint-sdk: $(SDK_INSTALLED)
	cd $(SDK) && npm run --silent typecheck && npm run --silent format:check

lint-dashboard: $(SDK_INSTALLED)
	cd $(SDK) && npx prettier --check --config .prettierrc.json ../dashboard-static

$(SDK_INSTALLED): $(SDK)/package-lock.json
	cd $(SDK) && npm ci

## fmt: format the code (Rust and the SDK)
fmt: $(SDK_INSTALLED)
	$(CARGO) fmt --all
	cd $(SDK) && npm run --silent format && npx prettier --write --config .prettierrc.json ../dashboard-static

## bench: every benchmark (figures land in docs/benchmarks.md, under a header naming this machine)
bench: bench-header bench-store bench-sdk bench-pubsub bench-queue bench-stream bench-resp

bench-header:
	bash -c 'source benches/lib.sh && rewrite_doc_header'

## bench-resp: redis-benchmark against Nexo's RESP port and redis-server (SET GET INCR MSET PUBLISH, -P 1 and 16,
## 16 and 1024-byte values), same flags, same run
bench-resp: build
	bash benches/resp.sh

## bench-store: Nexo's store against redis-server, same machine, same connections and pipeline depth
bench-store: build
	bash benches/store.sh

## bench-sdk: the SDK's store SET/GET against ioredis with redis-server, same shapes, same run
bench-sdk: build $(SDK_INSTALLED)
	bash benches/sdk.sh

## bench-pubsub: pub/sub fan-out (1 publisher → 1,000 subscriptions on 100 connections) against redis-server and
## mosquitto, same shape, same run
bench-pubsub: build
	bash benches/pubsub.sh

## bench-queue: durable push → deliver → ack (1 producer, 4 consumers, fsync always) against BullMQ on redis-server
## with appendfsync always and everysec, same shape, same run (the script installs BullMQ in benches/queue)
bench-queue: build $(SDK_INSTALLED)
	bash benches/queue.sh

## bench-stream: durable publish → deliver → ack (1 producer, 1 group member, fsync always, 100 B and 1 KB records)
## against Redis Streams (appendfsync always and everysec) and NATS JetStream (file storage, sync_interval always and
## its default), same shape, same run (the script installs ioredis, nats.js and nats-server in benches/stream)
bench-stream: build $(SDK_INSTALLED)
	bash benches/stream.sh

clean:
	$(CARGO) clean
	rm -rf $(SDK)/dist $(SDK)/node_modules
