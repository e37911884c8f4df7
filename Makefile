# Every target works on a fresh machine with Go installed. Targets that use
# Redis start throwaway servers (scripts/with-redis.sh) when redis-server is
# installed, and fall back to miniredis alone when it is not.
GO ?= go
BENCHTIME ?= 1s
WITH_REDIS := scripts/with-redis.sh
# Modules of their own beside the library's (their dependencies never reach
# users): the comparison benchmarks, the OpenTelemetry instrumentation and
# the browser tests.
SUBMODULES := $(patsubst %/go.mod,%,$(wildcard benchmarks/go.mod otel/go.mod casestudies/*/browsertest/go.mod))
# The sub-modules whose tests `make test` runs (benchmarks has only benchmarks).
TESTED_SUBMODULES := $(filter-out benchmarks,$(SUBMODULES))

.PHONY: all test fmt-check vet race modules bench bench-compare demo lint tidy tidy-check faults

all: lint test

## test: gofmt check, go vet, and the race-enabled test suite on miniredis,
## a real redis-server and a 3-master Redis Cluster.
test: fmt-check vet race modules

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

race:
	$(WITH_REDIS) $(GO) test -race -count=1 ./...

## modules: the tests of the sub-modules: the OpenTelemetry instrumentation
## and the case studies' pages in a headless Chromium (chromedp; skipped
## without chromium unless CI=true).
modules:
	@set -e; for m in $(TESTED_SUBMODULES); do echo "== $$m"; (cd $$m && $(GO) vet ./... && $(GO) test -race -count=1 ./...); done

## faults: only the fault suites (a private redis-server per test, frozen,
## killed, paused, starved and flushed); part of `make test` too.
faults:
	$(WITH_REDIS) $(GO) test -race -count=1 -run 'Faults' ./...

## bench: this module's benchmarks, Redis ones against a real local server.
bench:
	$(WITH_REDIS) $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

## bench-compare: side-by-side benchmarks against other libraries
## (benchmarks/ is a module of its own, so their deps never reach users).
bench-compare:
	cd benchmarks && ../$(WITH_REDIS) $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

## demo: every example, then each case study's scripted tour (-demo), in
## memory. A case study without -demo is a server that runs until stopped.
demo:
	@set -e; for d in $$(find examples -name main.go -exec dirname {} \; 2>/dev/null | sort); do \
		echo "=== go run ./$$d"; $(GO) run ./$$d; echo; \
	done; \
	for d in $$(find casestudies -maxdepth 2 -name main.go -exec dirname {} \; 2>/dev/null | sort); do \
		echo "=== go run ./$$d -demo"; $(GO) run ./$$d -demo; echo; \
	done; \
	if [ -f otel/examples/otel/main.go ]; then \
		echo "=== (cd otel && go run ./examples/otel -demo)"; (cd otel && $(GO) run ./examples/otel -demo); \
	fi

## lint: formatting, vet and staticcheck (every module), go.mod/go.sum tidy
## in every module (fails when `go mod tidy` would change them).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint: fmt-check vet tidy-check
	$(GO) run $(STATICCHECK) ./...
	@set -e; for m in $(SUBMODULES); do echo "== $$m"; (cd $$m && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...); done

tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run make tidy"; exit 1; }
	@set -e; for m in $(SUBMODULES); do (cd $$m && $(GO) mod tidy -diff) || { echo "$$m/go.mod/go.sum are not tidy: run make tidy"; exit 1; }; done

tidy:
	$(GO) mod tidy
	@set -e; for m in $(SUBMODULES); do (cd $$m && $(GO) mod tidy); done
