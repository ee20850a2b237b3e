package bench

import (
	"bytes"
	"encoding/json"
	"image/png"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

func newEnv(tb testing.TB) *gpuenv.Env {
	tb.Helper()
	env, err := gpuenv.NewEnv("")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(env.Close)
	return env
}

// newRun sets up path p at w×h with the default workload, as Run does.
func newRun(tb testing.TB, env *gpuenv.Env, p Path, w, h int) *pathRun {
	tb.Helper()
	var work *workload
	var err error
	env.GL.Call(func() { work, err = newWorkload(4) })
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { env.GL.Call(work.close) })
	pr, err := newPath(newRig(env, work, Size{w, h}), p, handoff.PathAuto, DefaultInFlight)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pr.close)
	return pr
}

// benchPath times single frames of p at the sizes the CI machine (two
// cores, llvmpipe) handles, and reports their median and 99th percentile.
func benchPath(b *testing.B, p Path) {
	env := newEnv(b)
	for _, n := range []int{256, 512} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			pr := newRun(b, env, p, n, n)
			frame := 0
			for range 3 { // warm-up
				if err := pr.frame(frame); err != nil {
					b.Fatal(err)
				}
				frame++
			}
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := pr.frame(frame); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
				frame++
			}
			b.StopTimer()
			if err := pr.check(frame - 1); err != nil {
				b.Fatal(err)
			}
			slices.Sort(times)
			b.ReportMetric(ms(Percentile(times, 0.5)), "p50-ms")
			b.ReportMetric(ms(Percentile(times, 0.99)), "p99-ms")
			b.ReportMetric(float64(pr.host), "host-B/frame")
		})
	}
}

func BenchmarkZeroCopy(b *testing.B)   { benchPath(b, ZeroCopy) }
func BenchmarkCopyPath(b *testing.B)   { benchPath(b, Copy) }
func BenchmarkBaseline(b *testing.B)   { benchPath(b, Baseline) }
func BenchmarkRenderOnly(b *testing.B) { benchPath(b, RenderOnly) }

// TestCheckCatchesStaleFrames: a path whose consumer holds another frame
// than the one asked about, or an image GL did not render, fails its check.
func TestCheckCatchesStaleFrames(t *testing.T) {
	env := newEnv(t)
	for _, p := range Paths {
		t.Run(string(p), func(t *testing.T) {
			pr := newRun(t, env, p, 64, 32)
			for n := range 3 {
				if err := pr.frame(n); err != nil {
					t.Fatal(err)
				}
			}
			if err := pr.check(2); err != nil {
				t.Fatalf("after frame 2: %v", err)
			}
			err := pr.check(3)
			if err == nil || !strings.Contains(err.Error(), "frame 2") {
				t.Fatalf("check(3) after frame 2: %v, want an error naming frame 2", err)
			}
		})
	}
	// The consumer's image must equal GL's: a consumer that missed the
	// last frame holds the one before.
	pr := newRun(t, env, ZeroCopy, 64, 32)
	if err := pr.frame(7); err != nil {
		t.Fatal(err)
	}
	if err := pr.onGL(pr.renderAccess, bridge.AccessReadWrite, func() error { return pr.work.render(pr.fb, 8) }); err != nil {
		t.Fatal(err)
	}
	if err := pr.check(8); err == nil || !strings.Contains(err.Error(), "differs from GL's") {
		t.Fatalf("check with a frame GL rendered but never handed over: %v", err)
	}
}

