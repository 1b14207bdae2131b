# Switchboard container image (used by docker-compose.yml; see the comments there).
#   docker build -t switchboard .
#   docker run -v ./switchboard.yaml:/etc/switchboard/switchboard.yaml:ro switchboard

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin switchboard

FROM debian:bookworm-slim
# ca-certificates: for TLS to IRC networks, SMS providers and SMTP relays.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --user-group --home-dir /var/lib/switchboard --create-home \
        --shell /usr/sbin/nologin switchboard
COPY --from=builder /src/target/release/switchboard /usr/local/bin/switchboard
USER switchboard
# The working directory holds the SQLite database (`storage: sqlite://…` is relative to it).
WORKDIR /var/lib/switchboard
VOLUME ["/var/lib/switchboard"]
# http.listen (SMS webhooks, /healthz, /metrics) and email.listen (inbound SMTP).
EXPOSE 8080 2525
ENTRYPOINT ["switchboard"]
CMD ["--config", "/etc/switchboard/switchboard.yaml"]
