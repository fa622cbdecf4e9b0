package federation

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchTransaction is a /send body of 10 small PDUs, about 4 KB.
func benchTransaction() []byte {
	var pdus []string
	for i := range 10 {
		pdus = append(pdus, fmt.Sprintf(`{"type":"m.room.message","room_id":"!r:origin.hs.example.com",`+
			`"sender":"@u%d:origin.hs.example.com","origin_server_ts":%d,"depth":%d,`+
			`"content":{"msgtype":"m.text","body":"message number %d with some text in it"},`+
			`"prev_events":["$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"],"auth_events":[],`+
			`"hashes":{"sha256":"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"},`+
			`"signatures":{"origin.hs.example.com":{"ed25519:key1":"%s"}}}`, i, 1_760_000_000_000+i, i, i, strings.Repeat("s", 86)))
	}
	return []byte(`{"origin":"origin.hs.example.com","origin_server_ts":1760000000000,"pdus":[` + strings.Join(pdus, ",") + `],"edus":[]}`)
}

// BenchmarkVerifyRequest measures what the middleware adds to an inbound
// /send with its key cached: header parsing, body read and check,
// canonical JSON and one ed25519 verification.
func BenchmarkVerifyRequest(b *testing.B) {
	body := benchTransaction()
	auth := &Authenticator{ServerName: ourName, Keys: staticKeys{exampleOrigin + " " + exampleKeyID: specKey(b).Public().(ed25519.PublicKey)}}
	const uri = "/_matrix/federation/v1/send/1760000000000"
	signed := signedRequest(b, "PUT", uri, ourName, body)
	header := signed.Header.Get("Authorization")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("PUT", uri, bytes.NewReader(body))
		req.Header.Set("Authorization", header)
		if _, _, err := auth.Authenticate(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignRequest(b *testing.B) {
	body := benchTransaction()
	priv := specKey(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignRequest("PUT", "/_matrix/federation/v1/send/1", exampleOrigin, ourName, body, exampleKeyID, priv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseXMatrix(b *testing.B) {
	header := `X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="` + strings.Repeat("A", 86) + `"`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseXMatrix(header); err != nil {
			b.Fatal(err)
		}
	}
}
