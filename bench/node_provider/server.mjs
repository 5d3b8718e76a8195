// node-oidc-provider 9 for the side-by-side benchmark (bench/run.py --with-node), configured
// like NamoID's bench deployment: HTTPS, RS256, JWT access tokens (RFC 9068) for the `api`
// resource (RFC 8707 resource indicators), PKCE required, refresh tokens rotated on every use,
// introspection (RFC 7662) and client_credentials on. Its store is its own in-memory adapter over
// a plain Map: the default one is an LRU of 1,000 entries, which would evict the pre-generated
// grants before the run spends them (expiry is then by the models' own `exp`, as with any store).
//
// Before listening it writes the single-use grants the benchmark spends, one form body per line,
// made through the provider's own models exactly as its /authorize and /token would store them:
// BENCH_CODES authorization codes (each with its PKCE verifier) to BENCH_CODES_FILE, and
// BENCH_REFRESHES refresh tokens (one per grant) to BENCH_REFRESHES_FILE; plus an opaque access
// token for the userinfo endpoint and introspection to BENCH_TOKEN_FILE.
// Environment: BENCH_PORT, BENCH_TLS_CERT, BENCH_TLS_KEY, BENCH_CLIENT_SECRET, and the above.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';

import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const env = process.env;
const ISSUER = `https://localhost:${env.BENCH_PORT}`;
const RESOURCE = 'urn:namoid-bench:api';
const REDIRECT_URI = 'https://rp.example/callback';
const ACCOUNT = 'bench-user';
const HOUR = 3600;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' };

const store = new Map();
const unbounded = { get: (key) => store.get(key), set: (key, value) => store.set(key, value), delete: (key) => store.delete(key) };

const provider = new Provider(ISSUER, {
  adapter: (model) => new MemoryAdapter(model, unbounded),
  clients: [{
    client_id: 'bench',
    client_secret: env.BENCH_CLIENT_SECRET,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email api offline_access',
  }],
  jwks: { keys: [signingKey] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api'],
  claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
  findAccount: (ctx, sub) => ({
    accountId: sub,
    claims: () => ({ sub, name: 'Bench User', email: 'bench@example.com', email_verified: true }),
  }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: RESOURCE,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: HOUR, AuthorizationCode: HOUR, ClientCredentials: HOUR, Grant: HOUR,
    IdToken: HOUR, RefreshToken: HOUR, Interaction: HOUR, Session: HOUR,
  },
});

async function grantFor(scope) {
  const grant = new provider.Grant({ accountId: ACCOUNT, clientId: 'bench' });
  grant.addOIDCScope(scope);
  grant.addResourceScope(RESOURCE, 'api');
  return grant.save();
}

async function codeBodies(client, count) {
  const lines = [];
  for (let i = 0; i < count; i += 1) {
    const verifier = randomBytes(32).toString('base64url');
    const code = new provider.AuthorizationCode({
      accountId: ACCOUNT,
      client,
      grantId: await grantFor('openid profile offline_access'),
      redirectUri: REDIRECT_URI,
      scope: 'openid profile offline_access api',
      resource: RESOURCE,
      codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      codeChallengeMethod: 'S256',
      authTime: Math.floor(Date.now() / 1000) - 5,
    });
    const value = await code.save();
    lines.push(`grant_type=authorization_code&code=${value}`
      + `&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=${verifier}`);
  }
  return lines;
}

async function refreshBodies(client, count) {
  const lines = [];
  for (let i = 0; i < count; i += 1) {
    const token = new provider.RefreshToken({
      accountId: ACCOUNT,
      client,
      grantId: await grantFor('openid profile offline_access'),
      scope: 'openid profile offline_access api',
      resource: RESOURCE,
      gty: 'authorization_code',
      authTime: Math.floor(Date.now() / 1000) - 5,
      rotations: 0,
      iiat: Math.floor(Date.now() / 1000),
    });
    lines.push(`grant_type=refresh_token&refresh_token=${await token.save()}`);
  }
  return lines;
}

async function userinfoToken(client) {
  const token = new provider.AccessToken({
    accountId: ACCOUNT,
    client,
    grantId: await grantFor('openid profile email'),
    scope: 'openid profile email',
    gty: 'authorization_code',
  });
  return token.save();
}

const client = await provider.Client.find('bench');
writeFileSync(env.BENCH_CODES_FILE, `${(await codeBodies(client, Number(env.BENCH_CODES))).join('\n')}\n`);
writeFileSync(env.BENCH_REFRESHES_FILE, `${(await refreshBodies(client, Number(env.BENCH_REFRESHES))).join('\n')}\n`);
writeFileSync(env.BENCH_TOKEN_FILE, await userinfoToken(client));

const tls = { cert: readFileSync(env.BENCH_TLS_CERT), key: readFileSync(env.BENCH_TLS_KEY) };
https.createServer(tls, provider.callback()).listen(Number(env.BENCH_PORT), '127.0.0.1', () => {
  process.stdout.write(`listening ${ISSUER}\n`);
});
