package media

import (
	"image"
	"testing"
)

func TestChoosePreset(t *testing.T) {
	cases := []struct {
		w, h   int
		method string
		want   thumbSize
		ok     bool
	}{
		{32, 32, methodCrop, thumbSize{32, 32, methodCrop}, true},
		{1, 1, methodCrop, thumbSize{32, 32, methodCrop}, true},
		{33, 20, methodCrop, thumbSize{96, 96, methodCrop}, true},
		{192, 192, methodCrop, thumbSize{320, 320, methodCrop}, true},
		{640, 641, methodCrop, thumbSize{}, false},
		{64, 64, methodScale, thumbSize{320, 240, methodScale}, true},
		{320, 241, methodScale, thumbSize{640, 480, methodScale}, true},
		{800, 600, methodScale, thumbSize{800, 600, methodScale}, true},
		{1000, 100, methodScale, thumbSize{1280, 960, methodScale}, true},
		{2000, 10, methodScale, thumbSize{}, false},
	}
	for _, tc := range cases {
		got, ok := choosePreset(tc.w, tc.h, tc.method)
		if got != tc.want || ok != tc.ok {
			t.Errorf("choosePreset(%d, %d, %s) = %v %v, want %v %v", tc.w, tc.h, tc.method, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPlanScale(t *testing.T) {
	box := thumbSize{320, 240, methodScale}
	cases := []struct {
		srcW, srcH int
		w, h       int
		original   bool
	}{
		{640, 480, 320, 240, false},  // same aspect: exactly the box
		{1000, 500, 320, 160, false}, // wider: width fills
		{500, 1000, 120, 240, false}, // taller: height fills
		{4000, 10, 320, 1, false},    // never below one pixel
		{321, 100, 320, 100, false},  // 99.7 rounds to 100
		{300, 200, 300, 200, true},   // fits: no upscaling
		{320, 240, 320, 240, true},
	}
	for _, tc := range cases {
		p := planThumbnail(tc.srcW, tc.srcH, box)
		if p.Width != tc.w || p.Height != tc.h || p.Original != tc.original {
			t.Errorf("scale %dx%d: got %dx%d original=%v, want %dx%d original=%v", tc.srcW, tc.srcH, p.Width, p.Height, p.Original, tc.w, tc.h, tc.original)
		}
		if p.Source != image.Rect(0, 0, tc.srcW, tc.srcH) {
			t.Errorf("scale %dx%d uses %v, want the whole image", tc.srcW, tc.srcH, p.Source)
		}
	}
}

func TestPlanCrop(t *testing.T) {
	box := thumbSize{96, 96, methodCrop}
	cases := []struct {
		srcW, srcH int
		source     image.Rectangle
		w, h       int
		original   bool
	}{
		{400, 300, image.Rect(50, 0, 350, 300), 96, 96, false}, // wide: sides cut
		{300, 400, image.Rect(0, 50, 300, 350), 96, 96, false}, // tall: top and bottom cut
		{96, 200, image.Rect(0, 52, 96, 148), 96, 96, false},   // only cut, no scaling
		{50, 200, image.Rect(0, 52, 50, 148), 50, 96, false},   // too narrow to fill: cut height only
		{200, 50, image.Rect(52, 0, 148, 50), 96, 50, false},
		{60, 60, image.Rect(0, 0, 60, 60), 60, 60, true}, // smaller: the original
	}
	for _, tc := range cases {
		p := planThumbnail(tc.srcW, tc.srcH, box)
		if p.Source != tc.source || p.Width != tc.w || p.Height != tc.h || p.Original != tc.original {
			t.Errorf("crop %dx%d: got %v → %dx%d original=%v, want %v → %dx%d original=%v",
				tc.srcW, tc.srcH, p.Source, p.Width, p.Height, p.Original, tc.source, tc.w, tc.h, tc.original)
		}
	}
	// A non-square box keeps its aspect ratio.
	p := planThumbnail(1000, 1000, thumbSize{320, 240, methodCrop})
	if p.Source != image.Rect(0, 125, 1000, 875) || p.Width != 320 || p.Height != 240 {
		t.Errorf("crop 1000x1000 to 320x240: %+v", p)
	}
}
