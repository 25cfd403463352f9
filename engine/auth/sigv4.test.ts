import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  amzDate,
  canonicalQueryString,
  canonicalRequest,
  canonicalUri,
  deriveSigningKey,
  EMPTY_PAYLOAD_SHA256,
  signSigV4,
  stringToSign,
  UNSIGNED_PAYLOAD,
  uriEncode,
  type SignableRequest,
} from './sigv4.ts';
import {
  IAM_LIST_USERS,
  S3_DOC,
  SUITE_CREDENTIALS,
  SUITE_NOW,
  SUITE_VECTORS,
  suiteSts,
} from './sigv4.vectors.ts';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const signatureOf = (authorization: string) => /Signature=([0-9a-f]{64})$/.exec(authorization)?.[1];
const signedHeadersOf = (authorization: string) => /SignedHeaders=([^,]+),/.exec(authorization)?.[1];

describe('AWS SigV4 test suite', () => {
  test('covers at least 10 published cases', () => {
    assert.ok(SUITE_VECTORS.length >= 10);
  });

  for (const v of SUITE_VECTORS) {
    describe(v.name, () => {
      if (v.creq !== undefined) {
        test('transcribed .creq hashes to the published .sts', () => {
          assert.equal(sha256(v.creq!), v.stsHash);
        });

        test('canonicalRequest matches .creq', () => {
          assert.equal(canonicalRequest(v.request, SUITE_CREDENTIALS.service), v.creq);
        });

        test('stringToSign matches .sts', () => {
          const sts = stringToSign(v.creq!, SUITE_NOW, SUITE_CREDENTIALS.region, SUITE_CREDENTIALS.service);
          assert.equal(sts, suiteSts(v.stsHash!));
        });
      }

      test('signSigV4 yields the .authz Authorization header', () => {
        // The suite's X-Amz-Date header stays in the request: the signer must replace it, not duplicate it.
        const creds = v.sessionToken ? { ...SUITE_CREDENTIALS, sessionToken: v.sessionToken } : SUITE_CREDENTIALS;
        const out = signSigV4(v.request, creds, SUITE_NOW);
        assert.equal(out.Authorization, v.authz);
        assert.equal(out['X-Amz-Date'], '20150830T123600Z');
      });

      test('signSigV4 yields the same header when X-Amz-Date is left to the signer', () => {
        const headers = Object.fromEntries(
          Object.entries(v.request.headers).filter(
            ([k]) => k.toLowerCase() !== 'x-amz-date' && k.toLowerCase() !== 'x-amz-security-token',
          ),
        );
        const creds = v.sessionToken ? { ...SUITE_CREDENTIALS, sessionToken: v.sessionToken } : SUITE_CREDENTIALS;
        const out = signSigV4({ ...v.request, headers }, creds, SUITE_NOW);
        assert.equal(out.Authorization, v.authz);
        if (v.sessionToken) assert.equal(out['X-Amz-Security-Token'], v.sessionToken);
      });
    });
  }
});

describe('IAM ListUsers example (AWS General Reference)', () => {
  const ex = IAM_LIST_USERS;

  test('canonical request and its hash', () => {
    const creq = canonicalRequest(
      { ...ex.request, headers: { ...ex.request.headers, 'X-Amz-Date': '20150830T123600Z' } },
      'iam',
    );
    assert.equal(creq, ex.creq);
    assert.equal(sha256(creq), ex.creqHash);
  });

  test('string to sign', () => {
    assert.equal(
      stringToSign(ex.creq, ex.now, 'us-east-1', 'iam'),
      `AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n${ex.creqHash}`,
    );
  });

  test('derived signing key', () => {
    assert.equal(
      deriveSigningKey(ex.credentials.secretAccessKey, ex.now, 'us-east-1', 'iam').toString('hex'),
      ex.signingKeyHex,
    );
  });

  test('Authorization header', () => {
    assert.equal(signSigV4(ex.request, ex.credentials, ex.now).Authorization, ex.authz);
  });
});

