package mxcore

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
)

// The examples of the spec appendix "Canonical JSON", inputs verbatim.
var specCanonicalExamples = []struct{ in, want string }{
	{`{}`, `{}`},
	{`{
    "one": 1,
    "two": "Two"
}`, `{"one":1,"two":"Two"}`},
	{`{
    "b": "2",
    "a": "1"
}`, `{"a":"1","b":"2"}`},
	{`{"b":"2","a":"1"}`, `{"a":"1","b":"2"}`},
	{`{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`, `{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}`},
	{`{
    "a": "日本語"
}`, `{"a":"日本語"}`},
	{`{
    "本": 2,
    "日": 1
}`, `{"日":1,"本":2}`},
	{`{
    "a": "\u65E5"
}`, `{"a":"日"}`},
	{`{
    "a": null
}`, `{"a":null}`},
	{`{
    "a": -0,
    "b": 1e10
}`, `{"a":0,"b":10000000000}`},
}

func TestCanonicalJSONSpecExamples(t *testing.T) {
	for _, tc := range specCanonicalExamples {
		got, err := CanonicalJSON([]byte(tc.in))
		if err != nil {
			t.Errorf("CanonicalJSON(%s): %v", tc.in, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("CanonicalJSON(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func TestCanonicalJSONStrings(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"short escapes", `"\" \\ \/ \b \f \n \r \t"`, `"\" \\ / \b \f \n \r \t"`},
		{"control chars lower-case hex", `"\u0000\u0001\u001F\u000b\u007f"`, "\"\\u0000\\u0001\\u001f\\u000b\x7f\""},
		{"escaped BMP char becomes UTF-8", `"\u00e9\u20AC"`, `"é€"`},
		{"surrogate pair becomes UTF-8", `"\ud83d\ude00"`, `"😀"`},
		{"raw UTF-8 kept", `"😀 ü"`, `"😀 ü"`},
		{"U+2028 kept raw", "\"\u2028\"", "\"\u2028\""},
		{"real U+FFFD kept", "\"\uFFFD\"", "\"\uFFFD\""},
		{"empty", `""`, `""`},
	}
	for _, tc := range tests {
		got, err := CanonicalJSON([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: CanonicalJSON(%s) = %s, %v; want %s", tc.name, tc.in, got, err, tc.want)
		}
	}
}

func TestCanonicalJSONKeyOrder(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"code point order, not escaped-byte order", `{"a":1,"\n":2,"\"":3,"\\":4}`, `{"\n":2,"\"":3,"\\":4,"a":1}`},
		{"escaped key sorts by its character", `{"\u0062":1,"a":2}`, `{"a":2,"b":1}`},
		{"astral after BMP", `{"😀":1,"￿":2,"a":3}`, `{"a":3,"￿":2,"😀":1}`},
		{"prefix first", `{"ab":1,"a":2,"":3}`, `{"":3,"a":2,"ab":1}`},
		{"nested objects sorted", `{"z":{"b":[{"d":1,"c":2}],"a":0},"y":[]}`, `{"y":[],"z":{"a":0,"b":[{"c":2,"d":1}]}}`},
		{"whitespace everywhere", " \t\r\n{ \"b\" : [ 1 , 2 ] , \"a\" : { } } \n", `{"a":{},"b":[1,2]}`},
	}
	for _, tc := range tests {
		got, err := CanonicalJSON([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: CanonicalJSON(%s) = %s, %v; want %s", tc.name, tc.in, got, err, tc.want)
		}
	}
}

func TestCanonicalJSONNumbers(t *testing.T) {
	tests := []struct{ in, want string }{
		{`0`, `0`},
		{`-0`, `0`},
		{`9007199254740991`, `9007199254740991`},
		{`-9007199254740991`, `-9007199254740991`},
		{`123`, `123`},
		{`1e10`, `10000000000`},
		{`1E+2`, `100`},
		{`1.5e1`, `15`},
		{`100e-2`, `1`},
		{`1.0`, `1`},
		{`-0.0`, `0`},
		{`0e999999999999999999`, `0`},
		{`-2.50e1`, `-25`},
		{`9.007199254740991e15`, `9007199254740991`},
	}
	for _, tc := range tests {
		got, err := CanonicalJSON([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("CanonicalJSON(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestCanonicalJSONLaxNumbers(t *testing.T) {
	tests := []struct{ in, want string }{
		{`9007199254740992`, `9007199254740992`},
		{`-123456789012345678901234567890`, `-123456789012345678901234567890`},
		{`1.5`, `1.5`},
		{`-0.25`, `-0.25`},
		{`1e16`, `1e+16`},
		{`1.5e300`, `1.5e+300`},
		{`0.0001`, `0.0001`},
		{`0.00001`, `1e-05`},
		{`1e15`, `1000000000000000`},
		{`9.1e15`, `9100000000000000.0`},
		{`123456789012345678e0`, `1.2345678901234568e+17`},
		{`1e-400`, `0`},
		{`1.0000000000000000001`, `1`},
		{`{"a":[1.5,2]}`, `{"a":[1.5,2]}`},
	}
	for _, tc := range tests {
		got, err := CanonicalJSONLax([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("CanonicalJSONLax(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
			continue
		}
		again, err := CanonicalJSONLax(got)
		if err != nil || string(again) != string(got) {
			t.Errorf("CanonicalJSONLax not stable on %s: %s, %v", got, again, err)
		}
	}
	if _, err := CanonicalJSONLax([]byte(`1e400`)); err == nil {
		t.Error("CanonicalJSONLax(1e400) accepted an infinite number")
	}
}

func TestCanonicalJSONRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty input", ``},
		{"only space", `  `},
		{"trailing data", `{} {}`},
		{"trailing comma in object", `{"a":1,}`},
		{"trailing comma in array", `[1,]`},
		{"missing colon", `{"a" 1}`},
		{"non-string key", `{1:2}`},
		{"single quotes", `{'a':1}`},
		{"duplicate key", `{"a":1,"a":2}`},
		{"duplicate key unsorted", `{"b":1,"a":2,"b":3}`},
		{"duplicate key via escape", `{"a":1,"\u0061":2}`},
		{"nested duplicate", `{"x":{"k":1,"k":1}}`},
		{"float", `1.5`},
		{"too big", `9007199254740992`},
		{"too small", `-9007199254740992`},
		{"exponent too big", `1e16`},
		{"leading zero", `01`},
		{"bare minus", `-`},
		{"dot without digits", `1.`},
		{"exponent without digits", `1e`},
		{"plus sign", `+1`},
		{"NaN", `NaN`},
		{"Infinity", `Infinity`},
		{"lone high surrogate", `"\ud800"`},
		{"lone high surrogate then text", `"\ud800abc"`},
		{"high surrogate then non-low", `"\ud800\u0041"`},
		{"lone low surrogate", `"\udc00"`},
		{"invalid UTF-8", "\"\xff\""},
		{"UTF-8 encoded surrogate", "\"\xed\xa0\x80\""},
		{"overlong UTF-8", "\"\xc0\xaf\""},
		{"truncated UTF-8", "\"\xe6\x97\""},
		{"raw control char", "\"a\nb\""},
		{"raw tab", "\"a\tb\""},
		{"bad escape", `"\x41"`},
		{"short \\u", `"\u12"`},
		{"unterminated string", `"abc`},
		{"unterminated object", `{"a":1`},
		{"bad literal", `tru`},
		{"capital literal", `True`},
		{"BOM", "\xef\xbb\xbf{}"},
		{"too deep", strings.Repeat("[", maxJSONNesting+1) + strings.Repeat("]", maxJSONNesting+1)},
	}
	for _, tc := range tests {
		got, err := CanonicalJSON([]byte(tc.in))
		var jsonErr *JSONError
		if err == nil {
			t.Errorf("%s: CanonicalJSON(%q) = %s, want an error", tc.name, tc.in, got)
		} else if !errors.As(err, &jsonErr) {
			t.Errorf("%s: error %v is not a *JSONError", tc.name, err)
		}
	}
}

func TestCanonicalJSONNestingLimit(t *testing.T) {
	deepest := strings.Repeat("[", maxJSONNesting) + strings.Repeat("]", maxJSONNesting)
	if _, err := CanonicalJSON([]byte(deepest)); err != nil {
		t.Errorf("nesting of exactly %d refused: %v", maxJSONNesting, err)
	}
}

func TestCanonicalJSONSkipTopLevel(t *testing.T) {
	in := `{"unsigned":{"age":1},"b":1,"signatures":{},"a":{"signatures":2}}`
	got, err := canonicalJSON([]byte(in), canonOptions{skipTop: []string{"signatures", "unsigned"}})
	if want := `{"a":{"signatures":2},"b":1}`; err != nil || string(got) != want {
		t.Errorf("got %s, %v; want %s", got, err, want)
	}
	got, err = canonicalJSON([]byte(`{"signatures":1}`), canonOptions{skipTop: []string{"signatures"}})
	if err != nil || string(got) != `{}` {
		t.Errorf("only member skipped: got %s, %v", got, err)
	}
	_, err = canonicalJSON([]byte(`{"signatures":1,"signatures":2}`), canonOptions{skipTop: []string{"signatures"}})
	if err == nil {
		t.Error("duplicate skipped key accepted")
	}
	_, err = canonicalJSON([]byte(`{"signatures":1.5}`), canonOptions{skipTop: []string{"signatures"}})
	if err == nil {
		t.Error("invalid value under a skipped key accepted")
	}
}

func TestCanonicalJSONPlainIntegers(t *testing.T) {
	opts := canonOptions{plainIntegers: true}
	for _, in := range []string{`1.0`, `1e2`, `{"a":[-0.0]}`} {
		if _, err := canonicalJSON([]byte(in), opts); err == nil {
			t.Errorf("plainIntegers accepted %s", in)
		}
	}
	if got, err := canonicalJSON([]byte(`[-0,5]`), opts); err != nil || string(got) != `[0,5]` {
		t.Errorf("plainIntegers: got %s, %v", got, err)
	}
}

// FuzzCanonicalJSON checks that canonical output is a fixed point and
// means the same as the input, in both number modes.
func FuzzCanonicalJSON(f *testing.F) {
	for _, tc := range specCanonicalExamples {
		f.Add([]byte(tc.in))
	}
	for _, s := range []string{
		`{"a":"\ud83d\ude00","\n":[1,-0,1e3,{"b":null}],"c":true}`,
		`[1.5,9007199254740993,"\u0000",false]`,
		`{"\u00e9":1,"é":2}`,
		benchmarkEvent,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkCanonicalRoundTrip(t, in, CanonicalJSON)
		checkCanonicalRoundTrip(t, in, CanonicalJSONLax)
	})
}

func checkCanonicalRoundTrip(t *testing.T, in []byte, canon func([]byte) ([]byte, error)) {
	out, err := canon(in)
	inValue, inErr := decodeJSONNumbers(in)
	if err != nil {
		return
	}
	if inErr != nil {
		t.Fatalf("accepted %q, which encoding/json rejects (%v)", in, inErr)
	}
	again, err := canon(out)
	if err != nil || string(again) != string(out) {
		t.Fatalf("not stable: %q -> %q -> %q (%v)", in, out, again, err)
	}
	outValue, err := decodeJSONNumbers(out)
	if err != nil {
		t.Fatalf("output %q does not parse: %v", out, err)
	}
	if !sameJSONValue(inValue, outValue) {
		t.Fatalf("meaning changed: %q -> %q", in, out)
	}
}

// decodeJSONNumbers parses with encoding/json, keeping numbers as text
// so that integers beyond float64 (kept by the lax mode) still compare.
func decodeJSONNumbers(js []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the value")
	}
	return v, nil
}

// sameJSONValue compares decoded JSON. Numbers are equal when they are
// the same float64, or the same exact value for integers beyond float64
// (which the lax mode keeps digit for digit).
func sameJSONValue(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		return ok && sameNumber(a, b)
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, sameJSONValue)
	case map[string]any:
		b, ok := b.(map[string]any)
		return ok && maps.EqualFunc(a, b, sameJSONValue)
	}
	return a == b
}

