#!/usr/bin/env bash
# The compose lab end to end, as .ci/run runs it: the static binaries, the FROM scratch images, the lab up,
# the host trusting the lab CA and holding the admin token, the whole story (import → provision →
# activation → poll → login → push) from a container on the lab network using the real host names (the
# phones through the network aliases, the appliances through the DNS responder), ftm killed with SIGKILL and
# restarted with nothing acknowledged lost, and everything torn down.
#
# It needs a Docker engine and Compose: a running one, or Debian's docker.io and docker-compose, which it
# installs and starts when it runs as root. Where no engine can run at all it says so loudly and runs the
# same story against the same binaries started as plain processes, one per service, with the same
# configuration (each service on its own loopback address, every name resolved by the DNS responder; as
# root on ports 443 and 53 like the containers, otherwise on 8443 and 8053 of the same addresses).
#
#   tests/docker/smoke.sh            # docker if possible, else processes
#   tests/docker/smoke.sh processes  # the processes only
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

started=$(date +%s)
step() { printf '\n== [%3ds] %s\n' "$(( $(date +%s) - started ))" "$*"; }
fail() { printf '\nSMOKE TEST FAILED: %s\n' "$*" >&2; exit 1; }
loud() {
    printf '\n%s\n' "################################################################################" >&2
    printf '# %s\n' "$@" >&2
    printf '%s\n\n' "################################################################################" >&2
}

