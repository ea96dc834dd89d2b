"""OpenWhisk action (Python runtime) that lists a bucket and reads one
object with the requests library, through the helper API of the
s3-batching-agent on its own node:

    GET http://NODE_IP:8080/s3/listObjects?bucket=BUCKET&prefix=PREFIX&maxKeys=N
    GET http://NODE_IP:8080/s3/getObject?bucket=BUCKET&key=KEY

It takes the same parameters and returns the same result as the boto3
action in ../python-sdk, which reads through the S3 listener instead.
requests is one of the packages of OpenWhisk's Python runtimes, so this
file is the whole action.

Parameters:
    bucket    the bucket to list (required)
    prefix    list only keys that start with it
    maxKeys   list at most this many keys, 1000 by default
    key       an object to read (optional)
    encoding  "utf8" (default) or "base64", for binary objects

Environment:
    NODE_IP     the node's IP address (status.hostIP of the action pod)
    AGENT_HOST  host used when NODE_IP is not set; the default is the
                agent's Service, s3-batching-agent.s3-batching-agent.svc.cluster.local
    AGENT_PORT  the helper API's port, 8080 by default

It returns {"bucket", "keys", "truncated"} and, when key is given,
"key", "body", "contentType", "etag" and "contentLength" of that object.
Errors come back as {"error": {"statusCode", "code", "message",
"requestId"}}, which OpenWhisk reports as a failed activation.
"""

import base64
import json
import os
import sys

import requests
import urllib3

DEFAULT_AGENT_HOST = "s3-batching-agent.s3-batching-agent.svc.cluster.local"
DEFAULT_AGENT_PORT = "8080"
DEFAULT_MAX_KEYS = 1000

# Seconds to wait for the connection and for each read from the agent.
TIMEOUT = (5, 30)

# One session for the life of a warm container, so that connections to the
# agent are reused across activations.
_session = requests.Session()


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


def agent_base_url(env=None):
    """Return the helper API's base URL for the environment env."""
    env = os.environ if env is None else env
    host = env.get("NODE_IP") or env.get("AGENT_HOST") or DEFAULT_AGENT_HOST
    # status.hostIP is an IPv6 address on IPv6 clusters, which a URL needs
    # in brackets.
    if ":" in host and not host.startswith("["):
        host = "[" + host + "]"
    port = env.get("AGENT_PORT") or DEFAULT_AGENT_PORT
    return "http://%s:%s" % (host, port)


def _get(base_url, path, params, stream=False):
    """Send GET path?params to the agent and return the response. With
    stream, the caller reads the body and closes the response."""
    try:
        response = _session.get(base_url + path, params=params, timeout=TIMEOUT, stream=stream)
    except requests.RequestException as err:
        raise ActionError(502, "AgentUnreachable", "Cannot reach the agent at %s: %s" % (base_url, err))
    if response.status_code == 200:
        return response

    # The agent sends errors as JSON: Code, Message, Bucket, Key, RequestId.
    try:
        detail = response.json()
    except (ValueError, requests.RequestException):
        detail = {"Message": response.text}
    if not isinstance(detail, dict):
        detail = {}
    status = response.status_code
    code = detail.get("Code") or "AgentError"
    raise ActionError(
        status,
        code,
        detail.get("Message") or "%s (HTTP status %d)" % (code, status),
        detail.get("RequestId") or "",
    )


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

    base_url = agent_base_url(env)
    listing = _get(
        base_url,
        "/s3/listObjects",
        {"bucket": str(bucket), "prefix": str(args.get("prefix") or ""), "maxKeys": str(max_keys)},
    ).json()
    result = {
        "bucket": str(bucket),
        "keys": [entry["Key"] for entry in listing.get("Contents") or []],
        "truncated": bool(listing.get("IsTruncated")),
    }

    key = args.get("key")
    if key:
        response = _get(base_url, "/s3/getObject", {"bucket": str(bucket), "key": str(key)}, stream=True)
        # The raw stream keeps the stored bytes: requests would otherwise
        # decompress an object stored with Content-Encoding: gzip.
        try:
            with response:
                data = response.raw.read(decode_content=False)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
            # urllib3 raises ProtocolError for a body shorter than its
            # Content-Length.
            raise ActionError(502, "AgentResponseFailed", "Reading %s from the agent failed: %s" % (key, err))
        # A second check on the length, for a read that ended early without
        # an error.
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) != len(data):
            raise ActionError(
                502,
                "AgentResponseFailed",
                "The agent sent %d of the %s bytes of %s." % (len(data), declared, key),
            )
        result.update(
            {
                "key": str(key),
                "body": base64.b64encode(data).decode("ascii") if encoding == "base64" else data.decode("utf-8", "replace"),
                "contentType": response.headers.get("Content-Type", ""),
                "etag": response.headers.get("ETag", ""),
                "contentLength": len(data),
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
