# The two commands of the README: `make demo` and `make check`.
# Both install what they miss with apt-get (as root) and build with meson.

BUILD      ?= build
SANBUILD   ?= build-san
MNT        ?= $(CURDIR)/mnt

BUILD_PKGS = meson ninja-build pkg-config gcc libfuse3-dev fuse3 libvirt-dev libxml2-dev \
	libsqlite3-dev libglib2.0-dev libwebsockets-dev libssh2-1-dev liburing-dev libvirt-clients libvirt-daemon novnc
TEST_PKGS  = inotify-tools vim-tiny python3-libvirt libvirt-daemon-driver-qemu \
	qemu-system-x86 dnsmasq-base iptables nftables openssh-client openssh-server \
	socat chromium websockify valgrind clang libclang-rt-14-dev

.PHONY: all deps test-deps build build-san demo check bench clean

all: build

deps:
	@./tests/install-deps $(BUILD_PKGS)

test-deps: deps
	@./tests/install-deps $(TEST_PKGS)
	@# Node.js may come from elsewhere (its npm then conflicts with Debian's).
	@command -v node >/dev/null && command -v npm >/dev/null || ./tests/install-deps nodejs npm

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(SANBUILD)/build.ninja:
	meson setup $(SANBUILD) -Db_sanitize=address,undefined -Db_lundef=false

build-san: test-deps $(SANBUILD)/build.ninja
	ninja -C $(SANBUILD)

demo: build
	@./examples/demo $(BUILD) $(MNT)

check: build-san
	@./tests/run $(SANBUILD)

bench: build test-deps
	@./bench/run $(BUILD)

clean:
	rm -rf $(BUILD) $(SANBUILD)
