# glbridge. `make demo` and `make test` work on a fresh Debian bookworm
# machine: both install what is missing first (as root, or through sudo).

GO      ?= go
GOFMT   ?= $(shell $(GO) env GOROOT)/bin/gofmt
BIN     := bin
GOFLAGS ?=
export GOFLAGS

# What building and testing need: the Vulkan loader and headers, Mesa's
# lavapipe (Vulkan) and llvmpipe (GL through EGL), EGL/GL headers, the X11
# headers GLFW builds against, Xvfb for the windowed demo, and a C compiler.
DEBS := gcc g++ clang libclang-rt-14-dev pkg-config \
	libvulkan-dev libvulkan1 mesa-vulkan-drivers \
	libegl-dev libegl1 libegl-mesa0 libgl-dev libgl1-mesa-dri libgbm1 \
	libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev libxext-dev \
	xvfb

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build test test-short bench demo info vet lint clean samples libglbridge test-libglbridge clean-libglbridge

all: build

# deps installs only the packages that are missing and says which.
deps:
	@missing=""; \
	for p in $(DEBS); do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
		echo "deps: all $(words $(DEBS)) Debian packages present"; \
	else \
		echo "deps: installing$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null && \
		echo "deps: installed$$missing"; \
	fi
	@command -v $(GO) >/dev/null || { echo "deps: Go is not installed (need Go 1.26: https://go.dev/dl/)"; exit 1; }

build: deps
	$(GO) build -o $(BIN)/ ./cmd/...

# samples builds the sample programs (samples/) into bin/; the C client
# needs only a C99 compiler and the Vulkan headers (it dlopens the loader).
samples: deps
	$(GO) build -o $(BIN)/ ./samples/...
	$(CC) -std=c99 -Wall -Wextra -Werror -O2 -o $(BIN)/c-client samples/c-client/c-client.c -ldl
	$(MAKE) -C libglbridge
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -O2 -Ilibglbridge/include -o $(BIN)/cpp-consumer \
		samples/cpp-consumer/cpp-consumer.cpp libglbridge/build/libglbridge.a -pthread
	$(CC) -std=c99 -Wall -Wextra -Werror -O2 -Ilibglbridge/include -o $(BIN)/c-renderer samples/c-renderer/c-renderer.c \
		samples/c-renderer/testpattern.c libglbridge/build/libglbridge.a -lEGL -pthread

vet: deps
	$(GO) vet ./...

# lint is go vet, a gofmt check (it fails listing every file gofmt would
# change) and staticcheck, pinned in go.mod as a tool dependency and run
# through the Go toolchain (go tool staticcheck), so nothing is installed
# outside the module cache. All three run, and lint fails if any did.
lint: deps
	@status=0; \
	echo "$(GO) vet ./..."; \
	$(GO) vet ./... || status=1; \
	echo "$(GOFMT) -l ."; \
	out=$$($(GOFMT) -l . 2>&1) || status=1; \
	if [ -n "$$out" ]; then \
		echo "gofmt: these files need gofmt -w (or do not parse):"; \
		echo "$$out"; \
		status=1; \
	fi; \
	echo "$(GO) tool staticcheck ./..."; \
	$(GO) tool staticcheck ./... || status=1; \
	exit $$status

# The suites run on the local drivers for real; packages run one at a time
# (-p 1) because the machine has two cores and llvmpipe uses them all.
test: deps lint
	$(GO) test -p 1 -count=1 -timeout 40m ./...
	$(GO) test -p 1 -count=1 -race -timeout 20m ./bridge/...
	$(MAKE) test-libglbridge

# libglbridge (libglbridge/, issue 13): the C client library, built with
# gcc (and checked with clang when clang is installed) into
# libglbridge/build/: libglbridge.so (soname libglbridge.so.0),
# libglbridge.a and glbridge.pc.
libglbridge: deps
	$(MAKE) -C libglbridge

# test-libglbridge runs its C tests (ASan + UBSan) against real brokers.
test-libglbridge: build
	$(MAKE) -C libglbridge test GLSHARE=$(CURDIR)/$(BIN)/glshare

clean-libglbridge:
	$(MAKE) -C libglbridge clean

bench: build
	$(GO) test -p 1 -run '^$$' -bench . -benchtime 2s ./...
	$(BIN)/glshare bench --quick

info: build
	$(BIN)/glshare info

demo: build
	$(BIN)/glshare demo

clean:
	rm -rf $(BIN)

# install puts libglbridge (header, libraries, glbridge.pc: see
# libglbridge/Makefile) under $(PREFIX), glshare (and glshare-window, which
# `glshare demo --window` runs from glshare's own directory) in $(BINDIR)
# and the systemd user
# units (dist/systemd) in $(USERUNITDIR), with @BINDIR@ replaced by the
# installed path; DESTDIR stages it for a package. Then, as the user:
# systemctl --user daemon-reload && systemctl --user enable --now glshare.socket
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
UNITS       := glshare.socket glshare.service

.PHONY: install uninstall

install: build libglbridge
	$(MAKE) -C libglbridge install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(USERUNITDIR)
	install -m 0755 $(BIN)/glshare $(BIN)/glshare-window $(DESTDIR)$(BINDIR)/
	for u in $(UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' dist/systemd/$$u > $(DESTDIR)$(USERUNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(USERUNITDIR)/$$u.tmp && \
		mv $(DESTDIR)$(USERUNITDIR)/$$u.tmp $(DESTDIR)$(USERUNITDIR)/$$u || exit 1; \
	done

uninstall:
	$(MAKE) -C libglbridge uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	rm -f $(DESTDIR)$(BINDIR)/glshare $(DESTDIR)$(BINDIR)/glshare-window
	rm -f $(addprefix $(DESTDIR)$(USERUNITDIR)/,$(UNITS))
