# accounts-rs — `make test` is what CI runs (.ci/run). It installs what it needs itself.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
HOST_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
# One target dir for cargo, maturin and napi (napi always passes --target, so cargo must too or the two would build everything twice).
export CARGO_BUILD_TARGET := $(HOST_TRIPLE)
TARGET_DIR := $(CURDIR)/target/$(HOST_TRIPLE)
LIB_DIR := $(TARGET_DIR)/debug
BUILD := $(CURDIR)/build
CBINDGEN_VERSION := 0.29.4
CBINDGEN := $(shell command -v cbindgen 2>/dev/null || echo $(HOME)/.cargo/bin/cbindgen)
VENV := $(BUILD)/venv
PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The SONAME's version, as ffi/build.rs sets it: <major>, or 0.<minor> for a 0.x version.
ABI_VERSION := $(shell echo $(VERSION) | awk -F. '{ print ($$1 == "0") ? "0." $$2 : $$1 }')
SONAME := libaccounts.so.$(ABI_VERSION)
CFLAGS_TEST := -std=c11 -Wall -Wextra -Werror -I$(CURDIR)/include
LDFLAGS_TEST := -L$(LIB_DIR) -laccounts -Wl,-rpath,$(LIB_DIR) -lpthread

.PHONY: rest-server oidc-tools browser-tools test-browser screenshots dist dist-tools dist-test lint codegen codegen-check soak soak-smoke fuzz fuzz-corpus fuzz-smoke fuzz-tools bench bench-smoke bench-scale node-build test-node demo-node python-install test test-rust test-c test-python header header-check install demo demo-c demo-python tools clean

# Every suite runs next to a throwaway PostgreSQL server (tests/pg/with-postgres.sh installs and
# starts one); ACCOUNTS_REQUIRE_PG=1 makes a missing server a failure rather than a skip. Autovacuum
# is off there: its commits would move the snapshot core/tests/session_cache.rs counts cache hits by.
test: lint
	ACCOUNTS_REQUIRE_PG=1 ACCOUNTS_TEST_PG_SETTINGS='-c autovacuum=off' tests/pg/with-postgres.sh $(MAKE) --no-print-directory test-rust test-c test-python test-node test-browser soak-smoke bench-smoke
	$(MAKE) --no-print-directory fuzz-corpus
	$(MAKE) --no-print-directory dist-test
	@echo "make test: all suites passed"

## ---- Rust ----
test-rust: codegen-check
	# fault-injection only adds the failing store the atomicity test needs (core/tests/atomic_flows.rs),
	# also used to count store steps (core/tests/session_cache.rs)
	cargo test -p accounts-core -p accounts-ffi -p accounts-codegen --features accounts-core/fault-injection

## ---- Distribution (docs/distribution.md) ----
# One release build (the release profile: opt-level 3, no LTO so the three libraries share their
# dependency builds) of the C library, the Node addon and the Python extension, linked by
# cargo-zigbuild against glibc 2.17 so every artifact runs on manylinux2014-era servers; then the five
# artifacts: the abi3 wheel and the sdist, the two npm tarballs, the C tarball.
DIST := $(CURDIR)/dist
DIST_VENV := $(BUILD)/dist-venv
DIST_STAGE := $(BUILD)/dist-stage
ZIG_TARGET := $(HOST_TRIPLE).2.17
RELEASE_DIR := $(TARGET_DIR)/release
CARGO_ZIGBUILD_VERSION := 0.24.1

dist-tools:
	@test -x $(DIST_VENV)/bin/python || python3 -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/pip install -q maturin==1.9.6 ziglang==0.13.0 auditwheel==6.4.2 wheel==0.45.1
	@command -v cargo-zigbuild >/dev/null && cargo-zigbuild --version | grep -q $(CARGO_ZIGBUILD_VERSION) \
		|| cargo install --locked cargo-zigbuild --version $(CARGO_ZIGBUILD_VERSION)

