# driftd. `make run` builds and runs driftd on this host; `make test` runs
# every check CI runs. Targets install the Debian packages they need.

GO          ?= go
VERSION     := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
BIN         := bin/driftd
# Dev state for `make run`. It sits under /var/lib/driftd, which the default
# config ignores as driftd's own state, so the dev baseline is not drift.
DEV_STATE   ?= /var/lib/driftd/dev
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# What the tests need from Debian: setfattr, setfacl and setcap for the
# mutation matrix, promtool (prometheus) to check the daemon's metrics,
# rsyslog to log sshd's logins as a host does, python3 as a writer to name,
# podman and runc to run a real container.
TEST_DEBS   := attr acl libcap2-bin systemd prometheus prometheus-alertmanager rpm openssh-server openssh-client \
	rsyslog python3-minimal podman runc
# What `make bpf` needs to regenerate the committed eBPF object.
BPF_DEBS    := clang llvm libbpf-dev
BENCH_DEBS  := aide time
# Packages: nfpm, pinned, run with go run. The package version comes from
# git describe: v1.2.3 -> 1.2.3, v1.2.3-4-gabc -> 1.2.3+4.gabc, and
# without a tag 0.0.0+gitN.gHASH (N commits).
NFPM        := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
DIST        ?= dist
ARCH        ?= amd64
PKG_VERSION := $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null); \
	if [ -n "$$v" ]; then echo "$$v" | sed -e 's/^v//' -e 's/-\([0-9]*\)-g/+\1.g/'; \
	else echo "0.0.0+git$$(git rev-list --count HEAD 2>/dev/null || echo 0).g$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"; fi)

.PHONY: all build run status test lint bench fuzz package docs bpf deps-test deps-bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/driftd

# Runs the daemon on this host with the embedded default config, baking a
# dev baseline (with a dev key made on the spot) first when there is none,
# or none this driftd can read (a manifest of an older format). A live host
# changes while it is baked, so the dev bake accepts what it could not read
# in full (an image bake should not need to).
# Ctrl-C stops it; `make status` in another shell shows what it sees.
LISTEN ?= 127.0.0.1:9827
run: build
	@mkdir -p $(DEV_STATE)
	@test -f $(DEV_STATE)/dev.key || ./$(BIN) keygen --out $(DEV_STATE)/dev
	@./$(BIN) show $(DEV_STATE)/baseline.manifest >/dev/null 2>&1 || ./$(BIN) bake --allow-unreadable --key $(DEV_STATE)/dev.key \
		--out $(DEV_STATE)/baseline.manifest --label image=dev --label version=$(VERSION)
	@echo "metrics: http://$(LISTEN)/metrics  health: http://$(LISTEN)/healthz  status: make status"
	./$(BIN) run --baseline $(DEV_STATE)/baseline.manifest --pubkey $(DEV_STATE)/dev.pub \
		--state-dir $(DEV_STATE) --web.listen-address $(LISTEN)

status: build
	./$(BIN) status --state-dir $(DEV_STATE) || true

test: deps-test lint
	$(GO) test -race -count=1 ./...

# gofmt, vet, staticcheck (its default checks: bugs, performance, simplifications
# and style), and go.mod kept tidy.
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@cp go.mod /tmp/driftd-go.mod.bak && cp go.sum /tmp/driftd-go.sum.bak && $(GO) mod tidy && \
		if ! git diff --quiet -- go.mod go.sum; then git diff -- go.mod go.sum; \
		cp /tmp/driftd-go.mod.bak go.mod; cp /tmp/driftd-go.sum.bak go.sum; echo "go.mod is not tidy"; exit 1; fi

# driftd against AIDE on the same tree in the same run (DRIFTD_BENCH_ROOT,
# default /usr), then the Go benchmarks.
bench: deps-bench
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 120m ./cmd/driftd/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./baseline/...
	$(GO) test -run '^$$' -bench . -benchtime 50x ./agent/imagebaseline/

# The eBPF object of the attribution backend, committed so a build needs
# Go alone: regenerate it after editing agent/attrib/bpf/.
bpf:
	@./.ci/apt-install $(BPF_DEBS)
	cd agent/attrib && $(GO) generate ./...

# Man pages and bash, zsh and fish completions, generated from the
# commands' own definitions (driftd's hidden docs command), into bin/pkg/docs.
DOCS := bin/pkg/docs
docs:
	@rm -rf $(DOCS)
	$(GO) run -ldflags '-X main.version=$(PKG_VERSION)' ./cmd/driftd docs --out $(DOCS)

# driftd_VERSION_ARCH.deb and the .rpm in $(DIST), with the man pages and
# the completions.
package: docs
	@mkdir -p $(DIST)
	CGO_ENABLED=0 GOARCH=$(ARCH) $(GO) build -trimpath -ldflags '-s -w -X main.version=$(PKG_VERSION)' -o bin/pkg/driftd ./cmd/driftd
	VERSION=$(PKG_VERSION) ARCH=$(ARCH) $(GO) run $(NFPM) pkg -f packaging/nfpm.yaml -p deb -t $(DIST)/
	VERSION=$(PKG_VERSION) ARCH=$(ARCH) $(GO) run $(NFPM) pkg -f packaging/nfpm.yaml -p rpm -t $(DIST)/

# Fuzz each target for a while (make test runs only their seed corpus).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./baseline/manifest/
	$(GO) test -run '^$$' -fuzz FuzzParseConfig -fuzztime $(FUZZTIME) ./agent/config/

deps-test:
	@./.ci/apt-install $(TEST_DEBS)

deps-bench:
	@./.ci/apt-install $(BENCH_DEBS)

clean:
	rm -rf bin dist
