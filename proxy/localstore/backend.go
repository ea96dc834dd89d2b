package localstore

import (
	"github.com/s3-batching-agent/s3-batching-agent/sigv4"

	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
)

// backend is the gofakes3.Backend of the local store. Object writes go
// through s3afero.MultiBucketBackend, which writes the files and keeps the
// metadata of uploads in memory. backend checks keys and buckets first. It
// also does itself what that backend gets wrong for a served directory:
// object reads and ETags (objects.go), bucket and object listing, bucket
// deletion, put conditions and the metadata sent with reads. Uploads are
// staged in a temporary file, so that a failed or slow upload neither
// damages the old object nor blocks other requests.
//
// A backend is safe for concurrent use.
type backend struct {
	inner  *s3afero.MultiBucketBackend
	root   string // absolute path of the served directory
	logger *slog.Logger

	etags etagCache

	// writeMu serializes writes with the removal of the folders that a
	// delete leaves empty, so that no PutObject finds its folder removed
	// between creating the folder and creating the file.
	writeMu sync.Mutex
}

var _ gofakes3.Backend = (*backend)(nil)

// Reasons a write cannot be stored as a file, in addition to those of
// checkKey.
var (
	errKeyIsFolder  = errors.New("a folder already exists at this key's path")
	errParentIsFile = errors.New(`an object already has the path of one of this key's folders, as "a" blocks "a/b"`)
)

// incompleteBodyMessage is S3's message for the IncompleteBody error.
const incompleteBodyMessage = "You did not provide the number of bytes specified by the Content-Length HTTP header"

func (b *backend) ListBuckets() ([]gofakes3.BucketInfo, error) {
	entries, err := os.ReadDir(b.root)
	if err != nil {
		return nil, fmt.Errorf("listing buckets: %w", err)
	}

	buckets := make([]gofakes3.BucketInfo, 0, len(entries))
	for _, entry := range entries {
		name := entry.Name()
		if gofakes3.ValidateBucketName(name) != nil {
			continue
		}
		// os.Stat follows a symbolic link to a folder.
		info, err := os.Stat(filepath.Join(b.root, name))
		if err != nil || !info.IsDir() {
			continue
		}
		// NOTE: file systems offer no portable creation time, so the
		// folder's modification time is used instead. It changes whenever
		// an entry is added to or removed from the bucket's top folder.
		buckets = append(buckets, gofakes3.BucketInfo{
			Name:         name,
			CreationDate: gofakes3.NewContentTime(info.ModTime()),
		})
	}
	return buckets, nil
}

