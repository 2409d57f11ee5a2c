-- Runs every benchmark case several times, prints the table and writes docs/benchmarks.md.
-- Started by bench/run.sh once nginx is up; configuration comes from the environment:
--   BENCH_DIR      the temporary directory (canned JSON, compiled C programs)
--   BENCH_URL      nginx's base URL
--   BENCH_CLIENT   command prefix that pins a client to its CPU (may be empty)
--   BENCH_REPEATS  runs of each fast case (default 5); Python runs 3 times at most
--   BENCH_OUT      the report to write (default docs/benchmarks.md)
--   LUA            the Lua interpreter
local DIR = assert(os.getenv("BENCH_DIR"), "BENCH_DIR is not set")
local URL = assert(os.getenv("BENCH_URL"), "BENCH_URL is not set")
local PIN = os.getenv("BENCH_CLIENT") or ""
local R = math.tointeger(tonumber(os.getenv("BENCH_REPEATS") or "5")) or 5
local PY_R = math.min(R, 3)
local OUT = os.getenv("BENCH_OUT") or "docs/benchmarks.md"
local LUA = os.getenv("LUA") or "lua5.4"
local PYTHON = os.getenv("PYTHON") or "python3"
local TOKEN = "bench-token"
local N, C = 5000, 16
local IDS = DIR .. "/ids.txt"
local SURVEY = "65f1c0de00000000000000a1"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local h = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = h:read("a")
  local ok, _, code = h:close()
  if not ok then error(("benchmark command failed (%s):\n  %s\n%s"):format(tostring(code), cmd, out), 0) end
  return out
end

local function seconds(cmd)
  local out = run(cmd)
  local v = tonumber(out:match("([%d.]+)%s*$"))
  if not v then error("no timing in the output of " .. cmd .. ":\n" .. out, 0) end
  return v
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

