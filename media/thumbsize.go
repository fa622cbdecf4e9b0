package media

import "image"

// Thumbnail methods, as the spec names them.
const (
	methodCrop  = "crop"
	methodScale = "scale"
)

// thumbSize is a box a thumbnail is made for, and how it fills it.
type thumbSize struct {
	Width, Height int
	Method        string
}

// presetSizes are the only thumbnails generated, so the cache holds a
// handful per image however many sizes clients ask for. They are the
// spec's recommended five plus larger ones, because clients multiply
// their sizes by the screen's pixel ratio (96×96 avatars become 192×192),
// and a request above every preset gets the full-size image.
// Ordered by area within each method: the first that fits is the smallest.
var presetSizes = []thumbSize{
	{32, 32, methodCrop},
	{96, 96, methodCrop},
	{320, 320, methodCrop},
	{640, 640, methodCrop},
	{320, 240, methodScale},
	{640, 480, methodScale},
	{800, 600, methodScale},
	{1280, 960, methodScale},
}

// choosePreset picks the smallest preset of the method that is at least
// the requested size in both dimensions, since the spec forbids smaller
// thumbnails than requested. ok is false when none is that large.
func choosePreset(width, height int, method string) (thumbSize, bool) {
	for _, p := range presetSizes {
		if p.Method == method && p.Width >= width && p.Height >= height {
			return p, true
		}
	}
	return thumbSize{}, false
}

// thumbPlan says how to make a thumbnail from a source image: which part
// of the source to use and the pixel size to draw it at.
type thumbPlan struct {
	Source        image.Rectangle
	Width, Height int
	// Original means no resizing is needed: the source already fits the
	// box, and the spec forbids upscaling.
	Original bool
}

// planThumbnail computes the plan for a source of srcW×srcH pixels.
func planThumbnail(srcW, srcH int, box thumbSize) thumbPlan {
	full := image.Rect(0, 0, srcW, srcH)
	if srcW <= box.Width && srcH <= box.Height {
		return thumbPlan{Source: full, Width: srcW, Height: srcH, Original: true}
	}
	if box.Method == methodCrop {
		return planCrop(srcW, srcH, box)
	}
	w, h := fitWithin(srcW, srcH, box.Width, box.Height)
	return thumbPlan{Source: full, Width: w, Height: h}
}

// fitWithin scales srcW×srcH down to fit a boxW×boxH box, keeping the
// aspect ratio: the relatively larger side fills its box side. Integer
// arithmetic keeps results exact and never below 1 pixel.
func fitWithin(srcW, srcH, boxW, boxH int) (int, int) {
	if srcW*boxH >= srcH*boxW { // wider than the box
		return boxW, max(1, roundDiv(srcH*boxW, srcW))
	}
	return max(1, roundDiv(srcW*boxH, srcH)), boxH
}

// planCrop fills the box and cuts the overflow off evenly on both sides.
// When the source is smaller than the box on one side, filling would mean
// upscaling; then it is only cut to the box on the other side.
func planCrop(srcW, srcH int, box thumbSize) thumbPlan {
	if srcW < box.Width || srcH < box.Height {
		w, h := min(srcW, box.Width), min(srcH, box.Height)
		return thumbPlan{Source: centred(srcW, srcH, w, h), Width: w, Height: h}
	}
	// The largest region of the box's aspect ratio inside the source.
	cropW, cropH := srcW, roundDiv(srcW*box.Height, box.Width)
	if cropH > srcH {
		cropW, cropH = roundDiv(srcH*box.Width, box.Height), srcH
	}
	return thumbPlan{Source: centred(srcW, srcH, cropW, cropH), Width: box.Width, Height: box.Height}
}

// centred is the w×h rectangle in the middle of a srcW×srcH image.
func centred(srcW, srcH, w, h int) image.Rectangle {
	x, y := (srcW-w)/2, (srcH-h)/2
	return image.Rect(x, y, x+w, y+h)
}

// roundDiv is a/b rounded to the nearest integer, for non-negative a, b.
func roundDiv(a, b int) int { return (a + b/2) / b }
