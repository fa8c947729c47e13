# The two set-up commands of the README:
#   make run   install build packages (as root), build, serve in the foreground
#   make test  install test packages (as root), build, run every test layer
#   make package  the Debian package (lintian-clean) in $(BUILD)/package/
BUILD ?= build
CONFIG ?= packaging/rdns-policyd.toml
JOBS ?= $(shell nproc)

.PHONY: all build run test package deps-build deps-test deps-package format tidy clean

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

test: deps-test $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The Debian package, in $(BUILD)/package/, lintian-clean.
package: deps-package
	sh packaging/build-package.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

tidy: $(BUILD)/CMakeCache.txt
	run-clang-tidy -quiet -p $(BUILD) $$(git ls-files '*.cpp')

clean:
	rm -rf $(BUILD)