dist: dist-tools header-check
	rm -rf $(DIST) $(DIST_STAGE) && mkdir -p $(DIST) $(DIST_STAGE)
	# cargo-zigbuild finds zig through `python3 -m ziglang` (the venv's)
	# PYO3_BUILD_EXTENSION_MODULE: an extension module does not link libpython (what maturin sets)
	PYO3_BUILD_EXTENSION_MODULE=1 PATH=$(DIST_VENV)/bin:$$PATH cargo zigbuild --release -p accounts-ffi -p accounts-node -p accounts-python --target $(ZIG_TARGET)
	@# Python: the sdist (maturin: the crate and its path dependencies), then the wheel around the built module
	$(DIST_VENV)/bin/maturin sdist -m bindings/python/Cargo.toml -o $(DIST)
	$(DIST_VENV)/bin/python bindings/python/scripts/pack_wheel.py $(RELEASE_DIR)/libaccounts_py.so $(DIST)/accounts_rs-$(VERSION).tar.gz $(DIST)
	$(DIST_VENV)/bin/auditwheel show $(DIST)/accounts_rs-$(VERSION)-*.whl | tee $(DIST_STAGE)/auditwheel.txt
	tr '\n' ' ' < $(DIST_STAGE)/auditwheel.txt | grep -q 'consistent with the following platform tag: *"manylinux_2_17_x86_64"'
	@# Node: the napi-rs layout, packed
	node bindings/node/scripts/stage.js $(RELEASE_DIR)/libaccounts_node.so $(DIST_STAGE)/node
	strip --strip-unneeded $(DIST_STAGE)/node/linux-x64-gnu/accounts.linux-x64-gnu.node
	cd $(DIST) && npm pack --silent $(DIST_STAGE)/node/linux-x64-gnu $(DIST_STAGE)/node/accounts-rs
	ffi/pack-tarball.sh $(RELEASE_DIR) $(DIST_STAGE) $(DIST) $(VERSION) $(SONAME)
	@ls -l $(DIST) | tee $(DIST_STAGE)/sizes.txt

# Installs each artifact as a user would, with no Rust toolchain: tests/dist/install-test.sh.
dist-test: dist
	tests/dist/install-test.sh $(DIST) $(VERSION)
	# Where no wheel fits, pip builds the sdist (this step has the toolchain; dev profile and the
	# workspace's target dir, so it reuses the compiled dependencies)
	rm -rf $(BUILD)/sdist-venv && python3 -m venv $(BUILD)/sdist-venv && $(BUILD)/sdist-venv/bin/pip install -q maturin==1.9.6
	PATH=$(BUILD)/sdist-venv/bin:$$PATH CARGO_TARGET_DIR=$(CURDIR)/target MATURIN_PEP517_ARGS="--profile dev" \
		$(BUILD)/sdist-venv/bin/pip install -q --no-build-isolation $(DIST)/accounts_rs-$(VERSION).tar.gz
	$(BUILD)/sdist-venv/bin/python -c "import accounts; assert accounts.__version__ == '$(VERSION)'; \
		accounts.AccountsServer(db='sqlite::memory:', token_secret='x' * 32).password.create_user({'username': 'u'})"
	@echo "dist-test: the sdist builds from source"

## ---- Gates (docs/architecture.md, "Gates") ----
# Formatting, lints (workspace lints in Cargo.toml; missing_docs and no unwrap in core), docs
# without warnings, the Python stubs against the built module, the TypeScript types against a usage file.
lint: codegen-check python-install bindings/node/node_modules/.bin/napi
	cargo fmt --all -- --check
	cd tests/fuzz && cargo fmt -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p accounts-core -p accounts-ffi
	cd $(BUILD) && $(VENV)/bin/python -m mypy.stubtest accounts
	cd bindings/node && npx tsc -p test/types

## ---- Generated copies of the core tables (errors, events, callbacks) ----
# bindings/codegen writes ffi/src/result.rs, the Python exception classes, bindings/node/names.d.ts
# and docs/errors.md from core/src/error.rs and core/src/callbacks.rs.
codegen:
	cargo run -q -p accounts-codegen -- $(CURDIR)
	$(MAKE) --no-print-directory header

# Fails when a generated file is stale (writes nothing).
codegen-check:
	cargo run -q -p accounts-codegen -- --check $(CURDIR)

## ---- C ----
# examples/c/rest_server.c: the REST API from C on libmicrohttpd (installed from Debian when missing).
rest-server: $(LIB_DIR)/libaccounts.so
	@pkg-config --exists libmicrohttpd libqrencode || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libmicrohttpd-dev libqrencode-dev pkg-config >/dev/null; }
	@mkdir -p $(BUILD)/c
	gcc $(CFLAGS_TEST) -DEXAMPLE_WEB_DIR='"$(CURDIR)/examples/web"' examples/c/rest_server.c $$(pkg-config --cflags --libs libmicrohttpd libqrencode) \
		$(LDFLAGS_TEST) -o $(BUILD)/c/rest_server

