package proxy

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxListBody caps the size of a list response the helper API parses. A
// page of 1,000 keys of S3's maximum length stays well below it.
const maxListBody = 32 << 20

func (h *Helper) listBuckets(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		h.writeError(w, r, err, "", "")
		return
	}
	req := &ReadRequest{Op: OpListBuckets, Header: http.Header{}}

	h.serveRead(w, r, req, func(resp *ReadResponse) {
		var doc listAllMyBucketsResult
		if err := decodeXML(resp.Body, &doc); err != nil {
			h.writeError(w, r, fmt.Errorf("decoding ListBuckets response: %w", err), "", "")
			return
		}
		out := listBucketsJSON{Buckets: []bucketJSON{}}
		for _, b := range doc.Buckets {
			out.Buckets = append(out.Buckets, bucketJSON{Name: b.Name, CreationDate: formatS3Time(b.CreationDate)})
		}
		writeJSON(w, r, http.StatusOK, out)
	})
}

func (h *Helper) listObjects(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.RawQuery,
		"bucket", "prefix", "delimiter", "maxKeys", "continuationToken", "startAfter")
	if err != nil {
		h.writeError(w, r, err, "", "")
		return
	}
	bucket := h.bucket(q)
	if err := requireBucketKey(bucket, "", false); err != nil {
		h.writeError(w, r, err, "", "")
		return
	}

	upstream := url.Values{"list-type": {"2"}, "encoding-type": {"url"}}
	if s := q.Get("maxKeys"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			h.writeError(w, r, InvalidArgument("maxKeys must be a whole number from 1 to 1000, got "+strconv.Quote(s)+"."), bucket, "")
			return
		}
		upstream.Set("max-keys", strconv.Itoa(n))
	}
	for param, s3Name := range map[string]string{
		"prefix": "prefix", "delimiter": "delimiter",
		"continuationToken": "continuation-token", "startAfter": "start-after",
	} {
		if v := q.Get(param); v != "" {
			upstream.Set(s3Name, v)
		}
	}
	req := &ReadRequest{Op: OpListObjectsV2, Bucket: bucket, Query: upstream, Header: http.Header{}}

	h.serveRead(w, r, req, func(resp *ReadResponse) {
		var doc listBucketResult
		if err := decodeXML(resp.Body, &doc); err != nil {
			h.writeError(w, r, fmt.Errorf("decoding ListObjectsV2 response: %w", err), bucket, "")
			return
		}
		out, err := doc.toJSON()
		if err != nil {
			h.writeError(w, r, err, bucket, "")
			return
		}
		writeJSON(w, r, http.StatusOK, out)
	})
}

func decodeXML(body io.Reader, v any) error {
	return xml.NewDecoder(io.LimitReader(body, maxListBody)).Decode(v)
}

// formatS3Time turns S3's ISO 8601 timestamps into RFC 3339 in UTC, keeping
// fractional seconds only when they are not zero. A value that does not
// parse is passed through.
func formatS3Time(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format(time.RFC3339Nano)
}

type listAllMyBucketsResult struct {
	Buckets []struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
	} `xml:"Buckets>Bucket"`
}

type listBucketsJSON struct {
	Buckets []bucketJSON
}

type bucketJSON struct {
	Name         string
	CreationDate string
}

type listBucketResult struct {
	Name                  string `xml:"Name"`
	Prefix                string `xml:"Prefix"`
	Delimiter             string `xml:"Delimiter"`
	StartAfter            string `xml:"StartAfter"`
	MaxKeys               int    `xml:"MaxKeys"`
	KeyCount              int    `xml:"KeyCount"`
	IsTruncated           bool   `xml:"IsTruncated"`
	EncodingType          string `xml:"EncodingType"`
	ContinuationToken     string `xml:"ContinuationToken"`
	NextContinuationToken string `xml:"NextContinuationToken"`
	Contents              []struct {
		Key          string `xml:"Key"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
	} `xml:"Contents"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
}

type listObjectsJSON struct {
	Name                  string
	Prefix                string
	Delimiter             string `json:",omitempty"`
	StartAfter            string `json:",omitempty"`
	MaxKeys               int
	KeyCount              int
	IsTruncated           bool
	ContinuationToken     string `json:",omitempty"`
	NextContinuationToken string `json:",omitempty"`
	Contents              []objectJSON
	CommonPrefixes        []prefixJSON
}

type objectJSON struct {
	Key          string
	LastModified string
	Size         int64
	ETag         string
	StorageClass string
}

type prefixJSON struct {
	Prefix string
}

// toJSON converts a ListObjectsV2 page, decoding the names S3 sent
// URL-encoded when the response's EncodingType is url.
func (doc *listBucketResult) toJSON() (*listObjectsJSON, error) {
	decode := func(s string) (string, error) { return s, nil }
	if doc.EncodingType == "url" {
		decode = func(s string) (string, error) {
			v, err := url.QueryUnescape(s)
			if err != nil {
				return "", fmt.Errorf("decoding URL-encoded name in ListObjectsV2 response: %w", err)
			}
			return v, nil
		}
	}

	out := &listObjectsJSON{
		Name:                  doc.Name,
		MaxKeys:               doc.MaxKeys,
		KeyCount:              doc.KeyCount,
		IsTruncated:           doc.IsTruncated,
		ContinuationToken:     doc.ContinuationToken,
		NextContinuationToken: doc.NextContinuationToken,
		Contents:              []objectJSON{},
		CommonPrefixes:        []prefixJSON{},
	}
	var err error
	for _, field := range []struct{ dst, src *string }{
		{&out.Prefix, &doc.Prefix}, {&out.Delimiter, &doc.Delimiter}, {&out.StartAfter, &doc.StartAfter},
	} {
		if *field.dst, err = decode(*field.src); err != nil {
			return nil, err
		}
	}
	for _, c := range doc.Contents {
		key, err := decode(c.Key)
		if err != nil {
			return nil, err
		}
		out.Contents = append(out.Contents, objectJSON{
			Key:          key,
			LastModified: formatS3Time(c.LastModified),
			Size:         c.Size,
			ETag:         c.ETag,
			StorageClass: c.StorageClass,
		})
	}
	for _, p := range doc.CommonPrefixes {
		prefix, err := decode(p.Prefix)
		if err != nil {
			return nil, err
		}
		out.CommonPrefixes = append(out.CommonPrefixes, prefixJSON{Prefix: prefix})
	}
	return out, nil
}
