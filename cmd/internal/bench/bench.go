// Package bench measures what sharing memory between GL and Vulkan saves:
// the frame time of a GL-rendered frame reaching a Vulkan consumer by
// zero-copy hand-off, by the copy a bridge without shared memory makes,
// and, as the floor, by a plain GL blit (see Path). It also measures what a
// consumer waits for to open a shared texture through the broker, and the
// broker's throughput; and what service allocation (the broker's ALLOCATE,
// share's Options.Service) costs and saves: one ALLOCATE and GL import in
// a running process (MeasureAllocate), and the first shared texture of a
// freshly started process, in-process against service (MeasureFirst).
// glshare bench and the package's Go benchmarks share it.
//
// Every path does the same GL work for each frame (glbridge's test pattern
// and a few blended full-screen draws) and its frame ends when the result
// is complete and visible to its consumer: after a fence for the baseline,
// after the handoff access and the completed Vulkan copy for zero-copy,
// after the completed Vulkan upload for the copy path. After the measured
// frames, each path's last frame is checked texel by texel against what GL
// rendered and for its frame number, so that a path cannot be fast by
// delivering nothing.
package bench

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/testpattern"
)

// Size is a frame size in texels. A frame's cost grows with its area, so
// that every result and ratio is per size.
type Size struct {
	// W and H are the width and height; ParseSizes keeps them within
	// what the frame-number check can read and GL can allocate.
	W, H int
}

// String formats the size as WxH, as sizes are given on the command line.
func (s Size) String() string { return fmt.Sprintf("%dx%d", s.W, s.H) }

// Named sizes ParseSizes accepts besides WxH and N (for N×N).
var namedSizes = map[string]Size{"720p": {1280, 720}, "1080p": {1920, 1080}, "1440p": {2560, 1440}, "4k": {3840, 2160}}

// ParseSizes parses a comma-separated list of sizes: WxH, N for N×N, or
// 720p, 1080p, 1440p, 4k.
func ParseSizes(s string) ([]Size, error) {
	var out []Size
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		var sz Size
		if n, ok := namedSizes[f]; ok {
			sz = n
		} else if ws, hs, ok := strings.Cut(f, "x"); ok {
			w, err1 := strconv.Atoi(ws)
			h, err2 := strconv.Atoi(hs)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("bench: size %q: want WxH, N or one of 720p, 1080p, 1440p, 4k", f)
			}
			sz = Size{w, h}
		} else if n, err := strconv.Atoi(f); err == nil {
			sz = Size{n, n}
		} else {
			return nil, fmt.Errorf("bench: size %q: want WxH, N or one of 720p, 1080p, 1440p, 4k", f)
		}
		// The frame number the checks read needs FrameBits columns.
		if sz.W < testpattern.FrameBits || sz.H < 16 || sz.W > 16384 || sz.H > 16384 {
			return nil, fmt.Errorf("bench: size %s: want %dx16 to 16384x16384", sz, testpattern.FrameBits)
		}
		out = append(out, sz)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bench: no sizes in %q", s)
	}
	return out, nil
}

// Options says what Run measures and for how long.
type Options struct {
	// Sizes are measured one after another, each with every path.
	Sizes []Size
	// Warmup frames run on each path and size before measuring.
	Warmup int
	// Frames is the most frames measured per path and size; measuring
	// also stops once Duration has passed for the path and size, after at
	// least MinFrames frames, so that a slow machine's large sizes end in
	// reasonable time and still give a p99 worth the name.
	Frames int
	// MinFrames: see Frames.
	MinFrames int
	// Duration: see Frames.
	Duration time.Duration
	// Draws is the number of blended full-screen draws after the test
	// pattern in each frame.
	Draws int
	// Handoff forces a hand-off path for zero-copy (PathAuto: the best).
	Handoff handoff.Path
	// InFlight is how many frames ZeroCopyPipelined keeps in flight (0
	// takes DefaultInFlight).
	InFlight int
	// OpenSamples is the number of timed opens (0 skips the open
	// latency); BrokerClients and BrokerDuration set the throughput run
	// (0 clients skips it). Frame-only runs skip both, which need no GL
	// rendering but take seconds.
	OpenSamples int
	// BrokerClients: see OpenSamples.
	BrokerClients int
	// BrokerDuration: see OpenSamples.
	BrokerDuration time.Duration
	// ShareCopy adds the ShareCopy path: glbridge's own copy path.
	ShareCopy bool
	// AllocSamples is the number of timed ALLOCATE + GL import
	// iterations of each kind (MeasureAllocate; 0 skips them).
	AllocSamples int
	// FirstChildren is the number of fresh processes per mode timed to
	// their first shared texture (MeasureFirst; 0 skips them), which
	// FirstCommand starts; without FirstCommand they are skipped too.
	FirstChildren int
	// FirstCommand: see FirstChildren and FirstOptions.Command.
	FirstCommand func(args []string) *exec.Cmd
	// Progress receives a line about every second of long runs; nil is
	// silent.
	Progress io.Writer
}

