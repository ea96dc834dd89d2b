// OpenWhisk action (Node.js runtime) that reads one S3 object through the
// s3-batching-agent on its own node, with the agent's helper API:
//
//   GET http://NODE_IP:8080/s3/getObject?bucket=BUCKET&key=KEY
//
// Parameters: bucket and key (both required).
// Environment:
//   NODE_IP     the node's IP address, from the pod spec (status.hostIP)
//   AGENT_HOST  host used when NODE_IP is not set; the default is the
//               agent's Service, s3-batching-agent.s3-batching-agent.svc
//   AGENT_PORT  the helper API port, 8080 by default
//
// It returns { body, contentType, etag } with the object decoded as UTF-8,
// or { error: { statusCode, code, message, requestId } }, which OpenWhisk
// reports as a failed activation. It uses only Node's built-in modules.
'use strict';

const http = require('http');

const DEFAULT_AGENT_HOST = 's3-batching-agent.s3-batching-agent.svc';
const DEFAULT_AGENT_PORT = 8080;
const REQUEST_TIMEOUT_MS = 30000;

function agentAddress(env) {
  const host = env.NODE_IP || env.AGENT_HOST || DEFAULT_AGENT_HOST;
  const port = Number(env.AGENT_PORT || DEFAULT_AGENT_PORT);
  return { host, port };
}

function failure(statusCode, code, message, requestId) {
  return { error: { statusCode, code, message, requestId: requestId || '' } };
}

function truncated() {
  return failure(502, 'AgentResponseFailed', 'The agent closed the connection before the whole object arrived.');
}

// getObject resolves with the object or with an error object; it never
// rejects, so that every failure reaches the caller as an action result.
function getObject(bucket, key, env) {
  const { host, port } = agentAddress(env);
  const query = new URLSearchParams({ bucket, key }).toString();
  const options = {
    host,
    port,
    method: 'GET',
    path: '/s3/getObject?' + query,
    timeout: REQUEST_TIMEOUT_MS,
  };

  return new Promise((resolve) => {
    const req = http.request(options, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', (err) => resolve(failure(502, 'AgentResponseFailed', err.message)));
      res.on('end', () => {
        if (!res.complete) {
          resolve(truncated());
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) {
          resolve({
            body: text,
            contentType: res.headers['content-type'] || '',
            etag: res.headers.etag || '',
          });
          return;
        }
        // The agent sends errors as JSON: Code, Message, Bucket, Key,
        // RequestId. A HEAD response, or a proxy in between, may send none.
        let detail = {};
        try {
          detail = JSON.parse(text);
        } catch (e) {
          detail = { Message: text };
        }
        resolve(failure(res.statusCode, detail.Code || 'AgentError',
          detail.Message || 'The agent answered with status ' + res.statusCode + '.',
          detail.RequestId));
      });
      // A body cut short closes without a complete message.
      res.on('close', () => {
        if (!res.complete) {
          resolve(truncated());
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no response from the agent within ' + REQUEST_TIMEOUT_MS + ' ms')));
    req.on('error', (err) => resolve(failure(502, 'AgentUnreachable',
      'Cannot reach the agent at ' + host + ':' + port + ': ' + err.message)));
    req.end();
  });
}

function main(params) {
  const bucket = params && params.bucket;
  const key = params && params.key;
  if (!bucket || !key) {
    return Promise.resolve(failure(400, 'InvalidArgument', 'Pass both the bucket and the key parameter.'));
  }
  return getObject(String(bucket), String(key), process.env);
}

module.exports.main = main;