tools:
	@command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	@command -v pkg-config >/dev/null || (apt-get update -qq && apt-get install -y -qq pkg-config)
	@command -v oathtool >/dev/null || (apt-get update -qq && apt-get install -y -qq oathtool)
	@test -x "$(CBINDGEN)" && "$(CBINDGEN)" --version | grep -q "$(CBINDGEN_VERSION)" || cargo install --locked cbindgen --version $(CBINDGEN_VERSION)

header: tools
	"$(CBINDGEN)" --config ffi/cbindgen.toml --crate accounts-ffi --output include/accounts.h ffi

# Fails when include/accounts.h is stale (generated into build/, never rewriting the committed file).
header-check: tools
	@mkdir -p $(BUILD)
	"$(CBINDGEN)" --config ffi/cbindgen.toml --crate accounts-ffi --output $(BUILD)/accounts.h ffi 2>/dev/null
	@diff -u include/accounts.h $(BUILD)/accounts.h || (echo "include/accounts.h is stale: run 'make header'"; exit 1)

# Programs linked against the library look for its SONAME at run time: give the build one too.
$(LIB_DIR)/libaccounts.so: FORCE
	cargo build -p accounts-ffi
	ln -sf libaccounts.so $(LIB_DIR)/$(SONAME)
FORCE:

# A real OpenID provider (npm's oidc-provider) on loopback for the OAuth tests of every language:
# `$(WITH_OIDC) cmd` runs cmd with ACCOUNTS_TEST_OIDC describing it (tests/oidc/provider.mjs).
WITH_OIDC := node $(CURDIR)/tests/oidc/provider.mjs --
oidc-tools:
	cd tests/oidc && npm ci --no-audit --no-fund

test-c: tools header-check oidc-tools $(LIB_DIR)/libaccounts.so
	@mkdir -p $(BUILD)/c
	gcc $(CFLAGS_TEST) -DACCOUNTS_EXPECTED_VERSION='"$(VERSION)"' tests/c/test_accounts.c $(LDFLAGS_TEST) -o $(BUILD)/c/test_accounts
	$(WITH_OIDC) valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 -q \
		$(BUILD)/c/test_accounts $$(mktemp -d)
	gcc $(CFLAGS_TEST) -fsanitize=address,undefined -fno-omit-frame-pointer tests/c/test_accounts.c $(LDFLAGS_TEST) \
		-o $(BUILD)/c/test_accounts_asan
	@# the provider's claim placements (tests/oidc/provider.mjs): email from UserInfo above, in the ID token here
	OIDC_CLAIMS=id_token $(WITH_OIDC) $(BUILD)/c/test_accounts_asan $$(mktemp -d)
	g++ -std=c++17 -Wall -Wextra -Werror -I$(CURDIR)/include tests/c/header_check.cpp $(LDFLAGS_TEST) -o $(BUILD)/c/header_check
	$(BUILD)/c/header_check
	# install into a scratch prefix and build the quickstart the way a user would: with pkg-config
	rm -rf $(BUILD)/prefix && $(MAKE) --no-print-directory install PREFIX=$(BUILD)/prefix
	PKG_CONFIG_PATH=$(BUILD)/prefix/lib/pkgconfig gcc $(CFLAGS_TEST) examples/c/quickstart.c \
		$$(PKG_CONFIG_PATH=$(BUILD)/prefix/lib/pkgconfig pkg-config --cflags --libs accounts) \
		-Wl,-rpath,$(BUILD)/prefix/lib -o $(BUILD)/c/quickstart
	d=$$(mktemp -d) && valgrind --leak-check=full --error-exitcode=1 -q $(BUILD)/c/quickstart $$d/quickstart.db

