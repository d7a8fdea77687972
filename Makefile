# zoomtoken — make demo runs the whole service with no Zoom account; make test is the test suite.

GO        ?= go
BIN       ?= bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 1m
# The storage tests run on SQLite and on this PostgreSQL server (each test in a database of its
# own); without a server there, the PostgreSQL half is skipped and make test says so.
DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
export DATABASE_URL_TEST

.PHONY: build test run demo fuzz bench bench-smoke clean

## build: the service and the Zoom emulator, static, into ./bin
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: vet and the whole test suite with the race detector, then the deployment checks and
## the browser test (modules of their own, so Kubernetes' types and the browser driver stay out
## of the service's go.mod; the browser test skips when Chromium is missing, except in CI, and so
## does the PostgreSQL half of the storage tests). Every step runs, and test/suite.sh ends with
## what ran, what was skipped and what failed.
test:
	@GO=$(GO) bash test/suite.sh

## run: the service with the configuration in ./.env (see .env.example)
run: build
	$(BIN)/zoomtoken

## demo: the service on loopback with throwaway credentials, and curl lines to try
demo:
	@[ -x $(BIN)/zoomtoken ] && [ -x $(BIN)/zoomemu ] || echo "make demo: building zoomtoken and the Zoom emulator first (about a minute on a fresh machine, seconds after)"
	@$(MAKE) -s build
	BIN=$(BIN) ./deploy/demo.sh

## fuzz: every decoder of outside input, FUZZTIME each (default 1m)
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: Go benchmarks, then a loopback load test of the binaries with wrk (apt-get install wrk),
## then the connected-account benchmarks (PostgreSQL too when DATABASE_URL_TEST answers)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./internal/sdkjwt ./internal/httpapi ./internal/zoom ./internal/attendee ./internal/botlink
	$(BIN)/zoombench -bin $(BIN) $(BENCHFLAGS)
	$(BIN)/zoombench connections -bin $(BIN) $(CONNBENCHFLAGS)
	$(BIN)/zoombench flood -bin $(BIN)

## bench-smoke: every benchmark and load test once, briefly, so none can rot (CI runs it; the
## figures mean nothing at this length)
bench-smoke: build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./internal/sdkjwt ./internal/httpapi ./internal/zoom ./internal/attendee ./internal/botlink
	$(BIN)/zoombench -bin $(BIN) -duration 1s -rounds 1
	@# Five concurrent /metrics scrapes at 100,000 stored connections: under 10 MiB more memory.
	$(BIN)/zoombench connections -bin $(BIN) -sizes 100,100000 -duration 1s -storm 50 -max-scrape-rise-mb 10
	$(BIN)/zoombench flood -bin $(BIN) -connections 200
	@# The Kubernetes manifest's settings under 1,000 strangers' slow 1 MiB bodies: under its 64 MiB.
	$(BIN)/zoombench flood -bin $(BIN) -connections 1000 -slow-bodies -gomemlimit 48MiB -max-connections 1024 -max-rss-mb 64

clean:
	rm -rf $(BIN)
