// OpenWhisk action (Node.js runtime) that reads one S3 object with the AWS
// SDK for JavaScript v3, through the S3 listener of the s3-batching-agent on
// its own node. The SDK call is unchanged: only the endpoint points at the
// agent, and the agent re-signs the request with the node's credentials.
//
// Parameters:
//   bucket, key        the object to read (both required)
//   encoding           "utf8" (default) or "base64", for binary objects
//   accessKeyId,       client keys, needed only when the agent runs with
//   secretAccessKey    --client-auth verify; bind them as default
//                      parameters (wsk action update NAME -p accessKeyId ...)
// Environment:
//   NODE_IP        the node's IP address (status.hostIP of the action pod)
//   AGENT_HOST     host used when NODE_IP is not set; the default is the
//                  agent's Service, s3-batching-agent.s3-batching-agent.svc.cluster.local
//   AGENT_S3_PORT  the S3 listener's port, 9000 by default
//   AWS_REGION     the signing region, us-east-1 by default
//
// It returns { body, contentType, etag, contentLength }, or
// { error: { statusCode, code, message, requestId } }, which OpenWhisk
// reports as a failed activation. The whole object becomes the result, so
// objects larger than the activation payload limit (1 MiB by default in
// OpenWhisk) fail; stream those instead of returning them.
'use strict';

const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');

const DEFAULT_AGENT_HOST = 's3-batching-agent.s3-batching-agent.svc.cluster.local';
const DEFAULT_S3_PORT = '9000';
const DEFAULT_REGION = 'us-east-1';

// With the agent's default --client-auth none the listener does not check
// signatures, so any static keys work. These placeholders keep the SDK from
// searching its credential chain (which would ask the instance metadata
// service) and are not secrets.
const PLACEHOLDER_ACCESS_KEY_ID = 'agent-does-not-check';
const PLACEHOLDER_SECRET_ACCESS_KEY = 'agent-does-not-check';

// agentEndpoint returns the S3 listener's URL for the environment env.
function agentEndpoint(env) {
  let host = env.NODE_IP || env.AGENT_HOST || DEFAULT_AGENT_HOST;
  // status.hostIP is an IPv6 address on IPv6 clusters, which a URL needs
  // in brackets.
  if (host.includes(':') && !host.startsWith('[')) {
    host = '[' + host + ']';
  }
  const port = env.AGENT_S3_PORT || DEFAULT_S3_PORT;
  return 'http://' + host + ':' + port;
}

// Clients are kept for later activations of a warm container, so that
// their connections to the agent are reused. The cache key contains every
// client setting.
const clients = new Map();

function s3Client(env, accessKeyId, secretAccessKey) {
  const endpoint = agentEndpoint(env);
  const region = env.AWS_REGION || DEFAULT_REGION;
  const cacheKey = JSON.stringify([endpoint, region, accessKeyId, secretAccessKey]);
  let client = clients.get(cacheKey);
  if (!client) {
    client = new S3Client({
      endpoint,
      region,
      // The listener is path-style only: http://node:9000/bucket/key.
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestHandler: { connectionTimeout: 5000, requestTimeout: 30000 },
    });
    clients.set(cacheKey, client);
  }
  return client;
}

function failure(statusCode, code, message, requestId) {
  return { error: { statusCode, code, message, requestId: requestId || '' } };
}

// sdkFailure turns an SDK error into the action's error result. An error
// without an HTTP status never reached the agent.
function sdkFailure(err, endpoint) {
  const meta = err.$metadata || {};
  if (!meta.httpStatusCode) {
    return failure(502, 'AgentUnreachable', 'Cannot reach the agent at ' + endpoint + ': ' + err.message);
  }
  const code = err.Code || err.name || 'AgentError';
  // The SDK sets the message to "UnknownError" when the error body has no
  // Message element.
  const message = err.message && err.message !== 'UnknownError'
    ? err.message
    : code + ' (HTTP status ' + meta.httpStatusCode + ')';
  return failure(meta.httpStatusCode, code, message, meta.requestId);
}

async function main(params) {
  const bucket = params && params.bucket;
  const key = params && params.key;
  if (!bucket || !key) {
    return failure(400, 'InvalidArgument', 'Pass both the bucket and the key parameter.');
  }
  const encoding = params.encoding || 'utf8';
  if (encoding !== 'utf8' && encoding !== 'base64') {
    return failure(400, 'InvalidArgument', 'The encoding parameter must be utf8 or base64, not ' + JSON.stringify(encoding) + '.');
  }

  const env = process.env;
  const client = s3Client(env,
    params.accessKeyId || PLACEHOLDER_ACCESS_KEY_ID,
    params.secretAccessKey || PLACEHOLDER_SECRET_ACCESS_KEY);
  let resp;
  try {
    resp = await client.send(new GetObjectCommand({ Bucket: String(bucket), Key: String(key) }));
  } catch (err) {
    return sdkFailure(err, agentEndpoint(env));
  }

  let bytes;
  try {
    bytes = Buffer.from(await resp.Body.transformToByteArray());
  } catch (err) {
    return readFailure(key, err.message);
  }
  if (resp.ContentLength !== undefined && bytes.length !== resp.ContentLength) {
    return readFailure(key, 'received ' + bytes.length + ' of ' + resp.ContentLength + ' bytes');
  }
  return {
    body: bytes.toString(encoding),
    contentType: resp.ContentType || '',
    etag: resp.ETag || '',
    contentLength: resp.ContentLength,
  };
}

// readFailure reports a response body that ended early or failed.
function readFailure(key, reason) {
  return failure(502, 'AgentResponseFailed', 'Reading ' + key + ' from the agent failed: ' + reason);
}

module.exports = { main, agentEndpoint };

// Run outside OpenWhisk: node index.js '{"bucket":"demo","key":"hello.txt"}'
// prints the result as JSON.
if (require.main === module) {
  main(JSON.parse(process.argv[2] || '{}')).then(
    (result) => process.stdout.write(JSON.stringify(result) + '\n'),
    (err) => {
      console.error(err);
      process.exit(1);
    });
}
