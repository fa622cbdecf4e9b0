package storage

import "testing"

// TestBetterBackupKey follows key_backup's replacement rules: verified
// beats unverified, then the lower first_message_index, then the lower
// forwarded_count; a tie keeps the stored key.
func TestBetterBackupKey(t *testing.T) {
	key := func(verified bool, index, forwarded int64) BackupKey {
		return BackupKey{IsVerified: verified, FirstMessageIndex: index, ForwardedCount: forwarded}
	}
	cases := []struct {
		name             string
		stored, incoming BackupKey
		replace          bool
	}{
		{"verified beats unverified", key(false, 0, 0), key(true, 9, 9), true},
		{"unverified never beats verified", key(true, 9, 9), key(false, 0, 0), false},
		{"lower index wins", key(false, 5, 0), key(false, 2, 3), true},
		{"higher index loses", key(false, 2, 0), key(false, 5, 0), false},
		{"same index: fewer forwards win", key(true, 2, 3), key(true, 2, 1), true},
		{"same index: more forwards lose", key(true, 2, 1), key(true, 2, 3), false},
		{"a tie keeps the stored key", key(true, 2, 1), key(true, 2, 1), false},
	}
	for _, tc := range cases {
		if got := BetterBackupKey(tc.stored, tc.incoming); got != tc.replace {
			t.Errorf("%s: replace=%v, want %v", tc.name, got, tc.replace)
		}
	}
}
