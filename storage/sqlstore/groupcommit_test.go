package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func openGroupTestDB(t *testing.T) (*pool, *groupCommitter) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "g.db")+"?_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	p := newPool(raw)
	if _, err := p.ExecContext(t.Context(), `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	g := newGroupCommitter(p)
	t.Cleanup(func() { g.close(); raw.Close() })
	return p, g
}

func insert(k string, v int) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO kv (k, v) VALUES (?, ?)`, k, v)
		return err
	}
}

func count(t *testing.T, p *pool) int {
	t.Helper()
	var n int
	if err := p.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM kv`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGroupCommitUndoesOnlyTheFailingWrite: many concurrent writes share
// transactions; the ones that fail (a duplicate key, an error after
// writing) leave nothing, the others all commit.
func TestGroupCommitUndoesOnlyTheFailingWrite(t *testing.T) {
	p, g := openGroupTestDB(t)
	if err := g.do(t.Context(), insert("dup", 0)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch {
			case i%10 == 3: // writes, then fails: must be undone
				errs[i] = g.do(t.Context(), func(tx *sql.Tx) error {
					if err := insert(fmt.Sprintf("bad%d", i), i)(tx); err != nil {
						return err
					}
					return errors.New("refused after writing")
				})
			case i%10 == 7: // a duplicate key
				errs[i] = g.do(t.Context(), insert("dup", i))
			default:
				errs[i] = g.do(t.Context(), insert(fmt.Sprintf("k%d", i), i))
			}
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
		} else if i%10 != 3 && i%10 != 7 {
			t.Errorf("write %d failed: %v", i, err)
		}
	}
	if got := count(t, p); got != ok+1 || ok != 160 {
		t.Errorf("%d rows for %d acknowledged writes (+1 before), want 160", got, ok)
	}
}

func TestGroupCommitCancelledAndClosed(t *testing.T) {
	p, g := openGroupTestDB(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := g.do(ctx, insert("x", 1)); err == nil {
		t.Error("a write whose caller gave up was acknowledged")
	}
	// A caller giving up while its write runs: the write is undone.
	ctx2, cancel2 := context.WithCancel(t.Context())
	err := g.do(ctx2, func(tx *sql.Tx) error {
		if err := insert("y", 1)(tx); err != nil {
			return err
		}
		cancel2()
		return nil
	})
	if err == nil || count(t, p) != 0 {
		t.Errorf("cancelled write: err %v, rows %d", err, count(t, p))
	}
	g.close()
	if err := g.do(t.Context(), insert("z", 1)); !errors.Is(err, errClosed) {
		t.Errorf("after close: %v", err)
	}
}