// DefaultInFlight is ZeroCopyPipelined's frames in flight: double
// buffering, as a presenting consumer runs.
const DefaultInFlight = 2

// paths lists the paths opts measures, in report order.
func (opts Options) paths() []Path {
	if opts.ShareCopy {
		return AllPaths
	}
	return Paths
}

// Quick is a short run for CI and `make bench`: small sizes, few frames.
func Quick() Options {
	return Options{
		Sizes: []Size{{256, 256}, {512, 512}}, Warmup: 3, Frames: 40, MinFrames: 10, Duration: 2 * time.Second,
		Draws: 4, OpenSamples: 200, BrokerClients: 32, BrokerDuration: time.Second,
		AllocSamples: 50, FirstChildren: 3,
	}
}

// Full is the default run: sizes up to 4K where the GPU is real, up to
// 1080p (with fewer frames) on a software renderer.
func Full(software bool) Options {
	o := Options{
		Sizes: []Size{{256, 256}, {1920, 1080}, {3840, 2160}}, Warmup: 20, Frames: 600, MinFrames: 30, Duration: 10 * time.Second,
		Draws: 4, OpenSamples: 2000, BrokerClients: 32, BrokerDuration: 3 * time.Second,
		AllocSamples: 200, FirstChildren: 10,
	}
	if software {
		o.Sizes = []Size{{256, 256}, {512, 512}, {1920, 1080}}
		o.Warmup, o.Frames, o.MinFrames, o.Duration = 5, 200, 20, 8*time.Second
	}
	return o
}

// Software reports whether a GL renderer string names a CPU renderer: one
// that renders on the CPUs the benchmark runs on, for which Full chooses
// smaller sizes and fewer frames, or a run takes an hour.
func Software(renderer string) bool {
	r := strings.ToLower(renderer)
	return strings.Contains(r, "llvmpipe") || strings.Contains(r, "softpipe") || strings.Contains(r, "swrast") || strings.Contains(r, "lavapipe")
}

// Result is one path at one size. Times are milliseconds. The JSON names
// are a stable interface for scripts (docs/benchmarks.md lists them).
type Result struct {
	// Path, Width and Height say what was measured; Frames how many
	// frames were timed (warm-up frames are not).
	Path   Path `json:"path"`
	Width  int  `json:"width"`
	Height int  `json:"height"`
	Frames int  `json:"frames"`
	// FPS is frames over the measured time.
	FPS float64 `json:"fps"`
	// P50Ms and P99Ms are nearest-rank percentiles of single frames (see
	// Percentile): the median is what the ratios compare, since one
	// stalled frame moves the mean; MeanMs and MinMs are there to show
	// how far the distribution leans.
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MeanMs float64 `json:"mean_ms"`
	MinMs  float64 `json:"min_ms"`
	// BytesCopied is what passes through host memory per frame: w*h*4
	// for the copy path, 0 for the others. GPUBytes is what each frame
	// copies on the GPU (the blit or vkCmdCopyImage; for the copy path
	// the upload from the staging buffer).
	BytesCopied uint64 `json:"bytes_copied_per_frame"`
	GPUBytes    uint64 `json:"gpu_bytes_per_frame"`
	// TransferMs is P50Ms minus the render-only reference's P50Ms: an
	// estimate of what delivering the frame costs beyond rendering it
	// (0 for the reference itself; noise can make it slightly negative).
	TransferMs float64 `json:"transfer_ms"`
	// HandoffUs, for the zero-copy paths, is what handing the frame to
	// the other API costs against copying it within GL, in microseconds:
	// P50Ms minus the baseline's for ZeroCopy (latency); MeanMs minus the
	// baseline's for ZeroCopyPipelined, whose frames alternate between
	// waiting for the consumer and not, so that its mean, frames over
	// time, is what it sustains and its median says little.
	HandoffUs float64 `json:"handoff_us,omitempty"`
	// InFlight is the pipelined path's frames in flight.
	InFlight int `json:"in_flight,omitempty"`
	// Verified: the last frame reached the consumer texel for texel.
	Verified bool `json:"verified"`
}

