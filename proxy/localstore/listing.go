package localstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/johannesboyne/gofakes3"
)

// listQuery holds the parameters of a ListObjects (v1 or v2) request. An
// empty marker means the listing starts at the first key; gofakes3 turns
// marker, start-after and continuation-token into it.
type listQuery struct {
	prefix    string
	delimiter string
	marker    string
	maxKeys   int64
}

// listEntry is a key found in a bucket's folder. When isPrefix is set, key
// is a common prefix that stands for all of the keys in a folder.
type listEntry struct {
	key      string
	isPrefix bool
}

// listPage is one page of a listing.
type listPage struct {
	contents       []listEntry
	commonPrefixes []string
	truncated      bool
	nextMarker     string // the last key or common prefix on a truncated page
}

// ListBucket lists the objects of the bucket in S3's order (by the bytes of
// the UTF-8 key), groups keys into common prefixes by the delimiter, and
// returns at most page.MaxKeys keys and common prefixes together.
//
// s3afero's own ListBucket ignores max-keys and continuation, returns keys
// in folder-walk order, and rolls up common prefixes only for "/". It also
// builds wrong common prefixes when the prefix ends inside a file name, and
// returns NoSuchBucket when the prefix names a missing folder.
//
// NOTE: a page.MaxKeys of zero returns an empty, untruncated page, as for a
// request with max-keys=0. gofakes3 always fills MaxKeys from the request,
// with 1000 as the default.
func (b *backend) ListBucket(bucket string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	if err := b.checkBucket(bucket); err != nil {
		return nil, err
	}

	q := listQuery{maxKeys: page.MaxKeys}
	if prefix != nil && prefix.HasPrefix {
		q.prefix = prefix.Prefix
	}
	if prefix != nil && prefix.HasDelimiter {
		q.delimiter = prefix.Delimiter
	}
	if page.HasMarker {
		q.marker = page.Marker
	}

	entries, err := walkBucket(filepath.Join(b.root, bucket), q)
	if err != nil {
		return nil, fmt.Errorf("listing bucket %q: %w", bucket, err)
	}
	slices.SortFunc(entries, func(a, b listEntry) int { return strings.Compare(a.key, b.key) })
	result := paginate(entries, q)

	list := gofakes3.NewObjectList()
	for _, p := range result.commonPrefixes {
		list.AddPrefix(p)
	}
	for _, entry := range result.contents {
		content, err := b.listedObject(bucket, entry.key)
		if gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchKey) {
			continue // deleted since the walk
		}
		if err != nil {
			return nil, err
		}
		list.Add(content)
	}
	list.IsTruncated = result.truncated
	list.NextMarker = result.nextMarker
	return list, nil
}

// listedObject returns the listing entry of one object. The ETag is the
// file's MD5, computed on first use and again whenever the file's size or
// modification time changes.
func (b *backend) listedObject(bucket, key string) (*gofakes3.Content, error) {
	file, info, err := b.openFile(bucket, key)
	if err != nil {
		return nil, err
	}
	defer file.Close()

	hash, err := b.etags.hash(file.Name(), file, info)
	if err != nil {
		return nil, err
	}
	return &gofakes3.Content{
		Key:          key,
		LastModified: gofakes3.NewContentTime(info.ModTime()),
		ETag:         gofakes3.FormatETag(hash),
		Size:         info.Size(),
		StorageClass: gofakes3.StorageStandard,
	}, nil
}

// paginate picks one page from entries, which are sorted by key.
func paginate(entries []listEntry, q listQuery) listPage {
	var page listPage
	if q.maxKeys <= 0 {
		return page
	}

	var count int64
	lastPrefix := ""
	for _, entry := range entries {
		if !strings.HasPrefix(entry.key, q.prefix) || entry.key <= q.marker {
			continue
		}
		common := entry.key
		if !entry.isPrefix {
			common = commonPrefix(entry.key, q.prefix, q.delimiter)
		}
		// A marker equal to a common prefix comes from the previous page,
		// which ended with that prefix: all keys below it were covered.
		if common != "" && (common == lastPrefix || common == q.marker) {
			continue
		}

		if count == q.maxKeys {
			page.truncated = true
			break
		}
		count++

		if common != "" {
			page.commonPrefixes = append(page.commonPrefixes, common)
			page.nextMarker = common
			lastPrefix = common
		} else {
			page.contents = append(page.contents, entry)
			page.nextMarker = entry.key
		}
	}

	if !page.truncated {
		page.nextMarker = ""
	}
	return page
}

