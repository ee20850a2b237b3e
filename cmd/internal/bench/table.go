package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the report as the text glshare bench prints: what ran
// on what, a row per path and size, the ratios, the broker numbers, and
// what service allocation costs and saves.
func WriteTable(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "date:      %s\n", r.Date)
	if r.Command != "" {
		fmt.Fprintf(&b, "command:   %s\n", r.Command)
	}
	fmt.Fprintf(&b, "GL:        %s, %s (%s, EGL %s)\n", r.GLRenderer, r.GLVersion, r.GLVendor, r.GLPlatform)
	fmt.Fprintf(&b, "Vulkan:    %s, %s %s, Vulkan %s\n", r.VKDevice, r.VKDriver, r.VKDriverInfo, r.VKAPIVersion)
	fmt.Fprintf(&b, "host:      %s, %d CPUs, %s; load average %s before, %s after\n", r.OS, r.CPUs, r.GoVersion, r.LoadAvg[0], r.LoadAvg[1])
	if len(r.Results) > 0 {
		fmt.Fprintf(&b, "hand-off:  %s; consumer: %s\n", r.Handoff, r.Consumer)
		fmt.Fprintf(&b, "frame:     test pattern + %d blended full-screen draws; %d warm-up frames\n", r.Draws, r.Warmup)
		fmt.Fprintf(&b, "copy path: %s\n\n", r.CopyUpload)
		writeFrames(&b, r)
	}
	if o := r.Open; o != nil {
		fmt.Fprintf(&b, "\nopen, %d samples (%dx%d texture): broker round trip + fd p50 %.1f µs, p99 %.1f µs; with GL import p50 %.1f µs, p99 %.1f µs\n",
			o.Samples, o.Width, o.Height, o.RoundTripP50Us, o.RoundTripP99Us, o.OpenP50Us, o.OpenP99Us)
	}
	if t := r.Broker; t != nil {
		fmt.Fprintf(&b, "broker, %d clients for %.1f s: %.0f open/close cycles/s (%.0f requests/s)\n",
			t.Clients, t.Seconds, t.CyclesPerSec, t.OpsPerSec)
	}
	if a := r.Allocate; a != nil {
		writeAllocate(&b, a)
	}
	if f := r.First; f != nil {
		writeFirst(&b, f)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFrames is the frame table and the ratios.
func writeFrames(b *strings.Builder, r *Report) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tpath\tframes\tFPS\tp50 ms\tp99 ms\tmean ms\ttransfer ms\thand-off µs\thost bytes/frame\tGPU bytes/frame\tverified\t")
	for _, x := range r.Results {
		name, handoff := string(x.Path), ""
		if x.InFlight > 0 {
			name = fmt.Sprintf("%s (%d in flight)", x.Path, x.InFlight)
		}
		if x.Path == ZeroCopy || x.Path == ZeroCopyPipelined {
			handoff = fmt.Sprintf("%.0f", x.HandoffUs)
		}
		fmt.Fprintf(tw, "%dx%d\t%s\t%d\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t%d\t%d\t%v\t\n",
			x.Width, x.Height, name, x.Frames, x.FPS, x.P50Ms, x.P99Ms, x.MeanMs, x.TransferMs, handoff, x.BytesCopied, x.GPUBytes, x.Verified)
	}
	tw.Flush()
	b.WriteString("\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	shareCopy := slices.Contains(r.paths(), ShareCopy)
	head := "size\tzero-copy / baseline\tpipelined / baseline\tcopy / zero-copy\ttransfer: copy / zero-copy\t"
	if shareCopy {
		head += "share-copy / zero-copy\t"
	}
	fmt.Fprintln(tw, head)
	for _, x := range r.Ratios {
		fmt.Fprintf(tw, "%dx%d\t%.2f\t%.2f\t%.2f\t%.2f\t", x.Width, x.Height, x.ZeroCopyOverBaseline, x.PipelinedOverBaseline, x.CopyOverZeroCopy, x.TransferCopyOverZeroCopy)
		if shareCopy {
			fmt.Fprintf(tw, "%.2f\t", x.ShareCopyOverZeroCopy)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	b.WriteString("(ratios of p50 frame times, but pipelined / baseline of means: throughput; transfer = p50 minus render-only's p50;\n hand-off = p50 minus baseline's p50, for the pipelined path mean minus baseline's mean)\n")
}

// writeAllocate is MeasureAllocate's figures.
func writeAllocate(b *strings.Builder, a *AllocateResult) {
	fmt.Fprintf(b, "\nALLOCATE + GL import, %d samples (%dx%d RGBA8, broker in this process on %s):\n", a.Samples, a.Width, a.Height, a.Device)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "what\tp50 µs\tp99 µs\t")
	for _, row := range []struct {
		what     string
		p50, p99 float64
	}{
		{"ALLOCATE round trip", a.AllocateP50Us, a.AllocateP99Us},
		{"ALLOCATE + GL import", a.AllocateImportP50Us, a.AllocateImportP99Us},
		{"ALLOCATE + GL import + closing", a.CycleP50Us, a.CycleP99Us},
		{"share Create, service (" + a.ShareServicePath + ")", a.ShareServiceCreateP50Us, a.ShareServiceCreateP99Us},
		{"share Create + Close, service", a.ShareServiceCycleP50Us, a.ShareServiceCycleP99Us},
		{"in-process NewImage + GL import", a.InProcessImportP50Us, a.InProcessImportP99Us},
		{"share Create, in-process", a.ShareInProcessCreateP50Us, a.ShareInProcessCreateP99Us},
	} {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t\n", row.what, row.p50, row.p99)
	}
	tw.Flush()
}

// writeFirst is MeasureFirst's figures.
func writeFirst(b *strings.Builder, f *FirstResult) {
	fmt.Fprintf(b, "\nfirst shared texture in a fresh process (%dx%d RGBA8; dial, share.NewGL, Create, Share), %d processes per mode:\n", f.Width, f.Height, f.Children)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tp50 ms\tp99 ms\tmin ms\tdial\tGL load\tNewGL\tCreate\tShare\t(GL context)\tlibvulkan\tpath\tallocated on\t")
	for _, m := range []FirstMode{f.InProcess, f.Service} {
		on := m.AllocatedOn
		if on == "" {
			on = "the process"
		}
		vk := "not loaded"
		if m.LoadedVulkan {
			vk = "loaded"
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s\t\n", m.Mode, m.P50Ms, m.P99Ms, m.MinMs,
			m.DialP50Ms, m.GLLoadP50Ms, m.NewGLP50Ms, m.CreateP50Ms, m.ShareP50Ms, m.ContextP50Ms, vk, m.Path, on)
	}
	tw.Flush()
	b.WriteString("(steps are medians, ms; GL load is glimport.Init, which share.NewGL does first; the GL context is not timed)\n")
	fmt.Fprintf(b, "in-process / service: %.2f × at p50, %.2f × at p99\n", f.InProcessOverServiceP50, f.InProcessOverServiceP99)
}