describe('Amazon S3 documentation examples', () => {
  const { credentials, now } = S3_DOC;

  test('GET object with Range: signed x-amz-content-sha256 of the empty body', () => {
    const ex = S3_DOC.getObject;
    const out = signSigV4(ex.request, credentials, now, { contentSha256Header: true });
    assert.equal(out['x-amz-content-sha256'], EMPTY_PAYLOAD_SHA256);
    assert.equal(out['X-Amz-Date'], '20130524T000000Z');
    assert.equal(
      out.Authorization,
      `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ` +
        `SignedHeaders=${ex.signedHeaders}, Signature=${ex.signature}`,
    );
    const creq = canonicalRequest(
      {
        ...ex.request,
        headers: { ...ex.request.headers, 'x-amz-content-sha256': EMPTY_PAYLOAD_SHA256, 'x-amz-date': '20130524T000000Z' },
      },
      's3',
    );
    assert.equal(sha256(creq), ex.stsHash);
  });

  test('PUT object: key with "$" encoded once, body hashed', () => {
    const ex = S3_DOC.putObject;
    const out = signSigV4(ex.request, credentials, now, { contentSha256Header: true });
    assert.equal(out['x-amz-content-sha256'], ex.contentSha256);
    assert.equal(signedHeadersOf(out.Authorization), ex.signedHeaders);
    assert.equal(signatureOf(out.Authorization), ex.signature);
  });

  test('PUT object: a Uint8Array body signs like the same text', () => {
    const ex = S3_DOC.putObject;
    const body = new TextEncoder().encode(ex.request.body);
    const out = signSigV4({ ...ex.request, body }, credentials, now, { contentSha256Header: true });
    assert.equal(signatureOf(out.Authorization), ex.signature);
  });

  test('GET ?lifecycle: a key without "=" gets an empty value', () => {
    const out = signSigV4(S3_DOC.getLifecycle.request, credentials, now, { contentSha256Header: true });
    assert.equal(signatureOf(out.Authorization), S3_DOC.getLifecycle.signature);
  });

  test('GET bucket list: query sorted', () => {
    const out = signSigV4(S3_DOC.listObjects.request, credentials, now, { contentSha256Header: true });
    assert.equal(signatureOf(out.Authorization), S3_DOC.listObjects.signature);
  });
});

describe('canonical URI', () => {
  test('non-S3 services encode the wire path again (double encoding) and normalize it', () => {
    assert.equal(canonicalUri('/a%20b/./c/../d', 'service'), '/a%2520b/d');
    assert.equal(canonicalUri('/documents and settings/', 'service'), '/documents%20and%20settings/');
  });

  test('S3 encodes once and keeps dot and empty segments', () => {
    assert.equal(canonicalUri('/a%20b//c/../d', 's3'), '/a%20b//c/../d');
    assert.equal(canonicalUri('/a b/\u00e9', 's3'), '/a%20b/%C3%A9');
    // Already-encoded and raw spellings of the same key sign the same; hex case is normalized.
    assert.equal(canonicalUri('/test%24file.text', 'S3'), canonicalUri('/test$file.text', 's3'));
    assert.equal(canonicalUri('/%7e%2f', 's3'), '/~%2F');
    assert.equal(canonicalUri('/100%', 's3'), '/100%25');
  });
});

describe('canonical query string', () => {
  test('sorts by key then value and encodes per RFC 3986', () => {
    assert.equal(canonicalQueryString('b=2&a=2&a=1&c'), 'a=1&a=2&b=2&c=');
    assert.equal(canonicalQueryString('k=a b*&k2=%2a'), 'k=a%20b%2A&k2=%2A');
    assert.equal(canonicalQueryString(''), '');
    assert.equal(canonicalQueryString('&x=1&&'), 'x=1');
  });

  test('"+" is a literal plus, not a space', () => {
    assert.equal(canonicalQueryString('q=a+b'), 'q=a%2Bb');
  });

  test('sorts by byte order, not locale', () => {
    assert.equal(canonicalQueryString('a=1&B=1&_=1&~=1'), 'B=1&_=1&a=1&~=1');
  });
});

describe('uriEncode', () => {
  test('keeps only unreserved characters', () => {
    assert.equal(uriEncode("a b/c~d*e!'()"), 'a%20b%2Fc~d%2Ae%21%27%28%29');
    assert.equal(uriEncode('\u1234'), '%E1%88%B4');
    assert.equal(uriEncode('%41'), '%2541');
  });
});

