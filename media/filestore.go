package media

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// FileStore keeps content in files named by the SHA-256 of their bytes,
// under two levels of directories taken from the hash (ab/cd/abcd…) so no
// directory grows too large. Equal content is stored once.
type FileStore struct {
	root string
}

// NewFileStore uses (and creates) dir for media files, and drops the
// temporary files of uploads that a crash interrupted.
func NewFileStore(dir string) (*FileStore, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("media store: %w", err)
	}
	removeStale(tmp, time.Now().Add(-staleUploadAge))
	return &FileStore{root: dir}, nil
}

// staleUploadAge is old enough that no upload can still be writing the
// file, even in another process sharing the directory.
const staleUploadAge = 24 * time.Hour

// removeStale deletes files in dir last written before cutoff. It is
// housekeeping: a failure only leaves a file behind.
func removeStale(dir string, cutoff time.Time) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// errBadHash guards against a corrupted or forged hash naming a path
// outside the store.
var errBadHash = errors.New("media store: not a SHA-256 hex digest")

// Put copies r into the store and returns the hex SHA-256 of its bytes and
// their count. The bytes go to a temporary file that is synced and then
// renamed into place, so a file under its final name is always complete.
// An error from r (say, the body limit) is returned as it is.
func (s *FileStore) Put(r io.Reader) (sum string, size int64, err error) {
	tmp, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "upload-*")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	hash := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, hash), r)
	if err != nil {
		return "", 0, err
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, err
	}
	if err := tmp.Close(); err != nil {
		return "", 0, err
	}
	sum = hex.EncodeToString(hash.Sum(nil))
	if err := s.place(tmp.Name(), sum); err != nil {
		return "", 0, err
	}
	tmp = nil // renamed or redundant: nothing left to clean up
	return sum, size, nil
}

// place moves a finished temporary file to its content's name, or drops it
// if that content is already stored.
func (s *FileStore) place(tmpName, sum string) error {
	final := s.path(sum)
	if _, err := os.Stat(final); err == nil {
		return os.Remove(tmpName)
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Rename(tmpName, final); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename durable: the new directory entry survives a
// power cut once the directory itself is synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open opens the content with the given hash.
func (s *FileStore) Open(sum string) (*os.File, error) {
	if !validHash(sum) {
		return nil, errBadHash
	}
	return os.Open(s.path(sum))
}

// Has reports whether the content with the given hash is stored.
func (s *FileStore) Has(sum string) bool {
	if !validHash(sum) {
		return false
	}
	_, err := os.Stat(s.path(sum))
	return err == nil
}

func (s *FileStore) path(sum string) string {
	return filepath.Join(s.root, sum[0:2], sum[2:4], sum)
}

func validHash(sum string) bool {
	if len(sum) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(sum); i++ {
		c := sum[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isNotExist reports a missing file, which for stored media means the
// files and the database disagree.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
