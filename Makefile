# Every target works on a fresh machine with Go installed. Targets that use
# Redis start throwaway servers (scripts/with-redis.sh) when redis-server is
# installed, and fall back to miniredis alone when it is not.
GO ?= go
BENCHTIME ?= 1s
WITH_REDIS := scripts/with-redis.sh

.PHONY: all test fmt-check vet race bench bench-compare demo lint tidy tidy-check faults

all: lint test

## test: gofmt check, go vet, and the race-enabled test suite on miniredis,
## a real redis-server and a 3-master Redis Cluster.
test: fmt-check vet race

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

race:
	$(WITH_REDIS) $(GO) test -race -count=1 ./...

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

## demo: every example and case study in its demo mode, in memory.
demo:
	@set -e; for d in $$(find examples casestudies -name main.go -exec dirname {} \; 2>/dev/null | sort); do \
		echo "=== go run ./$$d"; $(GO) run ./$$d; echo; \
	done

## lint: formatting, vet (both modules), go.mod/go.sum tidy in both
## modules (fails when `go mod tidy` would change them) and staticcheck.
lint: fmt-check vet tidy-check
	cd benchmarks && $(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run make tidy"; exit 1; }
	@cd benchmarks && $(GO) mod tidy -diff || { echo "benchmarks/go.mod/go.sum are not tidy: run make tidy"; exit 1; }

tidy:
	$(GO) mod tidy
	cd benchmarks && $(GO) mod tidy
