-- Server case: the sandbox itself (csrc/sandbox.c) under load, for issue #14 point 7.
--
--   lua server.lua
--
-- Starts a cohort-sandbox (default settings), pinned with `taskset` to the CPU in
-- BENCH_SERVER_CPU when set, and measures:
--   * requests per second: wrk, 1 thread and 16 connections kept alive, for BENCH_WRK_SECONDS
--     (default 3) per run, BENCH_REPEATS runs (default 5), `GET /api/v1/users/me/` with the
--     token (wrk pinned like the other clients, by BENCH_CLIENT);
--   * the latency of other clients: `flood … probe` makes 1,000 requests one after the other,
--     each on a new connection (connect, send, read the whole answer), with nothing else
--     held, then while 10,000 idle connections are held, then while 1,000 slow-header
--     clients (a header byte a second) are held;
--   * requests per second again while the 10,000 idle connections are held (one run).
-- Prints one line per figure for bench/driver.lua:
--   rps <run 1> <run 2> ...
--   rps_idle <value>
--   latency <condition> <count> <ok> <median ms> <p99 ms> <max ms>
local FLOOD = os.getenv("BENCH_FLOOD") or "flood"
local PIN = os.getenv("BENCH_CLIENT") or ""
local CPU = os.getenv("BENCH_SERVER_CPU")
if CPU == "" then CPU = nil end
local R = math.tointeger(tonumber(os.getenv("BENCH_REPEATS") or "5")) or 5
local SECONDS = tonumber(os.getenv("BENCH_WRK_SECONDS") or "3")
local PROBES = 1000
local ME = "/api/v1/users/me/"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local h = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = h:read("a")
  local ok, _, code = h:close()
  if not ok then error(("command failed (%s):\n  %s\n%s"):format(tostring(code), cmd, out), 0) end
  return out
end

local sb = assert(require("cohort.sandbox").start {})
if CPU then run(("taskset -a -pc %s %d"):format(CPU, sb.pid)) end
local host, port = sb.url:match("^http://([%d.]+):(%d+)$")

local function wrk()
  local out = run(("%s wrk -t1 -c16 -d%ss -H %s %s"):format(PIN, SECONDS,
    q("Authorization: Token " .. sb.token), q(sb.url .. ME)))
  if out:find("Non%-2xx") or out:find("Socket errors") then
    error("wrk saw failed requests:\n" .. out, 0)
  end
  return assert(tonumber(out:match("Requests/sec:%s*([%d.]+)")), "no Requests/sec in:\n" .. out)
end

local function probe(condition)
  local out = run(("%s %s %s %s %d probe %s %s"):format(PIN, q(FLOOD), host, port, PROBES, q(ME),
    q(sb.token)))
  local n, ok, med, p99, max = out:match("probe (%d+) ok (%d+) median_ms ([%d.]+) p99_ms ([%d.]+) max_ms ([%d.]+)")
  assert(n, "flood probe printed no figures:\n" .. out)
  print(("latency %s %s %s %s %s %s"):format(condition, n, ok, med, p99, max))
end

-- Holds n connections (mode idle or slow) while fn runs; returns once the holder is stopped.
local function holding(n, mode, fn)
  -- exec: no shell is left to report the holder's end when it is killed
  local h = assert(io.popen(("exec %s sh -c 'echo $$; exec %s %s %s %d %s 120'"):format(PIN, q(FLOOD),
    host, port, n, mode), "r"))
  local pid = assert(tonumber(h:read("l")), "flood did not start")
  local line = h:read("l") or ""
  local held = tonumber(line:match("^held (%d+)"))
  if held ~= n then
    os.execute("kill " .. pid)
    h:close()
    error(("flood %s: %s"):format(mode, line), 0)
  end
  local ok, err = pcall(fn)
  os.execute("kill " .. pid)
  h:close()
  if not ok then error(err, 0) end
end

wrk() -- warm-up
local rps = {}
for i = 1, R do
  rps[i] = wrk()
  io.stderr:write(("  sandbox GET users/me       run %d: %.0f req/s\n"):format(i, rps[i]))
end
print("rps " .. table.concat(rps, " "))

probe("none")
holding(10000, "idle", function()
  probe("idle_10000")
  print(("rps_idle %.0f"):format(wrk()))
end)
-- the idle ones are closed by the holder: wait until the server has let them go
local core = require "cohort.core"
local s = core.session {}
for _ = 1, 100 do
  local r = s:request { base = sb.url, path = "/__sandbox/server" }
  if not r.err and core.decode(r.body).connections < 16 then break end
  os.execute("sleep 0.1")
end
s:close()
holding(1000, "slow", function() probe("slow_1000") end)

local _, code = sb:stop()
assert(code == 0, "the sandbox exited with status " .. tostring(code))
