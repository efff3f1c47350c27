# Nexo — the two commands a fresh machine needs are `make run` and `make test`.

CARGO ?= cargo
NEXO_ARGS ?=

.PHONY: build run test lint fmt bench bench-store clean

## build: release build of the server and the load generator
build:
	$(CARGO) build --release --bins

## run: build and start the server (native protocol on :7654; pass flags with NEXO_ARGS="--shards 4")
run: build
	./target/release/nexo $(NEXO_ARGS)

## test: formatting, lints and every test of the workspace
test: lint
	$(CARGO) test --workspace --all-targets

## lint: rustfmt check and clippy with warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## fmt: format the code
fmt:
	$(CARGO) fmt --all

## bench: every benchmark (figures land in docs/benchmarks.md)
bench: bench-store

## bench-store: Nexo's store against redis-server, same machine, same connections and pipeline depth
bench-store: build
	bash benches/store.sh

clean:
	$(CARGO) clean
