// Drives the embedded sandbox with Midtrans' official Node client (midtrans-client 1.4.3,
// SnapBi): code we did not write signs a B2B token request and SNAP service calls exactly as it
// would against Midtrans, and our sandbox must accept them, and refuse a tampered signature.
//
// Run by internal/sandbox TestOfficialMidtransClient with the sandbox's address and
// credentials in the environment; prints one JSON object of observations and exits 0. The Go
// test makes the assertions.
'use strict';

const fs = require('fs');
const { SnapBi, SnapBiConfig } = require('midtrans-client');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

// The SDK knows only Midtrans' own hosts; point it at the sandbox instead.
SnapBiConfig.getBaseUrl = () => env('SNAP_BASE_URL');
SnapBiConfig.snapBiClientId = env('SNAP_CLIENT_KEY');
SnapBiConfig.snapBiClientSecret = env('SNAP_CLIENT_SECRET');
SnapBiConfig.snapBiPrivateKey = fs.readFileSync(env('SNAP_PRIVATE_KEY_FILE'), 'utf8');
SnapBiConfig.snapBiPartnerId = env('SNAP_PARTNER_ID');
SnapBiConfig.snapBiChannelId = env('SNAP_CHANNEL_ID');

let n = 0;
const externalId = () => `sdkcheck${Date.now()}${++n}`;

// A service call through the SDK's own createConnection, with its path and body set.
async function call(accessToken, path, body, headers) {
  const s = SnapBi.directDebit().withAccessToken(accessToken).withBody(body).withDeviceId('sdkcheck-device');
  s.apiPath = path;
  if (headers) s.withTransactionHeader(headers);
  return s.createConnection(externalId());
}

async function main() {
  const out = {};
  const token = await SnapBi.directDebit().getAccessToken();
  out.token = { responseCode: token.responseCode, hasToken: Boolean(token.accessToken), expiresIn: token.expiresIn };
  if (!token.accessToken) {
    console.log(JSON.stringify(out));
    return;
  }
  const binding = await call(token.accessToken, '/v1.0/registration-account-binding', {
    partnerReferenceNo: externalId(),
    merchantId: env('SNAP_MERCHANT_ID'),
    authCode: env('GOPAY_AUTH_CODE'),
    grantType: 'AUTHORIZATION_CODE',
    additionalInfo: {},
  });
  const customer = binding.accessTokenInfo && binding.accessTokenInfo.accessToken;
  out.binding = { responseCode: binding.responseCode, hasCustomerToken: Boolean(customer) };

  const inquiry = await call(token.accessToken, '/v1.0/registration-account-inquiry', {},
    { 'Authorization-Customer': `Bearer ${customer}` });
  const options = (inquiry.additionalInfo && inquiry.additionalInfo.paymentOptions) || [];
  out.inquiry = { responseCode: inquiry.responseCode, options: options.map((o) => o.name) };

  const tampered = await call(token.accessToken, '/v1.0/registration-account-inquiry', {},
    { 'Authorization-Customer': `Bearer ${customer}`, 'X-SIGNATURE': 'dGFtcGVyZWQ=' });
  out.tampered = { responseCode: tampered.responseCode };

  const wrongKey = await SnapBi.directDebit()
    .withAccessTokenHeader({ 'X-CLIENT-KEY': 'not-our-client-key' })
    .getAccessToken();
  out.wrongClientKey = { responseCode: wrongKey.responseCode };
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
