# The only commands a newcomer needs. `make demo` and `make test` work on a fresh machine:
# they install what they need (the wasm32-wasip2 target, osmem-server, the Dropbox SDK).
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
COMPONENT_DIR := $(TARGET_DIR)/components
export TRIBUTARY_COMPONENT_DIR := $(COMPONENT_DIR)
export TRIBUTARY_CACHE_DIR ?= $(TARGET_DIR)/tributary-cache

.PHONY: all setup components test-components build demo test test-rust test-conformance bench lint fmt clean

all: build

## setup: install the toolchain target and the Python packages the tests and demo use
setup:
	rustup target add wasm32-wasip2
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/conformance/requirements.txt osmem-server==0.1.6 "moto[server]==5.2.1" boto3

## components: build the source components (plain cargo, no cargo-component)
components:
	$(CARGO) build --target wasm32-wasip2 -p dropbox-source -p local-folder-source -p s3-source -p template-source --release
	mkdir -p $(COMPONENT_DIR)
	cp $(TARGET_DIR)/wasm32-wasip2/release/dropbox_source.wasm $(COMPONENT_DIR)/dropbox.wasm
	cp $(TARGET_DIR)/wasm32-wasip2/release/local_folder_source.wasm $(COMPONENT_DIR)/local-folder.wasm
	cp $(TARGET_DIR)/wasm32-wasip2/release/s3_source.wasm $(COMPONENT_DIR)/s3.wasm
	cp $(TARGET_DIR)/wasm32-wasip2/release/template_source.wasm $(COMPONENT_DIR)/template.wasm
	$(CARGO) build --target wasm32-wasip2 -p content-extractor --release
	cp $(TARGET_DIR)/wasm32-wasip2/release/content_extractor.wasm $(COMPONENT_DIR)/extractor.wasm

## test-components: the components the sandbox tests load (hostile, future WIT version); never shipped
test-components:
	$(CARGO) build --target wasm32-wasip2 -p hostile-source -p future-version-source --release
	mkdir -p $(COMPONENT_DIR)/test
	cp $(TARGET_DIR)/wasm32-wasip2/release/hostile_source.wasm $(COMPONENT_DIR)/test/hostile.wasm
	cp $(TARGET_DIR)/wasm32-wasip2/release/future_version_source.wasm $(COMPONENT_DIR)/test/future-version.wasm

## build: the runner, the emulator and the components (debug profile)
build: components test-components
	$(CARGO) build -p tributary -p dropbox-emulator -p search-proxy

## demo: emulator seeded with sample documents + in-memory search server, a real sync and search
demo: setup build
	CARGO_TARGET_DIR=$(TARGET_DIR) scripts/demo.sh

## test: every test: Rust unit + end-to-end (emulator + osmem-server), and the SDK conformance suite
test: setup build
	$(MAKE) test-rust test-conformance

test-rust:
	$(CARGO) test --no-fail-fast --workspace --exclude dropbox-source --exclude content-extractor
	$(CARGO) test -p dropbox-source
	$(CARGO) test -p content-extractor

test-conformance:
	DROPBOX_EMULATOR_BIN=$(TARGET_DIR)/debug/dropbox-emulator $(PYTHON) -m pytest tests/conformance -q

## bench: throughput figures (release build); results go to docs/benchmarks.md by hand
bench: setup components
	$(CARGO) build --release -p tributary -p dropbox-emulator -p bench-floor
	CARGO_TARGET_DIR=$(TARGET_DIR) scripts/bench.sh

## lint: formatting and clippy, host and component targets
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --target wasm32-wasip2 -p dropbox-source -p local-folder-source -p template-source -p s3-source -p content-extractor -p hostile-source -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
