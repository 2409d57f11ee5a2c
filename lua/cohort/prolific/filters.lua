--- Prolific filters. (Operations are added by issue #3.)
-- @module cohort.prolific.filters
local M = {}

--- Operation rows (see `cohort.prolific.operations`).
M.operations = {}

--- Classes: name → `{methods =, tostring =}`.
M.classes = {}

--- Hand-written resource methods: name → function(resource, ...).
M.resource_methods = {}

return M
