# fortimock's images, built from source, for hosts that can pull rust:1-bookworm: the same FROM scratch
# images docker/build-images.sh makes with no registry (see docker/scratch.Dockerfile), each holding one
# static binary, an empty /data owned by the user it runs as, and nothing else.
#
#   docker build -t fortimock .                                      # the quick start: `fortimock up`
#   docker run -p 8440-8446:8440-8446 -p 4433:4433 fortimock
#   docker build --target ftm-mock -t fortimock/ftm-mock .           # one service (forticare-mock, ftm-mock,
#                                                                    # push-mock, phone-mock, appliance-mock)
#   docker/build-images.sh --registry                                # all six, tagged as docker-compose.yml wants
#
# The binaries are linked statically against glibc (`-C target-feature=+crt-static`) and resolve names in
# pure Rust (hickory), so the images need no libc and no name-service modules.

ARG RUST_IMAGE=rust:1-bookworm

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked \
        --target x86_64-unknown-linux-gnu \
        -p fortimock -p forticare -p ftm -p push -p phone -p appliance \
    && mkdir -p /out/bin /out/data \
    && for binary in fortimock forticare-mock ftm-mock push-mock phone-mock appliance-mock; do \
        install -m 0755 "target/x86_64-unknown-linux-gnu/release/$binary" /out/bin/; \
        strip --strip-all "/out/bin/$binary"; \
    done

FROM scratch AS base
COPY --from=build --chown=10001:10001 /out/data /data
# glibc's allocator (linked statically) with two arenas instead of eight per CPU, and large blocks mapped
# on their own: memory freed after a large request goes back to the system (`fortimock bench` measures it).
ENV FORTIMOCK_BIND=0.0.0.0 \
    FORTIMOCK_DATA_DIR=/data \
    GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072
USER 10001:10001
VOLUME /data
STOPSIGNAL SIGTERM

FROM base AS forticare-mock
COPY --from=build /out/bin/forticare-mock /usr/local/bin/forticare-mock
EXPOSE 8440
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/forticare-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/forticare-mock"]

FROM base AS ftm-mock
COPY --from=build /out/bin/ftm-mock /usr/local/bin/ftm-mock
EXPOSE 8443
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/ftm-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/ftm-mock"]

FROM base AS push-mock
COPY --from=build /out/bin/push-mock /usr/local/bin/push-mock
EXPOSE 8444
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/push-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/push-mock"]

FROM base AS phone-mock
COPY --from=build /out/bin/phone-mock /usr/local/bin/phone-mock
EXPOSE 8445
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/phone-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/phone-mock"]

FROM base AS appliance-mock
COPY --from=build /out/bin/appliance-mock /usr/local/bin/appliance-mock
EXPOSE 8446 4433
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/appliance-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/appliance-mock"]

# Last, so a plain `docker build .` makes it: the whole suite in one container, and the CLI.
FROM base AS fortimock
COPY --from=build /out/bin/fortimock /usr/local/bin/fortimock
# The lab certificate also names `fortimock`, so other containers reach it by that name over HTTPS.
ENV FORTIMOCK_TLS_NAMES=fortimock
# forticare, ftm, push relay, virtual phones, virtual appliances, and the virtual appliance's ftm-push listener.
EXPOSE 8440 8443 8444 8445 8446 4433
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/fortimock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/fortimock"]
CMD ["up"]
