-- Every ```lua block of the guides (docs/*.md) is run or checked by some spec, so none can rot:
-- a new guide block without a spec fails here, naming the guide, its line and heading.
--
-- A block counts as claimed by a spec file when either
--   * its lines (indentation and blank lines aside) stand in the spec file verbatim (as
--     spec/docs_prolific_spec.lua writes out the examples of docs/prolific.md), or
--   * the spec file names the guide and the block's heading (it takes the block from the guide
--     with support.docblocks: `under(path, heading, n)`, `block(path, heading)`, or a section
--     match); the second and later blocks under one heading must be named with their number,
--     `"<heading>", n`.
-- README.md is not listed here: spec/readme_spec.lua runs each of its blocks and counts them.
describe("the guides' lua blocks", function()
  local docblocks = require "support.docblocks"

  local read = require("support.env").read

  local function lines(path)
    local h = assert(io.popen("ls " .. path))
    local out = {}
    for l in h:lines() do out[#out + 1] = l end
    h:close()
    return out
  end

  local function normal(text)
    local out = {}
    for l in text:gmatch("[^\n]+") do
      l = l:gsub("^%s+", ""):gsub("%s+$", "")
      if l ~= "" then out[#out + 1] = l end
    end
    return table.concat(out, "\n")
  end

  local specs = {}
  setup(function()
    for _, f in ipairs(lines("spec/*_spec.lua")) do
      local text = read(f)
      specs[#specs + 1] = { path = f, text = text, normal = normal(text) }
    end
  end)

  local function claim(guide, b, k)
    local code = normal(b.code)
    for _, s in ipairs(specs) do
      if s.path ~= "spec/docs_blocks_spec.lua" then
        if code ~= "" and s.normal:find(code, 1, true) then return s.path end
        if s.text:find(guide, 1, true) and s.text:find(b.heading, 1, true) then
          if k == 1 or s.text:find(('"%s", %d'):format(b.heading, k), 1, true) then
            return s.path
          end
        end
      end
    end
    return nil
  end

  it("every block of every guide is run or checked by a spec", function()
    local missing, seen = {}, 0
    for _, guide in ipairs(lines("docs/*.md")) do
      local nth = {}
      for _, b in ipairs(docblocks.all(guide)) do
        seen = seen + 1
        nth[b.heading] = (nth[b.heading] or 0) + 1
        if not claim(guide, b, nth[b.heading]) then
          missing[#missing + 1] = ("%s:%d (under \"%s\", block %d)"):format(guide, b.line,
            b.heading, nth[b.heading])
        end
      end
    end
    assert.is_true(seen > 50, "the guides' blocks were not found")
    assert.are.same({}, missing)
  end)

  it("the claim check refuses a block no spec runs", function()
    local b = { code = "print(\"nobody runs this\")\n", heading = "No such heading here" }
    assert.is_nil(claim("docs/nowhere.md", b, 1))
    -- and a second block under a heading named only for its first
    local first = { code = "no_spec_has_this_line()\n", heading = "The clock" }
    assert.is_not_nil(claim("docs/sandbox.md", first, 1))
    assert.is_nil(claim("docs/sandbox.md", first, 7))
  end)
end)
