package roomserver

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/tidwall/gjson"
)

// An identity server key and one for somebody else, from fixed seeds.
var (
	isKey    = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	otherKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
)

func pubB64(k ed25519.PrivateKey, enc *base64.Encoding) string {
	return enc.EncodeToString(k.Public().(ed25519.PublicKey))
}

// tpiSignature signs the canonical form of {"mxid": mxid, "token": token},
// written out by hand so the test does not rely on the encoder under test.
func tpiSignature(k ed25519.PrivateKey, mxid, token string) string {
	msg := `{"mxid":` + strconv.Quote(mxid) + `,"token":` + strconv.Quote(token) + `}`
	return base64.RawStdEncoding.EncodeToString(ed25519.Sign(k, []byte(msg)))
}

// tpiInvite is bob's invite of carol redeeming the third-party invite "tok".
func tpiInvite(sender, signedJSON string) evSpec {
	return memberEv(sender, uCarol, "invite", `,"third_party_invite":{"display_name":"c***@example.org","signed":`+signedJSON+`}`)
}

func signedBy(k ed25519.PrivateKey, mxid, token string) string {
	return `{"mxid":` + strconv.Quote(mxid) + `,"token":` + strconv.Quote(token) +
		`,"signatures":{"id.example.org":{"ed25519:0":"` + tpiSignature(k, mxid, token) + `"}}}`
}

func TestAuthorizeThirdPartyInvite(t *testing.T) {
	tpiEvent := func(content string) evSpec { return stateEv(mRoomThirdPartyInvite, "tok", uBob, content) }
	single := tpiEvent(`{"display_name":"c***","key_validity_url":"https://id.example.org/v","public_key":"` + pubB64(isKey, base64.RawStdEncoding) + `"}`)
	listed := tpiEvent(`{"display_name":"c***","public_key":"` + pubB64(otherKey, base64.RawStdEncoding) +
		`","public_keys":[{"public_key":"` + pubB64(isKey, base64.RawURLEncoding) + `"}]}`)
	good := signedBy(isKey, uCarol, "tok")
	runAuthCases(t, []authCase{
		{name: "valid", state: []evSpec{single}, event: tpiInvite(uBob, good)},
		{name: "key from public_keys, URL-safe", state: []evSpec{listed}, event: tpiInvite(uBob, good)},
		{name: "padded key", state: []evSpec{tpiEvent(`{"public_key":"` + pubB64(isKey, base64.StdEncoding) + `"}`)}, event: tpiInvite(uBob, good)},
		{name: "extra signed keys are covered", state: []evSpec{single},
			event: tpiInvite(uBob, `{"token":"tok","mxid":"@carol:c.test","signatures":{"x":{"ed25519:1":"`+tpiSignature(isKey, uCarol, "tok")+`"}},"unsigned":{"a":1}}`)},
		{name: "target banned", state: []evSpec{single, memberEv(uMod, uCarol, "ban", "")}, event: tpiInvite(uBob, good), want: RuleInvite3PIDTargetBanned},
		{name: "no signed", state: []evSpec{single},
			event: memberEv(uBob, uCarol, "invite", `,"third_party_invite":{"display_name":"c"}`), want: RuleInvite3PIDNoSigned},
		{name: "no token", state: []evSpec{single}, event: tpiInvite(uBob, `{"mxid":"@carol:c.test","signatures":{}}`), want: RuleInvite3PIDSignedFields},
		{name: "no mxid", state: []evSpec{single}, event: tpiInvite(uBob, `{"token":"tok","signatures":{}}`), want: RuleInvite3PIDSignedFields},
		{name: "mxid not the invitee", state: []evSpec{single}, event: tpiInvite(uBob, signedBy(isKey, uMod, "tok")), want: RuleInvite3PIDMXIDMismatch},
		{name: "unknown token", state: []evSpec{single}, event: tpiInvite(uBob, signedBy(isKey, uCarol, "other")), want: RuleInvite3PIDNoInviteEvent},
		{name: "sender did not issue it", state: []evSpec{single}, event: tpiInvite(uMod, good), want: RuleInvite3PIDSenderMismatch},
		{name: "signed by another key", state: []evSpec{single}, event: tpiInvite(uBob, signedBy(otherKey, uCarol, "tok")), want: RuleInvite3PIDSignature},
		{name: "signature over other content", state: []evSpec{single},
			event: tpiInvite(uBob, `{"mxid":"@carol:c.test","token":"tok","extra":1,"signatures":{"x":{"ed25519:0":"`+tpiSignature(isKey, uCarol, "tok")+`"}}}`),
			want:  RuleInvite3PIDSignature},
		{name: "not an ed25519 signature", state: []evSpec{single},
			event: tpiInvite(uBob, `{"mxid":"@carol:c.test","token":"tok","signatures":{"x":{"curve:0":"`+tpiSignature(isKey, uCarol, "tok")+`"}}}`),
			want:  RuleInvite3PIDSignature},
		{name: "no usable key", state: []evSpec{tpiEvent(`{"public_key":"short"}`)}, event: tpiInvite(uBob, good), want: RuleInvite3PIDSignature},
	})
}

// The signed bytes of a third-party invite are the canonical JSON of the
// "signed" object without "signatures" and "unsigned".
func TestInviteSignedMessage(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"token": "t", "mxid": "@c:c.test", "signatures": {"x": {}}, "unsigned": {"a": 1}}`, `{"mxid":"@c:c.test","token":"t"}`},
		{`{"b": "2", "a": "1"}`, `{"a":"1","b":"2"}`},
		{`{"a": [3, {"z": null, "y": true}, false]}`, `{"a":[3,{"y":true,"z":null},false]}`},
		{`{"本": "日本語", "a": "\u65E5"}`, `{"a":"日","本":"日本語"}`},
		{`{"a": "\u0000\b\t\n\f\r\u001f\"\\/\u2028"}`, "{\"a\":\"\\u0000\\b\\t\\n\\f\\r\\u001f\\\"\\\\/\u2028\"}"},
		{`{"a": -0}`, `{"a":0}`},
	}
	for _, tc := range cases {
		got, ok := inviteSignedMessage(gjson.Parse(tc.in))
		if !ok || string(got) != tc.want {
			t.Errorf("signed bytes of %s = %s, %v; want %s", tc.in, got, ok, tc.want)
		}
	}
	for _, bad := range []string{`{"a": 1.5}`, `{"a": 1, "a": 2}`, `{"a": 99999999999999999999}`, `[1]`, `"s"`} {
		if got, ok := inviteSignedMessage(gjson.Parse(bad)); ok {
			t.Errorf("signed bytes of %s = %s, want failure", bad, got)
		}
	}
}
