package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the report as the text glshare bench prints: what ran
// on what, a row per path and size, the ratios, and the broker numbers.
func WriteTable(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "date:      %s\n", r.Date)
	if r.Command != "" {
		fmt.Fprintf(&b, "command:   %s\n", r.Command)
	}
	fmt.Fprintf(&b, "GL:        %s, %s (%s, EGL %s)\n", r.GLRenderer, r.GLVersion, r.GLVendor, r.GLPlatform)
	fmt.Fprintf(&b, "Vulkan:    %s, %s %s, Vulkan %s\n", r.VKDevice, r.VKDriver, r.VKDriverInfo, r.VKAPIVersion)
	fmt.Fprintf(&b, "host:      %s, %d CPUs, %s; load average %s before, %s after\n", r.OS, r.CPUs, r.GoVersion, r.LoadAvg[0], r.LoadAvg[1])
	fmt.Fprintf(&b, "hand-off:  %s; consumer: %s\n", r.Handoff, r.Consumer)
	fmt.Fprintf(&b, "frame:     test pattern + %d blended full-screen draws; %d warm-up frames\n", r.Draws, r.Warmup)
	fmt.Fprintf(&b, "copy path: %s\n\n", r.CopyUpload)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tpath\tframes\tFPS\tp50 ms\tp99 ms\tmean ms\ttransfer ms\thost bytes/frame\tGPU bytes/frame\tverified\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%dx%d\t%s\t%d\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%v\t\n",
			x.Width, x.Height, x.Path, x.Frames, x.FPS, x.P50Ms, x.P99Ms, x.MeanMs, x.TransferMs, x.BytesCopied, x.GPUBytes, x.Verified)
	}
	tw.Flush()
	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	shareCopy := slices.Contains(r.paths(), ShareCopy)
	head := "size\tzero-copy / baseline\tcopy / zero-copy\ttransfer: copy / zero-copy\t"
	if shareCopy {
		head += "share-copy / zero-copy\t"
	}
	fmt.Fprintln(tw, head)
	for _, x := range r.Ratios {
		fmt.Fprintf(tw, "%dx%d\t%.2f\t%.2f\t%.2f\t", x.Width, x.Height, x.ZeroCopyOverBaseline, x.CopyOverZeroCopy, x.TransferCopyOverZeroCopy)
		if shareCopy {
			fmt.Fprintf(tw, "%.2f\t", x.ShareCopyOverZeroCopy)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	b.WriteString("(ratios of p50 frame times; transfer = p50 minus render-only's p50)\n")
	if o := r.Open; o != nil {
		fmt.Fprintf(&b, "\nopen, %d samples (%dx%d texture): broker round trip + fd p50 %.1f µs, p99 %.1f µs; with GL import p50 %.1f µs, p99 %.1f µs\n",
			o.Samples, o.Width, o.Height, o.RoundTripP50Us, o.RoundTripP99Us, o.OpenP50Us, o.OpenP99Us)
	}
	if t := r.Broker; t != nil {
		fmt.Fprintf(&b, "broker, %d clients for %.1f s: %.0f open/close cycles/s (%.0f requests/s)\n",
			t.Clients, t.Seconds, t.CyclesPerSec, t.OpsPerSec)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
