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

func TestBackoffSchedule(t *testing.T) {
	cases := []struct {
		name        string
		base, limit time.Duration
		failures    int
		want        time.Duration
	}{
		{"defaults", 0, 0, 1, BackoffBase},
		{"defaults capped", 0, 0, 40, BackoffCap},
		{"base", 10 * time.Minute, 0, 1, 10 * time.Minute},
		{"doubles", 10 * time.Minute, 0, 3, 40 * time.Minute},
		{"capped", 10 * time.Minute, 0, 4, time.Hour},
		{"own cap", time.Second, 5 * time.Second, 10, 5 * time.Second},
		{"base over the cap", time.Minute, time.Second, 1, time.Second},
		{"none yet", time.Minute, time.Hour, 0, 0},
	}
	for _, tc := range cases {
		if got := BackoffSchedule(tc.base, tc.limit)(tc.failures); got != tc.want {
			t.Errorf("%s: BackoffSchedule(%v, %v)(%d) = %v, want %v", tc.name, tc.base, tc.limit, tc.failures, got, tc.want)
		}
	}
}
