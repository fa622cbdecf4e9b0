package mxcore

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func mustVersion(t testing.TB, id string) RoomVersion {
	t.Helper()
	v, ok := GetRoomVersion(id)
	if !ok {
		t.Fatalf("unknown room version %s", id)
	}
	return v
}

// The spec appendix "Event Signing" vectors, inputs and outputs verbatim.
var specEventSigningVectors = []struct{ name, in, want string }{
	{"minimal event", `{
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "signatures": {},
    "hashes": {},
    "type": "X",
    "content": {},
    "prev_events": [],
    "auth_events": [],
    "depth": 3,
    "unsigned": {
        "age_ts": 1000000
    }
}`, `{
    "auth_events": [],
    "content": {},
    "depth": 3,
    "hashes": {
        "sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "prev_events": [],
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
        }
    },
    "type": "X",
    "unsigned": {
        "age_ts": 1000000
    }
}`},
	{"redactable content", `{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {},
    "unsigned": {
        "age_ts": 1000000
    }
}`, `{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "hashes": {
        "sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
        }
    },
    "unsigned": {
        "age_ts": 1000000
    }
}`},
}

// TestSignEventSpecVectors hashes and signs the spec's events. The
// vectors keep the top-level "origin" in the signed part, so they hold for
// the redaction algorithms of room versions 1–10 (v11 stops keeping it).
func TestSignEventSpecVectors(t *testing.T) {
	priv, pub := specSigningKey(t)
	for _, tc := range specEventSigningVectors {
		for _, verID := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"} {
			t.Run(tc.name+"/v"+verID, func(t *testing.T) {
				ver := mustVersion(t, verID)
				hashed, err := AddContentHash([]byte(tc.in))
				if err != nil {
					t.Fatal(err)
				}
				signed, err := SignEvent(hashed, specServerName, specKeyID, priv, ver)
				if err != nil {
					t.Fatal(err)
				}
				assertSameJSON(t, signed, tc.want)
				if err := CheckContentHash([]byte(tc.want)); err != nil {
					t.Errorf("CheckContentHash(spec output): %v", err)
				}
				if err := VerifyEventSignature([]byte(tc.want), specServerName, specKeyID, pub, ver); err != nil {
					t.Errorf("VerifyEventSignature(spec output): %v", err)
				}
			})
		}
	}
}

func TestVerifyEventSignatureSurvivesRedaction(t *testing.T) {
	priv, pub := specSigningKey(t)
	for _, verID := range KnownRoomVersions() {
		ver := mustVersion(t, verID)
		event := []byte(`{"type":"m.room.message","room_id":"!r:domain","sender":"@u:domain","origin_server_ts":1,
			"depth":2,"prev_events":[],"auth_events":[],"content":{"body":"secret"},"unsigned":{"age":3}}`)
		event, err := AddContentHash(event)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := SignEvent(event, specServerName, specKeyID, priv, ver)
		if err != nil {
			t.Fatal(err)
		}
		redacted, err := Redact(signed, ver)
		if err != nil {
			t.Fatal(err)
		}
		for name, js := range map[string][]byte{"full": signed, "redacted": redacted} {
			if err := VerifyEventSignature(js, specServerName, specKeyID, pub, ver); err != nil {
				t.Errorf("v%s %s: %v", verID, name, err)
			}
		}
		if err := CheckContentHash(signed); err != nil {
			t.Errorf("v%s: CheckContentHash(full): %v", verID, err)
		}
		if err := CheckContentHash(redacted); !errors.Is(err, ErrContentHashMismatch) {
			t.Errorf("v%s: CheckContentHash(redacted) = %v, want a mismatch", verID, err)
		}
		tampered := []byte(strings.Replace(string(signed), `"depth":2`, `"depth":5`, 1))
		if err := VerifyEventSignature(tampered, specServerName, specKeyID, pub, ver); !errors.Is(err, ErrSignatureInvalid) {
			t.Errorf("v%s: tampered depth verified: %v", verID, err)
		}
	}
}

func TestContentHash(t *testing.T) {
	base := `{"content":{"b":1},"type":"X"}`
	want := sha256.Sum256([]byte(base))
	// unsigned, signatures and hashes are left out; order and space don't matter.
	for _, js := range []string{
		base,
		`{"type":"X","content":{"b":1},"unsigned":{"age":1},"signatures":{"a":{}},"hashes":{"sha256":"x"}}`,
		" {\n\"type\" : \"X\", \"content\":{\"b\":1}}",
	} {
		got, err := ContentHash([]byte(js))
		if err != nil || string(got) != string(want[:]) {
			t.Errorf("ContentHash(%s) = %x, %v; want %x", js, got, err, want)
		}
	}
	for _, bad := range []string{`[]`, `{"a":1,"a":1}`, `{`} {
		if _, err := ContentHash([]byte(bad)); err == nil {
			t.Errorf("ContentHash(%s) accepted", bad)
		}
	}
}

func TestCheckContentHashFailures(t *testing.T) {
	for _, js := range []string{
		`{"type":"X"}`,
		`{"type":"X","hashes":{}}`,
		`{"type":"X","hashes":{"sha256":5}}`,
		`{"type":"X","hashes":{"sha256":"!!"}}`,
		`{"type":"X","hashes":{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"}}`,
	} {
		if err := CheckContentHash([]byte(js)); !errors.Is(err, ErrContentHashMismatch) {
			t.Errorf("CheckContentHash(%s) = %v, want a mismatch", js, err)
		}
	}
}

