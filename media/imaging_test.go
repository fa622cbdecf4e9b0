package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

// pngHeader is the start of a PNG that declares w×h RGBA pixels: enough
// for DecodeConfig, and all a decompression bomb needs to ask for memory.
func pngHeader(w, h uint32) []byte {
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr[:])...)
}

func pngChunk(kind string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, kind...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(kind), data...)))
}

// jpegHeader is a JPEG start of frame declaring w×h pixels, followed by
// the start of scan, where a decoder would begin to allocate.
func jpegHeader(w, h uint16) []byte {
	out := []byte{0xff, 0xd8, 0xff, 0xc0, 0, 17, 8}
	out = binary.BigEndian.AppendUint16(out, h)
	out = binary.BigEndian.AppendUint16(out, w)
	out = append(out, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0)
	return append(out, 0xff, 0xda, 0, 12)
}

// gifHeader is a GIF whose logical screen is w×h.
func gifHeader(w, h uint16) []byte {
	out := []byte("GIF89a")
	out = binary.LittleEndian.AppendUint16(out, w)
	out = binary.LittleEndian.AppendUint16(out, h)
	return append(out, 0, 0, 0)
}

func TestInspectRefusesDecompressionBombs(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"png 100k×100k", pngHeader(100_000, 100_000), errImageTooLarge},
		{"png 1×40M strip", pngHeader(1, 40_000_001), errImageTooLarge},
		{"png 7000×6000 (42 Mpx)", pngHeader(7000, 6000), errImageTooLarge},
		{"jpeg 65535²", jpegHeader(65535, 65535), errImageTooLarge},
		{"jpeg 20000 wide", jpegHeader(20000, 100), errImageTooLarge},
		{"gif 65535²", gifHeader(65535, 65535), errImageTooLarge},
		{"png zero width", pngHeader(0, 10), errNotImage},
		{"not an image", []byte("<html><script>alert(1)</script></html>"), errNotImage},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), errNotImage},
		{"truncated png", []byte("\x89PNG\r\n\x1a\n"), errNotImage},
		{"riff but not webp", []byte("RIFF\x00\x00\x00\x00WAVEfmt "), errNotImage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := inspectImage(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Errorf("inspectImage: %v, want %v", err, tc.want)
			}
		})
	}
	// Within the limits, only the header is read: the size is accepted
	// without any pixel data behind it.
	info, err := inspectImage(bytes.NewReader(pngHeader(6000, 6000)))
	if err != nil || info != (imageInfo{"png", 6000, 6000}) {
		t.Errorf("36 Mpx header: %+v %v", info, err)
	}
}

func testImage(w, h int, opaque bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if !opaque {
				a = uint8(x % 256)
			}
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 90, a})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeGIF(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestThumbnailFormats makes a thumbnail of each input format and checks
// the output format and size.
func TestThumbnailFormats(t *testing.T) {
	webpPhoto, _ := os.ReadFile("testdata/photo-200x150.webp")
	webpAlpha, _ := os.ReadFile("testdata/alpha-64x48.webp")
	cases := []struct {
		name, format   string
		data           []byte
		box            thumbSize
		wantType       string
		wantW, wantH   int
		wantSourceSize image.Point
	}{
		{"jpeg scale", "jpeg", encodeJPEG(t, testImage(400, 300, true)), thumbSize{320, 240, methodScale}, "image/jpeg", 320, 240, image.Pt(400, 300)},
		{"opaque png crop", "png", encodePNG(t, testImage(400, 300, true)), thumbSize{96, 96, methodCrop}, "image/png", 96, 96, image.Pt(400, 300)},
		{"alpha png", "png", encodePNG(t, testImage(400, 300, false)), thumbSize{96, 96, methodCrop}, "image/png", 96, 96, image.Pt(400, 300)},
		{"gif", "gif", encodeGIF(t, testImage(100, 50, true)), thumbSize{32, 32, methodCrop}, "image/png", 32, 32, image.Pt(100, 50)},
		{"webp photo", "webp", webpPhoto, thumbSize{96, 96, methodCrop}, "image/jpeg", 96, 96, image.Pt(200, 150)},
		{"webp alpha", "webp", webpAlpha, thumbSize{32, 32, methodCrop}, "image/png", 32, 32, image.Pt(64, 48)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := bytes.NewReader(tc.data)
			info, err := inspectImage(src)
			if err != nil || info.Format != tc.format || image.Pt(info.Width, info.Height) != tc.wantSourceSize {
				t.Fatalf("inspectImage: %+v %v", info, err)
			}
			img, err := decodeImage(src, info)
			if err != nil {
				t.Fatal(err)
			}
			out, contentType, err := encodeThumbnail(renderThumbnail(img, planThumbnail(info.Width, info.Height, tc.box)), info.Format)
			if err != nil || contentType != tc.wantType {
				t.Fatalf("encodeThumbnail: %s %v, want %s", contentType, err, tc.wantType)
			}
			decoded, _, err := image.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if size := decoded.Bounds().Size(); size != image.Pt(tc.wantW, tc.wantH) {
				t.Errorf("thumbnail is %v, want %dx%d", size, tc.wantW, tc.wantH)
			}
		})
	}
}

// TestCropKeepsTheCentre checks that crop cuts evenly: a source whose
// left and right quarters are red and middle is blue crops to blue.
func TestCropKeepsTheCentre(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 400, 200))
	for y := range 200 {
		for x := range 400 {
			c := color.RGBA{0, 0, 255, 255}
			if x < 100 || x >= 300 {
				c = color.RGBA{255, 0, 0, 255}
			}
			src.Set(x, y, c)
		}
	}
	thumb := renderThumbnail(src, planThumbnail(400, 200, thumbSize{96, 96, methodCrop}))
	for _, p := range []image.Point{{0, 0}, {95, 95}, {48, 48}} {
		if r, _, b, _ := thumb.At(p.X, p.Y).RGBA(); r > 0x1000 || b < 0xf000 {
			t.Errorf("pixel %v is not blue: r=%x b=%x", p, r, b)
		}
	}
}

func TestIsAnimatedPNG(t *testing.T) {
	still := encodePNG(t, testImage(4, 4, true))
	if isAnimatedPNG(bytes.NewReader(still)) {
		t.Error("a still PNG reads as animated")
	}
	// An acTL chunk right after IHDR makes it an APNG.
	header := pngHeader(4, 4)
	animated := append(append(header, pngChunk("acTL", make([]byte, 8))...), still[len(header):]...)
	if !isAnimatedPNG(bytes.NewReader(animated)) {
		t.Error("an APNG reads as still")
	}
}
