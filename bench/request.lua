-- wrk script for bench/run: POSTs one GraphQL request, or GETs a FHIR URL
-- (BENCH_METHOD=GET; body and headers from the environment), counts every response that is not a 200 without
-- "errors", and prints the figures bench/run reads as key=value lines.

wrk.method = os.getenv("BENCH_METHOD") or "POST"
if wrk.method == "POST" then
  wrk.body = os.getenv("BENCH_BODY")
  wrk.headers["content-type"] = "application/json"
end
local auth = os.getenv("BENCH_AUTHORIZATION")
if auth and auth ~= "" then wrk.headers["authorization"] = auth end
local secret = os.getenv("BENCH_ROUTER_SECRET")
if secret and secret ~= "" then wrk.headers["x-hub-router-secret"] = secret end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  sample = ""
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
    if sample == "" then sample = string.sub(body, 1, 300) end
  end
end

function done(summary, latency, requests)
  local errors, example = 0, ""
  for _, t in ipairs(threads) do
    errors = errors + t:get("bad")
    local s = t:get("sample")
    if s ~= "" then example = s end
  end
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("errors=%d\n", errors + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("duration_us=%d\n", summary.duration))
  io.write(string.format("p50_us=%d\n", latency:percentile(50)))
  io.write(string.format("p99_us=%d\n", latency:percentile(99)))
  io.write("sample=" .. string.gsub(example, "\n", " ") .. "\n")
end
