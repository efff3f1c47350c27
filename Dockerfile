# Multi-stage build: compile the release binary, then run it as a non-root user on a slim image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin nexo

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/nexo --create-home nexo \
    && mkdir -p /data && chown nexo:nexo /data
COPY --from=build /src/target/release/nexo /usr/local/bin/nexo
USER nexo
VOLUME ["/data"]
# 7654 native protocol, 6379 Redis-compatible port, 8080 dashboard.
EXPOSE 7654 6379 8080
ENV NEXO_DATA_DIR=/data \
    NEXO_DASHBOARD=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/nexo"]