// TestPipelinedConsumer runs the pipelined zero-copy path, whose
// consumer is a second VkDevice copying behind GL: the consumer must
// receive every frame, whole, in order, in the image of the ring it was
// rendered into (on Mesa 22.3 through the fallback path).
func TestPipelinedConsumer(t *testing.T) {
	env := newEnv(t)
	pr := newRun(t, env, ZeroCopyPipelined, 64, 32)
	n := len(pr.ring)
	if n != DefaultInFlight {
		t.Fatalf("%d images in flight, want %d", n, DefaultInFlight)
	}
	for frame := range 12 * n {
		if err := pr.frame(frame); err != nil {
			t.Fatal(err)
		}
		if frame%n != n-1 {
			continue
		}
		if err := pr.drain(); err != nil {
			t.Fatal(err)
		}
		for k, s := range pr.ring {
			px, err := s.own.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
			if err != nil {
				t.Fatal(err)
			}
			want := frame - (n - 1) + k
			if got, ok := testpattern.FrameOf(px, 64, 32); !ok || got != want || s.frame != want {
				t.Fatalf("after frame %d, the consumer's image %d holds frame %d (readable %v), rendered %d; want %d", frame, k, got, ok, s.frame, want)
			}
		}
	}
	if err := pr.check(12*n - 1); err != nil {
		t.Fatal(err)
	}
}

