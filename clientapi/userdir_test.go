package clientapi

import (
	"slices"
	"testing"
)

func TestRankUserResults(t *testing.T) {
	results := []userSearchResult{
		{UserID: "@zed:x", DisplayName: "Annie"},
		{UserID: "@bob:x", DisplayName: "Bob, friend of ann"},
		{UserID: "@ann:remote"},
		{UserID: "@anna:x", DisplayName: "Anna"},
		{UserID: "@xann:remote"},
	}
	rankUserResults(results, "AN")
	var got []string
	for _, r := range results {
		got = append(got, r.UserID)
	}
	want := []string{"@anna:x", "@zed:x", "@ann:remote", "@bob:x", "@xann:remote"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestUserSearchLimit(t *testing.T) {
	for in, want := range map[int]int{0: 10, -5: 10, 3: 3, 100: 100, 5000: maxUserSearchLimit} {
		if got := userSearchLimit(in); got != want {
			t.Errorf("userSearchLimit(%d) = %d, want %d", in, got, want)
		}
	}
}
