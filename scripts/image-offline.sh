#!/usr/bin/env bash
# Builds the container image of ./Dockerfile without pulling anything:
# compiles the static binary here (as the Dockerfile's builder stage does),
# then builds Containerfile.offline (FROM scratch) with podman.
#
#   scripts/image-offline.sh [IMAGE]     # default gatehouse:dev
#
# Environment: VERSION, COMMIT (stamped into the binary and the labels),
# PODMAN (default "podman --storage-driver vfs", which works unprivileged
# and without overlay support), GOARCH (default: this machine's).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

image="${1:-gatehouse:dev}"
version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
commit="${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
podman=(${PODMAN:-podman --storage-driver vfs})
pkg=github.com/gatehouse-dev/gatehouse/internal/buildinfo

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 GOOS=linux GOFLAGS= go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit" \
  -o "$ctx/gatehouse" ./cmd/gatehouse
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
mkdir -p "$ctx/data" "$ctx/tmp"
chmod 1777 "$ctx/tmp"
"${podman[@]}" build --quiet --layers=false -f Containerfile.offline \
  --build-arg VERSION="$version" --build-arg COMMIT="$commit" -t "$image" "$ctx"
