package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newTestFiles(t testing.TB) (*FileStore, string) {
	t.Helper()
	dir := t.TempDir()
	fs, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fs, dir
}

// storedFiles lists the content files under dir, leaving out tmp/.
func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestFileStorePutShardsByHash(t *testing.T) {
	fs, dir := newTestFiles(t)
	content := []byte("hello, media")
	sum, size, err := fs.Put(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(content)
	if sum != hex.EncodeToString(want[:]) || size != int64(len(content)) {
		t.Fatalf("Put = %s %d", sum, size)
	}
	wantPath := filepath.Join(sum[:2], sum[2:4], sum)
	if files := storedFiles(t, dir); len(files) != 1 || files[0] != wantPath {
		t.Fatalf("files %v, want [%s]", files, wantPath)
	}
	f, err := fs.Open(sum)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, _ := io.ReadAll(f); !bytes.Equal(got, content) {
		t.Errorf("read back %q", got)
	}
}

func TestFileStoreDeduplicates(t *testing.T) {
	fs, dir := newTestFiles(t)
	first, _, err := fs.Put(strings.NewReader("same bytes"))
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := fs.Put(strings.NewReader("same bytes"))
	if err != nil || second != first {
		t.Fatalf("second Put = %s %v, want %s", second, err, first)
	}
	other, _, _ := fs.Put(strings.NewReader("other bytes"))
	if files := storedFiles(t, dir); len(files) != 2 {
		t.Errorf("files %v, want the two distinct contents", files)
	}
	if !fs.Has(first) || !fs.Has(other) || fs.Has(strings.Repeat("0", 64)) {
		t.Error("Has disagrees with what was stored")
	}
}

func TestFileStoreFailedReadLeavesNothing(t *testing.T) {
	fs, dir := newTestFiles(t)
	boom := errors.New("connection dropped")
	_, _, err := fs.Put(io.MultiReader(strings.NewReader("partial"), errReader{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("Put error %v, want %v", err, boom)
	}
	if files := storedFiles(t, dir); len(files) != 0 {
		t.Errorf("a failed Put left %v", files)
	}
}

func TestFileStoreRefusesBadHashes(t *testing.T) {
	fs, _ := newTestFiles(t)
	for _, sum := range []string{"", "../../etc/passwd", strings.Repeat("A", 64), strings.Repeat("0", 63) + "/"} {
		if _, err := fs.Open(sum); !errors.Is(err, errBadHash) {
			t.Errorf("Open(%q) = %v, want errBadHash", sum, err)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestNewFileStoreDropsStaleUploads(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.MkdirAll(tmp, 0o700)
	stale, fresh := filepath.Join(tmp, "upload-old"), filepath.Join(tmp, "upload-new")
	os.WriteFile(stale, []byte("x"), 0o600)
	os.WriteFile(fresh, []byte("x"), 0o600)
	old := time.Now().Add(-2 * staleUploadAge)
	os.Chtimes(stale, old, old)
	if _, err := NewFileStore(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a stale temporary file survived")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("an upload in progress lost its temporary file")
	}
}
