-- The rows of the Prolific families against Prolific's OpenAPI file and the generator: every
-- in-scope operation has a row; a row says only what is Lua's (the method, path, parameters,
-- body and status come from the schema); every method and verb is generated and registered.
describe("Prolific rows", function()
  local cjson = require "cjson"
  local env = require "support.env"
  local resource = require "cohort.resource"
  local prolific = require "cohort.prolific"
  local P = prolific.platform()

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

  it("has a row for each of the 85 in-scope operations, with the spec's method and path", function()
    local want, n = in_scope(), 0
    local rows = {}
    for _, c in ipairs(P.rows) do rows[c.op_id] = c end
    for op_id, mp in pairs(want) do
      n = n + 1
      local c = rows[op_id]
      assert.is_table(c, op_id .. " has no row")
      assert.are.equal(mp[1], c.method, op_id .. ": method")
      assert.are.equal(mp[2], c.path, op_id .. ": path")
    end
    assert.are.equal(85, n)
    assert.are.equal(85, #P.rows)
    for _, c in ipairs(P.rows) do
      assert.is_not_nil(want[c.op_id], c.op_id .. " is a row but not in the spec's scope")
    end
  end)

  it("a row holds no HTTP detail: those come from the schema", function()
    for _, name in ipairs(prolific.FAMILIES) do
      for _, row in ipairs(require("cohort.prolific." .. name).rows) do
        for _, k in ipairs { 1, 2, 3, 4, "method", "path", "query", "body", "required", "status" } do
          assert.is_nil(row[k], ("%s: field %s"):format(row.op, tostring(k)))
        end
        assert.is_string(row.op)
        assert.is_string(row.resource)
        assert.is_string(row.name)
      end
    end
  end)

  it("every row becomes a method, every verb an object method, each in the registry", function()
    local p = env.prolific()
    for _, c in ipairs(P.rows) do
      for _, e in pairs(c.entries) do
        local fn = p[c.resource][e.name]
        assert.is_function(fn, e.label)
        assert.are.equal(e, resource.entry_of(fn), e.label)
        assert.are.equal(c.op_id, e.op)
        assert.is_string(e.summary)
      end
    end
    local verbs = 0
    for cname, cls in pairs(P.classes) do
      local mt = p:class(cname)
      for name, fn in pairs(mt.__methods) do
        local e = resource.entry_of(fn)
        if cls.methods and cls.methods[name] then
          assert.is_nil(e, cname .. ":" .. name .. " is local") -- computed from the object alone
        else
          assert.is_table(e, cname .. ":" .. name .. " is not generated")
          if e.kind == "verb" then verbs = verbs + 1 end
        end
      end
    end
    assert.is_true(verbs >= 50, "verbs: " .. verbs)
    for _, name in ipairs { "studies", "submissions", "bonuses", "messages", "workspaces", "projects",
      "surveys", "collections", "hooks", "filters", "filter_sets", "groups", "invitations", "users" } do
      assert.is_table(p[name], name)
    end
  end)

  it("help says the truth: list one page, each every page lazily, all every item", function()
    local repl = require "cohort.prompt.repl"
    local p = env.prolific()
    assert.matches("one page of Submission", repl.help(p.submissions.list))
    assert.matches("every Submission of every page, lazily", repl.help(p.submissions.each))
    assert.matches("an array of every Submission of every page", repl.help(p.submissions.all))
    local sub = assert(p.submissions:get("625d4a831bcda2d59ac5a251"))
    local h = repl.help(sub.approve)
    assert.matches("sub:approve%(%)", h)
    assert.matches("sends p%.submissions:transition%(%) with action = APPROVE", h)
  end)
end)
