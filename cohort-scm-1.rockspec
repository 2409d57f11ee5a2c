rockspec_format = "3.0"
package = "cohort"
version = "scm-1"
source = {
  url = "git+file:///work/main",
}
description = {
  summary = "Script fieldwork on Prolific and QuestionPro from Lua",
  detailed = [[
cohort lets researchers script their online studies: recruit on Prolific, collect answers in
Prolific surveys or QuestionPro, review, approve or reject, pay bonuses, export. A C core does the
HTTP (libcurl); a Lua layer gives objects with methods; a local sandbox emulates both APIs.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
}
external_dependencies = {
  CURL = { header = "curl/curl.h" },
  MICROHTTPD = { header = "microhttpd.h" },
  SQLITE = { header = "sqlite3.h" },
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
test = {
  type = "busted",
}
