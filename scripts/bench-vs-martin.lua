-- wrk script for scripts/bench-vs-martin.sh: each thread walks its own share of the tile
-- paths in $TILE_LIST (one path per line), in order, so a cold run asks for each tile once;
-- a thread that runs out of paths starts again and says so (its later requests are warm).
-- $TILE_AUTH, when set, is sent as the Authorization header.
local paths = {}
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local all = {}
  for line in io.lines(os.getenv("TILE_LIST")) do
    all[#all + 1] = line
  end
  local count = tonumber(os.getenv("WRK_THREADS") or "2")
  for i = id, #all, count do
    paths[#paths + 1] = all[i]
  end
  next_path = 1
  wrapped = 0
  auth = os.getenv("TILE_AUTH")
  if auth == "" then auth = nil end
end

function request()
  local path = paths[next_path]
  next_path = next_path + 1
  if next_path > #paths then
    next_path = 1
    wrapped = wrapped + 1
  end
  if auth then
    return wrk.format("GET", path, { Authorization = auth })
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local wraps = 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (thread:get("wrapped") or 0)
  end
  io.write(string.format("RESULT rps=%.1f p50=%.2f p99=%.2f errors=%d non2xx=%d wrapped=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, wraps))
end
