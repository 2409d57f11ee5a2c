-- The one operations table against Prolific's OpenAPI spec: every in-scope operation is mapped,
-- with the spec's method and path, and becomes a method on the client.
describe("Prolific operations table", function()
  local cjson = require "cjson"
  local ops = require "cohort.prolific.operations"
  local env = require "support.env"

  local function spec_file()
    for _, path in ipairs { "../shared/api/prolific-openapi-2025.json", "spec/fixtures/prolific-openapi-2025.json" } do
      local f = io.open(path, "rb")
      if f then
        local text = f:read("*a")
        f:close()
        return cjson.decode(text)
      end
    end
    error("Prolific's OpenAPI spec not found (../shared/api or spec/fixtures)")
  end

  -- The two message operations without an operationId get names of ours.
  local UNNAMED = {
    ["POST /api/v1/messages/bulk/"] = "SendBulkMessage",
    ["POST /api/v1/messages/participant-group/"] = "SendGroupMessage",
  }

  local function in_scope()
    local out = {}
    for path, item in pairs(spec_file().paths) do
      for method, op in pairs(item) do
        if ({ get = 1, post = 1, put = 1, patch = 1, delete = 1 })[method]
            and not path:find("^/api/v1/data%-collection/")
            and not (op.deprecated and path:find("eligibility%-requirements")) then
          local key = method:upper() .. " " .. path
          out[op.operationId or UNNAMED[key] or key] = { method:upper(), path }
        end
      end
    end
    return out
  end

  it("maps all 85 in-scope operations, with the spec's method and path", function()
    local want, n = in_scope(), 0
    for op_id, mp in pairs(want) do
      n = n + 1
      local row = ops[op_id]
      assert.is_table(row, op_id .. " is not mapped")
      assert.are.equal(mp[1], row[1], op_id .. ": method")
      -- placeholders may be renamed; compare the shape of the path
      local shape = function(p) return (p:gsub("{[^}]*}", "{}"):gsub("/$", "")) end
      assert.are.equal(shape(mp[2]), shape(row[2]), op_id .. ": path")
    end
    assert.are.equal(85, n)
    for op_id in pairs(ops) do
      assert.is_not_nil(want[op_id], op_id .. " is in the table but not in the spec's scope")
    end
  end)

  it("every row becomes a method on its resource", function()
    local p = env.prolific()
    for op_id, row in pairs(ops) do
      local res = p[row[3]]
      assert.is_table(res, op_id .. ": resource " .. row[3])
      assert.is_function(res[row[4]], op_id .. ": " .. row[3] .. ":" .. row[4])
      if row.paging and row[4] == "list" then
        assert.is_function(res.each, op_id .. ": each")
        assert.is_function(res.all, op_id .. ": all")
      end
    end
    for _, name in ipairs { "studies", "submissions", "bonuses", "messages", "workspaces", "projects",
      "surveys", "collections", "hooks", "filters", "filter_sets", "groups", "invitations", "users" } do
      assert.is_table(p[name], name)
    end
  end)
end)
