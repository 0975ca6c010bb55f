# syntax=docker/dockerfile:1
#
# timpush_exporter: a static binary on a distroless, non-root base.
#
#   docker build -t timpush_exporter \
#     --build-arg VERSION=$(cat VERSION) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) .
#   docker run -p 9846:9846 timpush_exporter --demo
#
# State (--storage.path) lives in the /data volume; 9846 serves /metrics,
# 9847 the webhooks (when the configuration enables them on 0.0.0.0:9847).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS builder
ARG TARGETOS
ARG TARGETARCH
# Empty build arguments keep the Makefile's defaults (VERSION file, git,
# the builder's user and the time); a revision still unknown then is filled
# at start-up from what the go command recorded.
ARG VERSION
ARG REVISION
ARG BRANCH
ARG BUILD_USER
ARG BUILD_DATE

WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# make build: the same flags and version stamps as .promu.yml.
RUN GOOS=${TARGETOS} GOARCH=${TARGETARCH} make build BINARY=/out/timpush_exporter \
      ${VERSION:+VERSION="$VERSION"} ${REVISION:+REVISION="$REVISION"} ${BRANCH:+BRANCH="$BRANCH"} \
      ${BUILD_USER:+BUILD_USER="$BUILD_USER"} ${BUILD_DATE:+BUILD_DATE="$BUILD_DATE"} \
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
