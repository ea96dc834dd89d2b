package localstore

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// Reasons a key cannot be stored as a file. S3 accepts all of these keys.
var (
	errEmptyKey     = errors.New("the key is empty")
	errKeyNUL       = errors.New("the key contains a NUL byte")
	errEmptySegment = errors.New(`the key has an empty path segment (a leading "/", a trailing "/" or "//")`)
	errDotSegment   = errors.New(`the key has a "." or ".." path segment`)
	errLongSegment  = errors.New(`a path segment of the key is longer than 255 bytes, the file name limit of ext4, XFS, Btrfs and tmpfs`)
)

// maxSegmentBytes is the longest file name, in bytes, that common Linux file
// systems accept (NAME_MAX).
const maxSegmentBytes = 255

// checkKey returns nil when key maps one-to-one onto a file path below a
// bucket folder, and the reason otherwise.
//
// gofakes3's afero backend joins bucket and key with path.Join, which
// collapses "//" and resolves ".." before the name reaches the file system.
// Without this check, "a//b" would alias "a/b", and "../other/key" would
// read, overwrite or delete a file in another bucket.
func checkKey(key string) error {
	if key == "" {
		return errEmptyKey
	}
	if strings.IndexByte(key, 0) >= 0 {
		return errKeyNUL
	}
	for segment := range strings.SplitSeq(key, "/") {
		switch segment {
		case "":
			return errEmptySegment
		case ".", "..":
			return errDotSegment
		}
		if len(segment) > maxSegmentBytes {
			return errLongSegment
		}
	}
	return nil
}

// invalidKeyError is the S3 error for a write to a key that checkKey
// rejects. The status is 400 because S3 itself would store the key.
func invalidKeyError(reason error) error {
	return gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument,
		"the local store keeps each object as a file, so it cannot store this key: "+reason.Error())
}

// objectFile returns the operating-system path of the file for key in
// bucket. The caller has checked bucket with gofakes3.ValidateBucketName and
// key with checkKey, so the result stays inside root.
func objectFile(root, bucket, key string) string {
	return filepath.Join(root, bucket, filepath.FromSlash(key))
}
