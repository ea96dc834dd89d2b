"""OpenWhisk action (Python runtime) that lists a bucket and reads one
object with boto3, through the S3 listener of the s3-batching-agent on its
own node. The boto3 calls are unchanged: only the endpoint points at the
agent, and the agent re-signs each request with the node's credentials.

Parameters:
    bucket           the bucket to list (required)
    prefix           list only keys that start with it
    maxKeys          list at most this many keys, 1000 by default
    key              an object to read (optional)
    encoding         "utf8" (default) or "base64", for binary objects
    accessKeyId,     client keys, needed only when the agent runs with
    secretAccessKey  --client-auth verify; bind them as default parameters
                     (wsk action update NAME -p accessKeyId ...)

Environment:
    NODE_IP        the node's IP address (status.hostIP of the action pod)
    AGENT_HOST     host used when NODE_IP is not set; the default is the
                   agent's Service, s3-batching-agent.s3-batching-agent.svc.cluster.local
    AGENT_S3_PORT  the S3 listener's port, 9000 by default
    AWS_REGION     the signing region, us-east-1 by default

It returns {"bucket", "keys", "truncated"} and, when key is given,
"key", "body", "contentType", "etag" and "contentLength" of that object.
Errors come back as {"error": {"statusCode", "code", "message",
"requestId"}}, which OpenWhisk reports as a failed activation.

boto3 is not among the packages of OpenWhisk's Python runtimes: package it
in a virtualenv zip as deploy/openwhisk/README.md shows.
"""

import base64
import json
import os
import sys

import boto3
import botocore.config
import botocore.exceptions

DEFAULT_AGENT_HOST = "s3-batching-agent.s3-batching-agent.svc.cluster.local"
DEFAULT_S3_PORT = "9000"
DEFAULT_REGION = "us-east-1"
DEFAULT_MAX_KEYS = 1000

# With the agent's default --client-auth none the listener does not check
# signatures, so any static keys work. These placeholders keep boto3 from
# searching its credential chain (which would ask the instance metadata
# service) and are not secrets.
PLACEHOLDER_ACCESS_KEY_ID = "agent-does-not-check"
PLACEHOLDER_SECRET_ACCESS_KEY = "agent-does-not-check"

# The listener is path-style only: http://node:9000/bucket/key.
CLIENT_CONFIG = botocore.config.Config(
    s3={"addressing_style": "path"},
    connect_timeout=5,
    read_timeout=30,
    retries={"max_attempts": 3, "mode": "standard"},
)


class ActionError(Exception):
    """A failure to report as the action's error result."""

    def __init__(self, status_code, code, message, request_id=""):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id

    def as_result(self):
        return {
            "error": {
                "statusCode": self.status_code,
                "code": self.code,
                "message": self.message,
                "requestId": self.request_id,
            }
        }


def agent_endpoint(env=None):
    """Return the S3 listener's URL for the environment env."""
    env = os.environ if env is None else env
    host = env.get("NODE_IP") or env.get("AGENT_HOST") or DEFAULT_AGENT_HOST
    # status.hostIP is an IPv6 address on IPv6 clusters, which a URL needs
    # in brackets.
    if ":" in host and not host.startswith("["):
        host = "[" + host + "]"
    port = env.get("AGENT_S3_PORT") or DEFAULT_S3_PORT
    return "http://%s:%s" % (host, port)


# Clients are kept for later activations of a warm container, so that their
# connections to the agent are reused. The cache key contains every client
# setting.
_clients = {}


def s3_client(env, access_key_id, secret_access_key):
    endpoint = agent_endpoint(env)
    region = env.get("AWS_REGION") or DEFAULT_REGION
    cache_key = (endpoint, region, access_key_id, secret_access_key)
    client = _clients.get(cache_key)
    if client is None:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=CLIENT_CONFIG,
        )
        _clients[cache_key] = client
    return client


def _call(endpoint, operation, **kwargs):
    """Run one boto3 call, turning its errors into ActionError."""
    try:
        return operation(**kwargs)
    except botocore.exceptions.ClientError as err:
        error = err.response.get("Error", {})
        meta = err.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode") or 502
        code = error.get("Code") or "AgentError"
        message = error.get("Message") or "%s (HTTP status %d)" % (code, status)
        raise ActionError(status, code, message, meta.get("RequestId", ""))
    except botocore.exceptions.BotoCoreError as err:
        # Connection refused, timeouts and other failures with no HTTP response.
        raise ActionError(502, "AgentUnreachable", "Cannot reach the agent at %s: %s" % (endpoint, err))


def _max_keys(args):
    value = args.get("maxKeys", DEFAULT_MAX_KEYS)
    try:
        max_keys = -1 if isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        max_keys = -1
    if not 1 <= max_keys <= 1000:
        raise ActionError(400, "InvalidArgument", "maxKeys must be a whole number from 1 to 1000, not %r." % (value,))
    return max_keys


def run(args, env):
    bucket = args.get("bucket")
    if not bucket:
        raise ActionError(400, "InvalidArgument", "Pass the bucket parameter.")
    encoding = args.get("encoding") or "utf8"
    if encoding not in ("utf8", "base64"):
        raise ActionError(400, "InvalidArgument", "The encoding parameter must be utf8 or base64, not %r." % (encoding,))
    max_keys = _max_keys(args)

    endpoint = agent_endpoint(env)
    client = s3_client(
        env,
        args.get("accessKeyId") or PLACEHOLDER_ACCESS_KEY_ID,
        args.get("secretAccessKey") or PLACEHOLDER_SECRET_ACCESS_KEY,
    )

    listing = _call(
        endpoint,
        client.list_objects_v2,
        Bucket=str(bucket),
        Prefix=str(args.get("prefix") or ""),
        MaxKeys=max_keys,
    )
    result = {
        "bucket": str(bucket),
        "keys": [entry["Key"] for entry in listing.get("Contents", [])],
        "truncated": bool(listing.get("IsTruncated")),
    }

    key = args.get("key")
    if key:
        obj = _call(endpoint, client.get_object, Bucket=str(bucket), Key=str(key))
        # StreamingBody.read checks the length against Content-Length; a
        # `with` block would hand out the raw stream, which does not.
        body = obj["Body"]
        try:
            data = body.read()
        except botocore.exceptions.BotoCoreError as err:
            raise ActionError(502, "AgentResponseFailed", "Reading %s from the agent failed: %s" % (key, err))
        finally:
            body.close()
        result.update(
            {
                "key": str(key),
                "body": base64.b64encode(data).decode("ascii") if encoding == "base64" else data.decode("utf-8", "replace"),
                "contentType": obj.get("ContentType", ""),
                "etag": obj.get("ETag", ""),
                "contentLength": obj.get("ContentLength"),
            }
        )
    return result


def main(args):
    try:
        return run(args or {}, os.environ)
    except ActionError as err:
        return err.as_result()


# Run outside OpenWhisk:
#   python3 __main__.py '{"bucket": "demo", "key": "hello.txt"}'
# prints the result as JSON. OpenWhisk's runtime imports this file under
# another module name, so this block does not run there.
if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}"))))
