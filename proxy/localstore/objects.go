package localstore

import (
	"crypto/md5"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// Object reads bypass s3afero.MultiBucketBackend. In gofakes3 v1.2.0 its
// metadata store computes a missing ETag by hashing the path of the
// metadata file in the metadata Fs, not the object's file. As a result,
// every read of a file that was not uploaded through gofakes3 fails with
// 500, and a file changed on disk after its upload gets the MD5 of the
// metadata JSON as its ETag. The functions here read the files directly and
// keep their own MD5 cache. s3afero supplies only the metadata stored by
// uploads.

// etagCache holds the MD5 of object files, keyed by path and valid while
// the file's size and modification time are unchanged. Its methods are safe
// for concurrent use.
//
// NOTE: a file rewritten in place with the same size within one tick of
// the file system's modification-time clock keeps its old ETag. Entries of
// files deleted outside the store stay in memory until the store closes.
type etagCache struct {
	mu      sync.Mutex // guards entries
	entries map[string]etagEntry
}

type etagEntry struct {
	size    int64
	modTime time.Time
	hash    []byte
}

// hash returns the MD5 of file, whose path is name and whose current
// information is info. It reads the file with ReadAt, so the file's offset
// does not move.
func (c *etagCache) hash(name string, file *os.File, info fs.FileInfo) ([]byte, error) {
	c.mu.Lock()
	entry, ok := c.entries[name]
	c.mu.Unlock()
	if ok && entry.size == info.Size() && entry.modTime.Equal(info.ModTime()) {
		return entry.hash, nil
	}

	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(file, 0, info.Size())); err != nil {
		return nil, fmt.Errorf("computing the ETag of %s: %w", name, err)
	}
	sum := h.Sum(nil)

	c.mu.Lock()
	if c.entries == nil {
		c.entries = make(map[string]etagEntry)
	}
	c.entries[name] = etagEntry{size: info.Size(), modTime: info.ModTime(), hash: sum}
	c.mu.Unlock()
	return sum, nil
}

func (c *etagCache) forget(name string) {
	c.mu.Lock()
	delete(c.entries, name)
	c.mu.Unlock()
}

// openObject opens the object's file and returns it with its information,
// or returns an S3 error when the bucket or the object does not exist. Only
// regular files, or symbolic links to them, are objects. The caller closes
// the file.
func (b *backend) openObject(bucket, key string) (*os.File, fs.FileInfo, error) {
	if err := b.checkBucket(bucket); err != nil {
		return nil, nil, err
	}
	return b.openFile(bucket, key)
}

// openFile is openObject for a bucket that the caller has checked.
func (b *backend) openFile(bucket, key string) (*os.File, fs.FileInfo, error) {
	if checkKey(key) != nil {
		return nil, nil, gofakes3.KeyNotFound(key)
	}

	// O_NONBLOCK makes opening a named pipe return at once instead of
	// waiting for a writer; it does not change reads of regular files.
	file, err := os.OpenFile(objectFile(b.root, bucket, key), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if missingFile(err) {
		return nil, nil, gofakes3.KeyNotFound(key)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("opening object %q in bucket %q: %w", key, bucket, err)
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("opening object %q in bucket %q: %w", key, bucket, err)
	}
	if !info.Mode().IsRegular() {
		file.Close()
		return nil, nil, gofakes3.KeyNotFound(key)
	}
	return file, info, nil
}

// storedMetadataOf returns the metadata that an upload through the store
// saved for the object, and whether the object was uploaded through the
// store at all rather than placed in the directory by other means.
//
// NOTE: for a file without stored metadata, s3afero's HeadObject fails
// while hashing a metadata file that does not exist, so any error here,
// including a real read error, counts as "not uploaded".
func (b *backend) storedMetadataOf(bucket, key string) (map[string]string, bool) {
	obj, err := b.inner.HeadObject(bucket, key)
	if err != nil {
		return nil, false
	}
	obj.Contents.Close()
	return obj.Metadata, true
}

// readMetadata returns the headers to send with a read of the object.
func (b *backend) readMetadata(bucket, key string, info fs.FileInfo) map[string]string {
	meta, uploaded := b.storedMetadataOf(bucket, key)
	return responseMetadata(meta, uploaded, key, info.ModTime())
}

func (b *backend) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	file, info, err := b.openObject(bucket, key)
	if err != nil {
		return nil, err
	}
	defer file.Close()

	hash, err := b.etags.hash(file.Name(), file, info)
	if err != nil {
		return nil, err
	}
	return &gofakes3.Object{
		Name:     key,
		Metadata: b.readMetadata(bucket, key, info),
		Size:     info.Size(),
		Contents: http.NoBody,
		Hash:     hash,
	}, nil
}

// GetObject returns the object with rnge applied. The caller closes
// obj.Contents.
func (b *backend) GetObject(bucket, key string, rnge *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	file, info, err := b.openObject(bucket, key)
	if err != nil {
		return nil, err
	}
	obj, err := b.objectFromFile(bucket, key, file, info, rnge)
	if err != nil {
		file.Close()
		return nil, err
	}
	return obj, nil
}

func (b *backend) objectFromFile(bucket, key string, file *os.File, info fs.FileInfo, rnge *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	hash, err := b.etags.hash(file.Name(), file, info)
	if err != nil {
		return nil, err
	}

	// Range returns nil, and no error, when rnge is nil.
	selected, err := rnge.Range(info.Size())
	if err != nil {
		return nil, err
	}
	start, length := int64(0), info.Size()
	if selected != nil {
		start, length = selected.Start, selected.Length
	}
	if _, err := file.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading object %q in bucket %q: %w", key, bucket, err)
	}

	return &gofakes3.Object{
		Name:     key,
		Metadata: b.readMetadata(bucket, key, info),
		Size:     info.Size(),
		Range:    selected,
		Hash:     hash,
		Contents: struct {
			io.Reader
			io.Closer
		}{io.LimitReader(file, length), file},
	}, nil
}
