# Flywheel: the two commands are `make demo` (the main job) and `make test` (every test).
# Each installs what it needs first (`make deps`).

BUILD_DIR ?= build
JOBS ?= 2
TESTENV_DIR ?= $(CURDIR)/.testenv
export FLYWHEEL_TESTENV_DIR := $(TESTENV_DIR)
export CCACHE_DIR ?= $(HOME)/.cache/flywheel/ccache
# Share cached objects between checkouts in different folders (CI clones, worktrees): paths
# relative to the checkout, and the build folder left out of the hash (builds use -g).
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1
# Precompiled headers (FLYWHEEL_PCH) stay cacheable: ccache cannot see macros or __TIME__ inside a
# .gch, and the files' times differ between checkouts; the .gch's content is hashed all the same.
export CCACHE_SLOPPINESS ?= pch_defines,time_macros,include_file_mtime,include_file_ctime

.PHONY: all deps deps-build build bench test test-builders test-unit test-integration test-long test-sanitize demo demo-down testenv-up testenv-down \
        format format-check clean

all: build

deps:
	@hack/deps.sh

# deps, with the C++ build running beside the control plane's Go build (hack/deps.sh --beside).
deps-build:
	@hack/deps.sh --beside '$(MAKE) --no-print-directory build'

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja

build: $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Unit tests, then integration tests against a control plane started for the run and stopped
# after it (an already-running one from `make testenv-up` is reused and left running).
test: deps-build
	@hack/test.sh

# The kaniko and buildkit builders, for real on the testenv's node: their images are Go builds of
# several minutes, so this is its own target, which .ci/run runs after `make test`.
test-builders: deps-build
	@hack/test.sh --builders

test-unit: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure -j $(JOBS)

test-integration: build
	cd $(BUILD_DIR) && ctest -L integration --output-on-failure
	cd $(BUILD_DIR) && ctest -L disruptive --output-on-failure

test-long: deps build
	@hack/test.sh --long

# Unit and integration tests built with ASan, LSan and UBSan (a second build, in build-sanitize).
test-sanitize: deps
	@hack/test.sh --sanitize

# Benchmarks against a baseline in the same run; results go to docs/benchmarks.md.
bench: deps build
	@bench/informer_startup.sh
	@bench/release_sync.sh
	@bench/metrics_scrape.sh
	@bench/rollback_policy.sh
	@bench/pipeline.sh
	@bench/loop.sh

demo: deps-build
	@hack/demo.sh

# Stops everything `make demo` started: its processes, the operator, the control plane.
demo-down:
	@hack/testenv/down.sh

testenv-up:
	@hack/testenv/up.sh

testenv-down:
	@hack/testenv/down.sh

# The C++ sources git knows of, tracked or new (not ignored): a file added but not yet committed
# is formatted and checked too.
CXX_SOURCES = $$(git ls-files --cached --others --exclude-standard '*.cpp' '*.h')

format:
	clang-format -i $(CXX_SOURCES)

format-check:
	clang-format --dry-run --Werror $(CXX_SOURCES)

clean:
	rm -rf $(BUILD_DIR)
