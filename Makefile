# zoomtoken — make demo runs the whole service with no Zoom account; make test is the test suite.

GO        ?= go
BIN       ?= bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 1m

.PHONY: build test run demo fuzz bench clean

## build: the service and the Zoom emulator, static, into ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: vet and the whole test suite with the race detector, then the deployment checks and
## the browser test (modules of their own, so Kubernetes' types and the browser driver stay out
## of the service's go.mod; the browser test skips when Chromium is missing, except in CI)
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd internal/httpapi/browser && $(GO) vet ./... && $(GO) test -count=1 -v ./...

## run: the service with the configuration in ./.env (see .env.example)
run: build
	$(BIN)/zoomtoken

## demo: the service on loopback with throwaway credentials, and curl lines to try
demo: build
	BIN=$(BIN) ./deploy/demo.sh

## fuzz: every decoder of outside input, FUZZTIME each (default 1m)
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: Go benchmarks, then a loopback load test of the binaries with wrk (apt-get install wrk)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./internal/signature ./internal/httpapi ./internal/zoom
	$(BIN)/zoombench -bin $(BIN) $(BENCHFLAGS)

clean:
	rm -rf $(BIN)
