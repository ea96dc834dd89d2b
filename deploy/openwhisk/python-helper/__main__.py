"""OpenWhisk action (Python runtime) that summarizes a bucket through the
s3-batching-agent on its own node, with the agent's helper API.

It lists the buckets, lists up to 20 objects of the bucket named by the
``bucket`` parameter, reads each of them through the agent and returns a
summary: the keys, each object's size and SHA-256, the total bytes read and
the most recently modified object.

Environment:
    NODE_IP     the node's IP address, from the pod spec (status.hostIP)
    AGENT_HOST  host used when NODE_IP is not set; the default is the
                agent's Service, s3-batching-agent.s3-batching-agent.svc
    AGENT_PORT  the helper API port, 8080 by default

It uses only the standard library. Errors come back as
``{"error": {"statusCode", "code", "message", "requestId"}}``, which
OpenWhisk reports as a failed activation.
"""

import hashlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

DEFAULT_AGENT_HOST = "s3-batching-agent.s3-batching-agent.svc"
DEFAULT_AGENT_PORT = "8080"
MAX_OBJECTS = 20
REQUEST_TIMEOUT_SECONDS = 30

# RFC 3339 as the agent writes LastModified: UTC with a Z, and fractional
# seconds only when they are not zero, with 1 to 9 digits.
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$"
)


class AgentError(Exception):
    """An error response from the agent, or a failure to reach it."""

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


def parse_last_modified(value):
    """Parse an RFC 3339 timestamp into an aware datetime in UTC.

    Both "2026-01-02T03:04:05Z" and "2026-01-02T03:04:05.123Z" are accepted.
    Digits past microseconds are dropped, because datetime stores no more,
    and before Python 3.11 datetime.fromisoformat accepts neither "Z" nor a
    fraction that is not 3 or 6 digits long.
    """
    match = _TIMESTAMP.match(value)
    if match is None:
        raise ValueError(
            "LastModified %r is not an RFC 3339 time such as 2026-01-02T03:04:05Z" % (value,)
        )
    base, fraction, zone = match.groups()
    micros = (fraction or "")[:6].ljust(6, "0")
    offset = "+0000" if zone == "Z" else zone.replace(":", "")
    parsed = datetime.strptime(base + "." + micros + offset, "%Y-%m-%dT%H:%M:%S.%f%z")
    return parsed.astimezone(timezone.utc)


def agent_base_url(env=None):
    env = os.environ if env is None else env
    host = env.get("NODE_IP") or env.get("AGENT_HOST") or DEFAULT_AGENT_HOST
    port = env.get("AGENT_PORT") or DEFAULT_AGENT_PORT
    return "http://%s:%s" % (host, port)


def _get(base_url, path, params):
    """Send GET path?params to the agent and return the response body."""
    url = base_url + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            detail = json.loads(body)
        except ValueError:
            detail = {"Message": body.decode("utf-8", "replace")}
        raise AgentError(
            err.code,
            detail.get("Code") or "AgentError",
            detail.get("Message") or "The agent answered with status %d." % err.code,
            detail.get("RequestId") or "",
        )
    except (urllib.error.URLError, OSError) as err:
        raise AgentError(502, "AgentUnreachable", "Cannot reach the agent at %s: %s" % (base_url, err))


def summarize(bucket, base_url):
    buckets = json.loads(_get(base_url, "/s3/listBuckets", None))
    listing = json.loads(
        _get(base_url, "/s3/listObjects", {"bucket": bucket, "maxKeys": str(MAX_OBJECTS)})
    )

    keys, sizes, digests = [], {}, {}
    total = 0
    newest = None
    for entry in listing.get("Contents") or []:
        key = entry["Key"]
        modified = parse_last_modified(entry["LastModified"])
        data = _get(base_url, "/s3/getObject", {"bucket": bucket, "key": key})

        keys.append(key)
        sizes[key] = len(data)
        digests[key] = hashlib.sha256(data).hexdigest()
        total += len(data)
        if newest is None or modified > newest[1]:
            newest = (key, modified, entry["LastModified"])

    return {
        "buckets": [b["Name"] for b in buckets.get("Buckets") or []],
        "bucket": bucket,
        "keys": keys,
        "sizes": sizes,
        "sha256": digests,
        "totalBytes": total,
        "truncated": bool(listing.get("IsTruncated")),
        "newestKey": newest[0] if newest else None,
        "newestLastModified": newest[1].isoformat() if newest else None,
        "newestLastModifiedListed": newest[2] if newest else None,
    }


def main(args):
    bucket = (args or {}).get("bucket")
    if not bucket:
        return AgentError(400, "InvalidArgument", "Pass the bucket parameter.").as_result()
    try:
        return summarize(str(bucket), agent_base_url())
    except AgentError as err:
        return err.as_result()
    except ValueError as err:
        # A listing the action cannot read, such as an unexpected time format.
        return AgentError(502, "InvalidAgentResponse", str(err)).as_result()
