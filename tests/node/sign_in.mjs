// An OpenID Connect client written elsewhere (openid-client from the npm registry, unchanged) signs
// in at the emulator's SuperID, then SuperOffice's own TypeScript client (@superoffice/webapi)
// calls SetActivityStatus with the access token; run by tests/test_online_node.py.
//
//   node sign_in.mjs '{"discovery": "http://127.0.0.1:PORT/login/.well-known/openid-configuration",
//                      "clientId": "demo-app", "clientSecret": "demo-app-secret",
//                      "redirectUri": "http://127.0.0.1:3000/callback", "tenant": "Cust777",
//                      "user": "sam", "ids": ["appointment_id=1"], "status": "Completed"}'
//
// "hybrid": true asks for `code id_token` (openid-client then checks the id_token's c_hash) instead
// of the code alone. The configuration is the document's own URL, as SuperOffice's discovery is not
// under its issuer; plain http is allowed for the local emulator (allowInsecureRequests). The
// id_tokens are checked against the JWKS (enableNonRepudiationChecks). No browser: the emulator
// signs in the login_hint at once (--sign-in-as). Prints one JSON line: {"ok": true, ...} or
// {"ok": false, "step": ..., "error": ...}.
import { createRequire } from "node:module";

import * as client from "openid-client";

const require = createRequire(import.meta.url);
const { WebApi, ActivityStatus } = require("@superoffice/webapi");

const CLAIMS = "http://schemes.superoffice.net/identity/";

async function signIn(options, config) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: options.redirectUri,
    scope: "openid",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    acr_values: `tenant:${options.tenant}`,
    login_hint: options.user,
  });
  const answer = await fetch(url, { redirect: "manual" });
  const location = answer.headers.get("location");
  if (answer.status !== 302 || !location) throw new Error(`authorize answered ${answer.status}, not a redirect`);
  return client.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
}

async function main() {
  const options = JSON.parse(process.argv[2]);
  let step = "discovery";
  try {
    const config = await client.discovery(
      new URL(options.discovery),
      options.clientId,
      options.clientSecret,
      undefined,
      { execute: [client.allowInsecureRequests] },
    );
    client.enableNonRepudiationChecks(config);
    if (options.hybrid) client.useCodeIdTokenResponseType(config);
    step = "sign-in";
    const tokens = await signIn(options, config);
    const claims = tokens.claims();
    step = "refresh";
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    step = "call";
    const api = new WebApi(claims[CLAIMS + "webapi_url"]);
    api.authenticateWithToken(refreshed.access_token);
    api.applicationToken(options.clientSecret);
    await api.getAppointmentAgent().setActivityStatusAsync(options.ids, ActivityStatus[options.status]);
    step = "revoke";
    await client.tokenRevocation(config, refreshed.access_token, { token_type_hint: "access_token" });
    return {
      ok: true,
      issuer: config.serverMetadata().issuer,
      accessToken: tokens.access_token,
      refreshedAccessToken: refreshed.access_token,
      claims,
      refreshedClaims: refreshed.claims(),
    };
  } catch (error) {
    const response = error && error.response;
    return {
      ok: false,
      step,
      error: String(error),
      code: (error && error.code) || null,
      status: response ? response.status : null,
    };
  }
}

main().then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
