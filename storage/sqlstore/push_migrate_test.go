package sqlstore

import (
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
)

// migrationsUpTo is the engine's migrations numbered at most last.
func migrationsUpTo(t *testing.T, dir string, last int) fs.FS {
	t.Helper()
	all, err := loadMigrations(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, m := range all {
		if m.version <= last {
			out[fmt.Sprintf("%04d_%s.sql", m.version, m.name)] = &fstest.MapFile{Data: []byte(m.sql)}
		}
	}
	return out
}

// TestPushMigration: migration 0021 turns the rows of push_actions (one
// per user and event) into one notification per event and read marks,
// keeping each user's unread actions, read flags, highlights and actions
// (raw tabs and newlines, which only JSON whitespace can hold, become
// spaces).
func TestPushMigration(t *testing.T) {
	engines := []struct {
		name    string
		dialect Dialect
		dir     string
		open    func(t *testing.T) *sql.DB
	}{
		{"sqlite", SQLite, "../sqlite/migrations", openSQLite},
		{"postgres", Postgres, "../postgres/migrations", func(t *testing.T) *sql.DB {
			db, err := sql.Open("postgres", pgtest.FreshDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := t.Context()
			raw := e.open(t)
			if err := migrate(ctx, raw, e.dialect, migrationsUpTo(t, e.dir, 20)); err != nil {
				t.Fatal(err)
			}
			old := []struct {
				user      string
				pos       int64
				room      string
				thread    string
				highlight int
				actions   string
				read      int
			}{
				{"@a:x", 1, "!r:x", "main", 0, `["notify"]`, 1},
				{"@b:x", 1, "!r:x", "main", 1, `["notify",{"set_tweak":"highlight"}]`, 0},
				{"@a:x", 2, "!r:x", "$t", 0, "[\n\t\"notify\"]", 0},
				{"@a:x", 3, "!r:x", "main", 0, `["notify"]`, 1},
				{"@a:x", 4, "!r:x", "main", 0, `["notify"]`, 0},
				{"@a:x.y", 5, "!s:x", "main", 1, `["notify"]`, 0},
			}
			for _, r := range old {
				_, err := raw.ExecContext(ctx, e.dialect.Rebind(`INSERT INTO push_actions
					(user_id, stream_pos, room_id, event_id, thread_id, ts, highlight, actions, is_read)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
					r.user, r.pos, r.room, "$e"+strings.Repeat("x", int(r.pos)), r.thread, 1000+r.pos, r.highlight, r.actions, r.read)
				if err != nil {
					t.Fatal(err)
				}
			}
			db, err := Open(ctx, Config{Dialect: e.dialect, Writer: raw, Reader: raw, Migrations: os.DirFS(e.dir)})
			if err != nil {
				t.Fatal(err)
			}
			rooms := []string{"!r:x", "!s:x"}
			list := func(user string) string {
				t.Helper()
				actions, _, err := db.PushActions(ctx, user, rooms, 0, 10, false)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, a := range actions {
					s := a.RoomID + " " + a.ThreadID + " " + a.EventID + " " + string(a.Actions)
					if a.Highlight {
						s += " highlight"
					}
					if a.Read {
						s += " read"
					}
					out = append(out, s)
				}
				return strings.Join(out, "; ")
			}
			want := map[string]string{
				"@a:x": `!r:x main $exxxx ["notify"]; !r:x main $exxx ["notify"] read; !r:x $t $exx [  "notify"]; ` +
					`!r:x main $ex ["notify"] read`,
				"@b:x":   `!r:x main $ex ["notify",{"set_tweak":"highlight"}] highlight`,
				"@a:x.y": `!s:x main $exxxxx ["notify"] highlight`,
			}
			for user, w := range want {
				if got := list(user); got != w {
					t.Errorf("%s:\n got %s\nwant %s", user, got, w)
				}
			}
			unread, err := db.UnreadPushActions(ctx, "@a:x", rooms, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(unread.Actions) != 2 || len(unread.Marks) != 1 ||
				unread.Marks[0] != (storage.PushMark{UserID: "@a:x", RoomID: "!r:x", ThreadID: "main", UpTo: 3}) {
				t.Errorf("unread %+v", unread)
			}
			var left int
			err = raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM push_notifications`).Scan(&left)
			if err != nil || left != 5 {
				t.Errorf("%d notifications (%v), want one per event", left, err)
			}
			if _, err := raw.ExecContext(ctx, `SELECT 1 FROM push_actions`); err == nil {
				t.Error("push_actions is still there")
			}
			db.Close()
		})
	}
}
