# Spillway. `make run` serves a model (a synthetic one when MODEL is unset);
# `make test` runs every check CI runs. Both install what they need.
GO      ?= go
BIN     := bin/spillway
MODEL   ?=
HOST    ?= 127.0.0.1
PORT    ?= 8080
TINY    := models/tiny-q8_0.gguf
FUZZTIME ?= 10m

.PHONY: all build run test test-go test-nocgo lint bench bench-kernels fuzz clean deps

all: build

deps:
	@scripts/deps.sh

build: deps
	$(GO) build -o $(BIN) ./cmd/serve

$(TINY): | build
	./$(BIN) mkmodel --preset tiny --type q8_0 -o $(TINY)

# With no MODEL, serve the tiny synthetic model (random weights: the API,
# streaming and metrics work, the text is gibberish).
run: build $(if $(MODEL),,$(TINY))
	./$(BIN) serve --model $(or $(MODEL),$(TINY)) --host $(HOST) --port $(PORT)

test: lint test-go test-nocgo

test-go:
	@scripts/deps.sh test
	$(GO) test -count=1 -timeout 20m ./...

# The pure-Go build (no C compiler) must keep working.
test-nocgo:
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) test -count=1 ./engine/... ./kernels/ref/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench-kernels: deps
	$(GO) test -run XXX -bench . -benchtime 2x ./kernels/...

bench: build
	@echo "make bench: the serving benchmark arrives with the bench package; running kernel benchmarks" >&2
	$(MAKE) bench-kernels

fuzz:
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime $(FUZZTIME) ./engine/gguf/

clean:
	rm -rf bin build
