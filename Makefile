# The two set-up commands of the README:
#   make run   install build packages (as root), build, serve in the foreground
#   make test  install test packages (as root), build, run every test layer
#   make package  the Debian package (lintian-clean) in $(BUILD)/package/
#   make fuzz  every fuzz target for FUZZ_RUNS executions (docs/ROBUSTNESS.md)
BUILD ?= build
CONFIG ?= packaging/rdns-policyd.toml
JOBS ?= $(shell nproc)
# The sanitizer trees of make test (docs/ROBUSTNESS.md): ASan + UBSan with
# the fuzz targets, built by clang; TSan for what crosses threads.
SAN_BUILD ?= $(BUILD)/sanitize
TSAN_BUILD ?= $(BUILD)/tsan
FUZZ_RUNS ?= 10000000
# Every tests/fuzz/fuzz_NAME.cpp is a target (tests/fuzz/CMakeLists.txt reads the same).
FUZZ_TARGETS = $(patsubst tests/fuzz/fuzz_%.cpp,%,$(wildcard tests/fuzz/fuzz_*.cpp))
# Every report goes to a file (in the tree's own reports/) as well as failing
# its process, so a report from a helper process whose exit status no test
# reads still fails make test. $(1) is the folder.
san_env = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(1)/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(1)/ubsan \
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:log_path=$(1)/tsan \
	RDNS_SANITIZED=1

.PHONY: all build run test test-plain test-sanitize test-tsan fuzz package deps-build \
	deps-test deps-package format tidy clean

all: build

deps-build:
	@sh packaging/install-deps.sh build

deps-test:
	@sh packaging/install-deps.sh test

deps-package:
	@sh packaging/install-deps.sh package

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DRDNS_WERROR=ON

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/rdns-policyd --config $(CONFIG)

test: test-plain test-sanitize test-tsan

test-plain: deps-test $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(SAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(SAN_BUILD) -DRDNS_WERROR=ON -DCMAKE_CXX_COMPILER=clang++ \
		-DRDNS_SANITIZE=address,undefined -DRDNS_FUZZ=ON

$(TSAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(TSAN_BUILD) -DRDNS_WERROR=ON -DCMAKE_CXX_COMPILER=clang++ \
		-DRDNS_SANITIZE=thread

# The whole suite again under ASan + UBSan, with every fuzz target for a
# bounded time.
test-sanitize: deps-test $(SAN_BUILD)/CMakeCache.txt
	cmake --build $(SAN_BUILD) -j $(JOBS)
	sh tests/check-sanitizer-reports.sh --self-test address
	rm -rf $(SAN_BUILD)/reports && mkdir -p $(SAN_BUILD)/reports
	cd $(SAN_BUILD) && $(call san_env,$(abspath $(SAN_BUILD))/reports) \
		ctest --output-on-failure -j $(JOBS)
	sh tests/check-sanitizer-reports.sh $(SAN_BUILD)/reports

# Under TSan, the parts that run on libunbound's worker thread: the resolver
# and the checks against real DNS servers, and the daemon end to end.
test-tsan: deps-test $(TSAN_BUILD)/CMakeCache.txt
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target rdns-policyd integration_tests
	sh tests/check-sanitizer-reports.sh --self-test thread
	rm -rf $(TSAN_BUILD)/reports && mkdir -p $(TSAN_BUILD)/reports
	cd $(TSAN_BUILD) && $(call san_env,$(abspath $(TSAN_BUILD))/reports) \
		ctest --output-on-failure -j $(JOBS) \
		-R '^(integration:|e2e: daemon over|e2e: reload under load)'
	sh tests/check-sanitizer-reports.sh $(TSAN_BUILD)/reports

# Each fuzz target for FUZZ_RUNS executions, JOBS at a time; what they find
# stays in $(SAN_BUILD)/tests/fuzz/found/NAME.
fuzz: deps-test $(SAN_BUILD)/CMakeCache.txt
	cmake --build $(SAN_BUILD) -j $(JOBS) $(addprefix --target fuzz_,$(FUZZ_TARGETS))
	printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(JOBS) -I NAME sh tests/fuzz/run-fuzz.sh \
		$(SAN_BUILD)/tests/fuzz/fuzz_NAME tests/fuzz/corpus/NAME \
		$(SAN_BUILD)/tests/fuzz/found/NAME 86400 $(FUZZ_RUNS)

# The Debian package, in $(BUILD)/package/, lintian-clean.
package: deps-package
	sh packaging/build-package.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

# The fuzz targets are compiled only in the sanitizer tree, so they are
# checked with its compilation database.
tidy: $(BUILD)/CMakeCache.txt $(SAN_BUILD)/CMakeCache.txt
	run-clang-tidy -quiet -p $(BUILD) $$(git ls-files '*.cpp' ':!tests/fuzz')
	run-clang-tidy -quiet -p $(SAN_BUILD) $$(git ls-files 'tests/fuzz/*.cpp')

clean:
	rm -rf $(BUILD)
