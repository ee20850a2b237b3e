package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/share"
)

// This file is what service allocation saves a process that has just
// started: the time to its first shared texture, in child processes, with
// share allocating in the process (opening a helper device: a Vulkan
// instance, the loader and the driver) against share allocating through a
// broker that has its device open already.

// FirstChildCommand is the hidden command line word under which a program
// runs FirstChild: glshare's `glshare bench-first-child`, the package
// tests' test binary.
const FirstChildCommand = "bench-first-child"

// The modes a child runs in.
const (
	// FirstInProcess is share.NewGL with share.Options{}: Create
	// allocates on a helper device the process opens.
	FirstInProcess = "in-process"
	// FirstService is share.NewGL with share.Options{Service: client}:
	// Create has the broker allocate.
	FirstService = "service"
)

// FirstResult is the time from a fresh process's first share call to its
// first shared texture, by mode. Each child process makes a headless GL
// context (not timed: every GL renderer has one before it shares), then
// times, on the context's thread: broker.Dial, share.NewGL (timed in two
// steps: glimport.Init, loading the GL functions, which NewGL does first
// and both modes pay alike, called before it; then NewGL), Create of a
// 256x256 RGBA8 texture (which GL can then use: the memory is imported,
// the texture made) and Share (the texture has a KMT handle any process
// can open; in service mode the broker registered it already and Share
// adds the private data). The modes take turns, child by child, after one
// untimed child of each (the broker opens its device for the first
// service child; both warm the file cache), so that the service mode's
// broker has its device open, as a running glshare serve has. Then each
// child checks that the texture is shared for real: it draws quadrants
// into it, opens its KMT handle again through share and reads them back.
type FirstResult struct {
	// Width and Height are the texture's size; Children the number of
	// children timed per mode.
	Width    int `json:"width"`
	Height   int `json:"height"`
	Children int `json:"children"`
	// InProcess and Service are the modes' figures.
	InProcess FirstMode `json:"in_process"`
	Service   FirstMode `json:"service"`
	// InProcessOverServiceP50 and InProcessOverServiceP99 compare the
	// modes' percentiles: how many times faster the service path gets a
	// process its first texture (the target: at least 5).
	InProcessOverServiceP50 float64 `json:"in_process_over_service_p50"`
	InProcessOverServiceP99 float64 `json:"in_process_over_service_p99"`
}

// FirstMode is one mode's children, milliseconds, nearest-rank
// percentiles (with 10 children p99 is the slowest).
type FirstMode struct {
	// Mode is FirstInProcess or FirstService.
	Mode string `json:"mode"`
	// P50Ms and P99Ms are the whole timed span; MinMs and MaxMs its
	// extremes.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MinMs float64 `json:"min_ms"`
	MaxMs float64 `json:"max_ms"`
	// DialP50Ms (broker.Dial), GLLoadP50Ms (glimport.Init), NewGLP50Ms
	// (the rest of share.NewGL), CreateP50Ms and ShareP50Ms are the
	// medians of its steps.
	DialP50Ms   float64 `json:"dial_p50_ms"`
	GLLoadP50Ms float64 `json:"gl_load_p50_ms"`
	NewGLP50Ms  float64 `json:"new_gl_p50_ms"`
	CreateP50Ms float64 `json:"create_p50_ms"`
	ShareP50Ms  float64 `json:"share_p50_ms"`
	// ContextP50Ms is the median time the child took to make its GL
	// context, which is not timed.
	ContextP50Ms float64 `json:"context_p50_ms"`
	// Path is the share path the children's textures got; AllocatedOn
	// the broker's device for service allocations ("" for the
	// in-process mode's, which the child allocated itself).
	Path        string `json:"path"`
	AllocatedOn string `json:"allocated_on"`
	// LoadedVulkan says whether any child had libvulkan mapped once it
	// had its texture: in-process always, service never.
	LoadedVulkan bool `json:"loaded_libvulkan"`
}

// FirstOptions says how MeasureFirst runs its children.
type FirstOptions struct {
	// Children is the number of children timed per mode.
	Children int
	// Command returns a command that runs this program's FirstChild with
	// args: glshare re-executing itself with FirstChildCommand and args,
	// say. MeasureFirst sets its environment, stdout and stderr.
	Command func(args []string) *exec.Cmd
	// Platform is the EGL platform of the children's GL ("": the first
	// that works).
	Platform string
	// Progress receives a line per child; nil is silent.
	Progress io.Writer
}

// firstChildTimeout bounds one child: making a context and a device takes
// well under a second, on a loaded two-core machine a few.
const firstChildTimeout = 2 * time.Minute

// firstChildResult is what a child prints, as one JSON line. Times are
// microseconds.
type firstChildResult struct {
	Mode         string  `json:"mode"`
	ContextUs    float64 `json:"context_us"`
	DialUs       float64 `json:"dial_us"`
	GLLoadUs     float64 `json:"gl_load_us"`
	NewGLUs      float64 `json:"new_gl_us"`
	CreateUs     float64 `json:"create_us"`
	ShareUs      float64 `json:"share_us"`
	TotalUs      float64 `json:"total_us"`
	Path         string  `json:"path"`
	ViaService   bool    `json:"via_service"`
	AllocatedOn  string  `json:"allocated_on"`
	LoadedVulkan bool    `json:"loaded_libvulkan"`
}

