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

  // Direct debit through the SDK's own createPayment, the body shaped as its README's (urlParam
  // one object, the option token in payOptionDetails[].additionalInfo), then getStatus by
  // X-EXTERNAL-ID and a refund by referenceNo, as its README samples send them.
  const wallet = options.find((o) => o.name === 'GOPAY_WALLET');
  const paymentId = externalId();
  const payment = await SnapBi.directDebit().withAccessToken(token.accessToken).withDeviceId('sdkcheck-device')
    .withTransactionHeader({ 'Authorization-Customer': `Bearer ${customer}` })
    .withBody({
      partnerReferenceNo: paymentId,
      chargeToken: '',
      merchantId: env('SNAP_MERCHANT_ID'),
      urlParam: { url: 'https://merchant.example/back', type: 'PAY_RETURN', isDeeplink: 'N' },
      validUpTo: '2030-07-20T20:34:15.452305Z',
      payOptionDetails: [{
        payMethod: 'GOPAY', payOption: 'GOPAY_WALLET',
        transAmount: { value: '15000.00', currency: 'IDR' },
        additionalInfo: { paymentoptiontoken: wallet && wallet.token },
      }],
      additionalInfo: { items: [{ id: 'sku-1', price: { value: '15000.00', currency: 'IDR' }, quantity: 1, name: 'test item' }] },
    })
    .createPayment(paymentId);
  out.payment = { responseCode: payment.responseCode, hasReferenceNo: Boolean(payment.referenceNo) };
  const status = await SnapBi.directDebit().withAccessToken(token.accessToken).withDeviceId('sdkcheck-device')
    .withBody({ originalExternalId: paymentId, serviceCode: '54' }).getStatus(externalId());
  out.status = { responseCode: status.responseCode, latestTransactionStatus: status.latestTransactionStatus };
  const refund = await SnapBi.directDebit().withAccessToken(token.accessToken).withDeviceId('sdkcheck-device')
    .withBody({ originalReferenceNo: payment.referenceNo, reason: 'sdk check' }).refund(externalId());
  out.refund = { responseCode: refund.responseCode, value: refund.refundAmount && refund.refundAmount.value };

  // A notification the sandbox signed verifies with the SDK's own check; a tampered one does not.
  SnapBiConfig.snapBiPublicKey = env('NOTIFY_PUBLIC_KEY');
  const verify = (payload) => SnapBi.notification().withNotificationPayload(payload)
    .withSignature(env('NOTIFY_SIGNATURE')).withTimeStamp(env('NOTIFY_TIMESTAMP'))
    .withNotificationUrlPath('/v1.0/debit/notify').isWebhookNotificationVerified();
  const payload = JSON.parse(env('NOTIFY_BODY'));
  out.notification = { verified: verify(payload), tamperedVerified: verify({ ...payload, latestTransactionStatus: '06' }) };

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
