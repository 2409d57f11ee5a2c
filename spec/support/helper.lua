-- busted helper: one sandbox for the whole run, stopped when the suite ends.
local busted = require "busted"
busted.subscribe({ "suite", "end" }, function()
  require("support.env").stop()
  return nil, true
end)
