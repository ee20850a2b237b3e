package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
)

// scalingColors tell the live-resource counts apart, in ascending order
// (the frame plot's palette, so that both read alike).
var scalingColors = []color.RGBA{pathColors[Baseline], pathColors[ZeroCopy], pathColors[Copy], pathColors[ShareCopy], pathColors[RenderOnly]}

// WriteScalingPlot draws MeasureScaling's report as a PNG: saturated
// throughput and the paced open round trip's p99, each a panel with a
// group of bars per client count and a bar per live-resource count, so
// that a fall with more resources shows as a falling staircase.
func WriteScalingPlot(w io.Writer, r *ScalingResult) error {
	var clients, resources []int
	for _, x := range r.Cells {
		if !slices.Contains(clients, x.Clients) {
			clients = append(clients, x.Clients)
		}
		if !slices.Contains(resources, x.Resources) {
			resources = append(resources, x.Resources)
		}
	}
	if len(clients) == 0 {
		return fmt.Errorf("bench: nothing to plot")
	}
	slices.Sort(resources)
	width := 2*plotMargin + 2*panelW
	height := plotTop + plotAxisH + plotBottom
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fillRect(img, 0, 0, width, height, white)
	drawText(img, plotMargin, 12, "broker: OPEN_KMT + CLOSE; x: clients, bars: live resources", plotScale, black)
	drawText(img, plotMargin, 40, fmt.Sprintf("glshare serve, %d CPUs, paced %d cycles/s, %s", r.CPUs, r.PacedRate, r.Date), plotScale, dim)
	lx := plotMargin
	for i, n := range resources {
		label := fmt.Sprintf("%d live", n)
		fillRect(img, lx, 72, 16, 16, scalingColors[i%len(scalingColors)])
		drawText(img, lx+24, 73, label, plotScale, black)
		lx += 24 + textWidth(label, plotScale) + 36
	}
	value := func(c, n int, f func(ScalingCell) float64) (float64, bool) {
		for _, x := range r.Cells {
			if x.Clients == c && x.Resources == n {
				return f(x), true
			}
		}
		return 0, false
	}
	panels := []struct {
		title string
		f     func(ScalingCell) float64
	}{
		{"requests/s, saturated", func(x ScalingCell) float64 { return x.RequestsPerSec }},
		{"paced open p99, ms", func(x ScalingCell) float64 { return x.PacedOpenP99Us / 1000 }},
	}
	for pi, p := range panels {
		px := plotMargin + pi*panelW
		top, bottom := plotTop, plotTop+plotAxisH
		x0, x1 := px+axisLabelW, px+panelW-16
		peak := 0.0
		for _, x := range r.Cells {
			peak = max(peak, p.f(x))
		}
		step := niceStep(peak * 1.1 / 4)
		y := func(v float64) int { return bottom - int(math.Round(v/(4*step)*float64(bottom-top))) }
		for k := 0; k <= 4; k++ {
			v := float64(k) * step
			fillRect(img, x0, y(v), x1-x0, 1, grey)
			label := fmt.Sprintf("%.*f", decimals(step), v)
			if v >= 10000 {
				label = fmt.Sprintf("%.0fk", v/1000)
			}
			drawText(img, x0-8-textWidth(label, plotScale), y(v)-7, label, plotScale, dim)
		}
		fillRect(img, x0, top, 2, bottom-top+1, black)
		fillRect(img, x0, bottom, x1-x0, 2, black)
		group := (x1 - x0) / len(clients)
		barW := max(group*3/4/len(resources), 2)
		for ci, c := range clients {
			gx := x0 + ci*group + (group-barW*len(resources))/2
			for ri, n := range resources {
				if v, ok := value(c, n, p.f); ok {
					by := y(v)
					fillRect(img, gx+ri*barW, by, barW-2, bottom-by, scalingColors[ri%len(scalingColors)])
				}
			}
			label := fmt.Sprintf("%d", c)
			drawText(img, x0+ci*group+(group-textWidth(label, plotScale))/2, bottom+12, label, plotScale, black)
		}
		drawText(img, x0, bottom+42, p.title, plotScale, dim)
	}
	return png.Encode(w, img)
}
