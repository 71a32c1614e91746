// A real OpenID provider (panva/oidc-provider) on loopback, for tests/accounts only.
//
// Started by tests/accounts/provider.py with the configuration as JSON in NANOMON_TEST_OIDC:
//   { "clients": [ oidc-provider client metadata, … ],
//     "accounts": { "<login>": { claims … }, … },        // devInteractions: any password
//     "resources": { "<indicator>": { "audience": "…", "scope": "a b" }, … } }
// It listens on 127.0.0.1 on a free port, then prints one line of JSON, {"issuer": "…"}, to
// stdout. Signing keys (RS256 and ES256) are generated per run.

import { generateKeyPairSync, randomUUID } from "node:crypto";
import http from "node:http";

import Provider, { errors } from "oidc-provider";

const config = JSON.parse(process.env.NANOMON_TEST_OIDC || "{}");
const accounts = config.accounts || {};
const resources = config.resources || {};

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), alg, use: "sig" };
}

const jwks = {
  keys: [
    signingKey("rsa", { modulusLength: 2048 }, "RS256"),
    signingKey("ec", { namedCurve: "P-256" }, "ES256"),
  ],
};

const server = http.createServer();

server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients || [],
    jwks,
    cookies: { keys: ["nanomon-tests-only"] },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name", "given_name", "family_name", "preferred_username"],
      groups: ["groups"],
    },
    async findAccount(ctx, id) {
      if (!Object.hasOwn(accounts, id)) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) };
    },
    // First-party clients: no consent screen, everything they ask for is granted.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope("openid email profile groups offline_access");
      for (const [indicator, resource] of Object.entries(resources)) {
        grant.addResourceScope(indicator, resource.scope);
      }
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // No resource asked for: an opaque token for the userinfo endpoint (sign-in).
        defaultResource: async (ctx, client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, indicator) {
          const resource = resources[indicator];
          if (!resource) throw new errors.InvalidTarget();
          return {
            audience: resource.audience,
            scope: resource.scope,
            accessTokenFormat: "jwt",
            accessTokenTTL: 600,
            jwt: { sign: { alg: resource.alg || "RS256" } },
          };
        },
      },
    },
  });
  server.on("request", provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
