# FirstFrame — two commands from a fresh clone: `make demo` and `make test`.
# Both install the Debian packages FirstFrame needs when they are missing (root, or sudo when available).

# openssl: the TLS accuracy test runs `openssl s_server` as FFmpeg's HTTPS peer.
DEBIAN_PACKAGES := libavformat-dev libavcodec-dev libavutil-dev pkg-config ffmpeg openssl
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
SWIFT ?= swift

.PHONY: deps build test tsan demo serve clean

deps:
	@missing=""; \
	for package in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		$(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y $$missing; \
	fi

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) tsan

# The DNS cache under 100 threads with refreshes running, under ThreadSanitizer (its own build directory; the
# network hooks step aside under a sanitizer, so only tests that do not need them are run here).
TSAN_TESTS := DNSCacheBehaviour
tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --build-path .build-tsan
	TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --skip-build --sanitize=thread --build-path .build-tsan --filter $(TSAN_TESTS)

demo: deps
	$(SWIFT) build --product firstframe
	$(SWIFT) run --skip-build firstframe demo

serve: deps
	$(SWIFT) build --product firstframe
	$(SWIFT) run --skip-build firstframe serve

clean:
	rm -rf .build .build-tsan
