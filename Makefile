# svcdisco — `make demo` to try it, `make test` to run every test.
GO      ?= go
BINDIR  ?= bin
BIN     := $(BINDIR)/svcdisco
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/svcdisco/svcdisco/internal/build.Version=$(VERSION)

.PHONY: build test test-go lint bench fleet demo clean consul flake fuzz man completions deb

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/svcdisco

# Consul for the integration tests and benchmarks, built from the version
# pinned in tools/go.mod (a separate module, so the main go.mod only carries
# the API client). The first build takes several minutes; it is skipped while
# bin/consul already reports the pinned version.
CONSUL_VERSION := $(shell sed -n 's/^[[:space:]]*github.com\/hashicorp\/consul v\([0-9.]*\).*/\1/p' tools/go.mod)
consul:
	@if [ -x bin/consul ] && bin/consul version 2>/dev/null | grep -qx 'Consul v$(CONSUL_VERSION)'; then \
		echo "bin/consul is v$(CONSUL_VERSION)"; \
	else \
		echo "building consul v$(CONSUL_VERSION) into bin/consul (takes a few minutes)"; \
		cd tools && GONOSUMDB=github.com/hashicorp/consul-awsauth $(GO) build -o ../bin/consul github.com/hashicorp/consul; \
	fi

# Every test: vet, then the Go tests with the race detector. Integration tests
# start real ZooKeeper servers (Debian's zookeeper package) and real Consul
# agents (bin/consul, from `make consul`); with
# SVCDISCO_REQUIRE_INTEGRATION=1 a missing server fails instead of skipping.
test: lint consul test-go fuzz

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed: $$fmt"; exit 1; fi
	$(GO) vet ./...

test-go:
	$(GO) test -race -count=1 -timeout 15m ./...

# The integration packages -count=10 with -race while a busy loop loads a
# core; prints each failing test and the count (FLAKE_PKGS, FLAKE_COUNT,
# FLAKE_RUN narrow it). CI must show 0.
flake: consul
	GO=$(GO) ./scripts/flake.sh

# Every fuzz target for FUZZTIME each (seed corpora under testdata/fuzz/ run
# in every `go test` too). Run one longer with, e.g.,
#   go test -run '^$$' -fuzz '^FuzzParseURL$$' -fuzztime 10m ./registry/
FUZZTIME ?= 5s
FUZZ_TARGETS := ./registry:FuzzParseURL ./registry:FuzzDecodeData ./registry:FuzzAppendJSON ./registry/zk:FuzzParseInstanceName ./registry/zk:FuzzPositiveInt \
	./exhibitor:FuzzParseReply ./register/agent:FuzzParseFile ./registry/consul:FuzzDecodeMeta
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel 2 $$pkg || exit 1; \
	done

# Benchmarks against a real ZooKeeper and Consul, each beside its raw-client
# baseline.
bench: consul
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./bench/
	$(GO) run ./bench/fleet -nodes $(FLEET_NODES) -calls 50

# Fleet load generator (bench/fleet): simulated nodes converging directly and
# through node agents against a 3-node ensemble, figures side by side.
FLEET_NODES ?= 20
fleet:
	$(GO) run ./bench/fleet -nodes $(FLEET_NODES) -calls 50

# Man pages, one per command, generated from the command tree (section 1).
man:
	$(GO) run ./internal/gendocs -out $(BINDIR)/man/man1

# Shell completion scripts (they ask svcdisco itself for candidates).
completions: build
	mkdir -p $(BINDIR)/completions
	$(BIN) completion bash > $(BINDIR)/completions/svcdisco
	$(BIN) completion zsh > $(BINDIR)/completions/_svcdisco
	$(BIN) completion fish > $(BINDIR)/completions/svcdisco.fish

# The Debian package, into $(BINDIR): binary, systemd units, man pages,
# completion, example config (packaging/nfpm.yaml). Built with nfpm's Go
# library from tools/deb, a module of its own. A version that does not
# start with a digit (an untagged commit) becomes 0.0.0~VERSION.
DEB_VERSION ?= $(shell echo '$(VERSION)' | sed -E 's/^v//; s/^([^0-9])/0.0.0~\1/')
deb: build man completions
	cd tools/deb && $(GO) build -o $(abspath $(BINDIR))/svcdisco-deb .
	SVCDISCO_DEB_STAGE=$(BINDIR) SVCDISCO_DEB_VERSION='$(DEB_VERSION)' SVCDISCO_DEB_ARCH=$$($(GO) env GOARCH) \
		$(BINDIR)/svcdisco-deb -config packaging/nfpm.yaml -target $(BINDIR)

demo: build
	./scripts/demo.sh

clean:
	rm -rf bin
