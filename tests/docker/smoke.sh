#!/usr/bin/env bash
# The Docker image and docker-compose.yml, end to end: build, start, wait for the health check, reach every
# service from the host over HTTPS with the lab CA and from a second container by name (the narrated demo),
# restart with the volume and find the state kept, then tear everything down.
#
# Needs a Docker engine that can pull rust:1-bookworm and debian:bookworm-slim (or local images under those
# names), and `docker compose` or `docker-compose`. Not part of `cargo test`: CI machines have no engine.
set -euo pipefail
cd "$(dirname "$0")/../.."

if docker compose version >/dev/null 2>&1; then
    compose=(docker compose -p fortimock-smoke)
else
    compose=(docker-compose -p fortimock-smoke)
fi
cleanup() { "${compose[@]}" --profile demo down -v >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

step "build the image"
docker build --network host -t fortimock:latest . >/tmp/fortimock-smoke-build.log 2>&1 \
    || { tail -30 /tmp/fortimock-smoke-build.log; fail "docker build"; }

wait_healthy() {
    local container
    container=$("${compose[@]}" ps -q fortimock)
    for _ in $(seq 1 60); do
        case "$(docker inspect -f '{{.State.Health.Status}}' "$container")" in
            healthy) return 0 ;;
            unhealthy) docker logs "$container" | tail -20; fail "the container is unhealthy" ;;
        esac
        sleep 0.5
    done
    fail "not healthy after 30 s"
}

step "start it and wait for the health check"
"${compose[@]}" up -d fortimock
wait_healthy

step "from the host: HTTPS on the published ports, trusting the lab CA from the volume"
ca=$(mktemp)
"${compose[@]}" exec -T fortimock cat /data/tls/ca.pem >"$ca"
for port in 8440 8443 8444 8445 8446; do
    curl -fsS --cacert "$ca" "https://localhost:$port/__admin/ready" | grep -q '"status":"ready"' \
        || fail "port $port is not ready"
done
import='{"d":{"__type":"SoftToken.ActivationLicenseRequest","__version":"4","serial_number":"FGVM01TM00000001","__device_version":"7.4","__device_build":"2829","__clustered_sns":[],"license_activation_code":"1111-2222-3333-4444-5555"}}'
curl -fsS --cacert "$ca" https://localhost:8443/SoftToken/Provisioning.asmx/Process -d "$import" \
    | grep -q '"license":"EFTM000000000005"' || fail "the import through ftm"

step "from a second container, by name: the demo"
"${compose[@]}" --profile demo run --rm demo | tee /tmp/fortimock-smoke-demo.log | tail -3
grep -q "authentication successful (push approved)" /tmp/fortimock-smoke-demo.log || fail "the demo's push login"

step "restart: the volume keeps the ledger and the lab CA"
"${compose[@]}" restart fortimock
wait_healthy
"${compose[@]}" exec -T fortimock cat /data/tls/ca.pem | cmp -s - "$ca" || fail "the lab CA changed"
other=${import//FGVM01TM00000001/FGVM01TM00000002}
curl -fsS --cacert "$ca" https://localhost:8443/SoftToken/Provisioning.asmx/Process -d "$other" \
    | grep -q '"error_code":18' || fail "the registration was lost in the restart"

step "ok"