// BucketExists reports whether name is a valid bucket name and a folder of
// that name exists at the top of the served directory.
func (b *backend) BucketExists(name string) (bool, error) {
	if gofakes3.ValidateBucketName(name) != nil {
		return false, nil
	}
	info, err := os.Stat(filepath.Join(b.root, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking bucket %q: %w", name, err)
	}
	return info.IsDir(), nil
}

func (b *backend) checkBucket(name string) error {
	exists, err := b.BucketExists(name)
	if err != nil {
		return err
	}
	if !exists {
		return gofakes3.BucketNotFound(name)
	}
	return nil
}

func (b *backend) CreateBucket(name string) error {
	if err := gofakes3.ValidateBucketName(name); err != nil {
		return err
	}

	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	return b.inner.CreateBucket(name)
}

// DeleteBucket deletes the bucket's folder when it holds no objects. Empty
// folders inside it do not count, because S3 has no folders.
func (b *backend) DeleteBucket(name string) error {
	if err := b.checkBucket(name); err != nil {
		return err
	}

	b.writeMu.Lock()
	defer b.writeMu.Unlock()

	dir := filepath.Join(b.root, name)
	empty, err := holdsOnlyFolders(dir)
	if err != nil {
		return fmt.Errorf("deleting bucket %q: %w", name, err)
	}
	if !empty {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("deleting bucket %q: %w", name, err)
	}
	for _, entry := range entries {
		if err := os.RemoveAll(filepath.Join(dir, entry.Name())); err != nil {
			return fmt.Errorf("deleting bucket %q: %w", name, err)
		}
	}
	return b.inner.DeleteBucket(name)
}

// holdsOnlyFolders reports whether the tree below dir contains nothing but
// folders. A symbolic link counts as content, so dir is never deleted
// through one.
func holdsOnlyFolders(dir string) (bool, error) {
	errFound := errors.New("found a non-folder")
	err := filepath.WalkDir(dir, func(_ string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !entry.IsDir() {
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return false, nil
	}
	return err == nil, err
}

// ForceDeleteBucket rejects the MinIO extension (x-minio-force-delete) that
// deletes a bucket with everything in it: on a served directory it would
// remove a whole folder tree from disk.
func (b *backend) ForceDeleteBucket(name string) error {
	return gofakes3.ErrorMessage(gofakes3.ErrNotImplemented, "the local store does not delete buckets that hold objects")
}

// missingFile reports whether err means that no file exists at the path,
// including when a parent of the path is a file.
func missingFile(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENAMETOOLONG)
}

// PutObject stores input as the object's file. It reads input to the end
// before it changes anything on disk.
func (b *backend) PutObject(
	bucket, key string,
	meta map[string]string,
	input io.Reader,
	size int64,
	conditions *gofakes3.PutConditions,
) (gofakes3.PutObjectResult, error) {
	var result gofakes3.PutObjectResult
	if err := b.checkBucket(bucket); err != nil {
		return result, err
	}
	if err := checkKey(key); err != nil {
		return result, invalidKeyError(err)
	}

	staged, err := b.stage(input, size)
	if err != nil {
		return result, err
	}
	defer removeStaged(staged)

	b.writeMu.Lock()
	defer b.writeMu.Unlock()

	if err := b.checkWritable(bucket, key); err != nil {
		return result, err
	}
	if conditions != nil {
		if err := b.checkPutConditions(bucket, key, conditions); err != nil {
			return result, err
		}
	}

	stored := storedMetadata(meta)
	b.eraseOldMetadata(bucket, key, stored)
	defer b.etags.forget(objectFile(b.root, bucket, key))
	return b.inner.PutObject(bucket, key, stored, staged, size, nil)
}

// checkPutConditions evaluates If-Match and If-None-Match of a PutObject
// request against the current object. s3afero's own check fails with 500
// for files without stored metadata, for the reason given in objects.go.
// The caller holds writeMu, so no write through the store comes between
// the check and the write.
func (b *backend) checkPutConditions(bucket, key string, conditions *gofakes3.PutConditions) error {
	current := gofakes3.ConditionalObjectInfo{}
	file, info, err := b.openObject(bucket, key)
	switch {
	case err == nil:
		defer file.Close()
		hash, err := b.etags.hash(file.Name(), file, info)
		if err != nil {
			return err
		}
		current = gofakes3.ConditionalObjectInfo{Exists: true, Hash: hash}
	case !gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchKey):
		return err
	}
	return gofakes3.CheckPutConditions(conditions, &current)
}

// stage copies input into a new temporary file and returns the file,
// positioned at its start. The caller removes it with removeStaged.
func (b *backend) stage(input io.Reader, size int64) (*os.File, error) {
	// NOTE: uploads are staged in os.TempDir, which must have room for the
	// largest upload in progress.
	file, err := os.CreateTemp("", "localstore-upload-*")
	if err != nil {
		return nil, fmt.Errorf("staging an upload: %w", err)
	}

	body := &readErrorRecorder{r: input}
	n, err := io.Copy(file, body)
	switch {
	case body.err != nil:
		err = bodyError(body.err)
	case err != nil:
		err = fmt.Errorf("staging an upload: %w", err)
	case n != size:
		err = gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, incompleteBodyMessage)
	}
	if err == nil {
		_, err = file.Seek(0, io.SeekStart)
	}
	if err != nil {
		removeStaged(file)
		return nil, err
	}
	return file, nil
}

func removeStaged(file *os.File) {
	file.Close()
	os.Remove(file.Name())
}

// readErrorRecorder keeps the first error other than io.EOF that its reader
// returns, so that a failed upload can be distinguished from a failed disk
// write.
type readErrorRecorder struct {
	r   io.Reader
	err error
}

func (r *readErrorRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// bodyError returns the S3 error for a failure to read a request body.
// gofakes3 errors, such as BadDigest from the Content-MD5 check, pass
// unchanged, and a trailer checksum mismatch becomes BadDigest. Any other
// error, such as a malformed aws-chunked body or a client that hung up,
// becomes IncompleteBody.
func bodyError(err error) error {
	var s3Err gofakes3.Error
	if errors.As(err, &s3Err) {
		return err
	}
	if errors.Is(err, sigv4.ErrBadDigest) {
		return gofakes3.ErrorMessage(gofakes3.ErrBadDigest, "The checksum in the upload's trailer does not match its bytes.")
	}
	return gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, incompleteBodyMessage)
}

