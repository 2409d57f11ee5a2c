# cohort — build, test and run everything from this file.
# `make test` and `make demo` install what is missing from Debian first (see `deps`).

LUA_VERSION ?= 5.4
LUA         ?= lua$(LUA_VERSION)
PKG_LUA     ?= lua$(LUA_VERSION)
PREFIX      ?= /usr/local
DESTDIR     ?=
LUA_LIBDIR  ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_SHAREDIR?= $(PREFIX)/share/lua/$(LUA_VERSION)
BINDIR      ?= $(PREFIX)/bin

CC      ?= cc
BUILD   ?= build
PKG_CONFIG ?= pkg-config
WARN    = -Wall -Wextra -pedantic -Wmissing-prototypes -Wshadow
CFLAGS  ?= -O2 -g
# LuaRocks passes LUA_INCDIR; otherwise pkg-config finds Lua's headers.
LUA_CFLAGS ?= $(if $(LUA_INCDIR),-I$(LUA_INCDIR),$(shell $(PKG_CONFIG) --cflags $(PKG_LUA) 2>/dev/null))
ALL_CFLAGS = -std=c99 -fvisibility=hidden -D_POSIX_C_SOURCE=200809L -fPIC $(WARN) $(CFLAGS) \
             $(LUA_CFLAGS) $(shell $(PKG_CONFIG) --cflags libcurl sqlite3 2>/dev/null)
CORE_LIBS  = $(shell $(PKG_CONFIG) --libs libcurl libcrypto sqlite3 2>/dev/null)
SANDBOX_CFLAGS = $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
SANDBOX_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKG_LUA) libmicrohttpd 2>/dev/null) -lpthread -lm

