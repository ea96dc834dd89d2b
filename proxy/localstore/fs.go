package localstore

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/afero"
)

// bucketsFolder is the folder below its afero.Fs in which
// s3afero.MultiBucketBackend (gofakes3 v1.2.0) looks for buckets.
const bucketsFolder = "buckets"

// rootFs is the afero.Fs handed to s3afero.MultiBucket. That backend serves
// the folders inside "buckets/" of its Fs as buckets and writes a probe file
// at the Fs root, so rootFs maps "buckets/..." onto the served directory and
// every other name onto a scratch Fs. With it, the top-level folders of the
// served directory are the buckets, and nothing but object writes touches
// that directory.
//
// A rootFs is safe for concurrent use when both of its Fs values are.
type rootFs struct {
	buckets afero.Fs // the served directory
	scratch afero.Fs // everything outside "buckets/"
}

var _ afero.Fs = (*rootFs)(nil)

func newRootFs(dir string, scratch afero.Fs) *rootFs {
	return &rootFs{
		buckets: afero.NewBasePathFs(afero.NewOsFs(), dir),
		scratch: scratch,
	}
}

// route returns the Fs that holds name and the name inside that Fs.
func (f *rootFs) route(name string) (afero.Fs, string) {
	clean := strings.TrimPrefix(path.Clean(filepath.ToSlash(name)), "/")
	if clean == bucketsFolder {
		return f.buckets, "/"
	}
	if rest, ok := strings.CutPrefix(clean, bucketsFolder+"/"); ok {
		return f.buckets, rest
	}
	return f.scratch, name
}

func (f *rootFs) Create(name string) (afero.File, error) {
	fs, name := f.route(name)
	return fs.Create(name)
}

func (f *rootFs) Mkdir(name string, perm os.FileMode) error {
	fs, name := f.route(name)
	return fs.Mkdir(name, perm)
}

func (f *rootFs) MkdirAll(name string, perm os.FileMode) error {
	fs, name := f.route(name)
	return fs.MkdirAll(name, perm)
}

func (f *rootFs) Open(name string) (afero.File, error) {
	fs, name := f.route(name)
	return fs.Open(name)
}

func (f *rootFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	fs, name := f.route(name)
	return fs.OpenFile(name, flag, perm)
}

func (f *rootFs) Remove(name string) error {
	fs, name := f.route(name)
	return fs.Remove(name)
}

func (f *rootFs) RemoveAll(name string) error {
	fs, name := f.route(name)
	return fs.RemoveAll(name)
}

// Rename renames within one of the two Fs values. It returns an error when
// oldname and newname lie in different ones.
func (f *rootFs) Rename(oldname, newname string) error {
	oldFs, oldInner := f.route(oldname)
	newFs, newInner := f.route(newname)
	if oldFs != newFs {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: os.ErrInvalid}
	}
	return oldFs.Rename(oldInner, newInner)
}

func (f *rootFs) Stat(name string) (os.FileInfo, error) {
	fs, name := f.route(name)
	return fs.Stat(name)
}

func (f *rootFs) Name() string { return "localstore.rootFs" }

func (f *rootFs) Chmod(name string, mode os.FileMode) error {
	fs, name := f.route(name)
	return fs.Chmod(name, mode)
}

func (f *rootFs) Chown(name string, uid, gid int) error {
	fs, name := f.route(name)
	return fs.Chown(name, uid, gid)
}

func (f *rootFs) Chtimes(name string, atime, mtime time.Time) error {
	fs, name := f.route(name)
	return fs.Chtimes(name, atime, mtime)
}
