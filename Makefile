# FirstFrame — two commands from a fresh clone: `make demo` and `make test`.
# Both install the Debian packages FirstFrame needs when they are missing (root, or sudo when available).

# openssl: the TLS accuracy test runs `openssl s_server` as FFmpeg's HTTPS peer.
# libgnutls28-dev: gnutls is linked through pkg-config (the hooks interpose its handshake and record calls).
# iproute2: the hung-resolver test runs the CLI in a network namespace (`ip` brings its loopback up).
# nginx-light, libnginx-mod-rtmp: nginx-rtmp is the RTMP (and live HLS) server the project did not write.
# chromium: renders the HTML report page headless, to check the picture is drawn.
# prometheus: the real scraper in the exporter's end-to-end test.
# iptables, libnetfilter-queue-dev: the link emulator (Tools/LinkEmulator, issue 23) receives a namespace's loopback
# packets from an iptables NFQUEUE rule through libnetfilter_queue; this kernel has no sch_netem to do it instead.
# mpv: the `mpv` contender of `firstframe bench network` (its low-latency profile).
DEBIAN_PACKAGES := libavformat-dev libavcodec-dev libavutil-dev libgnutls28-dev pkg-config ffmpeg openssl iproute2 \
	nginx-light libnginx-mod-rtmp chromium prometheus iptables libnetfilter-queue-dev mpv
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
SWIFT ?= swift

.PHONY: deps build test lint tsan otlp-example docs demo serve clean link-emulator test-link-emulator tuned-open \
	test-network-bench test-network-accuracy

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
	# --no-parallel: the test targets measure time on two cores; suites of different targets must not overlap.
	$(SWIFT) test --skip-build --no-parallel
	$(MAKE) tsan
	# The link emulator's fidelity at one profile (~8 s; says "skipped" where namespaces or NFQUEUE are not allowed).
	$(MAKE) test-link-emulator
	# `firstframe bench network` at 4g, briefly (~40 s; skips where namespaces or NFQUEUE are not allowed).
	$(MAKE) test-network-bench
	# The report's RTT and floor against the emulator and measure.py (~30 s; skips likewise).
	$(MAKE) test-network-accuracy

# Formatting and style: swift-nio's .swift-format settings, checked with the toolchain's swift-format (no build).
# `swift-format format -i -r --parallel Sources Tests Examples Package.swift` applies them.
lint:
	swift-format lint --strict -r --parallel Sources Tests Examples Package.swift

# The network layer (DNS cache under 100 threads with refreshes running, trace assembly) under ThreadSanitizer, in
# its own build directory. FIRSTFRAME_NETWORK_ONLY=1 declares only that layer and its tests, so neither FFmpeg's
# wrappers nor SwiftNIO are compiled here; the hooks step aside under a sanitizer, so tests that need them skip.
tsan: deps
	FIRSTFRAME_NETWORK_ONLY=1 $(SWIFT) build --build-tests --sanitize=thread --build-path .build-tsan
	FIRSTFRAME_NETWORK_ONLY=1 TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --skip-build --sanitize=thread --build-path .build-tsan

# OTLP export through swift-otel lives in a package of its own (Examples/OTLPExport): its dependencies take longer
# to build than FirstFrame. CI builds it and runs its test (a collector on loopback decoding what it receives).
otlp-example: deps
	cd Examples/OTLPExport && $(SWIFT) build --build-tests && $(SWIFT) test --skip-build

demo: deps
	$(SWIFT) build --product firstframe
	$(SWIFT) run --skip-build firstframe demo

serve: deps
	$(SWIFT) build --product firstframe
	$(SWIFT) run --skip-build firstframe serve

# The DocC catalog of FirstFrame (swift-docc-plugin), warnings as errors.
docs: deps
	$(SWIFT) package --allow-writing-to-directory .build/docs generate-documentation --target FirstFrame \
		--warnings-as-errors --output-path .build/docs

# The link emulator (delay, rate, loss on a network namespace's loopback; C, no Swift): Tools/LinkEmulator/README.md.
# scripts/netns-link.sh runs it; scripts/test-link-emulator.sh checks its fidelity (root; skips where not allowed).
LINK_EMULATOR_CFLAGS := -std=c11 -O2 -Wall -Wextra -Werror
link-emulator: .build/link-emulator
.build/link-emulator: Tools/LinkEmulator/link-emulator.c
	@dpkg-query -W -f='$${Status}' libnetfilter-queue-dev 2>/dev/null | grep -q "install ok installed" || $(MAKE) deps
	@mkdir -p .build
	$(CC) $(LINK_EMULATOR_CFLAGS) -o $@ $< -lnetfilter_queue -lnfnetlink -lm

test-link-emulator: link-emulator
	scripts/test-link-emulator.sh

# The "tuned FFmpeg in C" contender of `firstframe bench network` (Tools/TunedOpen/tuned-open.c).
tuned-open: .build/tuned-open
.build/tuned-open: Tools/TunedOpen/tuned-open.c
	@mkdir -p .build
	$(CC) $(LINK_EMULATOR_CFLAGS) -o $@ $< $$(pkg-config --cflags --libs libavformat libavcodec libavutil) -lm

test-network-bench: link-emulator tuned-open
	$(SWIFT) build --product firstframe
	scripts/test-network-bench.sh

# The report's RTT and floor against the emulator's settings and measure.py's floor (root; skips where not allowed).
test-network-accuracy: link-emulator
	$(SWIFT) build --product firstframe
	scripts/test-network-accuracy.sh .build/debug/firstframe

clean:
	rm -rf .build .build-tsan .build-net Examples/OTLPExport/.build
