# Pitalya commerce backend. `make dev` runs the whole stack locally; `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

USER_ID ?= $(or $(USER),user_demo_customer)

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/[$$][$$]/$$/g' | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

tools: ## install the pinned dev tools into .venv (only what is missing)
	@scripts/tools.sh

dev: ## run DB, SES emulator, PhonePe simulator and every route on 127.0.0.1:$$PORT (default 3000)
	@scripts/dev.sh

test: ## everything CI runs: fmt, clippy, cfn-lint, all tests against a throw-away stack, browser checks, the typed storefront flow, short fuzz and prove
	@scripts/scripts-check.sh
	@scripts/lint-openapi.sh
	@scripts/client.sh --check
	@scripts/test.sh

client: ## regenerate the TypeScript client's types from openapi.yaml and type-check it (clients/typescript)
	@scripts/client.sh

.PHONY: client

fuzz: ## Schemathesis against openapi.yaml on a throw-away stack (FUZZ_EXAMPLES=100); writes bench/fuzz.md
	@scripts/fuzz.sh

seed: ## (re)load the demo catalog and coupons into $$MONGODB_URI
	@source scripts/env.sh && cargo build --quiet -p dev-server && $$CARGO_TARGET_DIR/debug/pitalya-dev seed

migrate: ## bring $$MONGODB_URI's data to this release's shape (what a deploy's migrate step runs); safe to repeat
	@source scripts/env.sh && cargo build --quiet -p dev-server && $$CARGO_TARGET_DIR/debug/pitalya-dev migrate

token: ## print a dev session token: make token USER=user_123 [ADMIN=1] [EMAIL=a@b.c]
	@scripts/token.sh "$(USER)" "$(ADMIN)" "$(EMAIL)"

prove: ## invariant suite: concurrent shoppers, webhook chaos, SIGKILLed API; writes bench/prove.md
	@scripts/prove.sh

lint: ## fmt check, clippy, cfn-lint
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	.venv/bin/cfn-lint template.yaml

mail-preview: ## render every mail template from sample data into target/mail-preview/<event>.html and .txt
	cargo run --quiet -p shop --example mail_preview -- "$(CURDIR)/target/mail-preview"

.PHONY: mail-preview

fonts: ## refresh common/shop/fonts/ (the invoice PDFs' Noto fonts, subset) from Debian's fonts-noto-core and npm's Noto Emoji
	@scripts/fonts.sh

.PHONY: fonts

events: ## regenerate events/*.json from scripts/gen-events.py
	python3 scripts/gen-events.py

sam-build: ## sam validate --lint and sam build (offline, cargo-lambda build method) into .aws-sam/build
	@scripts/sam-build.sh

lambda-build: tools ## release arm64 build of every function, as Lambda runs them (cargo lambda + zig)
	PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/cargo-lambda lambda build --release --arm64 $(addprefix -p ,$(notdir $(wildcard functions/*)))

bench: tools ## release-build and measure cold start, latency, memory, zip size and load; writes bench/results.md
	@scripts/bench.sh

.PHONY: help tools dev test fuzz seed migrate token prove lint events lambda-build sam-build bench
