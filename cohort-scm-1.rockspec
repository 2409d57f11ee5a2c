rockspec_format = "3.0"
package = "cohort"
version = "scm-1"
-- Where the project is published. `luarocks make` in a checkout builds that checkout and never
-- fetches this; `luarocks install cohort-scm-1.rockspec` clones it.
source = {
  url = "git+https://github.com/cohort-lua/cohort.git",
  dir = "cohort",
}
description = {
  summary = "Script fieldwork on Prolific and QuestionPro from Lua",
  detailed = [[
cohort lets researchers script their online studies: recruit on Prolific, collect answers in
Prolific surveys or QuestionPro, review, approve or reject, pay bonuses, export. A C core does the
HTTP (libcurl); a Lua layer gives objects with methods; a local sandbox emulates both APIs.
]],
  homepage = "https://github.com/cohort-lua/cohort",
  license = "MIT",
}
-- lua-cjson at run time: core.encode is a private lua-cjson instance (cjson.new()), and the
-- workbench, the prompt and the sandbox application use cjson.null and cjson. Debian's
-- lua-cjson package is invisible to LuaRocks; say once that it provides the rock (README.md)
-- or LuaRocks fetches and builds lua-cjson from luarocks.org.
dependencies = {
  "lua >= 5.1",
  "lua-cjson >= 2.1.0",
}
-- Every library the build links, checked before it starts. The Makefile takes the compiler and
-- linker flags of each from pkg-config, which knows where a distribution puts them.
-- CURL is found by its library alone: Debian's curl headers live in the multiarch directory
-- (/usr/include/x86_64-linux-gnu/curl/curl.h), where LuaRocks 3.8 looks for no header, while
-- its library search covers lib/x86_64-linux-gnu; the compiler finds the header by itself
-- there, and pkg-config gives its directory elsewhere.
external_dependencies = {
  CURL = { library = "curl" },                                  -- the core's HTTP
  CRYPTO = { header = "openssl/hmac.h", library = "crypto" },   -- webhook signatures (HMAC-SHA256)
  SQLITE = { header = "sqlite3.h", library = "sqlite3" },       -- the store (journal)
  MICROHTTPD = { header = "microhttpd.h", library = "microhttpd" }, -- the sandbox program only
  PKGCONFIG = { program = "pkg-config" },
}
build = {
  type = "make",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA = "$(LUA)",
    LUA_INCDIR = "$(LUA_INCDIR)",
  },
  install_variables = {
    PREFIX = "$(PREFIX)",
    LUA_LIBDIR = "$(LIBDIR)",
    LUA_SHAREDIR = "$(LUADIR)",
    BINDIR = "$(BINDIR)",
  },
}
-- The suite needs the sandbox and Debian's busted: the Makefile's test target sets it up.
test = {
  type = "command",
  command = "make test",
}
