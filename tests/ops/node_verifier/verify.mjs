// Verifies Ostiary access tokens the way a Node.js resource server does: jose's createRemoteJWKSet + jwtVerify.
//
// usage: node verify.mjs ISSUER AUDIENCE CACHE_MAX_AGE_MS
// stdin:  one {"id": ..., "token": "..."} per line
// stdout: one {"id": ..., "ok": true, "kid": "..."} or {"id": ..., "ok": false, "error": "..."} per line
//
// The key set is cached for CACHE_MAX_AGE_MS (what the JWKS Cache-Control max-age says) and refetched when
// stale. jose refetches on an unknown kid only when the last fetch is older than its cooldown (30 s by
// default, kept here), so a key that signed before it was published would fail here, not be papered over.
import { createInterface } from 'node:readline';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [issuer, audience, cacheMaxAge] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), { cacheMaxAge: Number(cacheMaxAge) });

const write = (result) => process.stdout.write(JSON.stringify(result) + '\n');

createInterface({ input: process.stdin }).on('line', async (line) => {
  const { id, token } = JSON.parse(line);
  try {
    const { protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      typ: 'at+jwt',
      algorithms: ['RS256'],
      requiredClaims: ['exp', 'iat', 'sub', 'jti'],
    });
    write({ id, ok: true, kid: protectedHeader.kid });
  } catch (error) {
    write({ id, ok: false, error: `${error.code ?? error.name}: ${error.message}` });
  }
});