// TestRun runs a short benchmark for real and checks the report: every
// path at every size, verified, with plausible times, the byte counts, the
// ratios computed from the medians, the open and broker numbers, and a
// table and plot that show them.
func TestRun(t *testing.T) {
	env := newEnv(t)
	opts := Quick()
	opts.Sizes = []Size{{64, 64}, {256, 128}}
	opts.Frames, opts.Duration, opts.OpenSamples, opts.BrokerDuration = 12, time.Second, 30, 300*time.Millisecond
	var progress bytes.Buffer
	opts.Progress = &progress
	rep, err := Run(env, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(opts.Sizes)*len(Paths) || len(rep.Ratios) != len(opts.Sizes) {
		t.Fatalf("%d results and %d ratios for %d sizes", len(rep.Results), len(rep.Ratios), len(opts.Sizes))
	}
	for _, sz := range opts.Sizes {
		for _, p := range Paths {
			x, ok := rep.Result(p, sz)
			if !ok {
				t.Fatalf("no result for %s at %s", p, sz)
			}
			if !x.Verified || x.Frames != opts.Frames || x.P50Ms <= 0 || x.P99Ms < x.P50Ms || x.MinMs > x.P50Ms || x.FPS <= 0 {
				t.Errorf("%s at %s: %+v", p, sz, x)
			}
			wantHost, wantGPU := uint64(0), uint64(sz.W*sz.H*4)
			switch p {
			case Copy:
				wantHost = uint64(sz.W * sz.H * 4)
			case RenderOnly:
				wantGPU = 0
			}
			if x.BytesCopied != wantHost || x.GPUBytes != wantGPU {
				t.Errorf("%s at %s: %d host and %d GPU bytes per frame, want %d and %d", p, sz, x.BytesCopied, x.GPUBytes, wantHost, wantGPU)
			}
		}
		b, _ := rep.Result(Baseline, sz)
		z, _ := rep.Result(ZeroCopy, sz)
		c, _ := rep.Result(Copy, sz)
		ra := ratio(rep, sz)
		if ra.ZeroCopyOverBaseline != z.P50Ms/b.P50Ms || ra.CopyOverZeroCopy != c.P50Ms/z.P50Ms {
			t.Errorf("ratios at %s: %+v from p50s %v %v %v", sz, ra, b.P50Ms, z.P50Ms, c.P50Ms)
		}
	}
	if o := rep.Open; o == nil || o.Samples != 30 || o.RoundTripP50Us <= 0 || o.OpenP50Us < o.RoundTripP50Us || o.OpenP99Us < o.OpenP50Us {
		t.Errorf("open: %+v", rep.Open)
	}
	if br := rep.Broker; br == nil || br.Clients != 32 || br.Cycles == 0 || br.OpsPerSec != 2*br.CyclesPerSec {
		t.Errorf("broker: %+v", rep.Broker)
	}
	if rep.GLRenderer == "" || rep.VKDevice == "" || rep.Handoff == "" {
		t.Errorf("report lacks what it ran on: %+v", rep)
	}
	if !strings.Contains(progress.String(), "256x128: done") {
		t.Errorf("no progress lines: %q", progress.String())
	}

	var tb strings.Builder
	if err := WriteTable(&tb, rep); err != nil {
		t.Fatal(err)
	}
	if a := rep.Allocate; a == nil || a.Samples != opts.AllocSamples || a.AllocateImportP50Us <= 0 {
		t.Errorf("allocate: %+v", rep.Allocate)
	}
	if rep.First != nil {
		t.Errorf("first texture measured without a FirstCommand: %+v", rep.First)
	}
	for _, want := range []string{"64x64", "256x128", "zero-copy", "render-only", "copy / zero-copy", rep.GLRenderer, "cycles/s", "ALLOCATE + GL import"} {
		if !strings.Contains(tb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tb.String())
		}
	}
	var img bytes.Buffer
	if err := WritePlot(&img, rep); err != nil {
		t.Fatal(err)
	}
	pic, err := png.Decode(&img)
	if err != nil {
		t.Fatal(err)
	}
	if b := pic.Bounds(); b.Dx() != 2*plotMargin+2*panelW || b.Dy() != plotTop+plotAxisH+plotBottom {
		t.Errorf("plot is %v", b)
	}
	// Each path's colour must appear in the plot: a bar was drawn.
	seen := map[Path]bool{}
	for y := plotTop; y < plotTop+plotAxisH; y++ {
		for x := range pic.Bounds().Dx() {
			r, g, b, _ := pic.At(x, y).RGBA()
			for p, c := range pathColors {
				if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(b>>8) == c.B {
					seen[p] = true
				}
			}
		}
	}
	for _, p := range Paths {
		if !seen[p] {
			t.Errorf("no %s bar in the plot", p)
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
}

func TestParseSizes(t *testing.T) {
	got, err := ParseSizes("256, 1920x1080,4k,720p")
	if err != nil {
		t.Fatal(err)
	}
	want := []Size{{256, 256}, {1920, 1080}, {3840, 2160}, {1280, 720}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "x", "8x8", "256x", "huge", "20000"} {
		if _, err := ParseSizes(bad); err == nil {
			t.Errorf("ParseSizes(%q) accepted", bad)
		}
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(s[:3], 0.5); got != 2 {
		t.Errorf("median of 1,2,3 = %v", got)
	}
	if got := Percentile(nil, 0.5); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0.3, 0.5}, {1, 1}, {1.1, 2}, {2.2, 2.5}, {7, 10}, {0.021, 0.025}, {0, 1}} {
		if got := niceStep(c.in); got < c.want*0.9999 || got > c.want*1.0001 {
			t.Errorf("niceStep(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestRunShareCopy measures glbridge's own copy path beside the others
// when asked, verified like them, and reports its ratio and plots it.
func TestRunShareCopy(t *testing.T) {
	env := newEnv(t)
	opts := Quick()
	opts.Sizes = []Size{{64, 64}}
	opts.Frames, opts.Duration, opts.OpenSamples, opts.BrokerClients = 8, time.Second, 0, 0
	opts.ShareCopy = true
	rep, err := Run(env, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(AllPaths) {
		t.Fatalf("%d results with ShareCopy, want %d", len(rep.Results), len(AllPaths))
	}
	x, ok := rep.Result(ShareCopy, opts.Sizes[0])
	if !ok || !x.Verified || x.Frames != opts.Frames || x.BytesCopied != 64*64*4 {
		t.Fatalf("share-copy result: %+v", x)
	}
	if r := rep.Ratios[0]; r.ShareCopyOverZeroCopy <= 0 {
		t.Fatalf("ratios: %+v", r)
	}
	var table, png bytes.Buffer
	if err := WriteTable(&table, rep); err != nil || !strings.Contains(table.String(), "share-copy / zero-copy") {
		t.Fatalf("the table lacks the share-copy ratio (%v):\n%s", err, table.String())
	}
	if err := WritePlot(&png, rep); err != nil || png.Len() == 0 {
		t.Fatalf("plot: %v", err)
	}
}
