-- wrk script for stateful_bench.sh: POST one token per request, taken from a file.
-- wrk -tN ... -s token_pool.lua URL -- MODE TOKEN_FILE AUTHORIZATION N
--   MODE refresh:    grant_type=refresh_token&refresh_token=<t>, every token sent once at most
--                    (threads take disjoint strides); when a thread runs out it stops and says so.
--   MODE introspect: token=<t>&token_type_hint=access_token, cycling over the file.
-- Last lines printed: "detail: ..." and "rps=.. p50_ms=.. p99_ms=.. non2xx=..", as cc_load.sh does.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local mode, tokens, stride = nil, {}, 1
index, sent, non2xx, exhausted, first_error = 0, 0, 0, 0, ""

function init(args)
  mode = args[1]
  for line in io.lines(args[2]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Accept"] = "application/json"
  wrk.headers["Authorization"] = args[3]
  -- thread k sends tokens k, k+N, k+2N, ...: no token goes out twice
  stride = tonumber(args[4]) or 1
  index = id or 0
end

function request()
  local token
  if mode == "refresh" then
    token = tokens[index + 1]
    if token == nil then
      exhausted = 1
      wrk.thread:stop()
      token = "exhausted"
    end
    index = index + stride
  else
    token = tokens[(index % #tokens) + 1]
    index = index + 1
  end
  sent = sent + 1
  if mode == "refresh" then
    return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
  end
  return wrk.format(nil, nil, nil, "token=" .. token .. "&token_type_hint=access_token")
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_error == "" then first_error = status .. " " .. string.sub(body or "", 1, 200) end
  elseif mode == "introspect" and not string.find(body, '"active": *true') then
    -- an inactive answer is a 200 but a failed introspection: count it with the errors
    non2xx = non2xx + 1
    if first_error == "" then first_error = "200 " .. string.sub(body or "", 1, 200) end
  end
end

function done(summary, latency, requests)
  local bad, used, out, err, reach = 0, 0, 0, "", 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    used = used + (t:get("sent") or 0)
    out = out + (t:get("exhausted") or 0)
    reach = math.max(reach, t:get("index") or 0)
    if err == "" then err = t:get("first_error") or "" end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format("detail: requests=%d secs=%.2f tokens_sent=%d pool_used=%d pool_exhausted=%d sock_err(connect=%d read=%d write=%d timeout=%d) p90_ms=%.2f max_ms=%.2f\n",
    summary.requests, secs, used, reach, out, e.connect, e.read, e.write, e.timeout,
    latency:percentile(90) / 1000, latency.max / 1000))
  if err ~= "" then io.write("first_error: " .. err .. "\n") end
  io.write(string.format("rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000, bad))
end
