package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	tests := []struct {
		name, query, sqlite string
	}{
		{"no placeholders", `SELECT 1`, `SELECT 1`},
		{"in order", `UPDATE t SET a = $2 WHERE b = $1`, `UPDATE t SET a = ?2 WHERE b = ?1`},
		{"two digits", `VALUES ($9, $10, $11)`, `VALUES (?9, ?10, ?11)`},
		{"repeated", `WHERE a = $1 OR b = $1`, `WHERE a = ?1 OR b = ?1`},
		{"string literal", `SELECT '$1', $1`, `SELECT '$1', ?1`},
		{"escaped quote", `SELECT 'it''s $1', $2`, `SELECT 'it''s $1', ?2`},
		{"quoted identifier", `SELECT "$1" FROM t WHERE x = $1`, `SELECT "$1" FROM t WHERE x = ?1`},
		{"dollar without digit", `SELECT $a, $1`, `SELECT $a, ?1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SQLite.Rebind(tc.query); got != tc.sqlite {
				t.Errorf("SQLite.Rebind(%q) = %q, want %q", tc.query, got, tc.sqlite)
			}
			if got := Postgres.Rebind(tc.query); got != tc.query {
				t.Errorf("Postgres.Rebind(%q) = %q, want it unchanged", tc.query, got)
			}
		})
	}
}
