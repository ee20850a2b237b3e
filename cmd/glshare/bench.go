package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glbridge/glbridge/cmd/internal/bench"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/internal/gpuenv"
)

func init() {
	register(command{name: "bench", summary: "measure zero-copy GL->Vulkan hand-off against a copy and a plain GL blit", run: func(args []string) error {
		return runBench(args, os.Stdout, os.Stderr)
	}})
	// The child processes of the first-texture benchmark: glshare
	// re-executes itself, so that each is a fresh process of the program
	// a renderer would be.
	register(command{name: bench.FirstChildCommand, run: func(args []string) error {
		return bench.FirstChild(args, os.Stdout)
	}})
}

// benchUsage is glshare bench -h before the flags. The paths are spelled
// out because the numbers mean nothing without them; the copy path's
// upload (%s) comes from the package, the one place that says it.
const benchUsage = `usage: glshare bench [flags]

Measures how long a frame GL rendered takes to reach a Vulkan consumer, by
path, the paths taking turns frame by frame; a frame ends when its consumer
holds it, and each path's last frame is checked texel for texel:

  render-only  the frame (the test pattern and --draws blended draws), then a
               fence: the reference the others are read against
  baseline     the frame, glBlitFramebuffer into another GL texture, a fence
  zero-copy    the frame into memory Vulkan exported, handed over (--handoff)
               to a second VkDevice of its own instance (the DXVK role), which
               copies it into an image of its own; a frame ends when it holds
               it (latency)
  zero-copy-pipelined
               the same with --in-flight frames in flight in a ring of images,
               the consumer copying behind GL, as a presenting consumer runs
               (throughput)
  copy         the frame, then
               %s
  share-copy   (with --share-copy) package share forced onto its copy path

Then the latency of opening a shared texture through a broker, and the
broker's throughput; then service allocation (the broker's ALLOCATE, which
share's service mode uses): ALLOCATE + GL import of a 256x256 texture in
this process (--alloc-samples), and the first shared texture of freshly
started processes (--first-children), share allocating in the process
(opening a Vulkan device) against through a broker that has its device
open. --service measures only these two. docs/benchmarks.md explains the
method and the numbers.

Two broker benchmarks run instead of all that, without GL, against a
broker that glshare starts as a process of its own (glshare serve):
--load, the load test (--clients connections × --ops seeded mixed
operations, every result checked, nothing left at the end: no resource,
the broker's fds back where they were, no client fd); and
--broker-scaling, OPEN_KMT + CLOSE round trips and throughput for each
of --scaling-clients against each of --scaling-resources live
resources, saturated and paced (--paced-rate), --broker-seconds each
(--plot draws them).

flags:
`

var handoffPaths = map[string]handoff.Path{
	"auto": handoff.PathAuto, "timeline": handoff.PathTimeline, "binary": handoff.PathBinary, "fallback": handoff.PathFallback,
}

// override is a flag whose default depends on the machine, known only
// once the GL context is open (a software renderer gets fewer frames):
// given, it replaces the default; not given, it leaves it, and -h shows the
// defaults from its usage rather than a placeholder value.
type override[T int | float64] struct {
	v   T
	set bool
	// ok says whether a value is in range, want what the range is.
	ok   func(T) bool
	want string
}

func (o *override[T]) String() string {
	if o == nil || !o.set {
		return ""
	}
	return fmt.Sprint(o.v)
}

func (o *override[T]) Set(s string) error {
	var err error
	switch v := any(&o.v).(type) {
	case *int:
		*v, err = strconv.Atoi(s)
	case *float64:
		*v, err = strconv.ParseFloat(s, 64)
	}
	if err != nil {
		return errors.New("not a number")
	}
	if !o.ok(o.v) {
		return errors.New("want " + o.want)
	}
	o.set = true
	return nil
}

// apply replaces *dst with the flag's value, if given.
func (o *override[T]) apply(dst *T) {
	if o.set {
		*dst = o.v
	}
}