// MeasureFirst serves a broker in this process, runs opts.Children
// children per mode against it, and reports FirstResult.
func MeasureFirst(opts FirstOptions) (*FirstResult, error) {
	if opts.Children < 1 || opts.Command == nil {
		return nil, errors.New("bench: MeasureFirst: want at least one child and a Command")
	}
	sock, stop, err := startBroker()
	if err != nil {
		return nil, err
	}
	defer stop()
	modes := []string{FirstInProcess, FirstService}
	got := map[string][]firstChildResult{}
	run := func(mode string, i int) error {
		r, err := runFirstChild(opts, mode, sock)
		if err != nil {
			return fmt.Errorf("bench: first texture, %s child %d: %w", mode, i, err)
		}
		if i >= 0 {
			got[mode] = append(got[mode], r)
			progress(opts.Progress, "bench: first texture: %s child %d/%d: %.1f ms", mode, i+1, opts.Children, r.TotalUs/1000)
		}
		return nil
	}
	for _, m := range modes { // the untimed warm-up children
		if err := run(m, -1); err != nil {
			return nil, err
		}
	}
	for i := range opts.Children {
		order := modes
		if i%2 == 1 {
			order = []string{modes[1], modes[0]}
		}
		for _, m := range order {
			if err := run(m, i); err != nil {
				return nil, err
			}
		}
	}
	res := &FirstResult{Width: serviceSize, Height: serviceSize, Children: opts.Children,
		InProcess: summarizeFirst(FirstInProcess, got[FirstInProcess]), Service: summarizeFirst(FirstService, got[FirstService])}
	if res.Service.P50Ms > 0 {
		res.InProcessOverServiceP50 = res.InProcess.P50Ms / res.Service.P50Ms
	}
	if res.Service.P99Ms > 0 {
		res.InProcessOverServiceP99 = res.InProcess.P99Ms / res.Service.P99Ms
	}
	return res, nil
}

// runFirstChild runs one child in mode and reads what it printed.
func runFirstChild(opts FirstOptions, mode, sock string) (firstChildResult, error) {
	args := []string{"-mode", mode, "-socket", sock}
	if opts.Platform != "" {
		args = append(args, "-platform", opts.Platform)
	}
	cmd := opts.Command(args)
	// The in-process mode must not be sent to the broker by the
	// environment: share.AllocateEnv is the parent's business.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, share.AllocateEnv+"=") })
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return firstChildResult{}, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	timer := time.AfterFunc(firstChildTimeout, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	if err != nil {
		return firstChildResult{}, fmt.Errorf("%s: %w\n%s", cmd.Path, err, stderr.String())
	}
	var r firstChildResult
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return r, fmt.Errorf("the child printed %q: %w\n%s", stdout.String(), err, stderr.String())
	}
	if r.Mode != mode {
		return r, fmt.Errorf("the child ran in mode %q, want %q", r.Mode, mode)
	}
	return r, nil
}

func summarizeFirst(mode string, rs []firstChildResult) FirstMode {
	m := FirstMode{Mode: mode}
	if len(rs) == 0 {
		return m
	}
	pick := func(f func(firstChildResult) float64) []time.Duration {
		d := make([]time.Duration, len(rs))
		for i, r := range rs {
			d[i] = time.Duration(f(r) * float64(time.Microsecond))
		}
		slices.Sort(d)
		return d
	}
	total := pick(func(r firstChildResult) float64 { return r.TotalUs })
	m.P50Ms, m.P99Ms = ms(Percentile(total, 0.5)), ms(Percentile(total, 0.99))
	m.MinMs, m.MaxMs = ms(total[0]), ms(total[len(total)-1])
	m.DialP50Ms = ms(Percentile(pick(func(r firstChildResult) float64 { return r.DialUs }), 0.5))
	m.GLLoadP50Ms = ms(Percentile(pick(func(r firstChildResult) float64 { return r.GLLoadUs }), 0.5))
	m.NewGLP50Ms = ms(Percentile(pick(func(r firstChildResult) float64 { return r.NewGLUs }), 0.5))
	m.CreateP50Ms = ms(Percentile(pick(func(r firstChildResult) float64 { return r.CreateUs }), 0.5))
	m.ShareP50Ms = ms(Percentile(pick(func(r firstChildResult) float64 { return r.ShareUs }), 0.5))
	m.ContextP50Ms = ms(Percentile(pick(func(r firstChildResult) float64 { return r.ContextUs }), 0.5))
	m.Path, m.AllocatedOn = rs[0].Path, rs[0].AllocatedOn
	for _, r := range rs {
		m.LoadedVulkan = m.LoadedVulkan || r.LoadedVulkan
		if r.Path != m.Path {
			m.Path += ", " + r.Path
		}
	}
	return m
}