local function lua_cmd(script, ...)
  local parts = { PIN, q(LUA), q("bench/" .. script) }
  for _, a in ipairs { ... } do parts[#parts + 1] = q(a) end
  return table.concat(parts, " ")
end

local function cmd(...)
  local parts = { PIN }
  for _, a in ipairs { ... } do parts[#parts + 1] = q(a) end
  return table.concat(parts, " ")
end

-- Runs the named entries round-robin (so drift hits them all alike); returns name -> samples.
local function rounds(entries)
  local samples = {}
  for _, e in ipairs(entries) do samples[e.name] = {} end
  for r = 1, R do
    for _, e in ipairs(entries) do
      if r <= (e.repeats or R) then
        local v = seconds(e.cmd)
        table.insert(samples[e.name], v)
        io.stderr:write(("  %-28s run %d: %.4f s\n"):format(e.name, r, v))
      end
    end
  end
  return samples
end

local lines = {}
local function out(s) lines[#lines + 1] = s or "" end
local function fmt_s(v) return string.format("%.3f", v) end
local results = {}

-- Environment ---------------------------------------------------------------------------
local function first_line(c)
  local ok, s = pcall(run, c)
  return ok and (s:match("[^\n]*") or "") or "?"
end
local cpu = first_line("grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'")
local ncpu = first_line("nproc")
local function loadavg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("l") or ""
  if f then f:close() end
  return s:match("^(%S+)") or "?"
end
local load_start = loadavg()
local env = {
  cpu = cpu .. " (" .. ncpu .. " CPUs)",
  kernel = first_line("uname -sr"),
  curl = first_line(LUA .. " -e 'print(require(\"cohort.core\").curl_version)'"),
  lua = first_line(LUA .. " -v"),
  python = first_line(q(PYTHON) .. " -c 'import sys, requests; print(sys.version.split()[0], \"requests\", requests.__version__)'"),
  nginx = first_line("nginx -v 2>&1"),
  wrk = first_line("wrk -v 2>&1 | head -1"),
  luasocket = first_line(LUA .. " -e 'print(require(\"socket\")._VERSION)'"),
}

-- 1. Sequential --------------------------------------------------------------------------
io.stderr:write("1. sequential: " .. N .. " submissions:get over one connection\n")
local seq = rounds {
  { name = "raw libcurl easy (C)", cmd = cmd(DIR .. "/raw_easy", URL, IDS, N, TOKEN) },
  { name = "libcurl easy + lua-cjson (C)", cmd = cmd(DIR .. "/raw_easy", URL, IDS, N, TOKEN, "cjson") },
  { name = "cohort", cmd = lua_cmd("seq.lua", "cohort", URL, IDS, N, TOKEN) },
  { name = "LuaSocket http.request", cmd = lua_cmd("seq.lua", "luasocket", URL, IDS, N, TOKEN) },
  { name = "Python requests.Session", repeats = PY_R,
    cmd = cmd(PYTHON, "bench/py_bench.py", "seq", URL, IDS, N, TOKEN) },
}

-- 2. Concurrent --------------------------------------------------------------------------
io.stderr:write("2. concurrent: " .. N .. " calls, " .. C .. " in flight\n")
local conc = rounds {
  { name = "raw libcurl multi (C)", cmd = cmd(DIR .. "/raw_multi", URL, IDS, N, C, TOKEN) },
  { name = "libcurl multi + lua-cjson (C)", cmd = cmd(DIR .. "/raw_multi", URL, IDS, N, C, TOKEN, "cjson") },
  { name = "cohort", cmd = lua_cmd("conc.lua", URL, IDS, N, C, TOKEN) },
  { name = "Python ThreadPoolExecutor", repeats = PY_R,
    cmd = cmd(PYTHON, "bench/py_bench.py", "conc", URL, IDS, N, C, TOKEN) },
}

-- 3. Decode ------------------------------------------------------------------------------
io.stderr:write("3. decode: a 10,000-submission list\n")
local LIST = DIR .. "/list_10000.json"
local dec = rounds {
  { name = "bare cjson.decode", cmd = lua_cmd("decode.lua", "cjson", LIST, 5) },
  { name = "cohort.core.decode", cmd = lua_cmd("decode.lua", "core", LIST, 5) },
  { name = "cohort Page", cmd = lua_cmd("decode.lua", "cohort", LIST, 5) },
  { name = "cohort Page over HTTP", cmd = lua_cmd("decode.lua", "http", LIST, 5, URL, TOKEN) },
}

-- 4. Memory ------------------------------------------------------------------------------
io.stderr:write("4. memory: iterating survey responses (sandbox)\n")
local mem = {}
for _, n in ipairs { 10000, 100000 } do
  local o = run(lua_cmd("memory.lua", DIR .. "/survey_" .. n .. ".json", SURVEY, n))
  local count, secs, before, after, heap = o:match("(%d+) ([%d.]+) (%d+) (%d+) (%d+)%s*$")
  assert(count, "memory.lua printed no figures:\n" .. o)
  mem[#mem + 1] = { n = tonumber(count), secs = tonumber(secs), before = tonumber(before),
    after = tonumber(after), heap = tonumber(heap) }
  io.stderr:write(("  %d responses: peak RSS %.1f MiB (%.1f MiB before iterating), %.1f s\n")
    :format(n, after / 1024, before / 1024, secs))
end

-- 5. The sandbox as a server ------------------------------------------------------------
io.stderr:write("5. server: the sandbox under load, and beside 10,000 idle / 1,000 slow connections\n")
local srv = { latency = {} }
do
  local o = run(q(LUA) .. " bench/server.lua")
  for line in o:gmatch("[^\n]+") do
    local key, rest = line:match("^(%S+)%s+(.*)$")
    if key == "rps" then
      srv.rps = {}
      for v in rest:gmatch("%S+") do srv.rps[#srv.rps + 1] = tonumber(v) end
    elseif key == "rps_idle" then
      srv.rps_idle = tonumber(rest)
    elseif key == "latency" then
      local cond, n, ok, med, p99, max = rest:match("^(%S+) (%d+) (%d+) ([%d.]+) ([%d.]+) ([%d.]+)$")
      srv.latency[cond] = { n = tonumber(n), ok = tonumber(ok), median = tonumber(med),
        p99 = tonumber(p99), max = tonumber(max) }
    end
  end
  assert(srv.rps and srv.rps_idle and srv.latency.none and srv.latency.idle_10000 and srv.latency.slow_1000,
    "bench/server.lua printed incomplete figures:\n" .. o)
  io.stderr:write(("  sandbox: %s req/s; %.0f with 10,000 idle held; slowest other request %.1f / %.1f / %.1f ms " ..
    "(nothing held / 10,000 idle / 1,000 slow)\n"):format(table.concat(srv.rps, ", "), srv.rps_idle,
    srv.latency.none.max, srv.latency.idle_10000.max, srv.latency.slow_1000.max))
end

-- Report ---------------------------------------------------------------------------------
local function verdict(ok) return ok and "**met**" or "**missed**" end

out("# Benchmarks")
out()
out("Generated by `make bench` (bench/run.sh, bench/driver.lua) on " .. os.date("!%Y-%m-%d %H:%M UTC") .. ".")
out("Medians of " .. R .. " runs (Python: " .. PY_R .. "); every ratio is taken from medians of this one run.")
out("In cases 1 to 4 the server is nginx answering canned Prolific JSON from files on loopback" ..
  (PIN ~= "" and " (nginx pinned to one CPU, each client to the other)" or "") .. "; case 5 " ..
  "measures the sandbox itself" .. (PIN ~= "" and ", pinned the same way" or "") .. ".")
out("See bench/README.md for what each case does and how to run one by hand.")
out()
out("| | |")
out("|---|---|")
out("| CPU | " .. env.cpu .. " |")
out("| kernel | " .. env.kernel .. " |")
out("| libcurl | " .. env.curl .. " |")
out("| Lua | " .. env.lua .. ", " .. env.luasocket .. " |")
out("| Python | " .. env.python .. " |")
out("| server | " .. env.nginx:gsub("nginx version: ", "") .. " |")
out("| load generator (case 5) | " .. env.wrk:gsub("%s*Copyright.*", ""):gsub("%s*%[epoll%]", "") .. " |")
local load_end = loadavg()
out("| load average (1 min) at start / end (the run itself adds about 1.5) | " .. load_start .. " / " .. load_end .. " |")
out()
if (tonumber(load_start) or 0) > 1.0 then
  out("**Other work was running on the machine during this run: the figures below are noisy " ..
    "(the sequential case, bound by round-trip latency, suffers most). Run `make bench` again " ..
    "on a quiet machine.**")
end
out()

local function table_of(title, samples, order, ref, n_calls)
  out("## " .. title)
  out()
  out("| client | median s | calls/s | µs/call | × cohort's time |")
  out("|---|---:|---:|---:|---:|")
  local c = median(samples["cohort"])
  for _, name in ipairs(order) do
    local m = median(samples[name])
    out(("| %s | %s | %.0f | %.1f | %.2f |"):format(name, fmt_s(m), n_calls / m, m / n_calls * 1e6, m / c))
  end
  out()
  return c, median(samples[ref])
end

local c1, raw1 = table_of("1. Sequential: " .. N .. " `submissions:get` over one kept-alive connection",
  seq, { "raw libcurl easy (C)", "libcurl easy + lua-cjson (C)", "cohort", "LuaSocket http.request",
    "Python requests.Session" },
  "raw libcurl easy (C)", N)
local py1 = median(seq["Python requests.Session"])
results.seq_raw = c1 / raw1
results.seq_py = py1 / c1
out(("cohort / raw libcurl = **%.2f×** (target ≤ 1.15×: %s); Python requests / cohort = **%.1f×** " ..
  "(target ≥ 8×: %s).")
  :format(results.seq_raw, verdict(results.seq_raw <= 1.15), results.seq_py, verdict(results.seq_py >= 8)))
results.seq_floor = c1 / median(seq["libcurl easy + lua-cjson (C)"])
out(("Like for like — the same C program also turning each body into a Lua table with lua-cjson, " ..
  "the least any Lua client returning tables must do: cohort / that = %.2f×.")
  :format(results.seq_floor))
out("LuaSocket's `http.request` sends `Connection: close`, so it opens a connection per call.")
out()

local c2, raw2 = table_of("2. Concurrent: " .. N .. " calls, " .. C .. " in flight", conc,
  { "raw libcurl multi (C)", "libcurl multi + lua-cjson (C)", "cohort", "Python ThreadPoolExecutor" },
  "raw libcurl multi (C)", N)
results.conc_raw = c2 / raw2
results.conc_floor = c2 / median(conc["libcurl multi + lua-cjson (C)"])
out(("cohort (`p:map(ids, get, {concurrency = %d})`) / raw libcurl multi = **%.2f×** (target ≤ 1.1×: %s); " ..
  "Python (16 threads, a Session each) / cohort = %.1f×.")
  :format(C, results.conc_raw, verdict(results.conc_raw <= 1.1),
    median(conc["Python ThreadPoolExecutor"]) / c2))
out(("Like for like (the C program also decoding each body into a Lua table with lua-cjson): " ..
  "cohort / that = %.2f×.")
  :format(results.conc_floor))
out()

out("## 3. Decode: a 10,000-submission list (" .. string.format("%.1f", (io.open(LIST):seek("end")) / 1048576)
  .. " MiB of JSON) into objects")
out()
out("| path | median s | × bare cjson |")
out("|---|---:|---:|")
local bare = median(dec["bare cjson.decode"])
for _, name in ipairs { "bare cjson.decode", "cohort.core.decode", "cohort Page", "cohort Page over HTTP" } do
  local m = median(dec[name])
  out(("| %s | %s | %.2f |"):format(name, fmt_s(m), m / bare))
end
out()
results.decode = median(dec["cohort Page"]) / bare
out(("cohort Page (core.decode + a Submission metatable on every item) / bare cjson = **%.2f×** " ..
  "(target ≤ 1.3×: %s). `cohort.core.decode` is cohort's own one-pass JSON decoder " ..
  "(csrc/core_json.c: integers, null fields dropped); \"over HTTP\" adds the transfer from nginx " ..
  "and is shown for scale only.")
  :format(results.decode, verdict(results.decode <= 1.3)))
out()

out("## 4. Memory: iterating survey responses across pages (sandbox, pages of 1,000)")
out()
out("| responses | peak RSS | peak RSS before iterating | Lua heap after | seconds |")
out("|---:|---:|---:|---:|---:|")
local worst = 0
for _, m in ipairs(mem) do
  worst = math.max(worst, m.after)
  out(("| %d | %.1f MiB | %.1f MiB | %.1f MiB | %.1f |"):format(m.n, m.after / 1024, m.before / 1024,
    m.heap / 1024, m.secs))
end
out()
local growth = (mem[#mem].after - mem[1].after) / 1024
results.mem = worst / 1024
local per_k = growth * 1024 / ((mem[#mem].n - mem[1].n) / 1000) -- KiB per 1,000 responses
results.mem_flat = growth < 4
local crossing = ""
if not results.mem_flat then
  crossing = (" — about %.0f KiB more per 1,000 responses, so 64 MiB is passed near %d responses")
    :format(per_k, math.floor(mem[#mem].n + (64 * 1024 - mem[#mem].after) / per_k * 1000))
end
out(("`p.surveys:each_responses(id, {limit = 1000})`, peak RSS of the client process (VmHWM). " ..
  "Worst peak %.1f MiB; from %d to %d responses the peak grows by %.1f MiB (%s%s). " ..
  "Target (< 64 MiB whatever the count): %s. The seconds include the sandbox's own work " ..
  "(it serves every page from Lua).")
  :format(results.mem, mem[1].n, mem[#mem].n, growth,
    results.mem_flat and "flat" or "**it grows with the count**", crossing,
    verdict(results.mem < 64 and results.mem_flat)))
out()

out("## 5. The sandbox as a server: `GET /api/v1/users/me/` with the token, on loopback")
out()
local rps = median(srv.rps)
local lo, hi = math.huge, 0
for _, v in ipairs(srv.rps) do lo, hi = math.min(lo, v), math.max(hi, v) end
out("| requests per second, 16 in flight (wrk: 1 thread, 16 kept-alive connections) | |")
out("|---|---:|")
out(("| median of %d runs (range %.0f–%.0f) | %.0f |"):format(#srv.rps, lo, hi, rps))
out(("| one run while 10,000 idle connections are held | %.0f |"):format(srv.rps_idle))
out()
out("| 1,000 requests from other clients, each on a new connection | answered | median ms | p99 ms | max ms |")
out("|---|---:|---:|---:|---:|")
local LAT = { { "none", "nothing else held" }, { "idle_10000", "10,000 idle connections held" },
  { "slow_1000", "1,000 slow-header clients held (a header byte a second)" } }
local worst, answered = 0, true
for _, c in ipairs(LAT) do
  local l = srv.latency[c[1]]
  out(("| %s | %d of %d | %.2f | %.2f | %.2f |"):format(c[2], l.ok, l.n, l.median, l.p99, l.max))
  if c[1] ~= "none" then
    worst = math.max(worst, l.max)
    answered = answered and l.ok == l.n
  end
end
out()
results.srv_rps = rps
results.srv_latency_ok = answered and worst < 100
out(("Requests per second: **%.0f** (target ≥ 10,000: %s). Other clients, while 10,000 idle or " ..
  "1,000 slow-header connections are held: all answered, the slowest in **%.1f ms** (bound 100 ms: %s). " ..
  "The sandbox ran with its default settings (one polling thread, idle time-out 15 s, request " ..
  "time-out 30 s); each latency is connect, request and the whole answer, measured by " ..
  "`flood … probe` (spec/support/flood.c). See docs/internals.md for the server's model.")
  :format(rps, verdict(rps >= 10000), worst, verdict(results.srv_latency_ok)))
out()

out("## Summary")
out()
out("| target | result | |")
out("|---|---:|---|")
out(("| 1. sequential: cohort ≤ 1.15× raw libcurl easy | %.2f× | %s |"):format(results.seq_raw, verdict(results.seq_raw <= 1.15)))
out(("| 1. sequential: cohort ≥ 8× faster than Python requests | %.1f× | %s |"):format(results.seq_py, verdict(results.seq_py >= 8)))
out(("| 2. concurrent: cohort ≤ 1.1× raw libcurl multi | %.2f× | %s |"):format(results.conc_raw, verdict(results.conc_raw <= 1.1)))
out(("| (2, like for like: cohort / libcurl multi + lua-cjson) | %.2f× | for information |"):format(results.conc_floor))
out(("| 3. decode: cohort Page ≤ 1.3× bare cjson | %.2f× | %s |"):format(results.decode, verdict(results.decode <= 1.3)))
out(("| 4. memory: peak RSS < 64 MiB whatever the count | %.1f MiB at %d, %s | %s |"):format(results.mem,
  mem[#mem].n, results.mem_flat and "flat" or "growing", verdict(results.mem < 64 and results.mem_flat)))
out(("| 5. sandbox: ≥ 10,000 requests/s at 16 in flight | %.0f | %s |"):format(results.srv_rps,
  verdict(results.srv_rps >= 10000)))
out(("| 5. sandbox: others answered within 100 ms while 10,000 idle / 1,000 slow connections are held | %.1f ms at worst | %s |")
  :format(worst, verdict(results.srv_latency_ok)))
out()

local analysis = io.open("bench/analysis.md", "r")
if analysis then
  out(analysis:read("a"))
  analysis:close()
end

local text = table.concat(lines, "\n"):gsub("\n+$", "") .. "\n"
io.write(text)
local f = assert(io.open(OUT, "w"))
f:write(text)
f:close()
io.stderr:write("wrote " .. OUT .. "\n")
