# Spillway. `make run` serves a model (a synthetic one when MODEL is unset);
# `make test` runs every check CI runs. Both install what they need.
GO      ?= go
BIN     := bin/spillway
MODEL   ?=
HOST    ?= 127.0.0.1
PORT    ?= 8080
TINY    := models/tiny-q8_0.gguf
FUZZTIME ?= 30s

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
	CGO_ENABLED=0 $(GO) test -short -count=1 ./engine/... ./kernels/ref/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Kernel micro-benchmarks; each reports GB/s or GFLOP/s against the
# machine's limits. BENCHTIME=2x for a quick pass.
bench-kernels: BENCHTIME ?= 1s
bench-kernels: deps
	$(GO) test -run XXX -bench . -benchtime $(BENCHTIME) ./kernels/...

# The serving benchmark (≤ 10 minutes on 2 cores): makes a synthetic
# TinyLlama once, starts bin/spillway serve on a free loopback port, sweeps
# concurrency 1, 4, 16, 64 and writes bench/results/ (JSON report, PNG/SVG
# plots, server log). BASELINE_URL=http://host:port sweeps that server too
# and prints the ratios; SERVER_ARGS passes flags to serve (e.g.
# SERVER_ARGS=--static-batching); BENCH_ARGS adds flags to the sweep.
bench: BENCH_MODEL ?= models/tinyllama-1.1b-q4_0.gguf
bench: BENCH_PRESET ?= tinyllama-1.1b
bench: BENCH_TYPE ?= q4_0
bench: build
	@test -f $(BENCH_MODEL) || ./$(BIN) mkmodel --preset $(BENCH_PRESET) --type $(BENCH_TYPE) -o $(BENCH_MODEL)
	./$(BIN) bench sweep --server-bin ./$(BIN) --model-path $(BENCH_MODEL) --server-args "$(SERVER_ARGS)" \
	  --concurrency 1,4,16,64 --waves 1 --min-prompts 4 --input-len 32 --output-len 16 \
	  --max-duration 60s --drain 45s --out bench/results \
	  $(if $(BASELINE_URL),--baseline-url $(BASELINE_URL)) $(BENCH_ARGS)

fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz-all.sh $(FUZZ)

clean:
	rm -rf bin build

# CUDA kernels (needs nvcc and cmake: scripts/install-nvcc.sh). The fatbin
# lands in kernels/cuda/fatbin/, which the Go build embeds; `make build`
# never needs nvcc. CUDA_ARCHS="90a" builds for one GPU only (scripts/gpu-check.sh).
.PHONY: cuda
CUDA_ARCHS ?= 80;86;89;90
CUDA_PTX   ?= 90
CUDA_WERROR ?= ON
cuda:
	cmake -S . -B build/cuda -DSPILLWAY_CUDA_ARCHS="$(CUDA_ARCHS)" -DSPILLWAY_CUDA_PTX="$(CUDA_PTX)" -DSPILLWAY_CUDA_WERROR=$(CUDA_WERROR)
	cmake --build build/cuda
	cp build/cuda/spillway.fatbin kernels/cuda/fatbin/spillway.fatbin

# The CUDA emulator (kernels/cuda/emu): the kernels compiled for the host
# behind a stand-in libcuda.so.1, so that the CUDA backend's tests run the
# kernels here, without a GPU (the kernels must be built by make cuda too:
# the backend insists on an embedded fatbin, which the emulator ignores).
.PHONY: cuda-emu test-cuda-emu
cuda-emu:
	kernels/cuda/emu/build.sh build/cuda-emu

# The CUDA backend's own tests, then the llama.cpp oracle on the CUDA
# backend for the small real models (decode steps as recorded graphs).
test-cuda-emu: cuda-emu
	SPILLWAY_CUDA_DRIVER=$(CURDIR)/build/cuda-emu/libcuda.so.1 $(GO) test -count=1 ./kernels/cuda/
	SPILLWAY_CUDA_DRIVER=$(CURDIR)/build/cuda-emu/libcuda.so.1 SPILLWAY_TEST_BACKEND=cuda \
	  $(GO) test -count=1 -run 'TestOracle/(stories260K|TinyStories-656K-(f32|Q8_0))$$' ./engine/
