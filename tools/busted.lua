-- Runs busted under the interpreter that `make` chose ($(LUA)), whatever /usr/bin/busted's
-- shebang says; arguments are busted's.
require("busted.runner")({ standalone = false })
