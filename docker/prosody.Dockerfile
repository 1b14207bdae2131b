# Prosody from Debian bookworm for docker-compose.yml. The config is mounted from
# docker/prosody.cfg.lua; accounts and data live in the prosody-data volume.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends prosody openssl \
    && rm -rf /var/lib/apt/lists/*
# A self-signed certificate, so desktop clients can use STARTTLS to localhost
# (they will ask you to accept it once).
RUN openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost \
        -keyout /etc/prosody/certs/localhost.key -out /etc/prosody/certs/localhost.crt \
    && chown prosody:prosody /etc/prosody/certs/localhost.key /etc/prosody/certs/localhost.crt \
    && chmod 0600 /etc/prosody/certs/localhost.key
USER prosody
# c2s for clients, the XEP-0114 component port for switchboard.
EXPOSE 5222 5347
CMD ["prosody", "-F", "--config", "/etc/prosody/prosody.cfg.lua"]