func TestAddContentHashKeepsOtherAlgorithms(t *testing.T) {
	out, err := AddContentHash([]byte(`{"type":"X","hashes":{"sha512":"keep","sha256":"old"}}`))
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := ContentHash(out)
	assertSameJSON(t, out, `{"type":"X","hashes":{"sha512":"keep","sha256":"`+EncodeBase64(sum)+`"}}`)
	if err := CheckContentHash(out); err != nil {
		t.Error(err)
	}
}

// referenceHashByHand follows the spec's steps with the package's own
// pieces, for comparing with ReferenceHash.
func referenceHashByHand(t *testing.T, event string, ver RoomVersion) []byte {
	t.Helper()
	redacted, err := Redact([]byte(event), ver)
	if err != nil {
		t.Fatal(err)
	}
	stripped, err := canonicalJSON(redacted, canonOptions{lax: true, skipTop: []string{"signatures", "unsigned"}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(stripped)
	return sum[:]
}

const referenceHashEvent = `{"type":"m.room.message","room_id":"!r:example.org","sender":"@u:example.org",
	"origin":"example.org","origin_server_ts":1,"depth":2,"prev_events":["$a"],"auth_events":["$b"],
	"content":{"body":"x"},"hashes":{"sha256":"abc"},"signatures":{"example.org":{"ed25519:1":"sig"}},
	"unsigned":{"age":5},"age_ts":7}`

func TestReferenceHashAndEventIDs(t *testing.T) {
	v3, v4, v11 := mustVersion(t, "3"), mustVersion(t, "4"), mustVersion(t, "11")
	sum, err := ReferenceHash([]byte(referenceHashEvent), v4)
	if err != nil {
		t.Fatal(err)
	}
	if want := referenceHashByHand(t, referenceHashEvent, v4); string(sum) != string(want) {
		t.Errorf("ReferenceHash = %x, want %x", sum, want)
	}
	// Signatures, unsigned, age_ts and content outside the kept keys don't count.
	variant := strings.NewReplacer(`"sig"`, `"other"`, `"age":5`, `"age":6`, `"age_ts":7`, `"age_ts":8`, `"body":"x"`, `"body":"y"`).Replace(referenceHashEvent)
	if other, _ := ReferenceHash([]byte(variant), v4); string(other) != string(sum) {
		t.Error("reference hash depends on a key redaction removes")
	}
	// The content hash does count.
	if other, _ := ReferenceHash([]byte(strings.Replace(referenceHashEvent, `"abc"`, `"abd"`, 1)), v4); string(other) == string(sum) {
		t.Error("reference hash ignores the content hash")
	}
	// v11 no longer keeps "origin", so the hash differs.
	if other, _ := ReferenceHash([]byte(referenceHashEvent), v11); string(other) == string(sum) {
		t.Error("v4 and v11 reference hashes agree although v11 drops origin")
	}

	id3, err := EventIDFor([]byte(referenceHashEvent), v3)
	if err != nil || id3 != "$"+EncodeBase64(sum) {
		t.Errorf("v3 event ID = %q, %v; want $%s", id3, err, EncodeBase64(sum))
	}
	id4, err := EventIDFor([]byte(referenceHashEvent), v4)
	if err != nil || id4 != "$"+EncodeBase64URL(sum) {
		t.Errorf("v4 event ID = %q, %v; want $%s", id4, err, EncodeBase64URL(sum))
	}
	if len(id4) != 44 || strings.ContainsAny(id4, "+/=") {
		t.Errorf("v4 event ID %q is not 43 URL-safe characters after $", id4)
	}
}

func TestEventIDForExplicitVersions(t *testing.T) {
	v1 := mustVersion(t, "1")
	id, err := EventIDFor([]byte(`{"event_id":"$abc:example.org","type":"X"}`), v1)
	if err != nil || id != "$abc:example.org" {
		t.Errorf("EventIDFor v1 = %q, %v", id, err)
	}
	for _, bad := range []string{`{"type":"X"}`, `{"event_id":5}`, `{"event_id":"abc"}`} {
		if id, err := EventIDFor([]byte(bad), v1); err == nil {
			t.Errorf("EventIDFor(%s) = %q, want an error", bad, id)
		}
	}
}

func TestRoomIDFromCreateEvent(t *testing.T) {
	v11, v12 := mustVersion(t, "11"), mustVersion(t, "12")
	create := `{"type":"m.room.create","state_key":"","sender":"@a:example.org","content":{"room_version":"12"},
		"origin_server_ts":1,"depth":1,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`
	roomID, err := RoomIDFromCreateEvent([]byte(create), v12)
	if err != nil {
		t.Fatal(err)
	}
	eventID, _ := EventIDFor([]byte(create), v12)
	if roomID != "!"+eventID[1:] {
		t.Errorf("room ID %q is not the create event ID %q with '!'", roomID, eventID)
	}
	old := `{"type":"m.room.create","room_id":"!old:example.org","content":{}}`
	if roomID, err := RoomIDFromCreateEvent([]byte(old), v11); err != nil || roomID != "!old:example.org" {
		t.Errorf("v11: RoomIDFromCreateEvent = %q, %v", roomID, err)
	}
	if _, err := RoomIDFromCreateEvent([]byte(`{"type":"m.room.member","content":{}}`), v12); err == nil {
		t.Error("accepted a non-create event")
	}
}

func BenchmarkReferenceHash(b *testing.B) {
	ver := mustVersion(b, "12")
	in := []byte(benchmarkEvent)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReferenceHash(in, ver); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContentHash(b *testing.B) {
	in := []byte(benchmarkEvent)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ContentHash(in); err != nil {
			b.Fatal(err)
		}
	}
}
