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

--- Join Prolific submissions with survey responses; see `cohort.workbench.reconcile.reconcile`.
-- @tparam table args `submissions`, `responses`, `by`
-- @treturn[1] table `{pairs =, missing_response =, orphan_responses =, duplicates =}`
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.reconcile(args)
  return require("cohort.workbench.reconcile").reconcile(args)
end

--- Review a study's submissions by a rule (dry run by default); see `cohort.workbench.review.review`.
-- @param study a Study, or `{client = p, id = "<study id>"}`
-- @tparam table opts `responses`, `rule`, `dry_run`, `journal`, `by`, `progress`, `out`
-- @treturn[1] table the plan (and its outcome when carried out)
-- @return[2] nil
-- @treturn[2] cohort.Error
function M.review(study, opts)
  return require("cohort.workbench.review").review(study, opts)
end

--- The workbench modules, loaded on first use: `cohort.export` (`cohort.workbench.export`),
-- `cohort.webhooks`, `cohort.journal`, `cohort.store`. Each is also `require`-able by its full name.
local LAZY = { export = "cohort.workbench.export", webhooks = "cohort.workbench.webhooks",
  journal = "cohort.workbench.journal", store = "cohort.workbench.store" }

return setmetatable(M, { __index = function(_, k)
  local name = LAZY[k]
  if name then return require(name) end
end })
