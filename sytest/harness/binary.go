package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/warbler once per test process and returns its path.
// WARBLER_TEST_BINARY names a prebuilt binary to use instead.
func Binary() (string, error) {
	buildOnce.Do(func() {
		if p := os.Getenv("WARBLER_TEST_BINARY"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "warbler-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "warbler")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/warbler")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building warbler: %v\n%s", err, out)
		}
	})
	return binPath, buildErr
}

// repoRoot is the module root, two folders above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
