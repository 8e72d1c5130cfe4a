# The mycoin image: the five service binaries (mycoin-peer, mycoin-keys, mycoin-wallet,
# mycoin-miner, mycoin-explorer) and mycoin-healthcheck, run as an unprivileged user with /data as the data
# directory. docker-compose.yml runs two users' stacks from it.
#
# With internet access:   docker build -t mycoin:latest .
# Without (no registry):  scripts/docker-image.sh builds the same image FROM scratch out of
#                         binaries built on the host (docker/Dockerfile.offline).
#
# No secret goes into the image: the API token and the passphrase come from the environment
# when a container starts.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
      --bin mycoin-peer --bin mycoin-keys --bin mycoin-wallet --bin mycoin-miner \
      --bin mycoin-explorer --bin mycoin-healthcheck \
 && mkdir /out \
 && cd target/release \
 && for bin in mycoin-peer mycoin-keys mycoin-wallet mycoin-miner mycoin-explorer mycoin-healthcheck; do \
      strip --strip-debug -o "/out/$bin" "$bin"; \
    done

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 mycoin \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin mycoin \
 && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /out/ /usr/local/bin/
# Inside a container a service must listen on every interface to be reached at all; which of
# its ports are published on the host is docker-compose.yml's business.
ENV MYCOIN_DATA_DIR=/data MYCOIN_BIND=0.0.0.0
USER 10001:10001
WORKDIR /data
CMD ["mycoin-peer", "--help"]
