# medialib: see README.md. `make test` and `make demo` work on a fresh Debian machine.
APT_PACKAGES := libavformat-dev libavcodec-dev libavutil-dev libsqlite3-dev pkg-config chromium chromium-driver postgresql
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build release test test-sanitized demo bench fixtures screenshot fuzz soak clean

all: build

# Installs only what is missing; silent when everything is present.
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build

# The Swift runtime linked statically (with lld, which also keeps Foundation's static
# archives quiet): a serving process maps about 20 MB instead of about 27 MB.
RELEASE_FLAGS := -c release --scratch-path .build-release --static-swift-stdlib -Xswiftc -use-ld=lld

release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

test: deps
	$(SWIFT) build
	$(SWIFT) test
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15

# libFuzzer targets (Fuzz/), built with -sanitize=fuzzer,address in a scratch path of
# their own; each runs FUZZ_SECONDS on a copy of its committed corpus (Fuzz/corpus).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := FuzzRanges FuzzRequest FuzzMP4 FuzzJournal
FUZZ_BUILD = MEDIALIB_FUZZ=1 $(SWIFT) build --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld

fuzz: deps
	@for t in $(FUZZ_TARGETS); do $(FUZZ_BUILD) --product $$t 2>&1 | grep -E "error|warning:" ; done; true
	@sh Fuzz/run.sh "$$($(FUZZ_BUILD) --show-bin-path)" $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The soak test for longer, its figures written to bench/results/.
SOAK_SECONDS ?= 120
soak: deps
	$(SWIFT) build --build-tests
	MEDIALIB_SOAK_SECONDS=$(SOAK_SECONDS) MEDIALIB_SOAK_RESULTS="$(CURDIR)/bench/results/$$(date +%F)-soak.md" \
	  $(SWIFT) test --skip-build --filter SoakTests
	@cat bench/results/$$(date +%F)-soak.md

# The whole suite under ThreadSanitizer, then under AddressSanitizer.
# The suite under ThreadSanitizer, then AddressSanitizer: tests and the medialib they spawn
# built alike (MEDIALIB_BIN), every process's reports collected in a folder that must stay
# empty. Leak checking is off: Swift's globals live until exit by design.
SANITIZER_LOGS := $(CURDIR)/.build-sanitizer-logs
SANITIZERS ?= thread address
# Tests that measure seconds (a 1 s head timeout, "promptly", fd and RSS back to baseline
# within a deadline) fail under a sanitizer's 5-15x slowdown for want of time, not of
# correctness; the code they drive runs under the sanitizers in the other tests.
# Under AddressSanitizer, RSS counts its shadow memory and quarantine: memory bounds are
# measured by the plain run.
SANITIZED_SKIP := headTimeout|trickledHead|folderAndFIFO|pipeliningNonReaders|SoakTests|streamingAndSummaries|ViaTests/ownServer\(|fileTruncatedDuringTransfer|stalledListReader|hundredThousandRecords
test-sanitized: deps
	@for s in $(SANITIZERS); do \
	  dir=.build-$$s; logs=$(SANITIZER_LOGS)/$$s; rm -rf $$logs; mkdir -p $$logs; \
	  echo "== $$s sanitizer: building"; \
	  $(SWIFT) build --build-tests --sanitize=$$s --scratch-path $$dir 2>&1 | grep -E "error|warning:"; \
	  bin="$$($(SWIFT) build --sanitize=$$s --scratch-path $$dir --show-bin-path)"; \
	  [ -x "$$bin/medialib" ] || { echo "$$s build failed"; exit 1; }; \
	  echo "== $$s sanitizer: testing"; \
	  MEDIALIB_BIN="$$bin/medialib" TSAN_OPTIONS="log_path=$$logs/report halt_on_error=0" \
	    ASAN_OPTIONS="log_path=$$logs/report detect_leaks=0 suppressions=$(CURDIR)/Tests/asan.supp" \
	    $(SWIFT) test --skip-build --sanitize=$$s --scratch-path $$dir --skip '$(SANITIZED_SKIP)' || exit 1; \
	  if ls $$logs/report* >/dev/null 2>&1; then cat $$logs/report*; echo "$$s sanitizer: reports above"; exit 1; fi; \
	  echo "== $$s sanitizer: clean"; \
	done

demo: build
	@sh scripts/demo.sh "$$($(SWIFT) build --show-bin-path)/medialib"

bench: deps
	$(SWIFT) build $(RELEASE_FLAGS)
	@sh bench/run.sh "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/medialib"

# Retakes the README's picture of the operator's page (the browser test saves it).
screenshot: deps
	$(SWIFT) build --build-tests
	MEDIALIB_PAGE_SCREENSHOT="$(CURDIR)/docs/operator-page.png" $(SWIFT) test --skip-build --filter BrowserTests

# Regenerates Fixtures/ with the ffmpeg CLI (tests never need it).
fixtures:
	sh Fixtures/make-fixtures.sh

clean:
	rm -rf .build demo
