-- cohort.core.decode: cohort's own one-pass JSON decoder (csrc/core_json.c). Integers, null
-- fields left out, nulls in arrays kept as cjson.null, escapes, the strict grammar, the depth
-- limit, error texts with positions, very large containers, and a differential test against
-- lua-cjson followed by the old integer/null pass (written here in Lua as the reference).
-- Runs on every host (make test-5.1/test-jit): Lua 5.1 syntax, integer checks only on 5.3+.
describe("cohort.core.decode", function()
  local core = require "cohort.core"
  local cjson = require("cjson").new() -- a private instance: other specs may change the settings of the shared one
  local decode = core.decode
  local has_int = math.type ~= nil

  local function is_int(v) return not has_int or math.type(v) == "integer" end
  local function is_float(v) return not has_int or math.type(v) == "float" end

  -- Deep equality that also compares number subtypes (1 and 1.0 differ on 5.3+); returns
  -- nil when equal, or the path and a description of the first difference.
  local function diff(a, b, path)
    path = path or "$"
    if type(a) ~= type(b) then return path .. ": " .. type(a) .. " vs " .. type(b) end
    if type(a) == "number" then
      if has_int and math.type(a) ~= math.type(b) then
        return path .. ": " .. math.type(a) .. " " .. tostring(a) .. " vs " .. math.type(b) .. " " .. tostring(b)
      end
      if a ~= b and not (a ~= a and b ~= b) then return path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
      return nil
    end
    if type(a) ~= "table" then
      if a ~= b then return path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
      return nil
    end
    for k, v in pairs(a) do
      local d = diff(v, b[k], path .. "[" .. tostring(k) .. "]")
      if d then return d end
    end
    for k in pairs(b) do
      if a[k] == nil then return path .. "[" .. tostring(k) .. "]: missing on the left" end
    end
    return nil
  end

  local function assert_same(expected, got)
    local d = diff(expected, got)
    if d then error("decoded values differ at " .. d, 2) end
  end

  -- The old semantics of core.decode, on what cjson.decode gives: integral floats below 2^53
  -- become integers, null object fields are removed (at any depth: the old C pass stopped at
  -- depth 64), nulls in arrays stay cjson.null.
  local function reference(v)
    if type(v) == "number" then
      if has_int and math.type(v) == "float" and v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then
        return math.tointeger(v)
      end
      return v
    elseif type(v) == "table" then
      local out = {}
      for k, x in pairs(v) do
        if not (type(k) == "string" and x == cjson.null) then out[k] = reference(x) end
      end
      return out
    end
    return v
  end

  -- Raises with a message that contains `needle` (plain) and ends with "at character <pos>".
  local function fails(text, needle, pos)
    local ok, err = pcall(decode, text)
    assert(not ok, ("decoded %q without an error"):format(text))
    assert(type(err) == "string", "error is not a string")
    assert(err:find(needle, 1, true), ("%q: %q does not contain %q"):format(text, err, needle))
    if pos then
      assert(err:find(" at character " .. pos .. "$"),
        ("%q: %q is not at character %d"):format(text, err, pos))
    end
    return err
  end

  describe("numbers", function()
    it("integers stay integers, negative ones too", function()
      for text, v in pairs { ["0"] = 0, ["7"] = 7, ["-12"] = -12, ["150"] = 150, ["-0"] = 0,
        ["1234567890123"] = 1234567890123 } do
        local got = decode(text)
        assert.are.equal(v, got)
        assert.is_true(is_int(got), text)
      end
    end)

    it("integral floats below 2^53 become integers: 150.0, 1e2, -2.5E1 * 2", function()
      for text, v in pairs { ["150.0"] = 150, ["1e2"] = 100, ["1E+2"] = 100, ["-0.0"] = 0,
        ["2.50e1"] = 25, ["10000e-4"] = 1, ["9007199254740991.0"] = 9007199254740991 } do
        local got = decode(text)
        assert.are.equal(v, got)
        assert.is_true(is_int(got), text)
      end
    end)

    it("other numbers are floats", function()
      for text, v in pairs { ["1.5"] = 1.5, ["-0.25"] = -0.25, ["1e-3"] = 0.001, ["2.5E-3"] = 0.0025,
        ["9007199254740992.0"] = 2 ^ 53, ["1e300"] = 1e300, ["123.456e-7"] = 123.456e-7 } do
        local got = decode(text)
        assert.are.equal(v, got)
        if v ~= math.floor(v) or math.abs(v) >= 2 ^ 53 then assert.is_true(is_float(got), text) end
      end
      assert.are.equal(math.huge, decode("1e400"))
      assert.are.equal(-math.huge, decode("-1e400"))
    end)

    it("integer tokens use all 64 bits; beyond that they are floats", function()
      if not has_int then
        assert.are.equal(2 ^ 63, decode("9223372036854775808"))
        assert.are.equal(2 ^ 53, decode("9007199254740992"))
        return
      end
      assert.are.equal(math.maxinteger, decode("9223372036854775807"))
      assert.are.equal(math.mininteger, decode("-9223372036854775808"))
      assert.are.equal("integer", math.type(decode("9007199254740993")))
      assert.are.equal(9007199254740993, decode("9007199254740993"))
      local big = decode("9223372036854775808")
      assert.are.equal("float", math.type(big))
      assert.are.equal(2 ^ 63, big)
      assert.are.equal("float", math.type(decode("-9223372036854775809")))
      assert.are.equal(1.2345678901234568e22, decode("12345678901234567890123"))
    end)
  end)

  describe("strings", function()
    it("plain strings, and every escape", function()
      assert.are.equal("hello", decode('"hello"'))
      assert.are.equal("", decode('""'))
      assert.are.equal('a"b\\c/d\be\ff\ng\rh\ti', decode([["a\"b\\c\/d\be\ff\ng\rh\ti"]]))
      assert.are.equal("http://x/y", decode([["http:\/\/x\/y"]]))
    end)

    it("\\u escapes become UTF-8, surrogate pairs one 4-byte character", function()
      assert.are.equal("A", decode([["\u0041"]]))
      assert.are.equal("\195\169", decode([["\u00e9"]]))             -- é, 2 bytes
      assert.are.equal("\226\130\172", decode([["\u20AC"]]))         -- €, 3 bytes
      assert.are.equal("\239\191\191", decode([["\uffff"]]))
      assert.are.equal("\240\159\152\128", decode([["\ud83d\ude00"]])) -- 😀, 4 bytes
      assert.are.equal("\244\143\191\191", decode([["\uDBFF\uDFFF"]])) -- U+10FFFF
      assert.are.equal("x\240\144\128\128y", decode([["x\uD800\uDC00y"]]))
    end)

    it("\\u0000 gives an embedded NUL", function()
      local s = decode([["a\u0000b"]])
      assert.are.equal(3, #s)
      assert.are.equal("a\0b", s)
      assert.are.equal("\0", decode([["\u0000"]]))
    end)

    it("raw UTF-8 passes through", function()
      assert.are.equal("gr\195\188\195\159e \240\159\152\128", decode('"gr\195\188\195\159e \240\159\152\128"'))
    end)

    it("keys may hold escapes too", function()
      local v = decode([[{"a\nb":1,"\u00e9":2,"x\"y":3}]])
      assert.are.equal(1, v["a\nb"])
      assert.are.equal(2, v["\195\169"])
      assert.are.equal(3, v['x"y'])
    end)

    it("finds quotes, escapes and control characters at every offset (the scan goes 16 bytes at a time)", function()
      for i = 0, 40 do
        local a, b = ("a"):rep(i), ("b"):rep(i)
        assert.are.equal(a, decode('"' .. a .. '"'))
        assert.are.equal(a, decode('["' .. a .. '"]')[1])
        assert.are.equal(a .. "\n" .. b, decode('"' .. a .. '\\n' .. b .. '"'))
        assert.are.equal(a .. '"' .. b, decode('"' .. a .. '\\"' .. b .. '"'))
        local high = ("\128\255 \127~"):rep(i)
        assert.are.equal(high, decode('"' .. high .. '"'))
        fails('"' .. a .. "\31" .. b .. '"', "invalid control character in string", i + 2)
        fails('"' .. a .. "\0" .. b .. '"', "invalid control character in string", i + 2)
        fails('"' .. a, "unexpected end of string", i + 2)
        fails('"' .. a .. "\\", "invalid escape code", i + 2)
        fails('{"' .. a .. "\1" .. '":1}', "invalid control character in string", i + 3)
      end
    end)

    it("long strings, with and without escapes", function()
      local long = ("abcdefghij"):rep(5000)
      assert.are.equal(long, decode('"' .. long .. '"'))
      assert.are.equal(long .. "\n" .. long, decode('"' .. long .. '\\n' .. long .. '"'))
    end)
  end)

  describe("null, booleans, containers", function()
    it("a null field is absent; a null in an array is cjson.null; top-level null is cjson.null", function()
      local v = decode('{"a":null,"b":1,"c":[null,2,null],"d":{"e":null}}')
      assert.is_nil(v.a)
      assert.are.equal(1, v.b)
      assert.are.equal(3, #v.c)
      assert.are.equal(cjson.null, v.c[1])
      assert.are.equal(cjson.null, v.c[3])
      assert.are.equal(2, v.c[2])
      assert.is_nil(next(v.d))
      assert.are.equal(cjson.null, decode("null"))
      assert.are.equal(cjson.null, decode(" null "))
      assert.are.equal("userdata", type(decode("null")))
      assert.are.equal(require("cjson").null, decode("null")) -- the shared instance's null too
      assert.are.equal(require("cjson").null, decode("[null]")[1])
    end)

    it("duplicate keys: the last one wins, and a later null removes the field", function()
      assert.are.equal(2, decode('{"a":1,"a":2}').a)
      assert.is_nil(decode('{"a":1,"a":null}').a)
      assert.are.equal(3, decode('{"a":null,"a":3}').a)
    end)

    it("booleans", function()
      assert.is_true(decode("true"))
      assert.is_false(decode("false"))
      assert.are.same({ true, false }, decode("[true,false]"))
    end)

    it("empty containers are empty tables", function()
      for _, text in ipairs { "{}", "[]", " { } ", "[ ]", "[\n\t\r ]" } do
        local v = decode(text)
        assert.are.equal("table", type(v))
        assert.is_nil(next(v))
        assert.is_nil(getmetatable(v))
      end
      local v = decode('{"a":{},"b":[],"c":[{},[]]}')
      assert.is_nil(next(v.a))
      assert.is_nil(next(v.b))
      assert.are.equal(2, #v.c)
    end)

    it("whitespace around every token", function()
      local v = decode(' \n\t{ "a" : [ 1 , 2 ] ,\r\n "b" : { "c" : true } } \n')
      assert.are.same({ a = { 1, 2 }, b = { c = true } }, v)
    end)

    it("nests 1000 arrays or objects deep, and refuses 1001", function()
      local v = decode(("["):rep(1000) .. ("]"):rep(1000))
      for _ = 1, 999 do v = v[1] end
      assert.are.equal("table", type(v))
      assert.is_nil(next(v))
      local o = decode(('{"a":'):rep(999) .. "{}" .. ("}"):rep(999))
      assert.are.equal("table", type(o.a.a.a))
      fails(("["):rep(1001) .. ("]"):rep(1001), "Found too many nested data structures (1001)", 1001)
      fails(('{"a":'):rep(1001) .. "1" .. ("}"):rep(1001), "Found too many nested data structures (1001)", 5001)
      fails(("["):rep(100000), "Found too many nested data structures (1001)", 1001)
    end)

    it("large arrays and objects (more values than a C function's Lua stack holds on 5.1)", function()
      local parts = {}
      for i = 1, 20000 do parts[i] = tostring(i) end
      local a = decode("[" .. table.concat(parts, ",") .. "]")
      assert.are.equal(20000, #a)
      for i = 1, 20000 do assert(a[i] == i) end
      local nested = decode("[" .. ("[1,{\"k\":[2,3]},null],"):rep(9000) .. "4]")
      assert.are.equal(9001, #nested)
      assert.are.equal(3, nested[9000][2].k[2])
      assert.are.equal(cjson.null, nested[1][3])
      local fields = { '"dup":1' }
      for i = 1, 10000 do fields[#fields + 1] = ('"k%d":%d'):format(i, i) end
      fields[#fields + 1] = '"dup":null'
      fields[#fields + 1] = '"late":null'
      local o = decode("{" .. table.concat(fields, ",") .. "}")
      local n = 0
      for _ in pairs(o) do n = n + 1 end
      assert.are.equal(10000, n)
      assert.are.equal(7777, o.k7777)
      assert.is_nil(o.dup)
      assert.is_nil(o.late)
    end)

    it("wide containers nested deep do not exhaust the Lua stack", function()
      -- level d: [1,1,...,1,{"k":<level d+1>,"z":2}] — each level adds two to the depth
      local function build(d, width, levels)
        if d > levels then return "0" end
        return "[" .. ("1,"):rep(width) .. '{"k":' .. build(d + 1, width, levels) .. ',"z":2}]'
      end
      local function check(v, width, levels)
        for _ = 1, levels do
          assert.are.equal(width + 1, #v)
          assert.are.equal(1, v[width])
          assert.are.equal(2, v[width + 1].z)
          v = v[width + 1].k
        end
        assert.are.equal(0, v)
      end
      check(decode(build(1, 40, 499)), 40, 499)    -- depth 998
      check(decode(build(1, 3000, 6)), 3000, 6)
      check(decode(build(1, 300, 60)), 300, 60)
      fails(build(1, 5, 501), "Found too many nested data structures (1001)")
    end)

    it("containers larger than the whole Lua stack (1M slots on 5.3+) still decode", function()
      if os.getenv("COHORT_SLOW") then return end -- seconds under valgrind; the 5.1 case above covers the path
      local n = 1100000
      local a = decode("[" .. ("0,"):rep(n - 1) .. "7]")
      assert.are.equal(n, #a)
      assert.are.equal(7, a[n])
      assert.are.equal(0, a[math.floor(n / 2)])
      local b = decode("[" .. ('[0,{"a":[]}],'):rep(n - 1) .. "[7]]")
      assert.are.equal(n, #b)
      assert.are.equal(7, b[n][1])
      assert.are.equal("table", type(b[n - 1][2].a))
      local fields = { '"dup":1' }
      for i = 1, 600000 do fields[#fields + 1] = ('"k%d":%d'):format(i, i) end
      fields[#fields + 1] = '"dup":null'
      local o = decode("{" .. table.concat(fields, ",") .. "}")
      assert.is_nil(o.dup)
      assert.are.equal(600000, o.k600000)
      assert.are.equal(1, o.k1)
    end)
  end)

  describe("malformed input raises with the position", function()
    local cases = {
      -- text, what the message says, position (1-based)
      { "", "Expected value but found T_END", 1 },
      { "   ", "Expected value but found T_END", 4 },
      { "x", "Expected value but found invalid token", 1 },
      { "[1,]", "Expected value but found T_ARR_END", 4 },
      { '{"a":1,}', "Expected object key string but found T_OBJ_END", 8 },
      { "[1 2]", "Expected comma or array end but found T_NUMBER", 4 },
      { '{"a" 1}', "Expected colon but found T_NUMBER", 6 },
      { '{"a":1 "b":2}', "Expected comma or object end but found T_STRING", 8 },
      { "{1:2}", "Expected object key string but found T_NUMBER", 2 },
      { "{'a':1}", "Expected object key string but found invalid token", 2 },
      { "[", "Expected value but found T_END", 2 },
      { '{"a":1', "Expected comma or object end but found T_END", 7 },
      { "[1", "Expected comma or array end but found T_END", 3 },
      { "]", "Expected value but found T_ARR_END", 1 },
      { "[,1]", "Expected value but found T_COMMA", 2 },
      { '{"a"}', "Expected colon but found T_OBJ_END", 5 },
      { '{"a":}', "Expected value but found T_OBJ_END", 6 },
      -- trailing garbage
      { "1 2", "Expected the end but found T_NUMBER", 3 },
      { "{} x", "Expected the end but found invalid token", 4 },
      { "[]]", "Expected the end but found T_ARR_END", 3 },
      { "truex", "Expected the end but found invalid token", 5 },
      { "1\0", "Expected the end but found invalid token", 2 },
      { "0x10", "Expected the end but found invalid token", 2 },
      -- numbers
      { "01", "invalid number", 1 },
      { "-01", "invalid number", 1 },
      { "-", "invalid number", 1 },
      { "1.", "invalid number", 1 },
      { "[1.e5]", "invalid number", 2 },
      { "1e", "invalid number", 1 },
      { "1E+", "invalid number", 1 },
      { "-a", "invalid number", 1 },
      { ".5", "invalid token", 1 },
      { "+1", "invalid token", 1 },
      { "NaN", "invalid token", 1 },
      { "-Infinity", "invalid number", 1 },
      { "Infinity", "invalid token", 1 },
      -- literals
      { "tru", "invalid token", 1 },
      { "nul", "invalid token", 1 },
      { "[fals]", "invalid token", 2 },
      { "True", "invalid token", 1 },
      -- strings
      { '"abc', "unexpected end of string", 5 },
      { '"ab\\', "invalid escape code", 4 },
      { '"a\\x"', "invalid escape code", 3 },
      { '"a\\U0041"', "invalid escape code", 3 },
      { '"\\u12G4"', "invalid unicode escape code", 2 },
      { '"\\u12"', "invalid unicode escape code", 2 },
      { '"a\1b"', "invalid control character in string", 3 },
      { '"a\nb"', "invalid control character in string", 3 },
      { '"a\0b"', "invalid control character in string", 3 },
      { '{"a\tb":1}', "Expected object key string but found invalid control character in string", 4 },
      -- lone surrogates
      { '"\\ud800"', "invalid unicode escape code", 2 },
      { '"x\\udc00"', "invalid unicode escape code", 3 },
      { '"\\ud83dx"', "invalid unicode escape code", 2 },
      { '"\\ud83d\\u0041"', "invalid unicode escape code", 2 },
      { '"\\ud83d\\n"', "invalid unicode escape code", 2 },
      -- comments, single quotes
      { "[1]//c", "Expected the end but found invalid token", 4 },
      { "/*c*/1", "Expected value but found invalid token", 1 },
    }
    for _, c in ipairs(cases) do
      it(c[1]:gsub("%c", function(ch) return ("\\%d"):format(ch:byte()) end), function()
        fails(c[1], c[2], c[3])
      end)
    end

    it("the texts read like lua-cjson's", function()
      local _, err = pcall(decode, "x")
      assert.are.equal("Expected value but found invalid token at character 1", err)
      _, err = pcall(decode, "[1,]")
      assert.are.equal("Expected value but found T_ARR_END at character 4", err)
    end)

    it("refuses a non-string argument like cjson", function()
      assert.has_error(function() decode(nil) end)
      assert.has_error(function() decode({}) end)
    end)
  end)

  describe("real bodies", function()
    -- The shape of Prolific's submission detail (the sandbox's and the benchmark's).
    local submission = '{"id":"66300a1b9e3779b97f4a7c15","study_id":"60aca280709ee40ec37d4885",'
      .. '"participant":"60bf9a2c9e3779b97f4a7c16","status":"AWAITING REVIEW",'
      .. '"started_at":"2024-05-01T00:00:37.000000Z","completed_at":"2024-05-01T00:06:10.000000Z",'
      .. '"is_complete":true,"time_taken":337,"reward":150,"entered_code":"9E3779B1",'
      .. '"bonus_payments":[],"return_requested":null,"parent_study_id":null,'
      .. '"strata":{"Age":"31","Sex":"Female"},"ip":"203.0.113.9","score":0.75,'
      .. '"_links":{"self":{"href":"https:\\/\\/api.prolific.com\\/api\\/v1\\/submissions\\/66300a1b\\/"},'
      .. '"next":{"href":null}},"tags":["a",null,"b"]}'

    it("a submission", function()
      local s = decode(submission)
      assert.are.equal("AWAITING REVIEW", s.status)
      assert.are.equal(150, s.reward)
      assert.is_true(is_int(s.reward))
      assert.are.equal(337, s.time_taken)
      assert.is_true(s.is_complete)
      assert.is_nil(s.return_requested)
      assert.is_nil(s.parent_study_id)
      assert.are.equal("table", type(s.bonus_payments))
      assert.is_nil(next(s.bonus_payments))
      assert.are.equal("https://api.prolific.com/api/v1/submissions/66300a1b/", s._links.self.href)
      assert.is_nil(s._links.next.href)
      assert.are.equal(0.75, s.score)
      assert.are.equal(3, #s.tags)
      assert.are.equal(cjson.null, s.tags[2])
    end)

    it("error bodies go through the same decoder (core.decode_error)", function()
      local e = core.decode_error("prolific", 400, '{"error":{"status":400.0,"error_code":140001,"title":"Bad",'
        .. '"detail":"too \\"short\\" \\u00e9","extra":null}}')
      assert.are.equal(140001, e.code)
      assert.is_true(is_int(e.code))
      assert.are.equal('too "short" \195\169', e.message)
      local bad = core.decode_error("prolific", 502, '{"error": oops')
      assert.are.equal("http", bad.kind)
      assert.are.equal(502, bad.status)
    end)

    describe("differential: lua-cjson + the old pass gives the same value", function()
      local docs = {
        submission,
        '{"a":[1,2.5,-3e2,{"b":null,"c":[null,{"d":1.0}]}],"e":"\\u00e9\\ud83d\\ude00\\n","f":false}',
        '[[[[[]]]],{},{"":""},-0.5,1E-7,123456789012345,0.1,1e22]',
        '"just a string"', "42", "-3.25", "true", "[]", "{}",
      }
      -- every JSON file of the repository's fixtures
      local root = (debug.getinfo(1, "S").source:match("^@(.*)spec/[^/]*$") or "")
      for _, name in ipairs { "spec/fixtures/prolific-openapi-2025.json", "spec/fuzz/errors/prolific_nested",
        "spec/fuzz/errors/flat", "spec/fuzz/errors/questionpro" } do
        local f = io.open(root .. name, "rb")
        if f then
          docs[#docs + 1] = f:read("*a")
          f:close()
        end
      end

      -- random valid documents (deterministic)
      local seed = 12345
      local function rnd(n) -- 1..n
        seed = (seed * 1103515245 + 12345) % 2147483648
        return math.floor(seed / 65536) % n + 1
      end
      local ws = { "", "", "", " ", "\n", "\t", "\r\n  " }
      local function W() return ws[rnd(#ws)] end
      local esc = { "\\n", "\\t", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\u0041", "\\u00e9",
        "\\u20ac", "\\ud83d\\ude00", "\\u0000", "\\uFFFD", "\\u007f", "\\u0800" }
      local plain = { "a", "Z", "0", " ", "~", "\195\169", "\240\159\152\128", "_", "-", "id" }
      local function str()
        local t = {}
        for i = 1, rnd(12) - 1 do t[i] = rnd(4) == 1 and esc[rnd(#esc)] or plain[rnd(#plain)] end
        return '"' .. table.concat(t) .. '"'
      end
      local nums = { "0", "-0", "1", "-1", "150", "150.0", "1.5", "-2.25", "1e2", "1E-2", "2.5e+3",
        "123456789", "-987654321012", "0.1", "1e300", "-1e-300", "4503599627370496.5", "9007199254740991",
        "3.0e0", "100e-2", "0.000001", "12.5e1" }
      local function value(depth)
        local k = rnd(depth > 6 and 5 or 8)
        if k == 1 then return str()
        elseif k == 2 then return nums[rnd(#nums)]
        elseif k == 3 then return ({ "true", "false", "null" })[rnd(3)]
        elseif k == 4 then return "null"
        elseif k == 5 then return str()
        elseif k == 6 or k == 7 then
          local t = {}
          for i = 1, rnd(6) - 1 do t[i] = W() .. value(depth + 1) .. W() end
          return "[" .. table.concat(t, ",") .. W() .. "]"
        else
          local t = {}
          for i = 1, rnd(6) - 1 do
            local key = rnd(3) == 1 and ('"k' .. rnd(3) .. '"') or str() -- some duplicate keys
            t[i] = W() .. key .. W() .. ":" .. W() .. value(depth + 1) .. W()
          end
          return "{" .. table.concat(t, ",") .. W() .. "}"
        end
      end
      for _ = 1, 300 do docs[#docs + 1] = W() .. value(0) .. W() end

      it(("%d documents"):format(#docs), function()
        assert.is_true(#docs >= 310)
        for i, text in ipairs(docs) do
          local want = reference(cjson.decode(text))
          local ok, got = pcall(decode, text)
          if not ok then error(("document %d: %s\n%s"):format(i, got, text:sub(1, 300))) end
          local d = diff(want, got)
          if d then error(("document %d differs at %s\n%s"):format(i, d, text:sub(1, 300))) end
        end
      end)
    end)
  end)
end)
