# The flotilla controller image: `docker build -t flotilla:0.1.0 .` from the repository root.
# Stage 1 builds the release binary; stage 2 runs it on Debian slim (not distroless: the engine
# fetches Git sources with the `git` command, which needs git, ssh and CA certificates) as a
# non-root user (65532, the UID deploy/base/deployment.yaml runs as).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p flotilla \
    && cp target/release/flotilla /flotilla

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 flotilla \
    && useradd --uid 65532 --gid 65532 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin flotilla
COPY --from=build /flotilla /usr/local/bin/flotilla
USER 65532:65532
ENV HOME=/tmp
EXPOSE 8089
ENTRYPOINT ["/usr/local/bin/flotilla"]
CMD ["controller", "--listen=0.0.0.0:8089"]
