package federation

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

// specSeed is the signing key seed of the spec's cryptographic test
// vectors (appendices, "Signing Key").
const specSeed = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"

func specKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed, err := mxcore.DecodeBase64(specSeed)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// The names of the spec's request authentication example.
const (
	exampleOrigin      = "origin.hs.example.com"
	exampleDestination = "destination.hs.example.com"
	exampleKeyID       = "ed25519:key1"
)

// TestSignRequestMatchesSpecExample signs the spec's example request and
// checks the result against the spec's two steps done independently:
// signing the step-1 JSON object with the JSON signing algorithm, then
// writing the step-2 header.
func TestSignRequestMatchesSpecExample(t *testing.T) {
	priv := specKey(t)
	content := []byte(`{"a_key":"a value","nested":{"n":1,"list":[1,2]}}`)
	auth, err := SignRequest("POST", "/target", exampleOrigin, exampleDestination, content, exampleKeyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	step1 := `{"method":"POST","uri":"/target","origin":"origin.hs.example.com",` +
		`"destination":"destination.hs.example.com","content":` + string(content) + `}`
	signed, err := mxcore.SignJSON([]byte(step1), exampleOrigin, exampleKeyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(signed), `"`+auth.Signature+`"`) {
		t.Fatalf("signature %s differs from the JSON signing algorithm's: %s", auth.Signature, signed)
	}
	want := `X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="` + auth.Signature + `"`
	if got := auth.String(); got != want {
		t.Errorf("header\n got %s\nwant %s", got, want)
	}
	if err := VerifyRequest("POST", "/target", content, auth, exampleDestination, priv.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("VerifyRequest of the signed example: %v", err)
	}
}

// TestSignRequestWithoutBody: a GET has no content member at all.
func TestSignRequestWithoutBody(t *testing.T) {
	priv := specKey(t)
	auth, err := SignRequest("GET", "/_matrix/federation/v1/query/directory?room_alias=%23a%3Ab", exampleOrigin, exampleDestination, nil, exampleKeyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	step1 := `{"method":"GET","uri":"/_matrix/federation/v1/query/directory?room_alias=%23a%3Ab","origin":"origin.hs.example.com","destination":"destination.hs.example.com"}`
	signed, _ := mxcore.SignJSON([]byte(step1), exampleOrigin, exampleKeyID, priv)
	if !strings.Contains(string(signed), auth.Signature) {
		t.Fatalf("signature differs from signing %s", step1)
	}
}

func TestParseXMatrixSpecHeader(t *testing.T) {
	got, err := ParseXMatrix(`X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."`)
	if err != nil {
		t.Fatal(err)
	}
	want := XMatrix{Origin: exampleOrigin, Destination: exampleDestination, KeyID: exampleKeyID, Signature: "ABCDEF..."}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseXMatrixAcceptsWhatRFC9110Allows(t *testing.T) {
	cases := []struct {
		name, header string
		want         XMatrix
	}{
		{"scheme and names in any case, any order",
			`x-matrix SIG="s",Key="ed25519:1",Origin="o.example",DESTINATION="d.example"`,
			XMatrix{"o.example", "d.example", "ed25519:1", "s"}},
		{"whitespace around commas and equals",
			"X-Matrix  origin = \"o.example\" ,\tkey=\"ed25519:1\" , sig=\"s\"",
			XMatrix{"o.example", "", "ed25519:1", "s"}},
		{"unquoted tokens, colons allowed for older senders",
			`X-Matrix origin=o.example:8448,destination=d.example,key=ed25519:1,sig=abc+def`,
			XMatrix{"o.example:8448", "d.example", "ed25519:1", "abc+def"}},
		{"escapes in quoted values",
			`X-Matrix origin="o\.example",key="ed25519:\"1\\",sig="s"`,
			XMatrix{"o.example", "", `ed25519:"1\`, "s"}},
		{"unknown parameters and empty list elements ignored",
			`X-Matrix ,origin="o.example",,future="x, y",key="ed25519:1",sig="s",`,
			XMatrix{"o.example", "", "ed25519:1", "s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseXMatrix(tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseXMatrixRefusesMalformed(t *testing.T) {
	cases := map[string]string{
		"missing sig":          `X-Matrix origin="o",key="ed25519:1"`,
		"missing origin":       `X-Matrix key="ed25519:1",sig="s"`,
		"empty origin":         `X-Matrix origin="",key="ed25519:1",sig="s"`,
		"repeated parameter":   `X-Matrix origin="o",origin="p",key="ed25519:1",sig="s"`,
		"unterminated quote":   `X-Matrix origin="o,key="ed25519:1",sig="s`,
		"no equals":            `X-Matrix origin "o",key="ed25519:1",sig="s"`,
		"no comma":             `X-Matrix origin="o" key="ed25519:1",sig="s"`,
		"slash unquoted":       `X-Matrix origin=o,key=ed25519:1,sig=ab/cd`,
		"control in quotes":    "X-Matrix origin=\"o\x01\",key=\"ed25519:1\",sig=\"s\"",
		"no parameters at all": `X-Matrix `,
		"missing value":        `X-Matrix origin=,key="ed25519:1",sig="s"`,
	}
	for name, header := range cases {
		if got, err := ParseXMatrix(header); !errors.Is(err, errMalformedXMatrix) {
			t.Errorf("%s: got %+v, %v; want errMalformedXMatrix", name, got, err)
		}
	}
	for _, header := range []string{`Bearer abc`, `X-Matrixorigin="o"`, ``, `XMatrix origin="o",key="k",sig="s"`} {
		if _, err := ParseXMatrix(header); !errors.Is(err, errNotXMatrix) {
			t.Errorf("%q: %v, want errNotXMatrix", header, err)
		}
	}
}

func TestXMatrixStringRoundTrips(t *testing.T) {
	x := XMatrix{Origin: `odd"name\`, Destination: "[::1]:8448", KeyID: "ed25519:a_b", Signature: "x/y+z"}
	got, err := ParseXMatrix(x.String())
	if err != nil || got != x {
		t.Fatalf("round trip of %s: %+v, %v", x, got, err)
	}
}

// TestVerifyRequestRefusesTampering changes each signed part in turn.
func TestVerifyRequestRefusesTampering(t *testing.T) {
	priv := specKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	const uri = "/_matrix/federation/v1/send/txn1?x=1"
	content := []byte(`{"pdus":[],"edus":[{"edu_type":"m.typing"}]}`)
	auth, err := SignRequest("PUT", uri, exampleOrigin, exampleDestination, content, exampleKeyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	otherPub := otherPriv.Public().(ed25519.PublicKey)
	withOrigin := auth
	withOrigin.Origin = "evil.example.com"
	truncated := auth
	truncated.Signature = auth.Signature[:40]
	notBase64 := auth
	notBase64.Signature = "!!" + auth.Signature[2:]
	cases := []struct {
		name, method, uri, ourName string
		content                    []byte
		auth                       XMatrix
		pub                        ed25519.PublicKey
	}{
		{"method", "POST", uri, exampleDestination, content, auth, pub},
		{"path", "PUT", "/_matrix/federation/v1/send/txn2?x=1", exampleDestination, content, auth, pub},
		{"query", "PUT", "/_matrix/federation/v1/send/txn1?x=2", exampleDestination, content, auth, pub},
		{"body", "PUT", uri, exampleDestination, []byte(`{"pdus":[],"edus":[]}`), auth, pub},
		{"body dropped", "PUT", uri, exampleDestination, nil, auth, pub},
		{"origin", "PUT", uri, exampleDestination, content, withOrigin, pub},
		{"destination", "PUT", uri, "other.example.com", content, auth, pub},
		{"key", "PUT", uri, exampleDestination, content, auth, otherPub},
		{"truncated signature", "PUT", uri, exampleDestination, content, truncated, pub},
		{"signature not base64", "PUT", uri, exampleDestination, content, notBase64, pub},
	}
	for _, tc := range cases {
		err := VerifyRequest(tc.method, tc.uri, tc.content, tc.auth, tc.ourName, tc.pub)
		if !errors.Is(err, mxcore.ErrSignatureInvalid) {
			t.Errorf("tampered %s: %v, want ErrSignatureInvalid", tc.name, err)
		}
	}
	// Key order and whitespace in the body are not part of what is signed.
	reordered := []byte("{ \"edus\": [{\"edu_type\": \"m.typing\"}], \"pdus\": [] }")
	if err := VerifyRequest("PUT", uri, reordered, auth, exampleDestination, pub); err != nil {
		t.Errorf("same body written differently: %v", err)
	}
}

func TestRequestSigningJSONRefusesSplicedBody(t *testing.T) {
	if _, err := requestSigningJSON("PUT", "/x", "o", "d", []byte(`{},"uri":"/y"`)); err == nil {
		t.Error("a body that is not one JSON value was accepted")
	}
}
