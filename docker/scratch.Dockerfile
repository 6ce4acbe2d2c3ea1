# fortimock's images with no registry: each FROM scratch, holding one static binary (built by
# docker/build-images.sh with cargo on this machine), an empty /data owned by the user it runs as, and
# nothing else. There is no system CA bundle: fortimock trusts only the lab CA, which a container
# generates into /data/tls (`fortimock up`) or reads from the compose lab's shared `lab` volume (/lab/tls).
# Names resolve in pure Rust from the /etc/hosts and /etc/resolv.conf Docker mounts; there is no libc to
# load name-service modules from.
#
#   docker build -f docker/scratch.Dockerfile --target ftm-mock -t fortimock/ftm-mock <context>
#
# where <context> holds bin/<binary> and an empty data/ (docker/build-images.sh makes it). The Dockerfile at
# the top of the repository builds the same images from source, for hosts that can pull rust:1-bookworm.

FROM scratch AS base
COPY --chown=10001:10001 data /data
# glibc's allocator (linked statically) with two arenas instead of eight per CPU, and large blocks mapped
# on their own: memory freed after a large request goes back to the system (`fortimock bench` measures it).
ENV FORTIMOCK_BIND=0.0.0.0 \
    FORTIMOCK_DATA_DIR=/data \
    GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072
USER 10001:10001
VOLUME /data
STOPSIGNAL SIGTERM

FROM base AS forticare-mock
COPY bin/forticare-mock /usr/local/bin/forticare-mock
EXPOSE 8440
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/forticare-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/forticare-mock"]

FROM base AS ftm-mock
COPY bin/ftm-mock /usr/local/bin/ftm-mock
EXPOSE 8443
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/ftm-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/ftm-mock"]

FROM base AS push-mock
COPY bin/push-mock /usr/local/bin/push-mock
EXPOSE 8444
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/push-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/push-mock"]

FROM base AS phone-mock
COPY bin/phone-mock /usr/local/bin/phone-mock
EXPOSE 8445
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/phone-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/phone-mock"]

FROM base AS appliance-mock
COPY bin/appliance-mock /usr/local/bin/appliance-mock
EXPOSE 8446 4433
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/appliance-mock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/appliance-mock"]

# The whole suite in one container (`fortimock up`, the quick start), and the CLI the compose lab runs
# for its one-shot lab CA, its DNS responder and the demo.
FROM base AS fortimock
COPY bin/fortimock /usr/local/bin/fortimock
ENV FORTIMOCK_TLS_NAMES=fortimock
EXPOSE 8440 8443 8444 8445 8446 4433
HEALTHCHECK --interval=2s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/fortimock", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/fortimock"]
CMD ["up"]
