# qps-tune - one entry point.
#   make                 build everything into build/
#   make test            every test suite (TAP; closing line "N passed, N failed")
#   make SAN=address,undefined test   the same under ASan/UBSan (binaries in build/san)
#   make audit           audit this host with the default profile
#   make demo            the 1k -> 10k story in a throwaway network namespace
#   make bench           benchmarks (minutes; not part of make test)
#   make mutate          apply tests/mutations.txt one at a time; print the catch table
#   make fleet           the Ansible fleet test at 20 hosts (FLEET_HOSTS=N) with controller wall times
#   make fuzz            libFuzzer runs: HTTP parser, maps lines, ELF symbolizer (FUZZ_SECONDS=60 each)
#   make deps            install the Debian 12 packages the build and tests need
#   make install PREFIX=/usr/local DESTDIR=
#   make deb             Debian package in build/ (binaries rebuilt with HARDEN=1 in build/pkg)
# V=1 shows the commands. CC, CLANG, BPFTOOL are overridable.

CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PREFIX   ?= /usr/local
DESTDIR  ?=
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

ifdef SAN
BUILD    ?= build/san
else
BUILD    ?= build
endif

WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
QPS_CFLAGS  = -std=gnu11 -O2 -g -D_GNU_SOURCE $(WARN) -MMD -MP -Ilib -I$(BUILD) $(CFLAGS)
QPS_LDFLAGS = $(LDFLAGS)
ifdef SAN
QPS_CFLAGS  += -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
QPS_LDFLAGS += -fsanitize=$(SAN)
endif
# HARDEN=1: Debian's hardening flags (dpkg-buildflags with hardening=+all);
# scripts/mkdeb.sh builds the packaged binaries with it into $(BUILD)/pkg
ifdef HARDEN
QPS_CFLAGS  += -D_FORTIFY_SOURCE=2 -fstack-protector-strong -Wformat -Werror=format-security
QPS_LDFLAGS += -Wl,-z,relro,-z,now
endif

ifeq ($(V),1)
Q   :=
msg :=
else
Q   := @
msg  = @printf '  %-9s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: FORCE .deps-ok .deps-build-ok all all-targets test test-bins mutate check deps audit demo bench fuzz install uninstall deb clean vmlinux

# Each component's fragment appends to these.
ALL        :=
TEST_BINS  :=
INSTALL_BINS :=
CLEAN      :=

all: all-targets

include lib/build.mk
include server/build.mk
include bpf/build.mk
include probes/build.mk
include tuner/build.mk
include tests/build.mk
-include demo/build.mk

all-targets: $(ALL)

# $(BUILD)/version.h: QPS_VERSION for every binary, rewritten only when the
# version changes (so a new commit rebuilds just what includes it)
QPS_VERSION := $(shell scripts/version.sh)
$(BUILD)/version.h: FORCE
	@mkdir -p $(@D)
	@echo '#define QPS_VERSION "$(QPS_VERSION)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
FORCE:

# ---- dependencies: `make test`/`make audit` install what is missing first
deps:
	$(Q)scripts/deps.sh

.deps-ok:
	$(Q)scripts/deps.sh --check 2>/dev/null || scripts/deps.sh

# make audit may run on a production host: the build packages only
.deps-build-ok:
	$(Q)scripts/deps.sh --check --build 2>/dev/null || scripts/deps.sh --build

test: .deps-ok
	$(Q)$(MAKE) --no-print-directory all $(TEST_BINS)
	$(Q)BUILD=$(BUILD) tests/run.sh $(AREAS)

check: test

# the test programs without running them (scripts/mutate.sh rebuilds with this)
test-bins: all-targets $(TEST_BINS)

# make fleet: tests/ansible/fleet.t with 20 hosts instead of make test's 3; it
# prints the controller's wall time for audit and apply (forks 5 and tuned)
.PHONY: fleet
fleet: .deps-ok
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) QPS_FLEET_HOSTS=$(or $(FLEET_HOSTS),20) tests/ansible/fleet.t

# make mutate: what the suites catch (tests/mutations.txt); minutes, not in make test
mutate: .deps-ok
	$(Q)scripts/mutate.sh $(MUTATE_ARGS)

# test one area: make test-unit, make test-server, make test-tuner, ...
test-%: .deps-ok
	$(Q)$(MAKE) --no-print-directory all $(TEST_BINS)
	$(Q)BUILD=$(BUILD) tests/run.sh $*

audit: .deps-build-ok
	$(Q)$(MAKE) --no-print-directory $(BUILD)/qps-tune
	$(Q)$(BUILD)/qps-tune audit $(AUDIT_ARGS); rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 3 ]

demo: .deps-ok
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh $(DEMO_ARGS)

bench: .deps-ok
	$(Q)scripts/deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bench/run.sh $(BENCH_ARGS)

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux/$(ARCH)/vmlinux.h

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/qps-server $(DESTDIR)$(PREFIX)/bin/qps-server
	install -m 0755 $(BUILD)/qps-tune $(DESTDIR)$(PREFIX)/sbin/qps-tune
	install -d $(DESTDIR)$(PREFIX)/share/qps-tune/profiles
	install -m 0644 profiles/*.profile $(DESTDIR)$(PREFIX)/share/qps-tune/profiles/
	install -d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 man/qps-tune.8 man/qps-server.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 0644 man/qps-tune.profile.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -d $(DESTDIR)$(PREFIX)/share/qps-tune/dashboards
	install -m 0644 dashboards/*.json $(DESTDIR)$(PREFIX)/share/qps-tune/dashboards/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 completion/qps-tune.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/qps-tune

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/qps-server $(DESTDIR)$(PREFIX)/sbin/qps-tune
	rm -rf $(DESTDIR)$(PREFIX)/share/qps-tune
	rm -f $(DESTDIR)$(PREFIX)/share/man/man8/qps-tune.8 $(DESTDIR)$(PREFIX)/share/man/man8/qps-server.8
	rm -f $(DESTDIR)$(PREFIX)/share/man/man5/qps-tune.profile.5
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/qps-tune

deb: all
	$(Q)BUILD=$(BUILD) scripts/mkdeb.sh

clean:
	rm -rf build

$(BUILD)/%.o: %.c | $(BUILD)/version.h
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(QPS_CFLAGS) -c $< -o $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
