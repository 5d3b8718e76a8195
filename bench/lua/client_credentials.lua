-- POST {issuer}/token, grant_type=client_credentials (RFC 6749 §4.4.2), client_secret_basic (§2.3.1).
-- Environment: BENCH_BASIC = base64("client_id:client_secret"), BENCH_SCOPE = the scope to ask for.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
wrk.body = "grant_type=client_credentials&scope=" .. os.getenv("BENCH_SCOPE")
