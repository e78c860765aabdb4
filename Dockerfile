# syntax=docker/dockerfile:1
#
# Gatehouse container image: a static binary on an empty (scratch) base,
# running as UID/GID 65532 (the "nonroot" user of distroless images), with
# CA certificates and a /data volume for the embedded SQLite store.
#
#   docker build -t gatehouse:dev \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) .
#   docker run -p 8080:8080 -v gatehouse-data:/data gatehouse:dev
#
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 .
# Machines without a registry build the same image from a locally built
# binary with Containerfile.offline (see docs/deployment.md).

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/gatehouse-dev/gatehouse/internal/buildinfo.Version=${VERSION} -X github.com/gatehouse-dev/gatehouse/internal/buildinfo.Commit=${COMMIT}" \
      -o /out/gatehouse ./cmd/gatehouse \
 && mkdir -p /out/data /out/tmp \
 && chmod 1777 /out/tmp

FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="gatehouse" \
      org.opencontainers.image.description="Machine-identity authentication server (Infisical machine-identity API and Vault Kubernetes auth API)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/gatehouse-dev/gatehouse" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/tmp /tmp
COPY --from=build /out/gatehouse /gatehouse
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/gatehouse"]
# Plain HTTP on every interface (the server warns about it): terminate TLS
# in front, or add --tls-cert/--tls-key. The root token created at the first
# start is written to /data/root-token, never to the log.
CMD ["server", "--listen=0.0.0.0:8080", "--storage=sqlite:///data/gatehouse.db", "--root-token-file=/data/root-token"]
