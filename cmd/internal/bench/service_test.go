package bench

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/share"
)

// TestMain runs FirstChild when MeasureFirst re-executes the test binary
// as its child, and the tests otherwise.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == FirstChildCommand {
		if err := FirstChild(os.Args[2:], os.Stdout); err != nil {
			os.Stderr.WriteString(FirstChildCommand + ": " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testChild is FirstOptions.Command for the test binary.
func testChild(args []string) *exec.Cmd {
	return exec.Command(os.Args[0], append([]string{FirstChildCommand}, args...)...)
}

// TestMeasureFirst runs two children per mode for real and checks what
// they report: every child's texture was drawn into and read back through
// its KMT handle (a child that fails its check fails the run), the
// in-process children opened Vulkan and allocated the texture
// themselves, the service children never loaded libvulkan and got a
// texture the broker allocated on its device, both zero-copy; the times
// add up and the ratios are the percentiles'.
func TestMeasureFirst(t *testing.T) {
	var progress strings.Builder
	r, err := MeasureFirst(FirstOptions{Children: 2, Command: testChild, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("in-process %+v\nservice %+v\nratio p50 %.2f p99 %.2f", r.InProcess, r.Service, r.InProcessOverServiceP50, r.InProcessOverServiceP99)
	if r.Children != 2 || r.Width != 256 || r.Height != 256 {
		t.Errorf("result for %d children at %dx%d", r.Children, r.Width, r.Height)
	}
	in, svc := r.InProcess, r.Service
	if in.Mode != FirstInProcess || !in.LoadedVulkan || in.AllocatedOn != "" || in.Path != share.ZeroCopy.String() {
		t.Errorf("in-process children: %+v, want zero-copy, libvulkan loaded, allocated by the child", in)
	}
	if svc.Mode != FirstService || svc.LoadedVulkan || svc.AllocatedOn == "" || svc.AllocatedOn == "host memory" || svc.Path != share.ZeroCopy.String() {
		t.Errorf("service children: %+v, want zero-copy, no libvulkan, allocated on the broker's device", svc)
	}
	for _, m := range []FirstMode{in, svc} {
		if m.MinMs <= 0 || m.P50Ms < m.MinMs || m.P99Ms < m.P50Ms || m.MaxMs != m.P99Ms || m.ContextP50Ms <= 0 ||
			m.DialP50Ms <= 0 || m.GLLoadP50Ms <= 0 || m.NewGLP50Ms <= 0 || m.CreateP50Ms <= 0 || m.ShareP50Ms <= 0 ||
			m.DialP50Ms+m.GLLoadP50Ms+m.NewGLP50Ms+m.CreateP50Ms+m.ShareP50Ms > 5*m.MaxMs {
			t.Errorf("%s times: %+v", m.Mode, m)
		}
	}
	if r.InProcessOverServiceP50 != in.P50Ms/svc.P50Ms || r.InProcessOverServiceP99 != in.P99Ms/svc.P99Ms {
		t.Errorf("ratios %v %v from p50s %v %v, p99s %v %v", r.InProcessOverServiceP50, r.InProcessOverServiceP99, in.P50Ms, svc.P50Ms, in.P99Ms, svc.P99Ms)
	}
	if n := strings.Count(progress.String(), "bench: first texture: "); n != 4 {
		t.Errorf("%d progress lines, want one per timed child:\n%s", n, progress.String())
	}
	var tb strings.Builder
	if err := WriteTable(&tb, &Report{First: r}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first shared texture in a fresh process", "in-process", "not loaded", svc.AllocatedOn, "in-process / service: "} {
		if !strings.Contains(tb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tb.String())
		}
	}
}

// TestFirstChildFails: a child that cannot reach its broker fails, and
// MeasureFirst reports which child and why, rather than a time.
func TestFirstChildFails(t *testing.T) {
	_, err := runFirstChild(FirstOptions{Command: testChild}, FirstService, "/nonexistent/broker.sock")
	if err == nil || !strings.Contains(err.Error(), "broker.Dial") {
		t.Fatalf("a child without a broker: %v", err)
	}
	if _, err := MeasureFirst(FirstOptions{Children: 0, Command: testChild}); err == nil {
		t.Fatal("MeasureFirst with no children succeeded")
	}
}

// TestMeasureAllocate measures ALLOCATE and GL import for real, with a
// few samples, and checks the report: the broker's device is the GL's
// Vulkan device, share's service mode got zero-copy, every figure is
// there and ordered (the reply before the import before the whole cycle).
func TestMeasureAllocate(t *testing.T) {
	env := newEnv(t)
	r, err := MeasureAllocate(env, 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Samples != 20 || r.Width != 256 || r.Height != 256 || r.Device != env.Dev.Caps().DeviceName || r.ShareServicePath != share.ZeroCopy.String() {
		t.Errorf("allocate result: %+v, want 20 samples at 256x256 on %q, zero-copy", r, env.Dev.Caps().DeviceName)
	}
	for name, p := range map[string][2]float64{
		"allocate": {r.AllocateP50Us, r.AllocateP99Us}, "allocate+import": {r.AllocateImportP50Us, r.AllocateImportP99Us},
		"cycle": {r.CycleP50Us, r.CycleP99Us}, "share service create": {r.ShareServiceCreateP50Us, r.ShareServiceCreateP99Us},
		"share service cycle": {r.ShareServiceCycleP50Us, r.ShareServiceCycleP99Us}, "in-process import": {r.InProcessImportP50Us, r.InProcessImportP99Us},
		"share in-process create": {r.ShareInProcessCreateP50Us, r.ShareInProcessCreateP99Us},
	} {
		if p[0] <= 0 || p[1] < p[0] {
			t.Errorf("%s: p50 %v µs, p99 %v µs", name, p[0], p[1])
		}
	}
	if r.AllocateImportP50Us < r.AllocateP50Us || r.CycleP50Us < r.AllocateImportP50Us || r.ShareServiceCycleP50Us < r.ShareServiceCreateP50Us {
		t.Errorf("figures out of order: %+v", r)
	}
}

// benchAllocate times iterations of one kind at 256x256 on a broker this
// process serves, reporting their median and 99th percentile.
func benchAllocate(b *testing.B, iter func(env *gpuenv.Env, c *broker.Client) (time.Duration, error)) {
	env := newEnv(b)
	sock, stop, err := startBroker()
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	c, err := broker.Dial(sock)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.Run("256", func(b *testing.B) {
		for range allocateWarmup {
			if _, err := iter(env, c); err != nil {
				b.Fatal(err)
			}
		}
		var times []time.Duration
		for b.Loop() {
			d, err := iter(env, c)
			if err != nil {
				b.Fatal(err)
			}
			times = append(times, d)
		}
		b.StopTimer()
		p50, p99 := p50p99(times)
		b.ReportMetric(p50, "p50-µs")
		b.ReportMetric(p99, "p99-µs")
	})
}

// BenchmarkServiceAllocate is ALLOCATE on the broker's device of GL's
// UUIDs and the GL import (memory object and texture); closing is not
// timed in the percentiles (ns/op includes it).
func BenchmarkServiceAllocate(b *testing.B) {
	benchAllocate(b, func(env *gpuenv.Env, c *broker.Client) (time.Duration, error) {
		_, imported, _, err := allocateImport(env, c)
		return imported, err
	})
}

// BenchmarkServiceCreate is share's Create in service mode and Close: the
// ALLOCATE and the import as a renderer makes them.
func BenchmarkServiceCreate(b *testing.B) {
	var g *share.GL
	benchAllocate(b, func(env *gpuenv.Env, c *broker.Client) (d time.Duration, err error) {
		env.GL.Call(func() {
			if g == nil {
				if g, err = share.NewGL(env.GL.ProcAddr, share.Options{Service: c}); err != nil {
					return
				}
				b.Cleanup(func() { env.GL.Call(func() { g.Close() }) })
			}
			start := time.Now()
			var res *share.GLResource
			if res, err = g.Create(serviceDesc()); err != nil {
				return
			}
			err = res.Close()
			d = time.Since(start)
		})
		return d, err
	})
}

// BenchmarkInProcessAllocate is the same texture made on the process's
// own helper device and imported: what ALLOCATE is compared with.
func BenchmarkInProcessAllocate(b *testing.B) {
	benchAllocate(b, func(env *gpuenv.Env, _ *broker.Client) (time.Duration, error) { return inProcessImport(env) })
}
