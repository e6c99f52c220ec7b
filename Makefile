# The two commands a fresh machine needs: `make run` and `make test`.
GO      ?= go
LINT    := $(GO) tool -modfile=tools/lint/go.mod golangci-lint
PKGS    := ./...

.PHONY: run test test-short sdk-deps api-lint-deps generate lint build bench fuzz chaos sandbox help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

# Built, then exec'd rather than `go run`: go run exits 1 when Ctrl-C reaches it, whatever the
# server did, so a clean shutdown ended in "make: *** Error 1". No load balancer to wait for:
# SHUTDOWN_DELAY 0s, Ctrl-C stops at once.
run: ## start the service with the embedded sandbox (applies migrations, creates the database); the demo mini app is at http://127.0.0.1:8081/
	@echo "building bin/server (about a minute the first time, while the Go cache is cold)"
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/server ./cmd/server
	SHUTDOWN_DELAY=$${SHUTDOWN_DELAY:-0s} exec bin/server

test: sdk-deps ## run every test with the race detector (needs Postgres and Redis, see README), then the Redis-facing ones on a Redis Cluster and behind Sentinel, and the service's through PgBouncer
	$(GO) test -race -count=1 $(PKGS)
	tools/redis-cluster.sh $(REDIS_TESTS)
	tools/redis-sentinel.sh $(REDIS_TESTS)
	tools/pgbouncer.sh $(GO) test -race -count=1 ./internal/app
	cd deploy/prometheus && $(GO) test -race -count=1 ./... # alert rules and dashboard: a module of its own

# What runs again against a three-master Redis Cluster (tools/redis-cluster.sh) and a Sentinel-
# watched primary (tools/redis-sentinel.sh): every package that keeps state in Redis, and the
# multi-instance service tests.
REDIS_PKGS := ./internal/idempotency ./internal/coalesce ./internal/gateway/snap ./internal/linkcache ./internal/ratelimit
REDIS_APP_TESTS := TestFiftyConcurrentDuplicatesOverTwoInstances|TestFiftyConcurrentPaymentsOverTwoInstancesChargeOnce|TestCachedOptionsFollowWritesOnOtherInstances|TestSameRequestIDNeverSignsInAnotherUser|TestCircuitBreakerPerUpstreamOperation
REDIS_TESTS := sh -c '$(GO) test -race -count=1 $(REDIS_PKGS) && $(GO) test -race -count=1 -run "$(REDIS_APP_TESTS)" ./internal/app'

test-short: sdk-deps ## the tests without the generator build
	$(GO) test -race -count=1 -short $(PKGS)

# Midtrans' official Node client, pinned by tools/sdkcheck/package-lock.json, drives the
# sandbox in TestOfficialMidtransClient. Installed (git-ignored) when missing or outdated.
SDK_DIR := tools/sdkcheck
sdk-deps: $(SDK_DIR)/node_modules/.package-lock.json ## install the pinned official Midtrans client for the conformance check
$(SDK_DIR)/node_modules/.package-lock.json: $(SDK_DIR)/package.json $(SDK_DIR)/package-lock.json
	npm ci --prefix $(SDK_DIR) --no-audit --no-fund --loglevel=error

generate: ## regenerate internal/api from api/openapi.yaml
	cd internal/api && $(GO) tool oapi-codegen -config oapi-codegen.yaml ../../api/openapi.yaml

lint: api-lint-deps ## golangci-lint (pinned in tools/lint/go.mod), and the contract through Redocly CLI's recommended rules
	$(LINT) run $(PKGS)
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(APILINT_DIR)/node_modules/.bin/redocly lint --format=stylish api/openapi.yaml

# Redocly CLI, pinned by tools/apilint/package-lock.json, installed git-ignored when missing.
APILINT_DIR := tools/apilint
api-lint-deps: $(APILINT_DIR)/node_modules/.package-lock.json
$(APILINT_DIR)/node_modules/.package-lock.json: $(APILINT_DIR)/package.json $(APILINT_DIR)/package-lock.json
	npm ci --prefix $(APILINT_DIR) --no-audit --no-fund --loglevel=error

# What `server version` prints, stamped at build time: the toolchain's own VCS stamp is off where
# GOFLAGS has -buildvcs=false, and absent in a Docker build without .git. The date is the
# commit's, so a rebuild of one commit is the same binary.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS := -X github.com/gopay-miniapp/bff/internal/buildinfo.version=$(VERSION) \
	-X github.com/gopay-miniapp/bff/internal/buildinfo.commit=$(COMMIT) -X github.com/gopay-miniapp/bff/internal/buildinfo.date=$(BUILD_DATE)

build: ## build bin/server and bin/sandbox (stamped with the version, commit and commit time)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/server ./cmd/server
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/sandbox ./cmd/sandbox

chaos: ## fleet chaos run: 3 instances, the standalone sandbox, a private PostgreSQL and Redis (about a minute; not in make test)
	@bin=$$(mktemp -d); $(GO) build -o $$bin/ ./cmd/server ./cmd/sandbox ./tools/chaos && CHAOS_BIN=$$bin $$bin/chaos; rc=$$?; rm -rf $$bin; exit $$rc

bench: ## benchmarks (figures only; they never fail on timing)
	$(GO) test -run=NONE -bench=. -benchmem -count=1 $(PKGS)

# Every parser of outside input: request bodies and parameters (every route), the JSON guard,
# session tokens, sealed values, each upstream's answers, and what Redis hands back.
FUZZ_TARGETS := \
	./internal/handler:FuzzRequests \
	./internal/handler:FuzzLinkBankAccountRequest \
	./internal/jsonguard:FuzzCheck \
	./internal/session:FuzzVerify \
	./internal/seal:FuzzOpen \
	./internal/gateway/gopay:FuzzAnswers \
	./internal/gateway/snap:FuzzAccessTokenAnswer \
	./internal/gateway/snap:FuzzServiceAnswers \
	./internal/gateway/coreapi:FuzzAnswers \
	./internal/idempotency:FuzzStoredRecord \
	./internal/coalesce:FuzzDecodeOutcome
FUZZTIME ?= 30s

fuzz: ## run every fuzz target for FUZZTIME each (default 30s; failures land in testdata/fuzz; needs redis-cli)
	@log=$$(mktemp); tag=bfffuzz-$$$$:; \
	trap 'rm -f $$log; redis-cli -h 127.0.0.1 --scan --pattern "$$tag*" | xargs -r -d "\n" -n 500 redis-cli -h 127.0.0.1 del >/dev/null' EXIT; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "== $$name ($$pkg)"; \
		if ! TEST_REDIS_PREFIX=$$tag $(GO) test -run=NONE -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s $$pkg >$$log 2>&1; then \
			cat $$log; exit 1; fi; \
		grep -E '^fuzz: elapsed' $$log | tail -1; \
	done

sandbox: ## run the upstream sandbox alone (GOPAY_CLIENT_SECRET required)
	$(GO) run ./cmd/sandbox
