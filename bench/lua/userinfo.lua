-- GET {issuer}/userinfo (OIDC Core §5.3.1) with a Bearer access token (RFC 6750 §2.1).
-- Environment: BENCH_TOKEN = an access token issued with the openid scope.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