// FirstChild is one child of MeasureFirst: it parses args (-mode,
// -socket, -platform), makes a headless GL context, times its first
// shared texture, checks it, and prints the result as one JSON line on w.
// A program runs it under FirstChildCommand.
func FirstChild(args []string, w io.Writer) error {
	fs := flag.NewFlagSet(FirstChildCommand, flag.ContinueOnError)
	mode := fs.String("mode", "", "in-process or service")
	sock := fs.String("socket", "", "the broker")
	platform := fs.String("platform", "", "EGL platform")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mode != FirstInProcess && *mode != FirstService {
		return fmt.Errorf("-mode %q: want %s or %s", *mode, FirstInProcess, FirstService)
	}
	start := time.Now()
	ctx, err := headless.New(headless.Options{Platform: *platform})
	if err != nil {
		return err
	}
	defer ctx.Close()
	r := firstChildResult{Mode: *mode, ContextUs: us(time.Since(start))}
	ctx.Call(func() { err = firstTexture(ctx, *mode, *sock, &r) })
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// firstQuadrants are the colours the child draws into its texture and
// reads back through a second open of it.
var firstQuadrants = [4][4]float32{{1, 0, 0, 1}, {0, 1, 0, 1}, {0, 0, 1, 1}, {1, 1, 1, 1}}

// firstTexture is the child's timed span and its check, on the GL
// context's thread.
func firstTexture(ctx *headless.Context, mode, sock string, r *firstChildResult) error {
	start := time.Now()
	c, err := broker.Dial(sock)
	if err != nil {
		return fmt.Errorf("broker.Dial(%s): %w", sock, err)
	}
	defer c.Close()
	dialed := time.Now()
	if err := glimport.Init(ctx.ProcAddr); err != nil {
		return fmt.Errorf("glimport.Init: %w", err)
	}
	loaded := time.Now()
	opts := share.Options{}
	if mode == FirstService {
		opts.Service = c
	}
	g, err := share.NewGL(ctx.ProcAddr, opts)
	if err != nil {
		return fmt.Errorf("share.NewGL: %w", err)
	}
	defer g.Close()
	newGL := time.Now()
	res, err := g.Create(serviceDesc())
	if err != nil {
		return fmt.Errorf("share Create: %w", err)
	}
	defer res.Close()
	created := time.Now()
	kmt, err := res.Share(c, []byte("glshare bench first texture"))
	if err != nil {
		return fmt.Errorf("share Share: %w", err)
	}
	shared := time.Now()
	r.DialUs, r.GLLoadUs, r.NewGLUs = us(dialed.Sub(start)), us(loaded.Sub(dialed)), us(newGL.Sub(loaded))
	r.CreateUs, r.ShareUs, r.TotalUs = us(created.Sub(newGL)), us(shared.Sub(created)), us(shared.Sub(start))
	r.Path, r.ViaService = res.Path().String(), g.ViaService()
	if maps, err := os.ReadFile("/proc/self/maps"); err == nil {
		r.LoadedVulkan = strings.Contains(string(maps), "libvulkan")
	} else {
		return fmt.Errorf("reading /proc/self/maps: %w", err)
	}
	if r.ViaService != (mode == FirstService) {
		return fmt.Errorf("share.NewGL in mode %s allocates through the broker: %v", mode, r.ViaService)
	}

	// The check: what GL draws into the texture, another open of its KMT
	// handle reads back, and the broker says who allocated it.
	name, target := res.Texture()
	if err := res.Access(bridge.AccessReadWrite, func() error {
		return glutil.DrawQuadrants(name, target, serviceSize, serviceSize, firstQuadrants)
	}); err != nil {
		return fmt.Errorf("drawing into the first texture: %w", err)
	}
	opened, err := c.OpenKMT(kmt)
	if err != nil {
		return fmt.Errorf("broker OpenKMT(%v): %w", kmt, err)
	}
	defer c.CloseHandle(opened.Handle)
	again, err := g.OpenShared(c, opened)
	closeFDs(opened)
	if err != nil {
		return fmt.Errorf("share OpenShared(%v): %w", kmt, err)
	}
	defer again.Close()
	name2, target2 := again.Texture()
	var px []byte
	if err := again.Access(bridge.AccessRead, func() (err error) {
		px, err = glutil.ReadRGBA8(name2, target2, 0, serviceSize, serviceSize)
		return err
	}); err != nil {
		return fmt.Errorf("reading the first texture through its KMT handle: %w", err)
	}
	if err := glutil.CheckQuadrants(px, serviceSize, serviceSize, firstQuadrants); err != nil {
		return fmt.Errorf("the first texture read through its KMT handle: %w", err)
	}
	list, err := c.List()
	if err != nil {
		return fmt.Errorf("broker List: %w", err)
	}
	for _, l := range list {
		if l.KMT == kmt {
			r.AllocatedOn = l.AllocatedOn
		}
	}
	if (r.AllocatedOn != "") != (mode == FirstService) {
		return fmt.Errorf("mode %s, but the broker lists the texture as allocated on %q", mode, r.AllocatedOn)
	}
	return nil
}

// closeFDs closes the fds an open handed over (OpenShared keeps its own).
func closeFDs(r broker.Resource) {
	unix.Close(r.FD)
	for _, s := range r.Syncs {
		unix.Close(s.FD)
	}
}
