# haproxide — see README.md. `make demo` runs the proxy on examples/demo.cfg; `make test` is the
# full test run (.ci/run calls it).
CARGO ?= cargo
PREFIX ?= /usr/local/haproxy
BIN := target/release/haproxide

.PHONY: all build release test deps lint unit check-examples conformance fuzz-smoke fuzz demo bench soak install clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

# Packages the tests use (HAProxy 2.6 for differential tests, php-cli, rsyslog, hatop, ...).
deps:
	bash scripts/install-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every cargo test: unit tests beside the code, end-to-end tests in tests/ (real processes on
# loopback), conformance tests against HAProxy 2.6 and the 1.4.25 corpus verdicts, corpus
# replays of the fuzz targets.
# Debug profile: the release profile (thin LTO) costs minutes of compile time on CI.
unit:
	$(CARGO) test --workspace

# `-c` on every example configuration must succeed.
check-examples: build
	bash scripts/check-examples.sh target/debug/haproxide

# Only the differential cases (1.4.25 corpus verdicts, HAProxy 2.6 side by side).
conformance: deps
	bash conformance/run.sh

fuzz-smoke:
	bash scripts/fuzz.sh smoke

fuzz:
	bash scripts/fuzz.sh run

test: deps lint unit check-examples

demo: release
	bash scripts/demo.sh $(BIN)

bench: release
	bash bench/run.sh $(BIN)

soak: release
	bash scripts/soak.sh $(BIN)

# `make install PREFIX=/usr/local/haproxy`: the binary, a `haproxy` symlink to it (the same
# program under HAProxy's name, for scripts that call `haproxy`), the init script pointed at
# this prefix, a sample configuration and the compatibility notes. BIN=<path> installs an
# already built binary instead of building the release one.
install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/etc $(DESTDIR)$(PREFIX)/doc
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/haproxide
	ln -sf haproxide $(DESTDIR)$(PREFIX)/sbin/haproxy
	sed -e 's|^SBINDIR=.*|SBINDIR=$(PREFIX)/sbin|' examples/haproxide.init > $(DESTDIR)$(PREFIX)/etc/haproxide.init
	chmod 755 $(DESTDIR)$(PREFIX)/etc/haproxide.init
	install -m 644 examples/demo.cfg $(DESTDIR)$(PREFIX)/etc/haproxy.cfg.sample
	install -m 644 docs/compatibility.md $(DESTDIR)$(PREFIX)/doc/compatibility.md

# The release binary is always handed to cargo, which knows whether it is up to date.
.PHONY: target/release/haproxide
target/release/haproxide:
	$(CARGO) build --release

clean:
	$(CARGO) clean
