# The two commands a fresh machine needs: `make run` and `make test`.
GO      ?= go
LINT    := $(GO) tool -modfile=tools/lint/go.mod golangci-lint
PKGS    := ./...

.PHONY: run test test-short generate lint build bench fuzz sandbox help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

run: ## start the service with the embedded sandbox (applies migrations, creates the database)
	$(GO) run ./cmd/server

test: ## run every test with the race detector (needs Postgres and Redis, see README)
	$(GO) test -race -count=1 $(PKGS)

test-short: ## the tests without the generator build
	$(GO) test -race -count=1 -short $(PKGS)

generate: ## regenerate internal/api from api/openapi.yaml
	cd internal/api && $(GO) tool oapi-codegen -config oapi-codegen.yaml ../../api/openapi.yaml

lint: ## golangci-lint (pinned in tools/lint/go.mod)
	$(LINT) run $(PKGS)

build: ## build bin/server and bin/sandbox
	$(GO) build -trimpath -o bin/server ./cmd/server
	$(GO) build -trimpath -o bin/sandbox ./cmd/sandbox

bench: ## benchmarks (figures only; they never fail on timing)
	$(GO) test -run=NONE -bench=. -benchmem -count=1 $(PKGS)

fuzz: ## fuzz request decoding and validation for a minute
	$(GO) test -run=NONE -fuzz=FuzzLinkBankAccountRequest -fuzztime=60s ./internal/handler

sandbox: ## run the upstream sandbox alone (GOPAY_CLIENT_SECRET required)
	$(GO) run ./cmd/sandbox
