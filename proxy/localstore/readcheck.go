package localstore

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// conditionHeaders are the read preconditions of GetObject and HeadObject.
var conditionHeaders = []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"}

// prepareObjectRead handles the preconditions, the partNumber parameter and
// the Range header of a GetObject or HeadObject request, and reports whether
// it wrote the response. When it did not, it has rewritten the request so
// that gofakes3 serves it correctly: preconditions removed, partNumber
// removed, and Range replaced by an explicit, satisfiable "bytes=first-last"
// or removed.
//
// gofakes3 v1.2.0 ignores If-Match, If-Unmodified-Since and partNumber, and
// compares If-None-Match as one exact string. It also fails with 416 or 501
// where a server that follows RFC 9110 returns the whole object: for a
// suffix range longer than the object, a malformed Range header, or a list
// of several ranges.
//
// NOTE: the object is looked up here and again by gofakes3, so a write
// between the two can make the response reflect two versions of the object.
func (h *handler) prepareObjectRead(w http.ResponseWriter, r *http.Request, bucket, key string) bool {
	query := r.URL.Query()
	_, hasPartNumber := query["partNumber"]
	if r.Header.Get("Range") == "" && !hasPartNumber && !hasConditions(r.Header) {
		return false
	}

	obj, err := h.backend.HeadObject(bucket, key)
	if err != nil {
		return false // gofakes3 returns the same error
	}
	obj.Contents.Close()
	etag := gofakes3.FormatETag(obj.Hash)
	lastModified := obj.Metadata["Last-Modified"]

	modTime, _ := http.ParseTime(lastModified)
	switch result, header := checkPreconditions(r.Header, etag, modTime); result {
	case preconditionFailed:
		writeError(w, r, s3Error{
			status:    http.StatusPreconditionFailed,
			Code:      string(gofakes3.ErrPreconditionFailed),
			Message:   "At least one of the pre-conditions you specified did not hold",
			Condition: header,
		})
		return true
	case notModified:
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastModified)
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	for _, name := range conditionHeaders {
		r.Header.Del(name)
	}

	if hasPartNumber && answerPartNumber(w, r, query, obj.Size) {
		return true
	}
	return answerRange(w, r, obj.Size)
}

func hasConditions(header http.Header) bool {
	for _, name := range conditionHeaders {
		if len(header.Values(name)) > 0 {
			return true
		}
	}
	return false
}

type precondition int

const (
	preconditionsMet precondition = iota
	preconditionFailed
	notModified
)

// checkPreconditions evaluates the read preconditions in the order of
// RFC 9110 section 13.2.2, which the S3 GetObject documentation follows.
// First If-Match, or If-Unmodified-Since when If-Match is absent, can fail
// the request with 412. Then If-None-Match, or If-Modified-Since when
// If-None-Match is absent, can turn it into a 304. Dates that do not parse
// are ignored. It returns the header that decided a failure or a 304.
func checkPreconditions(header http.Header, etag string, lastModified time.Time) (precondition, string) {
	// HTTP dates have a resolution of one second.
	lastModified = lastModified.Truncate(time.Second)

	if values := header.Values("If-Match"); len(values) > 0 {
		if !matchETag(strings.Join(values, ","), etag, false) {
			return preconditionFailed, "If-Match"
		}
	} else if value := header.Get("If-Unmodified-Since"); value != "" {
		if since, err := http.ParseTime(value); err == nil && lastModified.After(since) {
			return preconditionFailed, "If-Unmodified-Since"
		}
	}

	if values := header.Values("If-None-Match"); len(values) > 0 {
		if matchETag(strings.Join(values, ","), etag, true) {
			return notModified, "If-None-Match"
		}
	} else if value := header.Get("If-Modified-Since"); value != "" {
		if since, err := http.ParseTime(value); err == nil && !lastModified.After(since) {
			return notModified, "If-Modified-Since"
		}
	}
	return preconditionsMet, ""
}

// matchETag reports whether the comma-separated entity-tag list, or "*",
// matches etag. Weak tags ("W/...") match only when weak is set, which
// If-None-Match uses; If-Match uses strong comparison. Unquoted tags are
// accepted as well.
func matchETag(list, etag string, weak bool) bool {
	want := unquote(etag)
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "*" {
			return true
		}
		if tag, isWeak := strings.CutPrefix(item, "W/"); isWeak {
			if !weak {
				continue
			}
			item = tag
		}
		if item != "" && unquote(item) == want {
			return true
		}
	}
	return false
}

func unquote(tag string) string {
	if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
		return tag[1 : len(tag)-1]
	}
	return tag
}

