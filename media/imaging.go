package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Decoding limits. A decoder allocates what the image header declares, so
// a few bytes of compressed data can ask for gigabytes (a decompression
// bomb); the header is checked against these before any pixel is decoded.
const (
	maxImageSide   = 16384
	maxImagePixels = 40_000_000
)

var (
	errNotImage      = errors.New("media: not an image the thumbnailer can read")
	errImageTooLarge = errors.New("media: image too large to thumbnail")
)

// decoders are the formats thumbnails are made from, by the name
// image.DecodeConfig reports. They are called directly rather than through
// image.Decode's registry, so no other package's registered format can
// reach the thumbnailer.
var decoders = map[string]struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
	magic  string
}{
	"jpeg": {jpeg.DecodeConfig, jpeg.Decode, "\xff\xd8"},
	"png":  {png.DecodeConfig, png.Decode, "\x89PNG\r\n\x1a\n"},
	"gif":  {gif.DecodeConfig, gif.Decode, "GIF8"},
	"webp": {webp.DecodeConfig, webp.Decode, "RIFF"},
}

// imageInfo is what an image's header says.
type imageInfo struct {
	Format        string // jpeg, png, gif or webp
	Width, Height int
}

// inspectImage reads only the header of src: the format from its magic
// bytes, then the declared size, refused when over the limits.
func inspectImage(src io.ReadSeeker) (imageInfo, error) {
	format, err := sniffFormat(src)
	if err != nil {
		return imageInfo{}, err
	}
	cfg, err := decoders[format].config(src)
	if err != nil {
		return imageInfo{}, errNotImage
	}
	info := imageInfo{Format: format, Width: cfg.Width, Height: cfg.Height}
	if info.Width <= 0 || info.Height <= 0 {
		return imageInfo{}, errNotImage
	}
	if info.Width > maxImageSide || info.Height > maxImageSide || info.Width*info.Height > maxImagePixels {
		return imageInfo{}, errImageTooLarge
	}
	return info, nil
}

// sniffFormat names the format by its magic bytes and rewinds src.
func sniffFormat(src io.ReadSeeker) (string, error) {
	var head [12]byte
	n, _ := io.ReadFull(src, head[:])
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	for name, d := range decoders {
		if n >= len(d.magic) && string(head[:len(d.magic)]) == d.magic {
			if name == "webp" && (n < 12 || string(head[8:12]) != "WEBP") {
				continue
			}
			return name, nil
		}
	}
	return "", errNotImage
}

// isAnimatedPNG reports whether a PNG is an APNG: one whose animation
// control chunk (acTL) comes, as the format requires, before the first
// image data. Browsers animate APNG served as image/png.
func isAnimatedPNG(src io.ReadSeeker) bool {
	defer src.Seek(0, io.SeekStart)
	if _, err := src.Seek(8, io.SeekStart); err != nil {
		return false
	}
	var header [8]byte // length, type
	for range 64 {
		if _, err := io.ReadFull(src, header[:]); err != nil {
			return false
		}
		switch string(header[4:8]) {
		case "acTL":
			return true
		case "IDAT", "IEND":
			return false
		}
		length := int64(binary.BigEndian.Uint32(header[0:4]))
		if _, err := src.Seek(length+4, io.SeekCurrent); err != nil { // data and CRC
			return false
		}
	}
	return false
}

// decodeImage decodes an image already inspected. For GIF that is the
// first frame only, which is all a still thumbnail shows.
func decodeImage(src io.ReadSeeker, info imageInfo) (image.Image, error) {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, err := decoders[info.Format].decode(src)
	if err != nil {
		return nil, errNotImage
	}
	return img, nil
}

// renderThumbnail draws the plan's part of src at the plan's size with a
// Catmull-Rom filter, which keeps downscaled detail sharp without the
// aliasing of cheaper filters.
func renderThumbnail(src image.Image, p thumbPlan) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, p.Width, p.Height))
	source := p.Source.Add(src.Bounds().Min)
	if source.Dx() == p.Width && source.Dy() == p.Height {
		draw.Copy(dst, image.Point{}, src, source, draw.Src, nil)
		return dst
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, source, draw.Src, nil)
	return dst
}

// encodeThumbnail picks the output format: PNG when the thumbnail has any
// transparency (JPEG has none), JPEG for photographic sources (JPEG and
// WebP, where it is several times smaller than PNG), and PNG for the
// lossless formats, which mostly hold drawings and screenshots.
func encodeThumbnail(img *image.RGBA, sourceFormat string) ([]byte, string, error) {
	var buf bytes.Buffer
	if img.Opaque() && (sourceFormat == "jpeg" || sourceFormat == "webp") {
		err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
		return buf.Bytes(), "image/jpeg", err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	err := enc.Encode(&buf, img)
	return buf.Bytes(), "image/png", err
}
