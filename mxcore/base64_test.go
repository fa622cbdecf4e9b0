package mxcore

import "testing"

func TestBase64SpecExamples(t *testing.T) {
	// The appendix "Unpadded Base64" examples.
	tests := []struct{ in, want string }{
		{"", ""},
		{"f", "Zg"},
		{"fo", "Zm8"},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg"},
		{"fooba", "Zm9vYmE"},
		{"foobar", "Zm9vYmFy"},
	}
	for _, tc := range tests {
		if got := EncodeBase64([]byte(tc.in)); got != tc.want {
			t.Errorf("EncodeBase64(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, encoded := range []string{tc.want, padBase64(tc.want)} {
			got, err := DecodeBase64(encoded)
			if err != nil || string(got) != tc.in {
				t.Errorf("DecodeBase64(%q) = %q, %v; want %q", encoded, got, err, tc.in)
			}
		}
	}
}

func padBase64(s string) string {
	for len(s)%4 != 0 {
		s += "="
	}
	return s
}

func TestBase64URL(t *testing.T) {
	raw := []byte{0xfb, 0xff, 0xbf}
	if got := EncodeBase64(raw); got != "+/+/" {
		t.Errorf("EncodeBase64 = %q", got)
	}
	if got := EncodeBase64URL(raw); got != "-_-_" {
		t.Errorf("EncodeBase64URL = %q", got)
	}
	for _, s := range []string{"-_-_", "-_8", "-_8="} {
		if _, err := DecodeBase64URL(s); err != nil {
			t.Errorf("DecodeBase64URL(%q): %v", s, err)
		}
	}
	if _, err := DecodeBase64URL("+/+/"); err == nil {
		t.Error("DecodeBase64URL accepted the standard alphabet")
	}
	if _, err := DecodeBase64("-_-_"); err == nil {
		t.Error("DecodeBase64 accepted the URL-safe alphabet")
	}
}

func TestBase64Rejects(t *testing.T) {
	for _, s := range []string{
		"Z",       // impossible length
		"Zg=",     // padding to a length that is not a multiple of 4
		"Zg===",   // too much padding
		"Z===",    // too much padding
		"Zm9v\n",  // line break (encoding/base64 would skip it)
		"Zm\r9v",  // carriage return
		"Zm9v Yg", // space
		"Zg=a",    // padding in the middle
		"Zm9v*",   // not in the alphabet
	} {
		if got, err := DecodeBase64(s); err == nil {
			t.Errorf("DecodeBase64(%q) = %q, want an error", s, got)
		}
	}
}
