# fortimock in one image: `docker build -t fortimock .`, then `docker run -p 8440-8446:8440-8446 -p 4433:4433 fortimock`
# (or `docker compose up`, see docker-compose.yml). The image runs `fortimock up` on its built-in default
# lab, HTTPS with a lab CA generated into the /data volume on first start.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p fortimock \
    && install -m 0755 target/release/fortimock /usr/local/bin/fortimock

FROM ${RUNTIME_IMAGE}
COPY --from=build /usr/local/bin/fortimock /usr/local/bin/fortimock
# Listen on every interface of the container; the lab certificate also names `fortimock`, the service's
# name in docker-compose.yml, so other containers can reach it by that name over HTTPS.
ENV FORTIMOCK_BIND=0.0.0.0 \
    FORTIMOCK_DATA_DIR=/data \
    FORTIMOCK_TLS_NAMES=fortimock
VOLUME /data
# forticare, ftm, push relay, virtual phones, virtual appliances, and the virtual appliance's ftm-push listener.
EXPOSE 8440 8443 8444 8445 8446 4433
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["fortimock", "health", "--quiet"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["fortimock"]
CMD ["up"]
