# Switchboard: the two commands are `make run` and `make test`.
GO       ?= go
BIN      := bin/switchboard
CONFIG   ?= configs/example.yaml
PKGS     := ./...

.PHONY: all build run test unit e2e bench deps vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/switchboard

## run: start the gateway on the embedded default (bbolt under ./data, example config)
run: build
	./$(BIN) -config $(CONFIG)

## deps: install the real peers the tests need (SIPp, tshark, sox) when missing
deps:
	./scripts/install-test-deps.sh

## vet: formatting and static checks
vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

## test: install test tools, vet, then every test (unit and end-to-end) with the race detector
test: deps vet
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## bench: load benchmarks (SIPp through the relay, routing modes; relay and routing micro-benchmarks); figures go to docs/BENCHMARKS.md
bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./media/ ./store/ ./ivr/ ./wavfile/ ./routing/ ./recorder/ ./livestream/
	SWITCHBOARD_BIN=$(CURDIR)/$(BIN) ./scripts/bench.sh

clean:
	rm -rf bin
