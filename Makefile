# immich-accel — build, demo and test targets. See README.md.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
BIN := bin/immich-accel
# go-nvml binds deprecated NVML calls too; their warnings are noise.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: all build demo test lint vet staticcheck unit test-deps release-check clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/immich-accel

## demo: the main job on built-in defaults, on this host.
demo: build
	./$(BIN) --version
	./$(BIN) doctor || [ $$? -eq 3 ]
	./$(BIN) compose --dry-run --file testdata/compose/basic.yml --backend cuda || [ $$? -eq 4 ]
	./$(BIN) compose --dry-run --file testdata/compose/basic.yml --backend cuda --transcode nvenc || [ $$? -eq 4 ]
	./$(BIN) runtime install
	./$(BIN) bench --quick

## test: everything CI runs: formatting, vet, staticcheck and all tests.
test: lint unit

lint: vet staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## test-deps: the real ONNX Runtime the tests run against (installed the way
## users install it), and the published models they run (.cache/, ignored).
test-deps:
	$(GO) run ./cmd/immich-accel runtime install
	./scripts/fetch-test-models.sh

## unit: all tests, with a Docker Engine of their own (scripts/test-engine.sh
## starts it, with the Compose plugin cached in .cache/, and stops it after).
unit: test-deps
	IMMICH_ACCEL_ORT_LIB="$$($(GO) run ./cmd/immich-accel runtime path)" ./scripts/test-engine.sh $(GO) test -count=1 ./...

## release-check: goreleaser check, a local snapshot release (archives, .deb/.rpm,
## checksums) and checks of it, the arm64 binary run under qemu. Installs its tools.
release-check:
	./scripts/release-check.sh

clean:
	rm -rf bin dist .cache/release
