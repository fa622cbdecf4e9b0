package pushgw

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkBody is the cost of one /notify body in the full format.
func BenchmarkBody(b *testing.B) {
	n, tg := message(), target("https://gw.example/_matrix/push/v1/notify")
	for b.Loop() {
		if _, err := Body(n, tg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDelivery is enqueue-to-accepted throughput against a loopback
// gateway, over 64 pushers.
func BenchmarkDelivery(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"rejected":[]}`)
	}))
	defer srv.Close()
	s, err := New(Config{AllowedNetworks: []string{"127.0.0.0/8"}, QueueSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	targets := make([]Target, 64)
	for i := range targets {
		targets[i] = target(srv.URL + "/_matrix/push/v1/notify")
		targets[i].PushKey = string(rune('A' + i))
	}
	n := message()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Enqueue(targets[i%len(targets)], n)
	}
	for s.Stats().Sent < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
}
