# syntax=docker/dockerfile:1
#
# timpush_exporter: a static binary on a distroless, non-root base.
#
#   docker build -t timpush_exporter \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) \
#     --build-arg BUILD_DATE=$(date -u +%Y%m%d-%H:%M:%S) .
#   docker run -p 9846:9846 timpush_exporter --demo
#
# State (--storage.path) lives in the /data volume; 9846 serves /metrics,
# 9847 the webhooks (when the configuration enables them on 0.0.0.0:9847).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_USER=docker
ARG BUILD_DATE=unknown

WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build \
      -trimpath -buildvcs=false \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=${BRANCH} \
        -X github.com/prometheus/common/version.BuildUser=${BUILD_USER} \
        -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
      -o /out/timpush_exporter . \
 && mkdir -p /out/data

# static-debian12:nonroot: CA certificates and time zone data (the trace API
# is HTTPS; PushTime is read in the app's timezone), no shell, uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/timpush_exporter /bin/timpush_exporter
# An empty /data owned by the runtime user: a fresh named volume copies it,
# ownership included.
COPY --from=builder --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 9846 9847
ENTRYPOINT ["/bin/timpush_exporter", "--storage.path=/data"]