func sameNumber(a, b json.Number) bool {
	fa, errA := a.Float64()
	fb, errB := b.Float64()
	if errA == nil && errB == nil {
		return fa == fb
	}
	// Exact comparison, only without exponents: big.Rat would expand
	// 1e999999999 digit by digit.
	if strings.ContainsAny(string(a)+string(b), "eE") {
		return false
	}
	ra, okA := new(big.Rat).SetString(string(a))
	rb, okB := new(big.Rat).SetString(string(b))
	return okA && okB && ra.Cmp(rb) == 0
}

const benchmarkEvent = `{
  "auth_events": ["$urlsafe_base64_encoded_eventid1", "$urlsafe_base64_encoded_eventid2", "$urlsafe_base64_encoded_eventid3"],
  "content": {"body": "Hello there, this is a message of ordinary length with an émoji 😀 and a \"quote\".",
              "msgtype": "m.text", "format": "org.matrix.custom.html",
              "formatted_body": "<b>Hello</b> there, this is a message of ordinary length",
              "m.mentions": {"user_ids": ["@bob:example.org"]}},
  "depth": 1234,
  "hashes": {"sha256": "thishashcoversallfieldsincasethisisredacted00"},
  "origin": "example.org",
  "origin_server_ts": 1404838188000,
  "prev_events": ["$urlsafe_base64_encoded_eventid4"],
  "room_id": "!UcYsUzyxTGDxLBEvLy:example.org",
  "sender": "@alice:example.org",
  "signatures": {"example.org": {"ed25519:key_version": "these86bytesofbase64signaturecoveressentialfieldsincludinghashessocancheckredactedpdus"}},
  "type": "m.room.message",
  "unsigned": {"age": 4612}
}`

func BenchmarkCanonicalJSON(b *testing.B) {
	in := []byte(benchmarkEvent)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CanonicalJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalJSONSorted measures the common case of input that is
// already canonical (events relayed between servers).
func BenchmarkCanonicalJSONSorted(b *testing.B) {
	in, err := CanonicalJSON([]byte(benchmarkEvent))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CanonicalJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}
