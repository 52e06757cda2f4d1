# Entry points for people and CI. CMake does the real work; this file only
# names the usual sequences. GNU make.
#
#   make bootstrap   install missing Debian packages (scripts/bootstrap.sh)
#   make build       configure and build $(BUILD) (RelWithDebInfo)
#   make npm         install the interop tests' pinned npm packages (scripts/npm-install.sh)
#   make test        build and test $(BUILD), then the ASan+UBSan tree $(ASAN_BUILD),
#                    then the ThreadSanitizer tree $(TSAN_BUILD)
#   make demo        build, then run the multi-service demo (scripts/demo.sh) and print its traces
#   make bench       build the benchmarks in $(BENCH_BUILD) (Release) and run them all
#                    (scripts/bench.sh, 7-12 min on 2 cores); ends with name=value figures;
#                    BENCH_PNG=docs/perf-latency.png also copies the latency plot there
#   make clean       remove the build trees
#
# Override on the command line, e.g. `make test BUILD=/tmp/b JOBS=8`.

BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
BENCH_BUILD ?= build-bench
JOBS ?= $(shell nproc)

# The sanitizer run: leaks and any UBSan report fail the test that caused them.
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all bootstrap build npm test demo bench clean

all: build

bootstrap:
	bash scripts/bootstrap.sh

build: bootstrap
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

# The Node side of the interop tests (tests/interop/node), as locked in its
# package-lock.json; does nothing when already installed.
npm:
	bash scripts/npm-install.sh

# Stops at the first failing step, so the last ctest summary printed is the
# one of the suite that failed.
test: build npm
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	cmake -S . -B $(ASAN_BUILD) -DRPCT_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	$(SANITIZER_ENV) ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)
	cmake -S . -B $(TSAN_BUILD) -DRPCT_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir $(TSAN_BUILD) --output-on-failure -j$(JOBS)
	@echo "make test: all suites passed"

demo: build
	bash scripts/demo.sh $(BUILD)

# Programs that print figures (docs/PERFORMANCE.md records them), in a
# Release tree of their own so the test trees keep their build types.
bench: bootstrap
	bash scripts/bench.sh $(BENCH_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