// checkWritable returns an S3 error when a folder sits at the key's path or
// a file sits at the path of one of its folders. S3 keeps "a" and "a/b"
// side by side; a file system cannot.
func (b *backend) checkWritable(bucket, key string) error {
	info, err := os.Stat(objectFile(b.root, bucket, key))
	if err == nil && info.IsDir() {
		return invalidKeyError(errKeyIsFolder)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		info, err := os.Stat(objectFile(b.root, bucket, dir))
		if err == nil && !info.IsDir() {
			return invalidKeyError(errParentIsFile)
		}
	}
	return nil
}

// eraseOldMetadata adds an empty value to stored for every metadata entry of
// the current object that stored lacks. S3 replaces the metadata whole, but
// s3afero's PutObject keeps every old entry that the new request does not
// set. responseMetadata drops the empty values on reads.
//
// NOTE: s3afero's PutObject reads the old metadata through its own
// GetObject, which opens the old file and never closes it. The descriptor
// stays open until the garbage collector finalizes it, once for every
// overwrite of an object uploaded through the store.
func (b *backend) eraseOldMetadata(bucket, key string, stored map[string]string) {
	old, _ := b.storedMetadataOf(bucket, key)
	for name := range old {
		if _, ok := stored[name]; !ok {
			stored[name] = ""
		}
	}
}

// DeleteObject deletes the object's file and then every folder above it
// that the deletion left empty, up to the bucket's folder. Deleting a key
// that holds no object succeeds, as in S3.
func (b *backend) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	if err := b.checkBucket(bucket); err != nil {
		return gofakes3.ObjectDeleteResult{}, err
	}
	if checkKey(key) != nil {
		return gofakes3.ObjectDeleteResult{}, nil
	}

	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	return b.deleteLocked(bucket, key)
}

func (b *backend) deleteLocked(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	// os.Lstat, so that a symbolic link is deleted rather than its target.
	info, err := os.Lstat(objectFile(b.root, bucket, key))
	if missingFile(err) {
		return gofakes3.ObjectDeleteResult{}, nil
	}
	if err != nil {
		return gofakes3.ObjectDeleteResult{}, fmt.Errorf("deleting object %q in bucket %q: %w", key, bucket, err)
	}
	if info.IsDir() {
		return gofakes3.ObjectDeleteResult{}, nil
	}

	result, err := b.inner.DeleteObject(bucket, key)
	if err != nil {
		return result, err
	}
	b.etags.forget(objectFile(b.root, bucket, key))
	b.removeEmptyFoldersLocked(bucket, key)
	return result, nil
}

// removeEmptyFoldersLocked removes the folders above key, deepest first,
// until one is not empty or is not a real folder.
func (b *backend) removeEmptyFoldersLocked(bucket, key string) {
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		name := objectFile(b.root, bucket, dir)
		info, err := os.Lstat(name)
		if err != nil || !info.IsDir() {
			return
		}
		// os.Remove fails on a folder that is not empty.
		if os.Remove(name) != nil {
			return
		}
	}
}

func (b *backend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var result gofakes3.MultiDeleteResult
	if err := b.checkBucket(bucket); err != nil {
		return result, err
	}

	b.writeMu.Lock()
	defer b.writeMu.Unlock()

	for _, key := range keys {
		if checkKey(key) == nil {
			if _, err := b.deleteLocked(bucket, key); err != nil {
				b.logger.Warn("local store: deleting an object failed", "bucket", bucket, "key", key, "error", err)
				result.Error = append(result.Error, gofakes3.ErrorResult{
					Key:     key,
					Code:    gofakes3.ErrInternal,
					Message: "We encountered an internal error. Please try again.",
				})
				continue
			}
		}
		result.Deleted = append(result.Deleted, gofakes3.ObjectID{Key: key})
	}
	return result, nil
}

// CopyObject copies through b's own GetObject and PutObject, so that the
// checks and metadata handling above apply to copies too.
func (b *backend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(b, srcBucket, srcKey, dstBucket, dstKey, meta)
}