// runBench is glshare bench: the table (or JSON) goes to stdout, progress
// to stderr.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, benchUsage, bench.CopyUpload)
		fs.PrintDefaults()
	}
	quick := fs.Bool("quick", false, "a short run: 256x256 and 512x512, few frames (for CI)")
	sizes := fs.String("sizes", "", "comma-separated `list` of sizes: WxH, N (NxN), 720p, 1080p, 1440p, 4k (default: 256,1080p,4k; on a software renderer 256,512,1080p)")
	atLeast := func(n int) override[int] {
		return override[int]{ok: func(v int) bool { return v >= n }, want: fmt.Sprint("at least ", n)}
	}
	positive := override[float64]{ok: func(v float64) bool { return v > 0 }, want: "more than 0"}
	frames, warmup, draws, openSamples, clients := atLeast(1), atLeast(0), atLeast(0), atLeast(0), atLeast(0)
	seconds, brokerSecs := positive, positive
	fs.Var(&frames, "frames", "at most `N` frames measured per path and size (default: 600, software 200, quick 40)")
	fs.Var(&seconds, "seconds", "stop measuring a path at a size after `S` seconds of frames (default: 10, software 8, quick 2)")
	fs.Var(&warmup, "warmup", "`N` warm-up frames per path and size (default: 20, software 5, quick 3)")
	fs.Var(&draws, "draws", "`N` blended full-screen draws per frame after the test pattern (default 4)")
	hpath := fs.String("handoff", "auto", "zero-copy synchronisation: auto, timeline, binary or fallback")
	inFlight := fs.Int("in-flight", bench.DefaultInFlight, "frames in flight of the zero-copy-pipelined path (at least 2)")
	fs.Var(&openSamples, "open-samples", "`N` timed broker opens (0 skips; default 2000, quick 200)")
	fs.Var(&clients, "clients", "`N` broker throughput clients (0 skips; default 32)")
	fs.Var(&brokerSecs, "broker-seconds", "broker throughput for `S` seconds (default 3, quick 1)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of the table")
	plot := fs.String("plot", "", "also draw frame times into this PNG file")
	out := fs.String("out", "", "also write bench.txt, bench.json and bench.png into this directory")
	platform := fs.String("platform", "", "EGL platform: device or surfaceless (default: the first that works)")
	shareCopy := fs.Bool("share-copy", false, "also measure glbridge's own copy path (package share, forced), for drivers without zero-copy")
	allocSamples, firstChildren := atLeast(0), atLeast(0)
	fs.Var(&allocSamples, "alloc-samples", "`N` timed ALLOCATE + GL import iterations of each kind (0 skips; default 200, quick 50)")
	fs.Var(&firstChildren, "first-children", "`N` fresh processes per mode timed to their first shared texture (0 skips; default 10, quick 3)")
	serviceOnly := fs.Bool("service", false, "measure only service allocation (--alloc-samples, --first-children): no frames, open latency or throughput")
	load := fs.Bool("load", false, "instead of the frames, the broker load test: --clients connections (default 128) × --ops mixed operations against a glshare serve process, every result checked; no GL")
	ops := atLeast(1)
	fs.Var(&ops, "ops", "`N` operations per client of --load (default 1000)")
	seed := fs.Uint64("seed", 1, "seed of --load's and --broker-scaling's random choices")
	scaling := fs.Bool("broker-scaling", false, "instead of the frames, the broker's open latency and throughput against clients and live resources, against a glshare serve process; no GL")
	scalingClients := fs.String("scaling-clients", "", "comma-separated `list` of client counts for --broker-scaling (default 1,8,32,128)")
	scalingResources := fs.String("scaling-resources", "", "comma-separated `list` of live-resource counts for --broker-scaling (default 10,1000,10000)")
	pacedRate := atLeast(1)
	fs.Var(&pacedRate, "paced-rate", fmt.Sprintf("`N` open/close cycles per second all clients together offer in --broker-scaling's paced phase (default %d)", bench.DefaultScalingPacedRate))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *load || *scaling {
		b := brokerBench{load: *load, clients: clients, ops: ops, seed: *seed, scalingClients: *scalingClients,
			scalingResources: *scalingResources, pacedRate: pacedRate, brokerSecs: brokerSecs, asJSON: *asJSON, out: *out, plot: *plot, args: args}
		return b.run(fs, stdout, stderr)
	}
	hp, ok := handoffPaths[*hpath]
	if !ok {
		return fmt.Errorf("--handoff %q: want auto, timeline, binary or fallback", *hpath)
	}

	env, err := gpuenv.NewEnv(*platform)
	if err != nil {
		return err
	}
	defer env.Close()

	opts := bench.Full(bench.Software(env.ID.Renderer))
	if *quick {
		opts = bench.Quick()
	}
	opts.ShareCopy = *shareCopy
	if *inFlight < 2 {
		return fmt.Errorf("--in-flight %d: want at least 2 (zero-copy is the path with 1)", *inFlight)
	}
	opts.InFlight = *inFlight
	if *sizes != "" {
		if opts.Sizes, err = bench.ParseSizes(*sizes); err != nil {
			return err
		}
	}
	frames.apply(&opts.Frames)
	if frames.set {
		opts.MinFrames = min(opts.MinFrames, frames.v)
	}
	warmup.apply(&opts.Warmup)
	draws.apply(&opts.Draws)
	openSamples.apply(&opts.OpenSamples)
	clients.apply(&opts.BrokerClients)
	if *serviceOnly {
		if *sizes != "" || openSamples.set || clients.set || *shareCopy {
			return errors.New("--service measures service allocation alone: no --sizes, --open-samples, --clients or --share-copy")
		}
		opts.Sizes, opts.OpenSamples, opts.BrokerClients = nil, 0, 0
	}
	allocSamples.apply(&opts.AllocSamples)
	firstChildren.apply(&opts.FirstChildren)
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("os.Executable: %w", err)
	}
	opts.FirstCommand = func(args []string) *exec.Cmd {
		return exec.Command(self, append([]string{bench.FirstChildCommand}, args...)...)
	}
	if seconds.set {
		opts.Duration = time.Duration(seconds.v * float64(time.Second))
	}
	if brokerSecs.set {
		opts.BrokerDuration = time.Duration(brokerSecs.v * float64(time.Second))
	}
	opts.Handoff, opts.Progress = hp, stderr
	if len(opts.Sizes) > 0 {
		fmt.Fprintf(stderr, "bench: GL %s, Vulkan %s; sizes %v, up to %d frames or %v per path and size\n",
			env.ID.Renderer, env.Dev.Caps().DeviceName, opts.Sizes, opts.Frames, opts.Duration)
	} else {
		fmt.Fprintf(stderr, "bench: GL %s, Vulkan %s; service allocation only\n", env.ID.Renderer, env.Dev.Caps().DeviceName)
	}

	rep, err := bench.Run(env, opts)
	if err != nil {
		return err
	}
	rep.Command = "glshare bench " + strings.Join(args, " ")

	var table, js, img bytes.Buffer
	if err := bench.WriteTable(&table, rep); err != nil {
		return err
	}
	if err := writeJSON(&js, rep); err != nil {
		return err
	}
	if *plot != "" || (*out != "" && len(rep.Results) > 0) {
		if err := bench.WritePlot(&img, rep); err != nil {
			return err
		}
	}
	if *plot != "" {
		if err := os.WriteFile(*plot, img.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		files := map[string][]byte{"bench.txt": table.Bytes(), "bench.json": js.Bytes()}
		if len(rep.Results) > 0 {
			files["bench.png"] = img.Bytes()
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	if *asJSON {
		_, err = stdout.Write(js.Bytes())
	} else {
		_, err = stdout.Write(table.Bytes())
	}
	return err
}

// brokerBench is glshare bench --load and --broker-scaling: broker-only
// benchmarks, which need no GL and take only their own flags.
type brokerBench struct {
	load                             bool
	clients, ops, pacedRate          override[int]
	brokerSecs                       override[float64]
	seed                             uint64
	scalingClients, scalingResources string
	asJSON                           bool
	out, plot                        string
	args                             []string
}

// Flags each broker benchmark takes; any other is a mistake, since it
// would be silently ignored.
var (
	loadFlags    = []string{"load", "clients", "ops", "seed", "json", "out"}
	scalingFlags = []string{"broker-scaling", "scaling-clients", "scaling-resources", "paced-rate", "broker-seconds", "seed", "json", "out", "plot"}
)

func (b brokerBench) run(fs *flag.FlagSet, stdout, stderr io.Writer) error {
	mode, allowed := "--broker-scaling", scalingFlags
	if b.load {
		mode, allowed = "--load", loadFlags
	}
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		if !slices.Contains(allowed, f.Name) {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("%s takes only --%s, not %s", mode, strings.Join(allowed[1:], ", --"), strings.Join(bad, ", "))
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("os.Executable: %w", err)
	}
	serve := func(args []string) *exec.Cmd { return exec.Command(self, append([]string{"serve"}, args...)...) }
	command := "glshare bench " + strings.Join(b.args, " ")
	var report any
	var table, img bytes.Buffer
	// A load test that failed still prints what it saw, then fails.
	var failed error
	if b.load {
		opts := bench.LoadOptions{Clients: 128, Ops: 1000, Seed: b.seed, Serve: serve, Progress: stderr}
		b.clients.apply(&opts.Clients)
		b.ops.apply(&opts.Ops)
		r, err := bench.RunLoad(opts)
		if r == nil {
			return err
		}
		failed, r.Command, report = err, command, r
		if err := bench.WriteLoadTable(&table, r); err != nil {
			return err
		}
	} else {
		opts := bench.ScalingOptions{Clients: bench.DefaultScalingClients, Resources: bench.DefaultScalingResources,
			Duration: bench.DefaultScalingDuration, PacedRate: bench.DefaultScalingPacedRate, Seed: b.seed, Serve: serve, Progress: stderr}
		for _, l := range []struct {
			flag, s string
			dst     *[]int
		}{{"--scaling-clients", b.scalingClients, &opts.Clients}, {"--scaling-resources", b.scalingResources, &opts.Resources}} {
			if l.s == "" {
				continue
			}
			if *l.dst, err = parseCounts(l.s); err != nil {
				return fmt.Errorf("%s: %w", l.flag, err)
			}
		}
		b.pacedRate.apply(&opts.PacedRate)
		if b.brokerSecs.set {
			opts.Duration = time.Duration(b.brokerSecs.v * float64(time.Second))
		}
		r, err := bench.MeasureScaling(opts)
		if err != nil {
			return err
		}
		r.Command, report = command, r
		if err := bench.WriteScalingTable(&table, r); err != nil {
			return err
		}
		if err := bench.WriteScalingPlot(&img, r); err != nil {
			return err
		}
	}
	if b.plot != "" {
		if err := os.WriteFile(b.plot, img.Bytes(), 0o644); err != nil {
			return err
		}
	}
	var js bytes.Buffer
	if err := writeJSON(&js, report); err != nil {
		return err
	}
	if b.out != "" {
		if err := os.MkdirAll(b.out, 0o755); err != nil {
			return err
		}
		files := map[string][]byte{"bench.txt": table.Bytes(), "bench.json": js.Bytes()}
		if img.Len() > 0 {
			files["bench.png"] = img.Bytes()
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(b.out, name), data, 0o644); err != nil {
				return err
			}
		}
	}
	if b.asJSON {
		_, err = stdout.Write(js.Bytes())
	} else {
		_, err = stdout.Write(table.Bytes())
	}
	return cmp.Or(failed, err)
}

// parseCounts parses a comma-separated list of positive counts.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want a comma-separated list of counts of at least 1", s)
		}
		out = append(out, n)
	}
	return out, nil
}
