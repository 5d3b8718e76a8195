-- POST {issuer}/token, grant_type=authorization_code (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.5),
-- client_secret_basic. Each pre-generated code is redeemed exactly once: the file has one
-- "code verifier" pair per line; thread i of n takes lines i, i+n, i+2n, ...
-- Environment: BENCH_BASIC, BENCH_CODES (the file), BENCH_REDIRECT_URI (form-encoded),
-- BENCH_THREADS (wrk's -t).
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local codes = {}
local next_code = 1
local redirect_uri = nil

function init(args)
  local count = tonumber(os.getenv("BENCH_THREADS"))
  local line_no = 0
  for line in io.lines(os.getenv("BENCH_CODES")) do
    if line_no % count == thread_index then
      local code, verifier = line:match("^(%S+) (%S+)$")
      table.insert(codes, { code, verifier })
    end
    line_no = line_no + 1
  end
  redirect_uri = os.getenv("BENCH_REDIRECT_URI")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
end

function request()
  -- Past the last code the requests fail (invalid_grant) and show up as non-2xx responses.
  local pair = codes[next_code] or codes[#codes]
  next_code = next_code + 1
  local body = "grant_type=authorization_code&code=" .. pair[1]
    .. "&redirect_uri=" .. redirect_uri
    .. "&code_verifier=" .. pair[2]
  return wrk.format(nil, nil, nil, body)
end
