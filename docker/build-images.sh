#!/usr/bin/env bash
# Builds fortimock's six images, each FROM scratch with one static binary, and tags them as
# docker-compose.yml names them: fortimock (the suite in one container, and the CLI), fortimock/forticare-mock,
# fortimock/ftm-mock, fortimock/push-mock, fortimock/phone-mock, fortimock/appliance-mock.
#
#   docker/build-images.sh               # no registry needed: cargo builds the binaries here, statically
#                                        # linked against glibc, then docker copies them into scratch images
#   docker/build-images.sh --registry    # the multi-stage Dockerfile builds them inside rust:1-bookworm
#
# Each binary is checked to have no dynamic dependencies before it goes into an image. Prints each image's
# size. CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

binaries=(fortimock forticare-mock ftm-mock push-mock phone-mock appliance-mock)
image_of() {
    case "$1" in
        fortimock) echo "fortimock:latest" ;;
        *) echo "fortimock/$1:latest" ;;
    esac
}

if [[ "${1:-}" == "--registry" ]]; then
    for binary in "${binaries[@]}"; do
        docker build --target "$binary" -t "$(image_of "$binary")" .
    done
else
    target_dir=${CARGO_TARGET_DIR:-target}
    triple=x86_64-unknown-linux-gnu
    echo "== cargo build --release (static, $triple)"
    started=$(date +%s)
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$triple" \
        -p fortimock -p forticare -p ftm -p push -p phone -p appliance
    echo "   built in $(( $(date +%s) - started )) s"
    context=$(mktemp -d)
    trap 'rm -rf "$context"' EXIT
    mkdir -p "$context/bin" "$context/data"
    for binary in "${binaries[@]}"; do
        path="$target_dir/$triple/release/$binary"
        # A static executable has no program interpreter and needs no shared library.
        if readelf -lW "$path" | grep -q 'INTERP' || readelf -dW "$path" | grep -q '(NEEDED)'; then
            echo "$path is dynamically linked:" >&2
            readelf -dW "$path" | grep NEEDED >&2 || true
            exit 1
        fi
        cp "$path" "$context/bin/"
        # Symbols only make the image bigger: panics and errors print messages, not backtraces.
        strip --strip-all "$context/bin/$binary"
    done
    for binary in "${binaries[@]}"; do
        docker build -q -f docker/scratch.Dockerfile --target "$binary" -t "$(image_of "$binary")" "$context" >/dev/null
    done
fi

echo "== images"
for binary in "${binaries[@]}"; do
    image=$(image_of "$binary")
    bytes=$(docker image inspect -f '{{.Size}}' "$image")
    printf '   %-32s %6.1f MB\n' "$image" "$(awk -v b="$bytes" 'BEGIN { print b / 1000000 }')"
done
