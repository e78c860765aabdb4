#!/usr/bin/env bash
# Reproducible release build: static gatehouse binaries for linux/amd64 and
# linux/arm64 in dist/, with their SHA-256 sums in dist/SHA256SUMS.
#
#   scripts/release.sh                 # version from `git describe`
#   VERSION=v1.2.3 scripts/release.sh  # explicit version
#
# The same commit, version and Go toolchain give byte-identical binaries on
# any machine: no cgo, -trimpath (no local paths), -buildvcs=false (no VCS
# stamp beyond the commit passed here), and no time stamp anywhere.
# Environment: VERSION, COMMIT, DIST (output directory, default dist),
# PLATFORMS (default "linux/amd64 linux/arm64").
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
commit="${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
dist="${DIST:-dist}"
platforms="${PLATFORMS:-linux/amd64 linux/arm64}"
pkg=github.com/gatehouse-dev/gatehouse/internal/buildinfo

mkdir -p "$dist"
names=()
for p in $platforms; do
  os="${p%/*}" arch="${p#*/}"
  name="gatehouse_${version}_${os}_${arch}"
  echo "building $name ($(go env GOVERSION))" >&2
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" GOFLAGS= \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit" \
      -o "$dist/$name" ./cmd/gatehouse
  names+=("$name")
done
(cd "$dist" && sha256sum "${names[@]}" > SHA256SUMS && cat SHA256SUMS)
