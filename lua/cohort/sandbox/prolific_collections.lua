-- Sandbox: Prolific collections routes (rows { METHOD, "path/{param}", handler(ctx, params) }; see
-- cohort.sandbox.prolific). Added by issue #3.
local M = {}

M.routes = {}

return M