// Ratio compares the paths at one size, by median frame time.
type Ratio struct {
	// Width and Height are the size compared.
	Width  int `json:"width"`
	Height int `json:"height"`
	// ZeroCopyOverBaseline is what crossing the API costs against a GL
	// copy of the same frame; CopyOverZeroCopy what copying through host
	// memory costs against sharing it: the two questions the benchmark
	// exists to answer.
	ZeroCopyOverBaseline float64 `json:"zero_copy_over_baseline"`
	CopyOverZeroCopy     float64 `json:"copy_over_zero_copy"`
	// PipelinedOverBaseline is the pipelined zero-copy path against the
	// baseline by mean frame time (throughput, see Result.HandoffUs):
	// what a presenting consumer pays per frame.
	PipelinedOverBaseline float64 `json:"pipelined_over_baseline"`
	// ShareCopyOverZeroCopy is glbridge's copy path against zero-copy,
	// when measured.
	ShareCopyOverZeroCopy float64 `json:"share_copy_over_zero_copy,omitempty"`
	// TransferCopyOverZeroCopy compares the paths' TransferMs: what the
	// copy adds to a frame against what the zero-copy hand-off adds. It
	// is 0 when either is not above zero.
	TransferCopyOverZeroCopy float64 `json:"transfer_copy_over_zero_copy"`
}

// Report is everything one run measured, and on what: numbers read months
// later, on another machine, mean nothing without the driver, the load
// and the command that made them.
type Report struct {
	// Date is when the run started (UTC, RFC 3339); Command the command
	// line, where glshare bench made the report.
	Date    string `json:"date"`
	Command string `json:"command,omitempty"`
	// GoVersion to VKAPIVersion are what ran: the Go toolchain, the host,
	// and the GL context and Vulkan device as their drivers name
	// themselves.
	GoVersion    string `json:"go_version"`
	OS           string `json:"os"`
	CPUs         int    `json:"cpus"`
	GLVendor     string `json:"gl_vendor"`
	GLRenderer   string `json:"gl_renderer"`
	GLVersion    string `json:"gl_version"`
	GLPlatform   string `json:"gl_platform"`
	VKDevice     string `json:"vk_device"`
	VKDriver     string `json:"vk_driver"`
	VKDriverInfo string `json:"vk_driver_info"`
	VKAPIVersion string `json:"vk_api_version"`
	// Handoff is the zero-copy path's synchronisation.
	Handoff string `json:"handoff"`
	// Consumer says which Vulkan device plays the consumer.
	Consumer string `json:"zero_copy_consumer"`
	// Warmup and Draws are Options' values: the draws set the frame's
	// rendering cost, against which every transfer is read.
	Warmup int `json:"warmup_frames"`
	Draws  int `json:"draws_per_frame"`
	// CopyUpload is how the copy path uploaded (the constant CopyUpload
	// when the report was made), kept so that reports of different
	// versions say what each measured.
	CopyUpload string `json:"copy_upload"`
	// LoadAvg is /proc/loadavg's 1-minute load before and after the run:
	// on a machine with other work the frame times say less.
	LoadAvg [2]string `json:"load_avg"`

	// Results has a row per size and path, sizes in Options order, paths
	// in Paths order; Ratios one per size.
	Results []Result `json:"results"`
	Ratios  []Ratio  `json:"ratios"`
	// Open and Broker are nil when skipped (Options.OpenSamples,
	// Options.BrokerClients), and so are Allocate and First
	// (Options.AllocSamples, Options.FirstChildren).
	Open     *OpenResult     `json:"open,omitempty"`
	Broker   *BrokerResult   `json:"broker,omitempty"`
	Allocate *AllocateResult `json:"allocate,omitempty"`
	First    *FirstResult    `json:"first,omitempty"`
}

// Result returns the result for path at size, if measured.
func (r *Report) Result(p Path, s Size) (Result, bool) {
	for _, x := range r.Results {
		if x.Path == p && x.Width == s.W && x.Height == s.H {
			return x, true
		}
	}
	return Result{}, false
}

// consumerNote is Report.Consumer: who plays zero-copy's consumer.
const consumerNote = "a second VkDevice with its own VkInstance on the same GPU (the DXVK role), importing the image and the hand-off's semaphores (handoff.Peer), copying into an image of its own"

