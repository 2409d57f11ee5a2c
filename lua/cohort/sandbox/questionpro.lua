-- QuestionPro v2 API emulation: a table of routes under /a/api/v2/.
-- Rows are { METHOD, "path/{param}", handler(ctx, params) } returning status, headers, body.
-- Authentication (api-key header, or the retired ?apiKey= query) is checked by the server
-- before these run. Surveys and responses are added here by a later issue.
local util = require "cohort.sandbox.util"

local M = {}

M.routes = {
  -- { "GET", "surveys/{sid}", function(ctx, p) ... end },
}

-- ctx.segs starts with "a", "api", "v2".
function M.handle(ctx)
  local ok, handler, caps = util.route(M.routes, ctx.req, ctx.segs, 4)
  if ok then return handler(ctx, caps) end
  if handler == "method_not_allowed" then
    local status, headers, body = util.questionpro_error(405, ctx.full_url)
    headers.Allow = table.concat(caps, ", ")
    return status, headers, body
  end
  return util.questionpro_error(404, ctx.full_url)
end

return M
