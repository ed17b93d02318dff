# immich-accel — build, demo and test targets. See README.md.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
BIN := bin/immich-accel

.PHONY: all build demo test lint vet staticcheck unit clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/immich-accel

## demo: the main job on built-in defaults, on this host.
demo: build
	./$(BIN) --version
	./$(BIN) compose --dry-run --file testdata/compose/basic.yml --backend cuda || [ $$? -eq 4 ]

## test: everything CI runs: formatting, vet, staticcheck and all tests.
test: lint unit

lint: vet staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

unit:
	$(GO) test -count=1 ./...

clean:
	rm -rf bin dist
