--- cohort: script fieldwork on Prolific and QuestionPro from Lua.
--
--     local cohort = require "cohort"
--     local p = cohort.prolific{ token = "..." }        -- or $PROLIFIC_TOKEN
--     local q = cohort.questionpro{ api_key = "..." }   -- or $QUESTIONPRO_API_KEY
--
-- Conventions: runtime failures return `nil, err` (a `cohort.Error`); misuse raises at once
-- with a message naming the method; iterators raise the error object.
-- @module cohort
local core = require "cohort.core"
local Error = require "cohort.error"

local M = {}

--- The version of cohort.
M.VERSION = core.version

--- The `cohort.Error` module: `cohort.Error.is(x)`, `cohort.Error.new(t)`.
M.Error = Error

--- Make a Prolific client; see `cohort.prolific.new`.
function M.prolific(opts)
  return require("cohort.prolific").new(opts)
end

--- Make a QuestionPro client; see `cohort.questionpro.new`.
function M.questionpro(opts)
  return require("cohort.questionpro").new(opts)
end

return M