// Run measures every path at every size in opts on env, then the open
// latency and broker throughput, and returns the report.
func Run(env *gpuenv.Env, opts Options) (*Report, error) {
	opts.MinFrames = max(min(opts.MinFrames, opts.Frames), 1)
	caps := env.Dev.Caps()
	hp := opts.Handoff
	if hp == handoff.PathAuto {
		hp = handoff.BestPath(env.ID, caps)
	}
	rep := &Report{
		Date:      time.Now().UTC().Format(time.RFC3339),
		GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(),
		GLVendor: env.ID.Vendor, GLRenderer: env.ID.Renderer, GLVersion: env.ID.Version, GLPlatform: env.GL.Platform(),
		VKDevice: caps.DeviceName, VKDriver: caps.DriverName, VKDriverInfo: caps.DriverInfo, VKAPIVersion: caps.APIVersion,
		Handoff: hp.String(), Consumer: consumerNote, Warmup: opts.Warmup, Draws: opts.Draws,
		CopyUpload: CopyUpload,
	}
	rep.LoadAvg[0] = loadAvg()
	var work *workload
	var err error
	if len(opts.Sizes) > 0 {
		env.GL.Call(func() { work, err = newWorkload(opts.Draws) })
		if err != nil {
			return nil, err
		}
		defer env.GL.Call(work.close)
	}
	for _, sz := range opts.Sizes {
		res, err := runSize(env, work, sz, hp, opts)
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, res...)
		rep.Ratios = append(rep.Ratios, ratio(rep, sz))
	}
	if opts.OpenSamples > 0 || opts.BrokerClients > 0 {
		o, b, err := measureBroker(env, opts)
		if err != nil {
			return nil, err
		}
		rep.Open, rep.Broker = o, b
	}
	if opts.AllocSamples > 0 {
		progress(opts.Progress, "bench: ALLOCATE + GL import: %d samples of each kind", opts.AllocSamples)
		if rep.Allocate, err = MeasureAllocate(env, opts.AllocSamples); err != nil {
			return nil, err
		}
	}
	if opts.FirstChildren > 0 && opts.FirstCommand != nil {
		progress(opts.Progress, "bench: first shared texture: %d fresh processes per mode", opts.FirstChildren)
		platform, _, _ := strings.Cut(env.GL.Platform(), " ")
		if rep.First, err = MeasureFirst(FirstOptions{Children: opts.FirstChildren, Command: opts.FirstCommand, Platform: platform, Progress: opts.Progress}); err != nil {
			return nil, err
		}
	}
	rep.LoadAvg[1] = loadAvg()
	return rep, nil
}

func ratio(rep *Report, sz Size) Ratio {
	r := Ratio{Width: sz.W, Height: sz.H}
	b, okB := rep.Result(Baseline, sz)
	z, okZ := rep.Result(ZeroCopy, sz)
	c, okC := rep.Result(Copy, sz)
	if okB && okZ && b.P50Ms > 0 {
		r.ZeroCopyOverBaseline = z.P50Ms / b.P50Ms
	}
	if zp, ok := rep.Result(ZeroCopyPipelined, sz); ok && okB && b.MeanMs > 0 {
		r.PipelinedOverBaseline = zp.MeanMs / b.MeanMs
	}
	if okZ && okC && z.P50Ms > 0 {
		r.CopyOverZeroCopy = c.P50Ms / z.P50Ms
	}
	if sc, ok := rep.Result(ShareCopy, sz); ok && okZ && z.P50Ms > 0 {
		r.ShareCopyOverZeroCopy = sc.P50Ms / z.P50Ms
	}
	if okZ && okC && z.TransferMs > 0 && c.TransferMs > 0 {
		r.TransferCopyOverZeroCopy = c.TransferMs / z.TransferMs
	}
	return r
}

// block is how many frames a path runs before the next path takes over:
// the paths take turns, frame by frame, so that whatever else the machine
// does (a shared CI machine does plenty) hits them alike.
const block = 1

