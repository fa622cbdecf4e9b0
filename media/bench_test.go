package media

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkUpload measures POST /upload end to end over loopback HTTP:
// body read, SHA-256, temporary file, fsync, rename and the record.
func BenchmarkUpload(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			env := newTestEnv(&testing.T{}, func(a *API) { a.MaxUploadBytes = 32 << 20 })
			defer env.srv.Close()
			content := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				rand.Read(content[:32]) // new content each time: no deduplication
				req, _ := http.NewRequest("POST", env.srv.URL+"/_matrix/media/v3/upload", bytes.NewReader(content))
				req.Header.Set("Authorization", "Bearer @bench:test")
				resp, err := env.srv.Client().Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("upload: %v %v", resp, err)
				}
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkFileStorePut measures the store alone.
func BenchmarkFileStorePut(b *testing.B) {
	fs, _ := newTestFiles(b)
	content := make([]byte, 1<<20)
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		rand.Read(content[:32])
		if _, _, err := fs.Put(bytes.NewReader(content)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThumbnail measures generating one thumbnail (decode, resize,
// encode) from a 12 Mpx-class photo and a screenshot-sized PNG.
func BenchmarkThumbnail(b *testing.B) {
	sources := []struct {
		name string
		data []byte
	}{
		{"jpeg4000x3000", encodeJPEG(b, testImage(4000, 3000, true))},
		{"jpeg1600x1200", encodeJPEG(b, testImage(1600, 1200, true))},
		{"png1920x1080", encodePNG(b, testImage(1920, 1080, true))},
	}
	boxes := []thumbSize{{96, 96, methodCrop}, {320, 240, methodScale}, {800, 600, methodScale}}
	for _, src := range sources {
		for _, box := range boxes {
			b.Run(fmt.Sprintf("%s/%s%dx%d", src.name, box.Method, box.Width, box.Height), func(b *testing.B) {
				for b.Loop() {
					r := bytes.NewReader(src.data)
					info, err := inspectImage(r)
					if err != nil {
						b.Fatal(err)
					}
					img, err := decodeImage(r, info)
					if err != nil {
						b.Fatal(err)
					}
					if _, _, err := encodeThumbnail(renderThumbnail(img, planThumbnail(info.Width, info.Height, box)), info.Format); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
