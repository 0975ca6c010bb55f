# timpush_exporter, built the way the Prometheus projects build theirs.
#
#   make build   ./timpush_exporter, version stamped as .promu.yml stamps it
#   make test    everything CI runs (bash .ci/run)
#   make lint    gofmt, go vet and staticcheck (pinned, see .ci/tools)
#
# Override any stamp: make build VERSION=1.2.3 REVISION=$(git rev-parse HEAD)
# A value left empty (no git here) is filled at start-up from what the go
# command recorded (internal/buildinfo).

GO         ?= go
BINARY     ?= timpush_exporter
VERSION    ?= $(shell cat VERSION)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
BUILD_USER ?= $(shell whoami 2>/dev/null)@$(shell hostname 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)

VERSION_PKG := github.com/prometheus/common/version
# The same flags and -X stamps as .promu.yml's build section.
BUILD_FLAGS := -trimpath -tags netgo
# Each value is quoted for the go command, which splits -ldflags itself.
LDFLAGS := \
	-X '$(VERSION_PKG).Version=$(VERSION)' \
	-X '$(VERSION_PKG).Revision=$(REVISION)' \
	-X '$(VERSION_PKG).Branch=$(BRANCH)' \
	-X '$(VERSION_PKG).BuildUser=$(BUILD_USER)' \
	-X '$(VERSION_PKG).BuildDate=$(BUILD_DATE)'

.PHONY: build test lint

build:
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -ldflags "$(LDFLAGS)" -o $(BINARY) .

test:
	bash .ci/run

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	PATH="$$(bash .ci/tools staticcheck):$$PATH" staticcheck ./...
