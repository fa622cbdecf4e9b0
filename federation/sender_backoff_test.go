package federation

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	cases := []struct {
		failures int
		want     time.Duration
	}{
		{-1, 0},
		{0, 0},
		{1, 2 * time.Second},
		{2, 4 * time.Second},
		{3, 8 * time.Second},
		{6, 64 * time.Second},
		{11, 2048 * time.Second},
		{12, time.Hour}, // 4096 s is over the cap
		{13, time.Hour},
		{64, time.Hour}, // no overflow however long a server stays down
		{1 << 30, time.Hour},
	}
	for _, tc := range cases {
		if got := BackoffDelay(tc.failures); got != tc.want {
			t.Errorf("BackoffDelay(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}
