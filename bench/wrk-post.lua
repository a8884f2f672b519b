-- wrk script for bench/webhook-throughput.ts (run by bench/wrk.ts): POSTs one JSON event per request, each for
-- a distinct commit, and prints one machine-readable result line when the run ends.
--
-- Usage: wrk ... -s bench/wrk-post.lua <url> -- <template file> <placeholder> <prefix> <filler>
--   template file  the event body; it holds <placeholder> (40 chars) exactly once
--   placeholder    replaced per request by a commit: <prefix><thread as 2 hex><counter as 10 hex><filler>
--   prefix         8 hex chars chosen by the bench, unique per phase, so no two phases reuse a commit
--   filler         hex chars bringing the commit to 40
-- The daemon deduplicates repeated events for a commit, so a repeated body would measure that shortcut rather
-- than the intake. Each thread counts on its own and carries its index in the commit, so threads never collide.
-- Callbacks: https://github.com/wg/wrk/blob/4.1.0/SCRIPTING

local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local head, tail, commit_start, filler_text
local counter = 0

function init(args)
  local path, placeholder, prefix, filler = args[1], args[2], args[3], args[4]
  assert(path and placeholder and prefix and filler, "wrk-post.lua: expected -- <template file> <placeholder> <prefix> <filler>")
  local file = assert(io.open(path, "rb"))
  local template = file:read("*a")
  file:close()
  local at = string.find(template, placeholder, 1, true)
  assert(at, "wrk-post.lua: placeholder not found in " .. path)
  head = string.sub(template, 1, at - 1)
  tail = string.sub(template, at + #placeholder)
  commit_start = prefix .. string.format("%02x", thread_index)
  assert(#commit_start + 10 + #filler == 40, "wrk-post.lua: prefix and filler must leave 10 hex chars for the counter")
  filler_text = filler
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local commit = commit_start .. string.format("%010x", counter) .. filler_text
  return wrk.format(nil, nil, nil, head .. commit .. tail)
end

-- errors.status counts responses with a status >= 400 (wrk's rule); the daemon and the limit server answer
-- no 3xx, so it is the non-2xx count. Durations and latencies are in microseconds.
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
