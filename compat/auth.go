package compat

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/s3-batching-agent/s3-batching-agent/proxy"
)

// ClientCredentials is the parsed --client-credentials file: the client
// access keys the listener accepts in verify mode and what each may do. It
// is read-only after LoadClientCredentials and safe for concurrent use.
//
// The file is JSON:
//
//	{
//	  "clients": [
//	    {
//	      "accessKeyId": "CLIENTKEY1",
//	      "secretAccessKey": "client-secret-1",
//	      "allow": [
//	        {"bucket": "models", "access": "read"},
//	        {"bucket": "uploads", "prefix": "jobs/", "access": "read-write"}
//	      ]
//	    }
//	  ]
//	}
//
// A client without "allow" may read and write every bucket. "access" is
// "read", "write" or "read-write"; "prefix" limits a rule to keys that
// start with it (and listings whose prefix starts with it).
type ClientCredentials struct {
	clients map[string]clientEntry
}

type clientEntry struct {
	AccessKeyID     string      `json:"accessKeyId"`
	SecretAccessKey string      `json:"secretAccessKey"`
	Allow           []allowRule `json:"allow"`
}

type allowRule struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	Access string `json:"access"`
}

// LoadClientCredentials reads and validates a client credentials file.
func LoadClientCredentials(path string) (*ClientCredentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading client credentials: %w", err)
	}
	return ParseClientCredentials(data)
}

// ParseClientCredentials parses the JSON of a client credentials file.
// Errors name the entry at fault but never contain a secret.
func ParseClientCredentials(data []byte) (*ClientCredentials, error) {
	var doc struct {
		Clients []clientEntry `json:"clients"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parsing client credentials: %w", err)
	}
	if len(doc.Clients) == 0 {
		return nil, fmt.Errorf("parsing client credentials: no clients listed")
	}

	c := &ClientCredentials{clients: make(map[string]clientEntry, len(doc.Clients))}
	for i, e := range doc.Clients {
		if e.AccessKeyID == "" || e.SecretAccessKey == "" {
			return nil, fmt.Errorf("parsing client credentials: client %d needs accessKeyId and secretAccessKey", i+1)
		}
		if _, dup := c.clients[e.AccessKeyID]; dup {
			return nil, fmt.Errorf("parsing client credentials: access key %q is listed twice", e.AccessKeyID)
		}
		for j, rule := range e.Allow {
			if rule.Bucket == "" {
				return nil, fmt.Errorf("parsing client credentials: client %q rule %d has no bucket", e.AccessKeyID, j+1)
			}
			switch rule.Access {
			case "read", "write", "read-write":
			default:
				return nil, fmt.Errorf("parsing client credentials: client %q rule %d: access %q is not read, write or read-write", e.AccessKeyID, j+1, rule.Access)
			}
		}
		c.clients[e.AccessKeyID] = e
	}
	return c, nil
}

// SecretKey returns the secret of a client access key. It implements
// sigv4.CredentialStore.
func (c *ClientCredentials) SecretKey(accessKey string) (string, bool) {
	e, ok := c.clients[accessKey]
	return e.SecretAccessKey, ok
}

// Len returns the number of clients.
func (c *ClientCredentials) Len() int { return len(c.clients) }

// allowed reports whether accessKey may perform a request with method on
// op. query is the decoded query, used for listing prefixes; header is
// used for the source of a copy.
func (c *ClientCredentials) allowed(accessKey string, method string, op operation, query url.Values, header http.Header) bool {
	e, ok := c.clients[accessKey]
	if !ok {
		return false
	}
	if e.Allow == nil {
		return true
	}

	if op.Bucket == "" {
		// ListBuckets: names of buckets only.
		return op.Read == proxy.OpListBuckets
	}

	write := method != http.MethodGet && method != http.MethodHead
	key := op.Key
	wholeBucket := false
	switch {
	case op.Read == proxy.OpListObjects || op.Read == proxy.OpListObjectsV2:
		key = query.Get("prefix")
	case op.Key == "" && write:
		// Bucket-level writes (DeleteObjects among them) may touch any key.
		wholeBucket = true
	case op.Key == "":
		// HeadBucket, GetBucketLocation and other bucket reads.
		return e.permits(op.Bucket, "", false, false, true)
	}
	if !e.permits(op.Bucket, key, write, wholeBucket, false) {
		return false
	}

	if src := header.Get("X-Amz-Copy-Source"); src != "" {
		srcBucket, srcKey, ok := parseCopySource(src)
		if !ok || !e.permits(srcBucket, srcKey, false, false, false) {
			return false
		}
	}
	return true
}

// permits reports whether a rule of e covers key in bucket for the access
// asked. wholeBucket needs a rule without a prefix; anyRule accepts any
// rule on the bucket.
func (e clientEntry) permits(bucket, key string, write, wholeBucket, anyRule bool) bool {
	for _, rule := range e.Allow {
		if rule.Bucket != bucket {
			continue
		}
		if anyRule {
			return true
		}
		if write && rule.Access == "read" || !write && rule.Access == "write" {
			continue
		}
		if wholeBucket && rule.Prefix != "" {
			continue
		}
		if strings.HasPrefix(key, rule.Prefix) {
			return true
		}
	}
	return false
}

// parseCopySource splits an x-amz-copy-source value, "bucket/key" or
// "/bucket/key", URL-encoded, with an optional "?versionId=".
func parseCopySource(v string) (bucket, key string, ok bool) {
	v, _, _ = strings.Cut(v, "?")
	v = strings.TrimPrefix(v, "/")
	decoded, err := url.PathUnescape(v)
	if err != nil {
		return "", "", false
	}
	bucket, key, found := strings.Cut(decoded, "/")
	return bucket, key, found && bucket != "" && key != ""
}
