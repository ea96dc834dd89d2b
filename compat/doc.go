// Package compat is the agent's S3 listener: a path-style S3 endpoint
// (http://node:9000/bucket/key) that accepts unmodified AWS SDK and CLI
// calls.
//
// Reads (GetObject, HeadObject, ListObjects v1 and v2, ListBuckets,
// HeadBucket, GetBucketLocation) go through the shared read path and its
// batching layer. Every other operation is streamed through to the
// upstream, re-signed with the agent's credentials, and never buffered
// whole. Errors are S3 XML with S3's status codes.
//
// Requests are routed on the raw escaped path, which is never cleaned:
// "//", "." and ".." are parts of keys.
package compat
