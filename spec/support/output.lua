-- busted output handler: busted's gtest-style lines for each test, then the closing line that
-- CI reads: "N passed, N failed, N skipped" (errors count as failed, pending as skipped).
return function(options)
  local busted = require "busted"
  local handler = require("busted.outputHandlers.gtest")(options)
  busted.subscribe({ "suite", "end" }, function()
    local passed = #handler.successes
    local failed = #handler.failures + #handler.errors
    local skipped = #handler.pendings
    io.write(("%d passed, %d failed, %d skipped\n"):format(passed, failed, skipped))
    io.flush()
    return nil, true
  end)
  return handler
end