work=$(mktemp -d /tmp/fortimock-smoke.XXXXXX)
cleanups=()
cleanup() {
    local i
    for (( i=${#cleanups[@]}-1; i>=0; i-- )); do eval "${cleanups[i]}" || true; done
    rm -rf "$work"
}
trap cleanup EXIT

triple=x86_64-unknown-linux-gnu
bin="${CARGO_TARGET_DIR:-$root/target}/$triple/release"

build_binaries() {
    step "cargo build --release, statically linked (the binaries the images hold)"
    local t0=$(date +%s)
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$triple" \
        -p fortimock -p forticare -p ftm -p push -p phone -p appliance 2>&1 | tail -2
    echo "   $(( $(date +%s) - t0 )) s"
}

# --- Docker ---------------------------------------------------------------------------------------------

# Whether a Docker engine answers; installs and starts one from Debian's packages when none does.
docker_engine() {
    if docker info >/dev/null 2>&1; then
        return 0
    fi
    if [[ $(id -u) != 0 ]]; then
        why="no Docker engine answers, and installing one needs root"
        return 1
    fi
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then
        step "install docker.io and docker-compose (Debian's packages)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose >"$work/apt.log" 2>&1; }; then
            tail -5 "$work/apt.log" >&2 || true
            why="installing docker.io and docker-compose failed"
            return 1
        fi
    fi
    step "start dockerd"
    dockerd >"$work/dockerd.log" 2>&1 &
    local dockerd_pid=$!
    # Stopped again at the end (after the lab is torn down: cleanups run last first).
    cleanups+=("kill $dockerd_pid 2>/dev/null; wait $dockerd_pid 2>/dev/null")
    for _ in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    tail -5 "$work/dockerd.log" >&2 || true
    why="dockerd did not start (see its last lines above)"
    return 1
}

compose_cmd() {
    if docker compose version >/dev/null 2>&1; then
        compose=(docker compose -p fortimock-smoke)
    else
        compose=(docker-compose -p fortimock-smoke)
    fi
}

wait_healthy() {
    local service=$1 container
    container=$("${compose[@]}" ps -q "$service")
    for _ in $(seq 1 120); do
        case "$(docker inspect -f '{{.State.Health.Status}}' "$container" 2>/dev/null)" in
            healthy) return 0 ;;
            unhealthy) docker logs "$container" 2>&1 | tail -20; fail "$service is unhealthy" ;;
        esac
        sleep 0.5
    done
    docker logs "$container" 2>&1 | tail -20
    fail "$service is not healthy after 60 s"
}

docker_story() {
    compose_cmd
    # Apart from any lab running on this host: its own network, bridge and published ports.
    export FORTIMOCK_LAB_NET=172.30.199 FORTIMOCK_LAB_BRIDGE=fmsmoke0
    export FORTIMOCK_HOST_PORT_FORTICARE=18440 FORTIMOCK_HOST_PORT_FTM=18443 FORTIMOCK_HOST_PORT_PUSH=18444 \
        FORTIMOCK_HOST_PORT_PHONE=18445 FORTIMOCK_HOST_PORT_APPLIANCE=18446 FORTIMOCK_HOST_PORT_FTM_PUSH=14433 \
        FORTIMOCK_HOST_PORT_DNS=18053
    cleanups+=("\"\${compose[@]}\" --profile demo down -v --remove-orphans >/dev/null 2>&1")
    "${compose[@]}" --profile demo down -v --remove-orphans >/dev/null 2>&1 || true

    step "the FROM scratch images (docker/build-images.sh)"
    docker/build-images.sh | sed -n '/== images/,$p'
    for binary in forticare-mock ftm-mock push-mock phone-mock appliance-mock; do
        [[ $(docker image inspect -f '{{.Config.User}}' "fortimock/$binary:latest") == 10001:10001 ]] \
            || fail "fortimock/$binary does not run as 10001"
    done

    step "the lab up: lab-ca once, then forticare, ftm, push, dns, phone, appliance, each healthy"
    "${compose[@]}" up -d --no-build 2>&1 | grep -v -i 'warning' || true
    for service in forticare ftm push dns phone appliance; do
        wait_healthy "$service"
    done
    "${compose[@]}" ps

    step "the host trusts the lab CA and holds the admin token (copied out of the lab volume)"
    local host_lab=$work/host-lab forticare
    forticare=$("${compose[@]}" ps -q forticare)
    mkdir -p "$host_lab/tls"
    docker cp "$forticare:/lab/tls/ca.pem" "$host_lab/tls/ca.pem"
    docker cp "$forticare:/lab/admin-token" "$host_lab/admin-token"
    export FORTIMOCK_DATA_DIR=$host_lab
    export FORTIMOCK_FORTICARE_URL=https://127.0.0.1:18440 FORTIMOCK_FTM_URL=https://127.0.0.1:18443 \
        FORTIMOCK_PUSH_URL=https://127.0.0.1:18444 FORTIMOCK_PHONE_URL=https://127.0.0.1:18445 \
        FORTIMOCK_APPLIANCE_URL=https://127.0.0.1:18446
    "$bin/fortimock" health
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$host_lab/tls/ca.pem" https://127.0.0.1:18443/__admin/escrow)
    [[ $code == 401 ]] || fail "ftm's control plane answered $code without the token"
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$host_lab/tls/ca.pem" \
        -H "Authorization: Bearer $(cat "$host_lab/admin-token")" https://127.0.0.1:18443/__admin/escrow)
    [[ $code == 200 ]] || fail "ftm's control plane answered $code with the token"
    echo "   guarded: 401 without the token, 200 with it"

    step "the story from a container on the lab network, by the real host names (the demo)"
    "${compose[@]}" --profile demo run --rm -T demo >"$work/demo.log" 2>&1 || { cat "$work/demo.log"; fail "the demo"; }
    cat "$work/demo.log"
    check_story "$work/demo.log"
    grep -q 'talks to https://fortitokenmobile.fortinet.com' "$work/demo.log" \
        || fail "the appliance did not use fortitokenmobile.fortinet.com"
    grep -q 'pushes go through https://push.fortinet.com' "$work/demo.log" \
        || fail "the appliance did not use push.fortinet.com"

    step "the appliance resolved the Fortinet names through the DNS responder"
    "${compose[@]}" logs --no-color dns >"$work/dns.log" 2>&1
    for name in fortitokenmobile.fortinet.com push.fortinet.com; do
        grep 'dns answered' "$work/dns.log" | grep "$name" | grep -q "$FORTIMOCK_LAB_NET.46" \
            || { tail -20 "$work/dns.log"; fail "the DNS responder never answered $name to the appliance"; }
    done
    grep 'dns answered' "$work/dns.log" | grep "$FORTIMOCK_LAB_NET.46" | sed 's/\x1b\[[0-9;]*m//g; s/^/   /' | head -4

    restart_check \
        "\"\${compose[@]}\" kill -s SIGKILL ftm >/dev/null 2>&1" \
        "\"\${compose[@]}\" start ftm >/dev/null 2>&1; wait_healthy ftm"

    step "tear down"
    "${compose[@]}" --profile demo down -v --remove-orphans 2>&1 | tail -1
}

# --- The story's checks, the same for both ----------------------------------------------------------------

check_story() {
    local log=$1
    for line in 'SoftToken.ActivationLicenseRequest → license' 'SoftToken.ProvisionRequest →' \
        'SoftToken.MobileProvisionRequest → the seed' 'is Assigned, reg-id' 'authentication successful' \
        'authentication successful (push approved)' 'authentication failed: denied by user'; do
        grep -qF "$line" "$log" || fail "the story never printed: $line"
    done
    serial=$(sed -n 's/.*virtual FortiGate \([A-Z0-9]*\),.*/\1/p' "$log" | head -1)
    [[ -n $serial ]] || fail "no FortiGate serial in the story"
}

# Kills ftm with SIGKILL mid-lab, starts it again, and compares ftm's whole state (escrow, tokens,
# activations) before and after: every acknowledged change is there. Then the appliance polls again.
restart_check() {
    local kill=$1 start=$2
    step "ftm killed with SIGKILL and started again: nothing acknowledged is lost"
    "$bin/fortimock" state export -o "$work/before.json"
    eval "$kill"
    eval "$start"
    "$bin/fortimock" health >/dev/null
    "$bin/fortimock" state export -o "$work/after.json"
    python3 - "$work/before.json" "$work/after.json" <<'PY'
import json, sys
def ftm(path):
    bundle = json.load(open(path))
    return next(s for s in bundle["services"] if s["service"] == "ftm")
before, after = ftm(sys.argv[1]), ftm(sys.argv[2])
activations = len(before["trees"].get("activations", []))
assert activations >= 1, "no activation recorded before the restart"
assert before["trees"] == after["trees"], "ftm's records changed across the restart"
print(f"   ftm's records identical across the kill: {activations} activation(s), "
      f"{len(before['trees'].get('tokens', []))} token(s), {len(before['trees'].get('escrow', []))} code(s) in escrow")
PY
    "$bin/fortimock" fgt poll "$serial" >"$work/poll.log" 2>&1 || { cat "$work/poll.log"; fail "poll after the restart"; }
    "$bin/fortimock" fgt show "$serial" >"$work/show.log"
    grep -q 'Assigned' "$work/show.log" || { cat "$work/show.log"; fail "the token is no longer Assigned"; }
    echo "   the FortiGate polls the restarted ftm: its token is still Assigned"
}

# --- Plain processes ------------------------------------------------------------------------------------

processes_story() {
    # As root, port 443 (HTTPS) and 53 (DNS) of 127.0.14.x, like the containers; otherwise the same
    # addresses on 8443 and 8053 (ports below 1024 need root), the names then carrying the port.
    local https=443 dns=53 at=""
    if [[ $(id -u) != 0 ]]; then
        https=8443 dns=8053 at=:8443
        echo "   not root: the services listen on port $https (DNS $dns) of their addresses instead of 443 (53)"
    fi
    local lab=$work/lab net=127.0.14 pids=()
    step "lab-ca: the lab CA, the server certificate and the admin token, once"
    FORTIMOCK_DATA_DIR=$lab FORTIMOCK_ADMIN_TOKEN_FILE=$lab/admin-token \
        FORTIMOCK_TLS_NAMES=forticare,ftm,push,phone,appliance,dns,$net.40,$net.43,$net.44,$net.45,$net.46 \
        "$bin/fortimock" certs
    # What every service of docker-compose.yml gets, here with its own loopback address instead of a
    # container's, and names resolved by the DNS responder instead of network aliases.
    export FORTIMOCK_TLS_DIR=$lab/tls FORTIMOCK_ADMIN_TOKEN_FILE=$lab/admin-token FORTIMOCK_RESOLVER=$net.53:$dns
    run() {
        local name=$1; shift
        mkdir -p "$work/$name"
        (cd "$work/$name" && exec env FORTIMOCK_DATA_DIR="$work/$name" "$@" >"$work/$name.log" 2>&1) &
        pids+=($!)
        cleanups+=("kill $! 2>/dev/null")
        eval "pid_$name=$!"
    }
    health() { "$@" health --wait 30 --quiet || fail "$1 is not healthy"; }
    step "forticare, ftm, push, dns, phone, appliance as processes"
    # The services ask from loopback addresses here, whose answers log at debug.
    RUST_LOG=info,fortimock::dns=debug FORTIMOCK_BIND=$net.53 FORTIMOCK_DNS_PORT=$dns FORTIMOCK_DNS_ADDRESS=$net.53 \
        FORTIMOCK_DNS_SERVICE_ADDRESSES=forticare=$net.40,ftm=$net.43,push=$net.44,appliance=$net.46 \
        run dns "$bin/fortimock" dns
    FORTIMOCK_BIND=$net.53 FORTIMOCK_DNS_PORT=$dns health "$bin/fortimock" dns
    FORTIMOCK_BIND=$net.40 FORTIMOCK_FORTICARE_PORT=$https FORTIMOCK_DEFAULT_LAB=true run forticare "$bin/forticare-mock"
    FORTIMOCK_BIND=$net.40 FORTIMOCK_FORTICARE_PORT=$https FORTIMOCK_DATA_DIR=$work/forticare health "$bin/forticare-mock"
    start_ftm() {
        FORTIMOCK_BIND=$net.43 FORTIMOCK_FTM_PORT=$https FORTIMOCK_FORTICARE_URL=https://support.fortinet.com$at \
            run ftm "$bin/ftm-mock"
        FORTIMOCK_BIND=$net.43 FORTIMOCK_FTM_PORT=$https FORTIMOCK_DATA_DIR=$work/ftm health "$bin/ftm-mock"
    }
    start_ftm
    FORTIMOCK_BIND=$net.44 FORTIMOCK_PUSH_PORT=$https run push "$bin/push-mock"
    FORTIMOCK_BIND=$net.44 FORTIMOCK_PUSH_PORT=$https FORTIMOCK_DATA_DIR=$work/push health "$bin/push-mock"
    FORTIMOCK_BIND=$net.45 FORTIMOCK_PHONE_PORT=8445 FORTIMOCK_FTM_URL=https://globalftm.fortinet.net$at \
        FORTIMOCK_PUSH_URL=https://push.fortinet.com$at run phone "$bin/phone-mock"
    FORTIMOCK_BIND=$net.45 FORTIMOCK_PHONE_PORT=8445 FORTIMOCK_DATA_DIR=$work/phone health "$bin/phone-mock"
    FORTIMOCK_BIND=$net.46 FORTIMOCK_APPLIANCE_PORT=8446 FORTIMOCK_FTM_URL=https://fortitokenmobile.fortinet.com$at \
        FORTIMOCK_PUSH_URL=https://push.fortinet.com$at FORTIMOCK_FORTIGUARD_URL=https://update.fortiguard.net$at \
        run appliance "$bin/appliance-mock"
    FORTIMOCK_BIND=$net.46 FORTIMOCK_APPLIANCE_PORT=8446 FORTIMOCK_DATA_DIR=$work/appliance health "$bin/appliance-mock"

    step "the story, by the real host names (resolved by the DNS responder)"
    # The CLI too resolves through the responder (FORTIMOCK_RESOLVER, its --resolver): it calls the cloud
    # services by their real names.
    export FORTIMOCK_DATA_DIR=$lab
    export FORTIMOCK_FORTICARE_URL=https://support.fortinet.com$at FORTIMOCK_FTM_URL=https://fortitokenmobile.fortinet.com$at \
        FORTIMOCK_PUSH_URL=https://push.fortinet.com$at \
        FORTIMOCK_PHONE_URL=https://$net.45:8445 FORTIMOCK_APPLIANCE_URL=https://$net.46:8446
    "$bin/fortimock" health >/dev/null || fail "the CLI does not reach the services by their real names"
    "$bin/fortimock" demo >"$work/demo.log" 2>&1 || { cat "$work/demo.log"; fail "the demo"; }
    cat "$work/demo.log"
    check_story "$work/demo.log"
    for name in fortitokenmobile.fortinet.com push.fortinet.com globalftm.fortinet.net support.fortinet.com; do
        grep 'dns answered' "$work/dns.log" | grep -q "$name" \
            || { tail -20 "$work/dns.log"; fail "the DNS responder never answered $name"; }
    done
    echo "   the DNS responder answered fortitokenmobile, globalftm, push and support.fortinet.com"

    restart_check 'kill -KILL "$pid_ftm"; wait "$pid_ftm" 2>/dev/null || true' 'start_ftm'
}

# --- Which ----------------------------------------------------------------------------------------------

mode=${1:-auto}
build_binaries
for binary in fortimock forticare-mock ftm-mock push-mock phone-mock appliance-mock; do
    if readelf -lW "$bin/$binary" | grep -q INTERP || readelf -dW "$bin/$binary" | grep -q '(NEEDED)'; then
        fail "$binary is dynamically linked"
    fi
done
echo "   all six binaries are static: no program interpreter, no shared library needed"

why=""
if [[ $mode != processes ]] && docker_engine; then
    docker_story
    step "ok: the compose lab passed ($(( $(date +%s) - started )) s)"
else
    [[ $mode == processes ]] && why="asked for the processes"
    loud "NO DOCKER ENGINE: $why." \
        "The compose lab itself is NOT tested on this machine." \
        "Running the same story against the same binaries as plain processes instead."
    processes_story
    step "ok: the lab as plain processes passed ($(( $(date +%s) - started )) s); the compose lab was NOT tested"
fi