// commonPrefix returns the part of key up to and including the first
// delimiter after prefix, or "" when the key does not roll up. key starts
// with prefix.
func commonPrefix(key, prefix, delimiter string) string {
	if delimiter == "" {
		return ""
	}
	i := strings.Index(key[len(prefix):], delimiter)
	if i < 0 {
		return ""
	}
	return key[:len(prefix)+i+len(delimiter)]
}

// walkBucket returns, unsorted, the keys below bucketDir that can appear in a
// listing for q. It walks only the folders that can hold keys with q's
// prefix. A folder whose keys all roll up into one common prefix becomes a
// single entry for that prefix, found by walking the folder only up to its
// first file, unless q's marker points inside that prefix.
//
// NOTE: every key under the prefix that does not roll up is held in memory
// and sorted on each request, so a listing costs time and memory in
// proportion to the number of files below the prefix, not to max-keys.
func walkBucket(bucketDir string, q listQuery) ([]listEntry, error) {
	start := "."
	if i := strings.LastIndexByte(q.prefix, '/'); i >= 0 {
		folder := q.prefix[:i]
		if checkKey(folder) != nil {
			return nil, nil // no stored key can start with this prefix
		}
		start = folder
	}

	files := os.DirFS(bucketDir)
	var entries []listEntry
	err := fs.WalkDir(files, start, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			switch {
			case !missingFile(err):
				return err
			case name == start:
				return fs.SkipAll // the prefix names no folder
			default:
				return nil // removed during the walk
			}
		}

		if d.IsDir() {
			if name == start {
				return nil
			}
			folderKey := name + "/"
			if !strings.HasPrefix(folderKey, q.prefix) && !strings.HasPrefix(q.prefix, folderKey) {
				return fs.SkipDir
			}
			common := rolledUpPrefix(folderKey, q)
			if common == "" {
				return nil
			}
			found, err := holdsListableFile(files, name)
			if err != nil {
				return err
			}
			if found {
				entries = append(entries, listEntry{key: common, isPrefix: true})
			}
			return fs.SkipDir
		}

		if !strings.HasPrefix(name, q.prefix) {
			return nil
		}
		ok, err := listableFile(files, name, d)
		if ok {
			entries = append(entries, listEntry{key: name})
		}
		return err
	})
	return entries, err
}

// rolledUpPrefix returns the common prefix that every key inside a folder
// rolls up into. folderKey is the folder's path followed by "/". It returns
// "" when the keys in the folder may roll up differently or not at all. It
// also returns "" when q's marker lies inside the prefix, because then the
// keys must be compared with the marker one by one.
func rolledUpPrefix(folderKey string, q listQuery) string {
	if !strings.HasPrefix(folderKey, q.prefix) {
		return ""
	}
	// The first delimiter after the prefix lies inside folderKey, so it is
	// the same for every key that starts with folderKey.
	common := commonPrefix(folderKey, q.prefix, q.delimiter)
	if common == "" || (len(q.marker) > len(common) && strings.HasPrefix(q.marker, common)) {
		return ""
	}
	return common
}

// errListableFileFound stops holdsListableFile's walk at the first file.
var errListableFileFound = errors.New("found a listable file")

// holdsListableFile reports whether the folder contains, at any depth, a
// file that walkBucket would list.
func holdsListableFile(files fs.FS, folder string) (bool, error) {
	err := fs.WalkDir(files, folder, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if missingFile(err) {
				return nil // removed during the walk
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		ok, err := listableFile(files, name, d)
		if ok {
			return errListableFileFound
		}
		return err
	})
	if errors.Is(err, errListableFileFound) {
		return true, nil
	}
	return false, err
}

// listableFile reports whether the walked entry is an object that a
// listing can show: a regular file, or a symbolic link to one, whose name an
// XML listing can carry unchanged. Symbolic links to folders are not
// followed.
func listableFile(files fs.FS, name string, d fs.DirEntry) (bool, error) {
	if !xmlSafeKey(name) {
		return false, nil
	}
	if d.Type().IsRegular() {
		return true, nil
	}
	if d.Type()&fs.ModeSymlink == 0 {
		return false, nil
	}

	info, err := fs.Stat(files, name)
	if missingFile(err) {
		return false, nil // a dangling link, or removed during the walk
	}
	if err != nil {
		return false, err
	}
	return info.Mode().IsRegular(), nil
}

// xmlSafeKey reports whether key is valid UTF-8 made only of characters that
// XML 1.0 allows. encoding/xml writes U+FFFD in place of anything else, so
// such a key would reach the client changed. S3 itself lists such keys only
// with encoding-type=url, which gofakes3 does not implement.
//
// NOTE: files whose names fail this check are left out of listings, but
// GetObject and HeadObject still serve them.
func xmlSafeKey(key string) bool {
	if !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return false
		}
	}
	return true
}
