-- POST {issuer}/introspect (RFC 7662 §2.1) of one live access token, client_secret_basic.
-- Environment: BENCH_BASIC = base64("client_id:client_secret"), BENCH_TOKEN = the access token.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
wrk.body = "token=" .. os.getenv("BENCH_TOKEN") .. "&token_type_hint=access_token"
