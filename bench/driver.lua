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
  disk = first_line("stat -f -c %T " .. q(DIR)),
}
local loads = {} -- the load average before each case
local function case_load(n) loads[#loads + 1] = n .. ": " .. loadavg() end

-- 1. Sequential --------------------------------------------------------------------------
case_load(1)
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
case_load(2)
io.stderr:write("2. concurrent: " .. N .. " calls, " .. C .. " in flight\n")
local conc = rounds {
  { name = "raw libcurl multi (C)", cmd = cmd(DIR .. "/raw_multi", URL, IDS, N, C, TOKEN) },
  { name = "libcurl multi + lua-cjson (C)", cmd = cmd(DIR .. "/raw_multi", URL, IDS, N, C, TOKEN, "cjson") },
  { name = "cohort", cmd = lua_cmd("conc.lua", URL, IDS, N, C, TOKEN) },
  { name = "Python ThreadPoolExecutor", repeats = PY_R,
    cmd = cmd(PYTHON, "bench/py_bench.py", "conc", URL, IDS, N, C, TOKEN) },
}

-- 3. Decode ------------------------------------------------------------------------------
case_load(3)
io.stderr:write("3. decode: a 10,000-submission list\n")
local LIST = DIR .. "/list_10000.json"
local dec = rounds {
  { name = "bare cjson.decode", cmd = lua_cmd("decode.lua", "cjson", LIST, 5) },
  { name = "cohort.core.decode", cmd = lua_cmd("decode.lua", "core", LIST, 5) },
  { name = "cohort Page", cmd = lua_cmd("decode.lua", "cohort", LIST, 5) },
  { name = "cohort Page over HTTP", cmd = lua_cmd("decode.lua", "http", LIST, 5, URL, TOKEN) },
}

-- 4. Memory ------------------------------------------------------------------------------
case_load(4)
io.stderr:write("4. memory: iterating survey responses (sandbox)\n")
local mem, set = {}, {}
local function mem_figures(o)
  local count, secs, before, after, heap, live = o:match("(%d+) ([%d.]+) (%d+) (%d+) (%d+) (%-?%d+)%s*$")
  assert(count, "memory.lua printed no figures:\n" .. o)
  return { n = tonumber(count), secs = tonumber(secs), before = tonumber(before),
    after = tonumber(after), heap = tonumber(heap), live = tonumber(live) }
end
for _, n in ipairs { 10000, 100000 } do
  local m = mem_figures(run(lua_cmd("memory.lua", DIR .. "/survey_" .. n .. ".json", SURVEY, n)))
  mem[#mem + 1] = m
  io.stderr:write(("  %d responses: peak RSS %.1f MiB (%.1f MiB before iterating), %.1f s\n")
    :format(n, m.after / 1024, m.before / 1024, m.secs))
  local b = mem_figures(run(lua_cmd("memory.lua", "--set", n)))
  set[#set + 1] = b
  io.stderr:write(("  a bare set of %d ids: peak RSS %.1f MiB (%.1f MiB before)\n")
    :format(n, b.after / 1024, b.before / 1024))
end

-- 5. The sandbox as a server ------------------------------------------------------------
case_load(5)
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

-- 6. The bulk jobs at 150 ms of latency -------------------------------------------------------
case_load(6)
io.stderr:write("6. latency: approve_all, pay_all, reject_all against a sandbox answering 150 ms late\n")
local lat = { bulk = {}, seq = {} }
do
  local o = run(lua_cmd("latency.lua", DIR))
  for line in o:gmatch("[^\n]+") do
    local key, rest = line:match("^(%S+)%s+(.*)$")
    if key == "latency_ms" then
      lat.ms = tonumber(rest)
    elseif key == "record_ms" then
      lat.record_ms = tonumber(rest)
    elseif key == "store_ms" then
      lat.store_ms = tonumber(rest)
    elseif key == "bulk" then
      local job, journal, secs, n, hook, conc = rest:match("^(%S+) ([01]) ([%d.]+) (%d+) (%d+) (%d+)$")
      local k = job .. (journal == "1" and ":journal" or ":plain")
      lat.bulk[k] = lat.bulk[k] or { secs = {}, requests = {}, hook = {}, conc = tonumber(conc) }
      table.insert(lat.bulk[k].secs, tonumber(secs))
      table.insert(lat.bulk[k].requests, tonumber(n))
      table.insert(lat.bulk[k].hook, tonumber(hook))
    elseif key == "seq" then
      local job, sample, full, secs, n = rest:match("^(%S+) (%d+) (%d+) ([%d.]+) (%d+)$")
      lat.seq[job] = { sample = tonumber(sample), full = tonumber(full), secs = tonumber(secs),
        requests = tonumber(n) }
    end
  end
  for _, job in ipairs { "approve", "pay", "reject" } do
    assert(lat.bulk[job .. ":journal"] and lat.bulk[job .. ":plain"] and lat.seq[job],
      "bench/latency.lua printed incomplete figures:\n" .. o)
  end
  assert(lat.ms and lat.record_ms and lat.store_ms, "bench/latency.lua printed incomplete figures:\n" .. o)
end

-- Report ---------------------------------------------------------------------------------
local function verdict(ok) return ok and "**met**" or "**missed**" end

out("# Benchmarks")
out()
out("Generated by `make bench` (bench/run.sh, bench/driver.lua) on " .. os.date("!%Y-%m-%d %H:%M UTC") .. ".")
out("Medians of " .. R .. " runs (Python: " .. PY_R .. "); every ratio is taken from medians of this one run.")
out("In cases 1 to 4 the server is nginx answering canned Prolific JSON from files on loopback" ..
  (PIN ~= "" and " (nginx pinned to one CPU, each client to the other)" or "") .. "; case 5 " ..
  "measures the sandbox itself" .. (PIN ~= "" and ", pinned the same way" or "") .. "; case 6 runs " ..
  "cohort's bulk jobs against the sandbox answering every platform request 150 ms late.")
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
out("| load average (1 min) as each case began | " .. table.concat(loads, ", ") .. " |")
out("| file system of the journals (case 6) | " .. env.disk .. " |")
out()
out("The load as each case began counts the run's own threads too: case 2's 16 Python threads " ..
  "keep the 1-minute average near 3 for the minute after it.")
if (tonumber(load_start) or 0) > 1.0 then
  out()
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
out("| responses | peak RSS | peak RSS before iterating | Lua heap held at the end (after a full GC) | seconds | a bare Lua set of as many ids: peak RSS / heap held |")
out("|---:|---:|---:|---:|---:|---:|")
local worst = 0
for i, m in ipairs(mem) do
  worst = math.max(worst, m.after)
  out(("| %d | %.1f MiB | %.1f MiB | %.1f MiB | %.1f | %.1f MiB / %.1f MiB |"):format(m.n, m.after / 1024,
    m.before / 1024, m.live / 1024, m.secs, set[i].after / 1024, set[i].live / 1024))
end
out()
local items = mem[#mem].n - mem[1].n
local function per_item(a, b) return (b - a) * 1024 / items end -- bytes an item, from KiB
results.mem = worst / 1024
results.mem_rss_item = per_item(mem[1].after, mem[#mem].after)
results.mem_live_item = per_item(mem[1].live, mem[#mem].live)
results.mem_set_item = per_item(set[1].live, set[#set].live)
results.mem_set_rss_item = per_item(set[1].after, set[#set].after)
results.mem_ratio = results.mem_live_item / results.mem_set_item
results.mem_64 = math.floor(mem[#mem].n + (64 * 1048576 - mem[#mem].after * 1024) / results.mem_rss_item)
out(("`p.surveys:each_responses(id, {limit = 1000})` in the client process. The iteration keeps the id " ..
  "of every item it has yielded, so that it yields each exactly once even when the loop's own changes " ..
  "move items (issue #13, point 1), and nothing else that grows: from %d to %d responses the Lua heap " ..
  "it holds grows by **%.0f bytes a response**, and a bare Lua set of as many 24-hex ids " ..
  "(`seen[id] = true`, bench/memory.lua `--set`: the least such an iteration must keep) by %.0f bytes " ..
  "an id — the iteration / the bare set = **%.2f×** (target ≤ 1.2×: %s). The peak RSS grows by %.0f " ..
  "bytes a response (the bare set's by %.0f): Lua's collector lets garbage (the pages already read) " ..
  "build up to about the live heap again before a cycle, so the peak is near twice what is held. " ..
  "The bound, then: about %.0f KiB of peak memory per 1,000 items listed in one iteration; %.1f MiB " ..
  "at %d, and 64 MiB is passed near %d items. The seconds include the sandbox's own work (it serves " ..
  "every page from Lua).")
  :format(mem[1].n, mem[#mem].n, results.mem_live_item, results.mem_set_item, results.mem_ratio,
    verdict(results.mem_ratio <= 1.2), results.mem_rss_item, results.mem_set_rss_item,
    results.mem_rss_item * 1000 / 1024, results.mem, mem[#mem].n, results.mem_64))
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

out(("## 6. The bulk jobs at %d ms of latency (sandbox, `POST /__sandbox/latency`)"):format(lat.ms))
out()
local JOBS6 = {
  { "approve", "`p.submissions:approve_all{ids = 1,000 ids}`", "1 bulk approve (1,000 a request)", 1 },
  { "pay", "`p.bonuses:pay_all{bonuses = 1,000 rows}`", "5 set-ups + 5 payments (200 a batch, one after the other)", 10 },
  { "reject", "`p.submissions:reject_all{items = 100, concurrency = 8}`", "100 transitions, 8 in flight", 100 },
}
local LOOPS6 = {
  approve = "`sub:approve()`", pay = "`p.bonuses:setup{study =, bonuses = {row}}` then `batch:pay()`",
  reject = "`sub:reject{message =, category =}`",
}
out("| job | requests it needs | made (server log / client hook) | concurrency | bound | with a journal | × bound | without | × bound | the journal's cost |")
out("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
results.lat = {}
for _, jb in ipairs(JOBS6) do
  local name = jb[1]
  local wj, nj = lat.bulk[name .. ":journal"], lat.bulk[name .. ":plain"]
  local n, hook = median(wj.requests), median(wj.hook)
  local bound = n * lat.ms / 1000 / wj.conc
  local tj, tn = median(wj.secs), median(nj.secs)
  results.lat[name] = { bound = bound, secs = tj, ratio = tj / bound, plain = tn / (median(nj.requests) * lat.ms / 1000 / nj.conc),
    requests = n, needed = jb[4] }
  out(("| %s | %s | %d / %d | %d | %.3f s | %.3f s | **%.2f×** | %.3f s | %.2f× | %+.0f ms |"):format(jb[2], jb[3], n, hook,
    wj.conc, bound, tj, tj / bound, tn, results.lat[name].plain, (tj - tn) * 1000))
end
out()
out("| the same work as a loop of single calls | sample | requests (sample) | seconds (sample) | scaled to the whole job | × its own bound | loop / the job with a journal |")
out("|---|---:|---:|---:|---:|---:|---:|")
for _, jb in ipairs(JOBS6) do
  local name = jb[1]
  local sq = lat.seq[name]
  local scaled = sq.secs * sq.full / sq.sample
  local own_bound = sq.requests * lat.ms / 1000
  results.lat[name].loop = scaled
  results.lat[name].speedup = scaled / results.lat[name].secs
  out(("| %s, %d times | %s | %d | %.2f | %.1f s | %.2f× | **%.0f×** |"):format(LOOPS6[name], sq.full,
    sq.sample == sq.full and ("all " .. sq.full) or (sq.sample .. " of " .. sq.full), sq.requests,
    sq.secs, scaled, sq.secs / own_bound, results.lat[name].speedup))
end
out()
out(("Bound = the requests the job made (counted in the sandbox's request log, every attempt the server saw; " ..
  "the client's debug hook, a line a call, agrees) × %d ms ÷ the job's concurrency, from the same run. " ..
  "Medians of %d runs of each job, each on a freshly reset sandbox, with a journal and without one; the " ..
  "journal is a new store each run, made before the timed part (a study's store is made once, by its " ..
  "first job: %.1f ms here, median of 11). A journal record is one SQLite transaction synced to disk: " ..
  "%.2f ms here (median of 100, the store beside the journals, file system %s). " ..
  "The loops run once, on the sample shown; their time is scaled to the whole count (each call waits " ..
  "its %d ms, so the loop's time is linear in it). Targets: each job within 1.2× of its bound — " ..
  "approve_all %s, pay_all %s, reject_all %s.")
  :format(lat.ms, R, lat.store_ms, lat.record_ms, env.disk, lat.ms,
    verdict(results.lat.approve.ratio <= 1.2), verdict(results.lat.pay.ratio <= 1.2),
    verdict(results.lat.reject.ratio <= 1.2)))
out()
out(("reject_all sends its 100 rejections in waves of 8: 13 waves, so even with no cost at all it takes " ..
  "13 × %d ms = %.2f s, %.2f× the bound. pay_all's bound is sequential: Prolific advises one money " ..
  "operation at a time, so its batches go one after the other (concurrency 1) and only its own and the " ..
  "journal's work can add to the %d requests' latency.")
  :format(lat.ms, 13 * lat.ms / 1000, 13 * 8 / 100, results.lat.pay.requests))
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
out(("| 4. memory: heap held per response ≤ 1.2× a bare Lua set of the ids | %.2f× (%.0f B / %.0f B) | %s |"):format(
  results.mem_ratio, results.mem_live_item, results.mem_set_item, verdict(results.mem_ratio <= 1.2)))
out(("| (4. peak RSS at %d responses; 64 MiB is passed near %d) | %.1f MiB | for information |"):format(
  mem[#mem].n, results.mem_64, results.mem))
out(("| 5. sandbox: ≥ 10,000 requests/s at 16 in flight | %.0f | %s |"):format(results.srv_rps,
  verdict(results.srv_rps >= 10000)))
out(("| 5. sandbox: others answered within 100 ms while 10,000 idle / 1,000 slow connections are held | %.1f ms at worst | %s |")
  :format(worst, verdict(results.srv_latency_ok)))
for _, jb in ipairs(JOBS6) do
  local r = results.lat[jb[1]]
  out(("| 6. %s at %d ms: ≤ 1.2× its latency bound (%d request%s) | %.2f× (%.0f× faster than the loop) | %s |"):format(
    ({ approve = "approve_all of 1,000", pay = "pay_all of 1,000 bonuses", reject = "reject_all of 100" })[jb[1]],
    lat.ms, r.requests, r.requests == 1 and "" or "s", r.ratio, r.speedup, verdict(r.ratio <= 1.2)))
end
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
