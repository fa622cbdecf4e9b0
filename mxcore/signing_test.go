package mxcore

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

// The spec appendix "Cryptographic Test Vectors" sign as server "domain"
// with key "ed25519:1" derived from this seed.
const (
	specSeed       = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
	specServerName = "domain"
	specKeyID      = "ed25519:1"
)

func specSigningKey(t testing.TB) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	seed, err := DecodeBase64(specSeed)
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return priv, priv.Public().(ed25519.PublicKey)
}

// assertSameJSON compares two JSON texts by their canonical forms.
func assertSameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	gotCanon, err := CanonicalJSON(got)
	if err != nil {
		t.Fatalf("result is not canonicalisable: %v\n%s", err, got)
	}
	wantCanon, err := CanonicalJSON([]byte(want))
	if err != nil {
		t.Fatalf("expectation is not canonicalisable: %v", err)
	}
	if string(gotCanon) != string(wantCanon) {
		t.Errorf("got  %s\nwant %s", gotCanon, wantCanon)
	}
}

func TestSignJSONSpecVectors(t *testing.T) {
	priv, pub := specSigningKey(t)
	tests := []struct{ name, in, want string }{
		{"empty object", `{}`, `{
    "signatures": {
        "domain": {
            "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
        }
    }
}`},
		{"data values", `{
    "one": 1,
    "two": "Two"
}`, `{
    "one": 1,
    "signatures": {
        "domain": {
            "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
        }
    },
    "two": "Two"
}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signed, err := SignJSON([]byte(tc.in), specServerName, specKeyID, priv)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, signed, tc.want)
			if err := VerifyJSON([]byte(tc.want), specServerName, specKeyID, pub); err != nil {
				t.Errorf("VerifyJSON(spec output): %v", err)
			}
		})
	}
}

func TestSignJSONKeepsOtherSignaturesAndUnsigned(t *testing.T) {
	priv, pub := specSigningKey(t)
	in := `{"one":1,"unsigned":{"age_ts":5},"signatures":{"other.org":{"ed25519:x":"c2ln"},"domain":{"ed25519:old":"b2xk","ed25519:1":"stale"}}}`
	signed, err := SignJSON([]byte(in), specServerName, specKeyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	fresh := signatureIn(t, signed)
	if fresh == "stale" {
		t.Fatal("the old signature by the same key was kept")
	}
	assertSameJSON(t, signed, `{"one":1,"unsigned":{"age_ts":5},"signatures":{
		"other.org":{"ed25519:x":"c2ln"},
		"domain":{"ed25519:old":"b2xk","ed25519:1":"`+fresh+`"}}}`)
	if err := VerifyJSON(signed, specServerName, specKeyID, pub); err != nil {
		t.Errorf("VerifyJSON: %v", err)
	}
}

func signatureIn(t *testing.T, signed []byte) string {
	t.Helper()
	root, _, err := parseObject(signed)
	if err != nil {
		t.Fatal(err)
	}
	return field(field(field(root, "signatures"), specServerName), specKeyID).Str
}

func TestVerifyJSON(t *testing.T) {
	priv, pub := specSigningKey(t)
	signed, err := SignJSON([]byte(`{"a":"b","unsigned":{"x":1}}`), specServerName, specKeyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	sig := signatureIn(t, signed)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name    string
		json    string
		server  string
		keyID   string
		pub     ed25519.PublicKey
		wantErr error
	}{
		{"valid", string(signed), specServerName, specKeyID, pub, nil},
		{"unsigned may change", `{"a":"b","unsigned":{"x":2},"signatures":{"domain":{"ed25519:1":"` + sig + `"}}}`, specServerName, specKeyID, pub, nil},
		{"padded signature accepted", `{"a":"b","signatures":{"domain":{"ed25519:1":"` + sig + `=="}}}`, specServerName, specKeyID, pub, nil},
		{"whitespace and order do not matter", ` { "signatures" : {"domain":{"ed25519:1":"` + sig + `"}} , "a" : "b" }`, specServerName, specKeyID, pub, nil},
		{"content changed", `{"a":"c","signatures":{"domain":{"ed25519:1":"` + sig + `"}}}`, specServerName, specKeyID, pub, ErrSignatureInvalid},
		{"wrong key", string(signed), specServerName, specKeyID, otherPub, ErrSignatureInvalid},
		{"other server", string(signed), "elsewhere", specKeyID, pub, ErrSignatureMissing},
		{"other key ID", string(signed), specServerName, "ed25519:2", pub, ErrSignatureMissing},
		{"no signatures", `{"a":"b"}`, specServerName, specKeyID, pub, ErrSignatureMissing},
		{"signature not base64", `{"a":"b","signatures":{"domain":{"ed25519:1":"!!"}}}`, specServerName, specKeyID, pub, ErrSignatureInvalid},
		{"signature too short", `{"a":"b","signatures":{"domain":{"ed25519:1":"c2ln"}}}`, specServerName, specKeyID, pub, ErrSignatureInvalid},
	}
	for _, tc := range tests {
		err := VerifyJSON([]byte(tc.json), tc.server, tc.keyID, tc.pub)
		if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: VerifyJSON = %v, want %v", tc.name, err, tc.wantErr)
		}
	}
}

func TestSignJSONRejects(t *testing.T) {
	priv, _ := specSigningKey(t)
	tests := []struct{ name, json, keyID string }{
		{"not an object", `[1]`, specKeyID},
		{"not JSON", `{`, specKeyID},
		{"float", `{"a":1.5}`, specKeyID},
		{"signatures not an object", `{"signatures":[]}`, specKeyID},
		{"unknown algorithm", `{}`, "rsa:1"},
		{"bad key ID", `{}`, "ed25519"},
		{"bad key version", `{}`, "ed25519:a-b"},
	}
	for _, tc := range tests {
		if out, err := SignJSON([]byte(tc.json), specServerName, tc.keyID, priv); err == nil {
			t.Errorf("%s: SignJSON = %s, want an error", tc.name, out)
		}
	}
}

func TestParseKeyID(t *testing.T) {
	id, err := ParseKeyID("ed25519:a_B9")
	if err != nil || id.Algorithm() != "ed25519" || id.Version() != "a_B9" {
		t.Errorf("ParseKeyID = %q (%q, %q), %v", id, id.Algorithm(), id.Version(), err)
	}
	for _, bad := range []string{"", "ed25519", "ed25519:", ":abc", "ed25519:a:b", "ed25519:a.b"} {
		if _, err := ParseKeyID(bad); err == nil {
			t.Errorf("ParseKeyID(%q) accepted", bad)
		}
	}
}

// Server names and key IDs are full of characters gjson paths treat as
// syntax; signing and verifying must take them literally.
func TestSignJSONLiteralNames(t *testing.T) {
	priv, pub := specSigningKey(t)
	names := []string{"example.org:8448", "[::1]:80", "1.2.3.4", "a-b.c"}
	obj := []byte(`{"a":1,"signatures":{"example":{"ed25519:1":"other"}}}`)
	var err error
	for _, name := range names {
		if obj, err = SignJSON(obj, name, "ed25519:k_1", priv); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		if err := VerifyJSON(obj, name, "ed25519:k_1", pub); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := VerifyJSON(obj, "example", "ed25519:k_1", pub); !errors.Is(err, ErrSignatureMissing) {
		t.Errorf("example (a prefix of example.org): %v", err)
	}
	if sig := field(field(topLevelField(obj, "signatures"), "example"), "ed25519:1"); sig.Str != "other" {
		t.Errorf("unrelated signature lost: %s", obj)
	}
}

func TestVerifyJSONAcceptsOffGrammarKeyVersions(t *testing.T) {
	priv, pub := specSigningKey(t)
	const keyID = "ed25519:a+b/c-d"
	if _, err := SignJSON([]byte(`{}`), specServerName, keyID, priv); err == nil {
		t.Error("signed with a key version outside [a-zA-Z0-9_]")
	}
	sig, err := signatureOf([]byte(`{"x":1}`), specKeyID, priv, canonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obj := `{"x":1,"signatures":{"domain":{"` + keyID + `":"` + sig + `"}}}`
	if err := VerifyJSON([]byte(obj), specServerName, keyID, pub); err != nil {
		t.Errorf("VerifyJSON with key version from another server: %v", err)
	}
	if err := VerifyJSON([]byte(obj), specServerName, "curve25519:x", pub); err == nil {
		t.Error("verified with a non-ed25519 key ID")
	}
}
