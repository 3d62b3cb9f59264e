# The front door: make (build), make run (the tour), make test, make bench.
# CMake and CTest do the work in build/; scripts/deps.sh installs what is
# missing on a Debian machine first.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all deps configure run test bench clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/deps.sh

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(GENERATOR)

# The tour, charted into build/tour.svg.
run: all
	$(BUILD)/kmm tour --plot $(BUILD)/tour.svg

# A test that hangs fails after 10 minutes instead of stalling CI.
test: all
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j $(JOBS)

# make bench [B=prefix]: every benchmark, or those whose name starts with B.
bench: all
	@scripts/bench.sh $(BUILD) "$(B)"

clean:
	rm -rf $(BUILD)