describe('signSigV4 behaviour', () => {
  const req: SignableRequest = {
    method: 'post',
    url: 'https://svc.example.com:8443/path?x=1',
    headers: { 'Content-Type': 'application/json', 'User-Agent': 'offerfeed', authorization: 'old' },
    body: '{"a":1}',
  };

  test('does not mutate the request', () => {
    const before = structuredClone(req);
    signSigV4(req, { ...SUITE_CREDENTIALS, sessionToken: 'tok' }, SUITE_NOW, { contentSha256Header: true });
    assert.deepEqual(req, before);
  });

  test('returns exactly the headers to add', () => {
    assert.deepEqual(Object.keys(signSigV4(req, SUITE_CREDENTIALS, SUITE_NOW)).sort(), ['Authorization', 'X-Amz-Date']);
    assert.deepEqual(
      Object.keys(
        signSigV4(req, { ...SUITE_CREDENTIALS, sessionToken: 'tok' }, SUITE_NOW, { contentSha256Header: true }),
      ).sort(),
      ['Authorization', 'X-Amz-Date', 'X-Amz-Security-Token', 'x-amz-content-sha256'],
    );
  });

  test('signs host with its non-default port, not User-Agent or an old Authorization', () => {
    const out = signSigV4(req, SUITE_CREDENTIALS, SUITE_NOW);
    assert.equal(signedHeadersOf(out.Authorization), 'content-type;host;x-amz-date');
    const creq = canonicalRequest(req, 'service');
    assert.match(creq, /\nhost:svc\.example\.com:8443\n/);
    assert.match(creq, /^POST\n/);
  });

  test('a default port is left out of host, an explicit Host header wins', () => {
    assert.match(canonicalRequest({ ...req, url: 'https://svc.example.com:443/' }, 'service'), /\nhost:svc\.example\.com\n/);
    assert.match(
      canonicalRequest({ ...req, headers: { host: 'other.example.com' } }, 'service'),
      /\nhost:other\.example\.com\n/,
    );
  });

  test('the session token is signed and returned', () => {
    const out = signSigV4(req, { ...SUITE_CREDENTIALS, sessionToken: 'tok' }, SUITE_NOW);
    assert.equal(out['X-Amz-Security-Token'], 'tok');
    assert.equal(signedHeadersOf(out.Authorization), 'content-type;host;x-amz-date;x-amz-security-token');
  });

  test('unsignedPayload signs UNSIGNED-PAYLOAD instead of the body hash', () => {
    const out = signSigV4(req, SUITE_CREDENTIALS, SUITE_NOW, { unsignedPayload: true, contentSha256Header: true });
    assert.equal(out['x-amz-content-sha256'], UNSIGNED_PAYLOAD);
    const expected = signSigV4(
      { ...req, headers: { ...req.headers, 'x-amz-content-sha256': UNSIGNED_PAYLOAD }, body: 'ignored' },
      SUITE_CREDENTIALS,
      SUITE_NOW,
    );
    assert.equal(out.Authorization, expected.Authorization);
    assert.match(canonicalRequest(req, 'service', UNSIGNED_PAYLOAD), /\nUNSIGNED-PAYLOAD$/);
  });

  test('a caller-given x-amz-content-sha256 is the payload hash', () => {
    const given = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
    const out = signSigV4({ ...req, headers: { ...req.headers, 'X-Amz-Content-Sha256': given } }, SUITE_CREDENTIALS, SUITE_NOW);
    assert.equal(out['x-amz-content-sha256'], undefined);
    assert.equal(signedHeadersOf(out.Authorization), 'content-type;host;x-amz-content-sha256;x-amz-date');
    const creq = canonicalRequest(
      { ...req, headers: { ...req.headers, 'X-Amz-Content-Sha256': given, 'X-Amz-Date': '20150830T123600Z' } },
      'service',
      given,
    );
    const sts = stringToSign(creq, SUITE_NOW, 'us-east-1', 'service');
    assert.equal(sts.split('\n')[3], sha256(creq));
  });

  test('the fragment is not signed', () => {
    assert.equal(
      signSigV4({ ...req, url: 'https://svc.example.com:8443/path?x=1#frag' }, SUITE_CREDENTIALS, SUITE_NOW).Authorization,
      signSigV4(req, SUITE_CREDENTIALS, SUITE_NOW).Authorization,
    );
  });

  test('the signing time comes from `now` in UTC', () => {
    assert.equal(amzDate(new Date('2024-02-29T23:59:59.999Z')), '20240229T235959Z');
    const out = signSigV4(req, SUITE_CREDENTIALS, new Date('2024-02-29T23:59:59Z'));
    assert.equal(out['X-Amz-Date'], '20240229T235959Z');
    assert.match(out.Authorization, /Credential=AKIDEXAMPLE\/20240229\/us-east-1\/service\/aws4_request, /);
  });

  test('bad input fails clearly without echoing secrets', () => {
    assert.throws(() => signSigV4(req, SUITE_CREDENTIALS, new Date('nope')), /not a valid Date/);
    assert.throws(() => signSigV4({ ...req, url: '/relative' }, SUITE_CREDENTIALS, SUITE_NOW), /absolute URL/);
    assert.throws(() => signSigV4({ ...req, url: 'ftp://h/x' }, SUITE_CREDENTIALS, SUITE_NOW), /scheme/);
    assert.throws(
      () => signSigV4(req, { ...SUITE_CREDENTIALS, accessKeyId: '' }, SUITE_NOW),
      (err: Error) => /accessKeyId is required/.test(err.message) && !err.message.includes(SUITE_CREDENTIALS.secretAccessKey),
    );
    assert.throws(() => signSigV4(req, { ...SUITE_CREDENTIALS, secretAccessKey: '' }, SUITE_NOW), /secretAccessKey is required/);
  });
});
