-- POST a pre-generated form body once each: single-use grants such as authorization_code
-- (RFC 6749 §4.1.3, with PKCE: RFC 7636 §4.5) or a rotating refresh_token (RFC 6749 §6),
-- client_secret_basic (§2.3.1). The file has one form-encoded body per line; thread i of n
-- takes lines i, i+n, i+2n, ...
-- Environment: BENCH_BASIC = base64("client_id:client_secret"), BENCH_BODIES (the file),
-- BENCH_THREADS (wrk's -t).
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local bodies = {}
local next_body = 1

function init(args)
  local count = tonumber(os.getenv("BENCH_THREADS"))
  local line_no = 0
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    if line_no % count == thread_index then
      table.insert(bodies, line)
    end
    line_no = line_no + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
end

function request()
  -- Past the last body the requests repeat it and fail (invalid_grant): non-2xx responses.
  local body = bodies[next_body] or bodies[#bodies]
  next_body = next_body + 1
  return wrk.format(nil, nil, nil, body)
end
