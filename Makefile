# The project's interface. Every target installs node dependencies first when package-lock.json changed.
# With DATABASE_URL unset, targets use the embedded PGlite database in .data/ (no server needed).

SHELL := bash
TSX   := node_modules/.bin/tsx
CLI   := $(TSX) src/cli.ts
DEPS  := node_modules/.installed
# squawk-cli (migration linter) ships its binary in per-platform npm packages, and this project's registry
# mirror holds only linux-x64: in package-lock.json it would break `npm ci`, so it is pinned here and
# installed on first use into .tools/ (gitignored) instead.
SQUAWK_VERSION := 2.66.0
SQUAWK := .tools/squawk-$(SQUAWK_VERSION)/node_modules/.bin/squawk

.DEFAULT_GOAL := help
.PHONY: help install migrate migrate-down migrate-repair migration gen db demo doctor drift scale-out rehearse explain schema erd test lint format partitions purge-sessions purge-cache bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(DEPS): package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(DEPS) ## Install node dependencies (npm ci) if package-lock.json changed

migrate: $(DEPS) ## Apply pending migrations (DATABASE_URL, else embedded .data/)
	@$(CLI) migrate

migrate-down: $(DEPS) ## Revert the last migration (n=N for more)
	@$(CLI) migrate-down $(n)

migrate-repair: $(DEPS) ## Accept an edit to an applied migration: make migrate-repair name=<migration> reason="why"
	@$(CLI) migrate-repair $(name) "$(reason)"

migration: $(DEPS) ## New migration from the template: make migration name=add_x
	@$(CLI) migration $(name)

gen: $(DEPS) ## Regenerate pgtyped modules and docs/erd.* (throwaway embedded database); with DATABASE_URL also docs/schema.sql
	@$(CLI) gen

erd: $(DEPS) ## Draw docs/erd.md (Mermaid) and docs/erd.svg (Graphviz/WASM) from the catalog (part of make gen)
	@$(CLI) erd

schema: $(DEPS) ## Dump docs/schema.sql from a fresh database on the DATABASE_URL server
	@$(CLI) schema

db: $(DEPS) ## Serve the embedded database on 127.0.0.1:$PGLITE_PORT (default 5433) and print the psql URL
	@$(CLI) db

demo: $(DEPS) ## Walk each domain through the service layer and print what happened
	@$(TSX) src/demo.ts

explain: $(DEPS) ## Seed realistic volume (scale=1: 20k entities) and EXPLAIN every named query; exit 1 on unexplained seq scans
	@$(CLI) explain $(scale)

doctor: $(DEPS) ## Check the live database (version, extensions, migrations, partitions, conventions); exit 1 on problems
	@$(CLI) doctor

drift: $(DEPS) ## Compare the live schema with what its applied migrations produce; exit 0 none, 1 drift, 2 could not check
	@$(CLI) drift

scale-out: $(DEPS) ## Per table, which rules of the Citus sharding plan (docs/scale-out.md) it breaks today
	@$(CLI) scale-out

rehearse: $(DEPS) ## Rehearse pending migrations on a seeded copy under load (scale=0.2, last=N, budget=ms); exit 1 over budget
	@$(CLI) rehearse scale=$(or $(scale),0.2) $(if $(last),last=$(last)) $(if $(budget),budget=$(budget))

partitions: $(DEPS) ## Keep monthly partitions 3 months ahead; warn about rows in DEFAULT partitions
	@$(CLI) partitions $(ahead)

purge-sessions: $(DEPS) ## Delete expired workspace sessions (for a scheduler); audited per organisation
	@$(CLI) purge-sessions

purge-cache: $(DEPS) ## Delete screening cache rows expired for more than days=90 (for a scheduler); audited per tenant with counts
	@$(CLI) purge-cache $(days)

test: $(DEPS) ## Run the test suite (DATABASE_URL server, else embedded)
	@node_modules/.bin/vitest run $(args)

bench: $(DEPS) ## Benchmarks vs plain pg, Kysely, Drizzle, COPY and pgbench on a scratch database of DATABASE_URL (quick=1: smoke run); writes bench/results.json
	@BENCH_QUICK=$(quick) $(TSX) bench/run.ts

$(SQUAWK):
	npm install --prefix .tools/squawk-$(SQUAWK_VERSION) --no-save --no-package-lock --no-audit --no-fund squawk-cli@$(SQUAWK_VERSION)

lint: $(DEPS) $(SQUAWK) ## Type-check (tsc), lint TypeScript (eslint), check formatting (prettier) and migrations (squawk; CONCURRENTLY without timeouts in TS ones)
	@node_modules/.bin/tsc --noEmit
	@node_modules/.bin/eslint --max-warnings 0 .
	@node_modules/.bin/prettier --check --log-level warn "**/*.{ts,js,json}"
	@$(SQUAWK) --assume-in-transaction migrations/*.sql
	@$(CLI) lint-migrations

format: $(DEPS) ## Format TypeScript, JavaScript and JSON with prettier (make lint checks it)
	@node_modules/.bin/prettier --write --log-level warn "**/*.{ts,js,json}"

clean: ## Remove the embedded database in .data/
	rm -rf .data
