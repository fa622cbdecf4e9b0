package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressBarRedrawsOnlyOnChange(t *testing.T) {
	var buf bytes.Buffer
	p := newProgressBar(&buf)
	for i := 1; i <= 1000; i++ {
		p.update("send", i, 1000)
	}
	if n := strings.Count(buf.String(), "\r"); n != 101 {
		t.Errorf("%d redraws, want one per percentage 0..100", n)
	}
	if !strings.HasSuffix(buf.String(), "100% 1000/1000") {
		t.Errorf("last frame: %q", buf.String()[strings.LastIndex(buf.String(), "\r"):])
	}
	if isTerminal(&buf) {
		t.Error("a buffer is no terminal")
	}
}

func TestBenchNeedsURL(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"bench"}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "--url is required") {
		t.Errorf("code %d, stderr %q", code, errOut.String())
	}
}