func runSize(env *gpuenv.Env, work *workload, sz Size, hp handoff.Path, opts Options) ([]Result, error) {
	progress(opts.Progress, "bench: %s: setting up", sz)
	r := newRig(env, work, sz)
	paths := opts.paths()
	runs := make([]*pathRun, 0, len(paths))
	defer func() {
		for _, pr := range runs {
			pr.close()
		}
	}()
	for _, p := range paths {
		pr, err := newPath(r, p, hp, cmp.Or(opts.InFlight, DefaultInFlight))
		if err != nil {
			return nil, err
		}
		runs = append(runs, pr)
	}
	next := make([]int, len(runs)) // the next frame number of each path
	for i, pr := range runs {
		for range opts.Warmup {
			if err := pr.frame(next[i]); err != nil {
				return nil, fmt.Errorf("%s at %s, warm-up: %w", paths[i], sz, err)
			}
			next[i]++
		}
		if pr.drain != nil {
			if err := pr.drain(); err != nil {
				return nil, fmt.Errorf("%s at %s, warm-up: %w", paths[i], sz, err)
			}
		}
	}
	times := make([][]time.Duration, len(runs))
	spent := make([]time.Duration, len(runs))
	done := func(i int) bool {
		n := len(times[i])
		return n >= opts.Frames || (n >= opts.MinFrames && spent[i] >= opts.Duration)
	}
	lastReport := time.Now()
	for {
		active := false
		for i, pr := range runs {
			if done(i) {
				continue
			}
			active = true
			for range cmp.Or(pr.block, block) {
				start := time.Now()
				if err := pr.frame(next[i]); err != nil {
					return nil, fmt.Errorf("%s at %s, frame %d: %w", paths[i], sz, next[i], err)
				}
				d := time.Since(start)
				times[i] = append(times[i], d)
				spent[i] += d
				next[i]++
				if done(i) {
					break
				}
			}
			// A path with frames in flight ends its turn with none, so
			// that its work does not overlap the next path's; the wait
			// counts, to its turn's last frame, as the frames' throughput.
			if pr.drain != nil {
				start := time.Now()
				if err := pr.drain(); err != nil {
					return nil, fmt.Errorf("%s at %s, frame %d: %w", paths[i], sz, next[i]-1, err)
				}
				d := time.Since(start)
				times[i][len(times[i])-1] += d
				spent[i] += d
			}
		}
		if !active {
			break
		}
		if time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			var b strings.Builder
			for i := range runs {
				fmt.Fprintf(&b, " %s %d/%d", paths[i], len(times[i]), opts.Frames)
			}
			progress(opts.Progress, "bench: %s:%s frames", sz, b.String())
		}
	}
	out := make([]Result, len(runs))
	for i, pr := range runs {
		if err := pr.check(next[i] - 1); err != nil {
			return nil, err
		}
		out[i] = summarize(paths[i], sz, times[i], spent[i])
		out[i].BytesCopied, out[i].GPUBytes = pr.host, pr.gpu
		out[i].Verified = true
	}
	var b strings.Builder
	var baseline Result
	for i := range out {
		if paths[i] == Baseline {
			baseline = out[i]
		}
	}
	for i := range out {
		if paths[i] != RenderOnly {
			out[i].TransferMs = out[i].P50Ms - out[0].P50Ms
		}
		switch paths[i] {
		case ZeroCopy:
			out[i].HandoffUs = 1000 * (out[i].P50Ms - baseline.P50Ms)
		case ZeroCopyPipelined:
			out[i].HandoffUs = 1000 * (out[i].MeanMs - baseline.MeanMs)
		}
		if paths[i] == ZeroCopyPipelined {
			out[i].InFlight = cmp.Or(opts.InFlight, DefaultInFlight)
		}
		fmt.Fprintf(&b, " %s %.3f ms", out[i].Path, out[i].P50Ms)
	}
	progress(opts.Progress, "bench: %s: done: p50%s", sz, b.String())
	return out, nil
}

// loadAvg returns the 1-minute load average, or "" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// Percentile returns the p-th percentile (0 < p <= 1) of sorted by the
// nearest-rank method: the smallest value with at least p of the samples
// at or below it. Unlike an interpolated percentile it is always a frame
// time that was measured.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarize(p Path, sz Size, times []time.Duration, spent time.Duration) Result {
	s := slices.Clone(times)
	slices.Sort(s)
	r := Result{Path: p, Width: sz.W, Height: sz.H, Frames: len(s)}
	if len(s) == 0 {
		return r
	}
	r.P50Ms, r.P99Ms, r.MinMs = ms(Percentile(s, 0.5)), ms(Percentile(s, 0.99)), ms(s[0])
	r.MeanMs = ms(spent) / float64(len(s))
	if spent > 0 {
		r.FPS = float64(len(s)) / spent.Seconds()
	}
	return r
}

// paths lists the paths r has results for, in report order.
func (r *Report) paths() []Path {
	var out []Path
	for _, p := range AllPaths {
		for _, x := range r.Results {
			if x.Path == p {
				out = append(out, p)
				break
			}
		}
	}
	return out
}