// answerPartNumber handles the partNumber parameter and reports whether it
// wrote the response. The local store keeps every object as a single part.
// Part 1 is the whole object, served like a Range request for all of it
// (206 with Content-Range), and every other part number is unsatisfiable.
func answerPartNumber(w http.ResponseWriter, r *http.Request, query url.Values, size int64) bool {
	part, err := strconv.Atoi(query.Get("partNumber"))
	if err != nil || part < 1 || part > gofakes3.MaxUploadPartNumber {
		writeError(w, r, s3Error{
			status:  http.StatusBadRequest,
			Code:    string(gofakes3.ErrInvalidArgument),
			Message: "Part number must be an integer between 1 and 10000, inclusive",
		})
		return true
	}
	if r.Header.Get("Range") != "" {
		writeError(w, r, s3Error{
			status:  http.StatusBadRequest,
			Code:    "InvalidRequest",
			Message: "Cannot specify both Range header and partNumber query parameter",
		})
		return true
	}
	if part > 1 {
		writeError(w, r, s3Error{
			status:  http.StatusRequestedRangeNotSatisfiable,
			Code:    "InvalidPartNumber",
			Message: "The requested partnumber is not satisfiable",
		})
		return true
	}

	query.Del("partNumber")
	r.URL.RawQuery = query.Encode()
	if size > 0 {
		r.Header.Set("Range", "bytes=0-")
	}
	return false
}

// answerRange resolves the Range header against the object's size and
// reports whether it wrote the response, which it does only for a range
// that cannot be satisfied (416). A header that does not parse as a single
// byte range is removed, so the whole object is served; RFC 9110 section
// 14.2 lets a server ignore Range.
func answerRange(w http.ResponseWriter, r *http.Request, size int64) bool {
	header := r.Header.Get("Range")
	if header == "" {
		return false
	}

	spec, ok := parseRange(header)
	if !ok {
		r.Header.Del("Range")
		return false
	}
	first, last, ok := spec.resolve(size)
	if !ok {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		writeError(w, r, s3Error{
			status:           http.StatusRequestedRangeNotSatisfiable,
			Code:             string(gofakes3.ErrInvalidRange),
			Message:          "The requested range is not satisfiable",
			RangeRequested:   header,
			ActualObjectSize: strconv.FormatInt(size, 10),
		})
		return true
	}

	r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", first, last))
	return false
}

// byteRange is one parsed byte-range-spec of a Range header. For a suffix
// range ("bytes=-N"), suffix is set and end holds N. An open range
// ("bytes=N-") has end -1.
type byteRange struct {
	start, end int64
	suffix     bool
}

// parseRange parses a Range header that requests a single byte range. It
// reports false for anything else, including lists of several ranges.
func parseRange(header string) (byteRange, bool) {
	const unit = "bytes="
	if len(header) < len(unit) || !strings.EqualFold(header[:len(unit)], unit) {
		return byteRange{}, false
	}
	spec := strings.TrimSpace(header[len(unit):])
	if strings.Contains(spec, ",") {
		return byteRange{}, false
	}
	startText, endText, found := strings.Cut(spec, "-")
	if !found {
		return byteRange{}, false
	}
	startText, endText = strings.TrimSpace(startText), strings.TrimSpace(endText)

	if startText == "" {
		n, ok := parseRangeNumber(endText)
		return byteRange{end: n, suffix: true}, ok
	}

	start, ok := parseRangeNumber(startText)
	if !ok {
		return byteRange{}, false
	}
	if endText == "" {
		return byteRange{start: start, end: -1}, true
	}
	end, ok := parseRangeNumber(endText)
	if !ok || end < start {
		return byteRange{}, false
	}
	return byteRange{start: start, end: end}, true
}

func parseRangeNumber(text string) (int64, bool) {
	if text == "" || strings.TrimLeft(text, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(text, 10, 64)
	return n, err == nil
}

// resolve returns the first and last byte offsets, inclusive, that the
// range selects in an object of the given size, and false when it selects
// none (RFC 9110 section 14.1.2): a suffix of zero, any range of an empty
// object, or a start at or past the end. A suffix longer than the object
// selects the whole object, and an end past the object is cut at its last
// byte.
func (b byteRange) resolve(size int64) (first, last int64, ok bool) {
	if size <= 0 {
		return 0, 0, false
	}
	if b.suffix {
		if b.end == 0 {
			return 0, 0, false
		}
		return size - min(b.end, size), size - 1, true
	}
	if b.start >= size {
		return 0, 0, false
	}
	if b.end < 0 || b.end >= size {
		return b.start, size - 1, true
	}
	return b.start, b.end, true
}
