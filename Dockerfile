# syntax=docker/dockerfile:1
# Both binaries, cgs-api and cgs-worker, in one small image that runs as a non-root user.
#   docker build -t cgs-ticketing .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin cgs-api --bin cgs-worker \
    && mkdir -p /out/media \
    && cp target/release/cgs-api target/release/cgs-worker /out/

# glibc, libgcc and CA certificates, no shell; user 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/cgs-api /out/cgs-worker /usr/local/bin/
# The media store's directory, owned by the app's user (a volume mounted here takes its owner).
COPY --from=build --chown=65532:65532 /out/media /home/nonroot/media
USER nonroot:nonroot
WORKDIR /home/nonroot
# Two malloc arenas: fewer places for freed memory (argon2's 19 MiB per hash) to linger.
ENV CGS_LISTEN=0.0.0.0:3000 \
    CGS_LOG_FORMAT=json \
    MALLOC_ARENA_MAX=2
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["cgs-api", "healthcheck"]
CMD ["cgs-api"]
