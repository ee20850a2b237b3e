package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
)

// Plot colours: one per path, in Paths order, and the chart's own.
var (
	pathColors = map[Path]color.RGBA{
		Baseline: {0x4c, 0x72, 0xb0, 0xff},
		ZeroCopy: {0x55, 0xa8, 0x68, 0xff},
		// A lighter green: the same path, pipelined.
		ZeroCopyPipelined: {0x8c, 0xd1, 0x9a, 0xff},
		Copy:              {0xc4, 0x4e, 0x52, 0xff},
		RenderOnly:        {0xb0, 0xb0, 0xb0, 0xff},
		ShareCopy:         {0xdd, 0x84, 0x52, 0xff},
	}
	white = color.RGBA{0xff, 0xff, 0xff, 0xff}
	black = color.RGBA{0x20, 0x20, 0x20, 0xff}
	grey  = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	dim   = color.RGBA{0x60, 0x60, 0x60, 0xff}
)

// Plot geometry, in pixels.
const (
	plotScale  = 2   // font scale
	panelW     = 380 // one size's panel
	plotMargin = 20
	plotTop    = 130 // above the panels: title, subtitle, legend
	plotAxisH  = 300 // the bars' area
	plotBottom = 80  // below: size and ratios
	axisLabelW = 84  // the y labels' column in each panel
)

// WritePlot draws the report's frame times as a PNG: one panel per size
// (each with its own scale, since sizes differ by orders of magnitude),
// a bar per path at the median with a line up to the 99th percentile,
// the median's value above each, and the ratios under each panel.
func WritePlot(w io.Writer, r *Report) error {
	var sizes []Size
	for _, x := range r.Results {
		s := Size{x.Width, x.Height}
		if len(sizes) == 0 || sizes[len(sizes)-1] != s {
			sizes = append(sizes, s)
		}
	}
	if len(sizes) == 0 {
		return fmt.Errorf("bench: nothing to plot")
	}
	width := 2*plotMargin + len(sizes)*panelW
	height := plotTop + plotAxisH + plotBottom
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fillRect(img, 0, 0, width, height, white)

	drawText(img, plotMargin, 12, "frame time in ms: bar = p50, line = p99", plotScale, black)
	sub := fmt.Sprintf("%s, %s, %s", r.GLRenderer, r.Handoff, r.Date)
	for textWidth(sub, plotScale) > width-2*plotMargin && len(sub) > 4 {
		sub = sub[:len(sub)-4] + "..."
	}
	drawText(img, plotMargin, 40, sub, plotScale, dim)
	lx := plotMargin
	for _, p := range r.paths() {
		fillRect(img, lx, 72, 16, 16, pathColors[p])
		drawText(img, lx+24, 73, string(p), plotScale, black)
		lx += 24 + textWidth(string(p), plotScale) + 36
	}

	for i, sz := range sizes {
		drawPanel(img, r, sz, plotMargin+i*panelW)
	}
	return png.Encode(w, img)
}

func drawPanel(img *image.RGBA, r *Report, sz Size, px int) {
	top, bottom := plotTop, plotTop+plotAxisH
	x0, x1 := px+axisLabelW, px+panelW-16
	var res []Result
	peak := 0.0
	for _, p := range r.paths() {
		if x, ok := r.Result(p, sz); ok {
			res = append(res, x)
			peak = max(peak, x.P99Ms, x.P50Ms)
		}
	}
	step := niceStep(peak * 1.15 / 4)
	ymax := 4 * step
	y := func(v float64) int { return bottom - int(math.Round(v/ymax*float64(bottom-top))) }
	dec := decimals(step)
	for k := 0; k <= 4; k++ {
		v := float64(k) * step
		gy := y(v)
		fillRect(img, x0, gy, x1-x0, 1, grey)
		label := fmt.Sprintf("%.*f", dec, v)
		drawText(img, x0-8-textWidth(label, plotScale), gy-7, label, plotScale, dim)
	}
	fillRect(img, x0, top, 2, bottom-top+1, black)
	fillRect(img, x0, bottom, x1-x0, 2, black)

	slot := (x1 - x0) / max(len(r.paths()), 1)
	barW := slot * 2 / 3
	for i, x := range res {
		bx := x0 + i*slot + (slot-barW)/2
		by := y(x.P50Ms)
		fillRect(img, bx, by, barW, bottom-by, pathColors[x.Path])
		cx := bx + barW/2
		ty := y(x.P99Ms)
		if ty < by {
			fillRect(img, cx-1, ty, 3, by-ty, black)
		}
		fillRect(img, cx-barW/4, ty-1, barW/2, 3, black)
		label := fmt.Sprintf("%.*f", max(decimals(x.P50Ms/100), 1), x.P50Ms)
		drawText(img, cx-textWidth(label, plotScale)/2, min(ty, by)-22, label, plotScale, black)
	}
	name := sz.String()
	drawText(img, x0+(x1-x0-textWidth(name, plotScale))/2, bottom+12, name, plotScale, black)
	for _, ra := range r.Ratios {
		if ra.Width == sz.W && ra.Height == sz.H {
			t := fmt.Sprintf("zc/base %.2f copy/zc %.2f", ra.ZeroCopyOverBaseline, ra.CopyOverZeroCopy)
			drawText(img, px+(panelW-textWidth(t, plotScale))/2, bottom+42, t, plotScale, dim)
		}
	}
}

// niceStep rounds v up to 1, 2, 2.5 or 5 times a power of ten, so that an
// axis's labels are numbers a reader can add up at a glance.
func niceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v*(1-1e-12) {
			return m * p
		}
	}
	return 10 * p
}

// decimals is how many decimals show v's magnitude: 0 for v >= 1, one
// more per power of ten below, up to 4.
func decimals(v float64) int {
	d := 0
	for d < 4 && v > 0 && v*math.Pow(10, float64(d)) < 0.999999 {
		d++
	}
	// 2.5-steps need one more.
	if v > 0 && math.Abs(v*math.Pow(10, float64(d))-math.Round(v*math.Pow(10, float64(d)))) > 1e-6 && d < 4 {
		d++
	}
	return d
}
