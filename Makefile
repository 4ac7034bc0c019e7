# medialib: see README.md. `make test` and `make demo` work on a fresh Debian machine.
APT_PACKAGES := libavformat-dev libavcodec-dev libavutil-dev libsqlite3-dev pkg-config chromium chromium-driver
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build release test demo bench fixtures screenshot clean

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

release: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build
	$(SWIFT) test

demo: build
	@sh scripts/demo.sh "$$($(SWIFT) build --show-bin-path)/medialib"

bench:
	@sh bench/run.sh

# Retakes the README's picture of the operator's page (the browser test saves it).
screenshot: deps
	$(SWIFT) build --build-tests
	MEDIALIB_PAGE_SCREENSHOT="$(CURDIR)/docs/operator-page.png" $(SWIFT) test --skip-build --filter BrowserTests

# Regenerates Fixtures/ with the ffmpeg CLI (tests never need it).
fixtures:
	sh Fixtures/make-fixtures.sh

clean:
	rm -rf .build demo
