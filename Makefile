# svcdisco — `make demo` to try it, `make test` to run every test.
GO      ?= go
BIN     := bin/svcdisco
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/svcdisco/svcdisco/internal/build.Version=$(VERSION)

.PHONY: build test test-go lint bench demo clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/svcdisco

# Every test: vet, then the Go tests with the race detector. Integration tests
# start real ZooKeeper servers (Debian's zookeeper package); with
# SVCDISCO_REQUIRE_INTEGRATION=1 a missing server fails instead of skipping.
test: lint test-go

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed: $$fmt"; exit 1; fi
	$(GO) vet ./...

test-go:
	$(GO) test -race -count=1 -timeout 15m ./...

# Benchmarks against a real ZooKeeper, each beside its raw-client baseline.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./bench/

demo: build
	./scripts/demo.sh

clean:
	rm -rf bin
