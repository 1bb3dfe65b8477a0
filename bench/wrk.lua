-- wrk script for bench/run. `wrk ... -s bench/wrk.lua URL -- MODE`:
--   get      (default) GET the URL's path
--   records  create + get: POST /api/records, then GET the Location each create answered,
--            so half the requests write and half read what was written
-- done() prints one machine-readable line that bench/run reads:
--   RESULT requests=N seconds=S rps=R p50_ms=A p99_ms=B errors=E
-- where errors counts socket errors, timeouts and non-2xx/3xx answers.
-- BENCH_TOKEN, when set, is sent as the bearer token (the handler's records need a user).

local threads = {}
mode = "get" -- globals: done() reads them from each thread with thread:get()
local pending = {}
created = 0
read = 0
local counter = 0
local auth = nil

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "get"
  -- Each wrk thread has its own Lua state; a per-thread prefix keeps names apart.
  counter = math.random(1, 1000000)
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    auth = "Bearer " .. token
  end
end

function request()
  if mode == "records" then
    local path = table.remove(pending)
    if path then
      return wrk.format("GET", path, { ["Authorization"] = auth })
    end
    counter = counter + 1
    local body = string.format('{"name": "fruit-%d", "price": %d}', counter, counter % 1000)
    return wrk.format("POST", "/api/records",
      { ["Content-Type"] = "application/json", ["Authorization"] = auth }, body)
  end
  return wrk.format("GET")
end

function response(status, headers, body)
  if mode ~= "records" then
    return
  end
  if status == 201 then
    created = created + 1
    local location = headers["Location"] or headers["location"]
    if location then
      table.insert(pending, location)
    end
  elseif status == 200 then
    read = read + 1
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status
  local seconds = summary.duration / 1e6
  local extra = ""
  -- done() runs in wrk's main Lua state, where init() never ran: ask a thread for the mode.
  if threads[1] and threads[1]:get("mode") == "records" then
    local c, r = 0, 0
    for _, thread in ipairs(threads) do
      c = c + (thread:get("created") or 0)
      r = r + (thread:get("read") or 0)
    end
    extra = string.format(" created=%d read=%d", c, r)
  end
  io.write(string.format("RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d%s\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors, extra))
end