CORE_SRC = $(wildcard csrc/core*.c)
CORE_HDR = $(wildcard csrc/*.h)
CORE_SO  = $(BUILD)/cohort/core.so
SANDBOX  = $(BUILD)/cohort-sandbox
BLACKHOLE = $(BUILD)/blackhole
HOSTILE  = $(BUILD)/hostile
RECEIVER  = $(BUILD)/receiver
FLOOD    = $(BUILD)/flood

DEBIAN_PACKAGES = lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson lua-busted \
                  libmicrohttpd-dev pkg-config libssl-dev libsqlite3-dev sqlite3 \
                  python3-jsonschema

.PHONY: all build deps test demo env install uninstall clean check bench docs fuzz conformance

all: build

build: $(CORE_SO) $(SANDBOX) $(BLACKHOLE) $(HOSTILE) $(RECEIVER) $(FLOOD)

# Debian's luarocks: spec/packaging_spec.lua builds and installs the rockspec with it; the
# rockspec declares the store's SQLite (libsqlite3-dev), so LuaRocks checks for its header.
DEBIAN_PACKAGES += luarocks libsqlite3-dev

# Installs only what is missing; quiet and quick when everything is there.
deps:
	@sh tools/deps.sh $(DEBIAN_PACKAGES)

$(CORE_SO): $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $(CORE_SRC) $(CORE_LIBS)

$(SANDBOX): csrc/sandbox.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SANDBOX_CFLAGS) -o $@ csrc/sandbox.c $(SANDBOX_LIBS)

# The sandbox application is Lua 5.4 code: its program is built against Lua 5.4 whatever Lua the
# core is built for (a LuaRocks build for 5.1 or 5.3 passes that one's LUA_INCDIR).
$(SANDBOX): LUA_CFLAGS = $(shell $(PKG_CONFIG) --cflags lua5.4 2>/dev/null)
$(SANDBOX): PKG_LUA = lua5.4

$(BLACKHOLE): spec/support/blackhole.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $<

# the misbehaving HTTP server of spec/hostile_spec.lua (real sockets and bytes)
$(HOSTILE): spec/support/hostile.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< -lpthread

# a webhook receiver that records each request and answers as its path says (delivery specs)
$(RECEIVER): spec/support/receiver.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $<

# holds thousands of idle or slow connections, or times requests beside them (server specs, bench)
$(FLOOD): spec/support/flood.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $<

# eval "$(make -s env)" — use the build tree without installing.
env:
	@echo 'export LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;"'
	@echo 'export LUA_CPATH="$(CURDIR)/$(BUILD)/?.so;;"'
	@echo 'export PATH="$(CURDIR)/$(BUILD):$(CURDIR)/bin:$$PATH"'

RUN_ENV = LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/?.lua;;" \
          LUA_CPATH="$(CURDIR)/$(BUILD)/?.so;;" PATH="$(CURDIR)/$(BUILD):$(CURDIR)/bin:$$PATH"

BUSTED = $(LUA) tools/busted.lua

test: deps build
	@$(RUN_ENV) $(BUSTED) $(BUSTED_ARGS)

# The conformance judge alone (spec/conformance_spec.lua, also part of `make test`); the
# exchanges and the judge's verdicts stay in $(BUILD)/conformance/ to be read.
conformance: deps build
	@mkdir -p $(BUILD)/conformance
	@$(RUN_ENV) COHORT_CONFORMANCE_DIR="$(CURDIR)/$(BUILD)/conformance" $(BUSTED) spec/conformance_spec.lua

demo: deps build
	@$(RUN_ENV) $(LUA) examples/run_demo.lua

install: build
	install -d $(DESTDIR)$(LUA_LIBDIR)/cohort $(DESTDIR)$(LUA_SHAREDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(CORE_SO) $(DESTDIR)$(LUA_LIBDIR)/cohort/core.so
	cd lua && find cohort -name '*.lua' -exec install -D -m 644 {} $(DESTDIR)$(LUA_SHAREDIR)/{} \;
	install -m 755 $(SANDBOX) $(DESTDIR)$(BINDIR)/cohort-sandbox
	install -m 755 bin/cohort $(DESTDIR)$(BINDIR)/cohort

uninstall:
	rm -rf $(DESTDIR)$(LUA_LIBDIR)/cohort $(DESTDIR)$(LUA_SHAREDIR)/cohort $(DESTDIR)$(BINDIR)/cohort-sandbox \
	      $(DESTDIR)$(BINDIR)/cohort

clean:
	rm -rf $(BUILD)

# Benchmarks (not part of make test): see bench/README.md and docs/benchmarks.md.
bench: deps build
	@$(RUN_ENV) LUA=$(LUA) sh bench/run.sh

# API reference from the LDoc comments (Debian's lua-ldoc; lua-markdown and lua5.1 to run it with
# its markdown formatter): docs/api/index.html. Fails on any LDoc warning (tools/docs.sh).
docs: build
	@sh tools/deps.sh lua-ldoc lua-markdown lua5.1
	@$(RUN_ENV) sh tools/docs.sh

# ---------------------------------------------------------------------------------------------
# Other Lua hosts (issue #5): the core is built per version into build/<v>/cohort/core.so
# (5.3, 5.1, jit = LuaJIT 2.1); the sandbox and the blackhole stay the 5.4 ones in $(BUILD).
# `make test-all` runs the whole spec suite on 5.4, 5.3, 5.1 and LuaJIT, in that order, and
# fails if any of them fails. Specs that need what a host lacks carry a busted tag that the
# host's target excludes (see docs/async.md, "Other Lua hosts").
.PHONY: test-all test-5.3 test-5.1 test-jit love-test

HOST_PACKAGES_5.3 = lua5.3 liblua5.3-dev lua-cjson lua-busted
HOST_PACKAGES_5.1 = lua5.1 liblua5.1-0-dev lua-cjson lua-busted
HOST_PACKAGES_jit = luajit libluajit-5.1-dev lua-cjson lua-busted
HOST_LUA_5.3 = lua5.3
HOST_LUA_5.1 = lua5.1
HOST_LUA_jit = luajit
HOST_PKG_5.3 = lua5.3
HOST_PKG_5.1 = lua5.1
HOST_PKG_jit = luajit
# busted tags a host cannot run: #sandbox54 (the sandbox application in-process: Lua 5.3+ code),
# #yield_across_c (a task yielding inside a for-in iterator: not on plain 5.1),
# #uncaught_error_object (lua5.1 prints an uncaught error table without its __tostring)
HOST_EXCLUDE_5.3 =
HOST_EXCLUDE_5.1 = --exclude-tags=sandbox54,yield_across_c,uncaught_error_object
HOST_EXCLUDE_jit = --exclude-tags=sandbox54

# $(call host_env,v): RUN_ENV with the core of host v and the 5.4 sandbox.
host_env = LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/?.lua;;" \
           LUA_CPATH="$(CURDIR)/$(BUILD)/$(1)/?.so;;" PATH="$(CURDIR)/$(BUILD):$(CURDIR)/bin:$$PATH" \
           LUA_CPATH_5_4="$(CURDIR)/$(BUILD)/?.so;;" COHORT_HOST_BUILD="$(CURDIR)/$(BUILD)/$(1)"

HOST_CORES = $(BUILD)/5.3/cohort/core.so $(BUILD)/5.1/cohort/core.so $(BUILD)/jit/cohort/core.so
$(HOST_CORES): $(BUILD)/%/cohort/core.so: $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(filter-out $(LUA_CFLAGS),$(ALL_CFLAGS)) $(shell $(PKG_CONFIG) --cflags $(HOST_PKG_$*)) \
	  -shared -o $@ $(CORE_SRC) $(CORE_LIBS)

test-5.3 test-5.1 test-jit: test-%: deps build
	@sh tools/deps.sh $(HOST_PACKAGES_$*)
	@$(MAKE) -s $(BUILD)/$*/cohort/core.so
	@echo "cohort: spec suite on $$($(HOST_LUA_$*) -v 2>&1 | head -1)$(if $(HOST_EXCLUDE_$*), (not run here: $(HOST_EXCLUDE_$*)))"
	@$(call host_env,$*) $(HOST_LUA_$*) tools/busted.lua --cpath="$(BUILD)/$*/?.so" $(HOST_EXCLUDE_$*) $(BUSTED_ARGS)

test-all: deps build
	@status=0; \
	for t in test test-5.3 test-5.1 test-jit; do \
	  echo "== make $$t"; $(MAKE) -s $$t || status=1; \
	done; exit $$status

# LÖVE example (examples/love): runs the game headless under xvfb against a fresh sandbox for a
# fixed number of frames and checks that every trial arrived as a survey response.
LOVE_FRAMES ?= 480
LOVE_TRIALS ?= 5
love-test: deps build
	@sh tools/deps.sh $(HOST_PACKAGES_jit) love xvfb xauth
	@$(MAKE) -s $(BUILD)/jit/cohort/core.so
	@$(RUN_ENV) COHORT_HOST_BUILD="$(CURDIR)/$(BUILD)/jit" LOVE_FRAMES=$(LOVE_FRAMES) \
	  LOVE_TRIALS=$(LOVE_TRIALS) $(LUA) examples/love/run_headless.lua

# The whole spec suite under valgrind memcheck, then with ASan + UBSan builds (tools/check.sh).
check: deps build
	@sh tools/deps.sh valgrind
	@sh tools/check.sh

# libFuzzer targets for the JSON decoder, the error decoder, the URL builder, the Retry-After
# parser and the store's open (tools/fuzz.sh; FUZZ_SECONDS per target, default 60). Needs clang
# and its runtimes; sqlite3 makes the store target's seeds.
fuzz: deps
	@sh tools/deps.sh clang libclang-rt-14-dev sqlite3
	@sh tools/fuzz.sh
