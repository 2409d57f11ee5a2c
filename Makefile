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
             $(LUA_CFLAGS) $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CORE_LIBS  = $(shell $(PKG_CONFIG) --libs libcurl libcrypto 2>/dev/null)
SANDBOX_CFLAGS = $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
SANDBOX_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKG_LUA) libmicrohttpd 2>/dev/null) -lpthread -lm

CORE_SRC = $(wildcard csrc/core*.c)
CORE_HDR = $(wildcard csrc/*.h)
CORE_SO  = $(BUILD)/cohort/core.so
SANDBOX  = $(BUILD)/cohort-sandbox
BLACKHOLE = $(BUILD)/blackhole

DEBIAN_PACKAGES = lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson lua-busted \
                  libmicrohttpd-dev pkg-config libssl-dev

.PHONY: all build deps test demo env install uninstall clean check bench docs

all: build

build: $(CORE_SO) $(SANDBOX) $(BLACKHOLE)

# Installs only what is missing; quiet and quick when everything is there.
deps:
	@sh tools/deps.sh $(DEBIAN_PACKAGES)

$(CORE_SO): $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $(CORE_SRC) $(CORE_LIBS)

$(SANDBOX): csrc/sandbox.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SANDBOX_CFLAGS) -o $@ csrc/sandbox.c $(SANDBOX_LIBS)

$(BLACKHOLE): spec/support/blackhole.c
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

demo: deps build
	@$(RUN_ENV) $(LUA) examples/run_demo.lua

install: build
	install -d $(DESTDIR)$(LUA_LIBDIR)/cohort $(DESTDIR)$(LUA_SHAREDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(CORE_SO) $(DESTDIR)$(LUA_LIBDIR)/cohort/core.so
	cd lua && find cohort -name '*.lua' -exec install -D -m 644 {} $(DESTDIR)$(LUA_SHAREDIR)/{} \;
	install -m 755 $(SANDBOX) $(DESTDIR)$(BINDIR)/cohort-sandbox

uninstall:
	rm -rf $(DESTDIR)$(LUA_LIBDIR)/cohort $(DESTDIR)$(LUA_SHAREDIR)/cohort $(DESTDIR)$(BINDIR)/cohort-sandbox

clean:
	rm -rf $(BUILD)

# Benchmarks (not part of make test): see bench/README.md and docs/benchmarks.md.
bench: deps build
	@$(RUN_ENV) LUA=$(LUA) sh bench/run.sh

# API reference from the LDoc comments (Debian's lua-ldoc): docs/api/index.html
docs: build
	@sh tools/deps.sh lua-ldoc
	@$(RUN_ENV) sh tools/docs.sh