install: $(LIB_DIR)/libaccounts.so
	install -d $(PREFIX)/lib/pkgconfig $(PREFIX)/include
	install -m 644 include/accounts.h $(PREFIX)/include/
	install -m 755 $(LIB_DIR)/libaccounts.so $(PREFIX)/lib/libaccounts.so.$(VERSION)
	ln -sf libaccounts.so.$(VERSION) $(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(PREFIX)/lib/libaccounts.so
	install -m 644 $(LIB_DIR)/libaccounts.a $(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' ffi/accounts.pc.in > $(PREFIX)/lib/pkgconfig/accounts.pc

## ---- Python ----
# Installs the package into a fresh venv exactly as the README tells a user (pip install ./bindings/python);
# the dev profile only makes the build share the workspace's debug artifacts (argon2 is optimised anyway);
# the self-test feature adds the test-only entry points (_self_test_panic), which release builds lack.
$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

python-install: $(VENV)/bin/python
	$(VENV)/bin/pip install -q pytest mypy==2.4.1 typing_extensions pyotp gunicorn "pyjwt[crypto]==2.15.1" \
		starlette==1.10.0 uvicorn==0.54.0 httpx==0.28.1 fastapi==0.165.0 segno==1.6.6 cryptography==51.0.1
	MATURIN_PEP517_ARGS="--profile dev --features self-test" $(VENV)/bin/pip install -q --force-reinstall --no-deps ./bindings/python

test-python: python-install oidc-tools
	cd bindings/python && $(VENV)/bin/python -m pytest -q tests
	$(VENV)/bin/mypy --strict examples/python/quickstart.py examples/python/import_accounts_js.py
	d=$$(mktemp -d) && $(VENV)/bin/python examples/python/quickstart.py $$d/quickstart.db

## ---- Node ----
# --ignore-scripts: the package's own install script (scripts/build.js, for users) would build in release.
# node-build adds the test-only entry points (feature self-test: selfTestPanic); make dist never does.
bindings/node/node_modules/.bin/napi:
	cd bindings/node && npm ci --no-audit --no-fund --ignore-scripts

node-build: bindings/node/node_modules/.bin/napi
	cd bindings/node && npx napi build --dts native.d.ts --features self-test

# test/compat is a user project with the real accounts-js transports (rest-express, and graphql-api on
# apollo-server 2) and clients from npm; its python-rest test drives them against accounts.asgi in the
# test venv (make test builds it first). test/compat/adapters.test.js drives the three web adapters:
# Express, the ASGI app in the venv and the C server of examples/c (rest-server).
test-node: node-build oidc-tools rest-server
	cd bindings/node/test/compat && npm ci --no-audit --no-fund
	cd bindings/node && ACCOUNTS_TEST_PYTHON=$(VENV)/bin/python ACCOUNTS_TEST_REST_SERVER=$(BUILD)/c/rest_server node --test test/
	d=$$(mktemp -d) && node examples/node/quickstart.mjs $$d/quickstart.db && node examples/node/quickstart.cjs $$d/quickstart-cjs.db

## ---- example apps in a browser (README, "Example apps") ----
# Debian's chromium (installed when missing) driven by puppeteer-core through the three example apps;
# examples/express links the checkout's Node package (built by node-build), examples/fastapi runs
# in the test venv, examples/c/rest_server.c is built by rest-server. `make screenshots` refreshes docs/screenshots/ from the same journey.
CHROMIUM ?= /usr/bin/chromium
browser-tools:
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	cd tests/browser && npm ci --no-audit --no-fund
	cd examples/express && npm ci --no-audit --no-fund --ignore-scripts

test-browser: node-build python-install browser-tools oidc-tools rest-server
	cd tests/browser && CHROMIUM=$(CHROMIUM) EXAMPLE_PYTHON=$(VENV)/bin/python EXAMPLE_C=$(BUILD)/c/rest_server node --test journey.test.js

screenshots: node-build python-install browser-tools oidc-tools rest-server
	cd tests/browser && CHROMIUM=$(CHROMIUM) EXAMPLE_PYTHON=$(VENV)/bin/python EXAMPLE_C=$(BUILD)/c/rest_server SCREENSHOTS=$(CURDIR)/docs/screenshots \
		node --test journey.test.js

## ---- reliability (docs/reliability.md) ----
# The Rust soak (core/tests/soak.rs) runs 10 s in test-rust; this is its Node twin, on SQLite and PostgreSQL.
SOAK_SECS ?= 10
soak-smoke: node-build
	SOAK_SECS=$(SOAK_SECS) SOAK_LABEL=sqlite node tests/soak/node-soak.js
	db=soak_$$RANDOM$$RANDOM && psql -q "$$ACCOUNTS_TEST_PG_URL" -c "CREATE DATABASE $$db" && \
		SOAK_SECS=$(SOAK_SECS) SOAK_LABEL=postgres SOAK_DB="$${ACCOUNTS_TEST_PG_URL%/*}/$$db" node tests/soak/node-soak.js

# `make soak`: the long soak, 60 s per language and backend, release builds; reports in build/soak/.
soak: node-build
	ACCOUNTS_REQUIRE_PG=1 tests/pg/with-postgres.sh bash -c '\
		ACCOUNTS_SOAK_SECS=60 ACCOUNTS_SOAK_REPORT_DIR=$(BUILD)/soak cargo test --release -p accounts-core --test soak -- --nocapture --test-threads=1 && \
		$(MAKE) --no-print-directory soak-smoke SOAK_SECS=60 SOAK_REPORT_DIR=$(BUILD)/soak'

# Fuzzing (tests/fuzz): libFuzzer through cargo-fuzz on the nightly toolchain (what sanitizer
# coverage needs). fuzz-corpus (in `make test`) replays the kept corpus on stable; fuzz-smoke also
# runs each target briefly (its cold sanitizer build takes ≈ 13 min on 2 cores, so it is not in
# `make test`); `make fuzz` runs each FUZZ_SECS (default 10 min) and leaves logs in build/fuzz/.
FUZZ_TARGETS := c_api config tokens links_and_identifiers import web
FUZZ_SECS ?= 600
FUZZ_SMOKE_SECS ?= 10
# cargo-fuzz builds for the host without --target; its own target dir keeps its instrumented builds apart.
FUZZ := env -u CARGO_BUILD_TARGET cargo +nightly fuzz
fuzz-tools:
	@command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz --version 0.13.2

fuzz-corpus:
	cd tests/fuzz && CARGO_TARGET_DIR=$(CURDIR)/target cargo test -q

fuzz-smoke: fuzz-tools fuzz-corpus
	@if rustup run nightly rustc -V >/dev/null 2>&1; then \
		for t in $(FUZZ_TARGETS); do \
			mkdir -p $(BUILD)/fuzz/smoke/$$t && \
			$(FUZZ) run --fuzz-dir tests/fuzz $$t $(BUILD)/fuzz/smoke/$$t tests/fuzz/corpus/$$t -- \
				-max_total_time=$(FUZZ_SMOKE_SECS) -rss_limit_mb=4096 2>&1 | tail -1 || exit 1; \
		done; \
	else echo "fuzz-smoke: no nightly toolchain here, so only the corpus was replayed"; fi

fuzz: fuzz-tools
	@mkdir -p $(BUILD)/fuzz
	for t in $(FUZZ_TARGETS); do \
		$(FUZZ) run --fuzz-dir tests/fuzz $$t -- -max_total_time=$(FUZZ_SECS) -rss_limit_mb=4096 -print_final_stats=1 \
			> $(BUILD)/fuzz/$$t.log 2>&1 || { tail -40 $(BUILD)/fuzz/$$t.log; exit 1; }; \
		grep -E "stat::number_of_executed_units|Done" $(BUILD)/fuzz/$$t.log; \
	done

## ---- benchmarks ----
# `make bench`: release builds, accounts-js (memory + TypeORM adapters) side by side, the native
# limits, Python threads, peak RSS and 1 k / 1 M users; BENCH_SECONDS sets each row's duration.
bench:
	bench/run.sh full

# `make bench-scale` (not in `make test`; ~40 min on 2 shared cores): PostgreSQL at BENCH_SCALE_USERS (1 M) imported users and
# 1, 2, 5, 10 Node app processes against accounts-js on TypeORM, cost against user count on SQLite and
# PostgreSQL, the query plans of the per-request statements (bench/scale/run.sh); results in build/bench/scale/.
bench-scale:
	bench/scale/run.sh

# A tiny run of the same code (dev builds), so the benchmark keeps working; part of `make test`.
bench-smoke: node-build python-install
	bench/run.sh smoke >/dev/null
	@echo "bench-smoke: ok ($(BUILD)/bench/smoke/results.txt)"

## ---- demo ----
demo: demo-c demo-python demo-node

demo-node: node-build
	d=$$(mktemp -d) && node examples/node/quickstart.mjs $$d/quickstart.db

demo-python: python-install
	d=$$(mktemp -d) && $(VENV)/bin/python examples/python/quickstart.py $$d/quickstart.db

demo-c: $(LIB_DIR)/libaccounts.so
	@mkdir -p $(BUILD)/c
	gcc $(CFLAGS_TEST) examples/c/quickstart.c $(LDFLAGS_TEST) -o $(BUILD)/c/quickstart
	d=$$(mktemp -d) && $(BUILD)/c/quickstart $$d/quickstart.db

clean:
	rm -rf $(BUILD) target
