package bench

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/fdutil"
)

// ScalingOptions says what MeasureScaling measures.
type ScalingOptions struct {
	// Clients are the numbers of concurrent connections measured, and
	// Resources the numbers of live resources, every pair of them.
	Clients   []int
	Resources []int
	// Duration is how long each pair is measured, saturated and then
	// paced (each for Duration).
	Duration time.Duration
	// PacedRate is the open/close cycles per second all clients together
	// offer in the paced phase, spread evenly over them.
	PacedRate int
	// Seed seeds the clients' choice of resource.
	Seed uint64
	// Serve starts the broker; see ServeCommand.
	Serve ServeCommand
	// Progress receives a line per measurement; nil is silent.
	Progress io.Writer
}

// The defaults: issue 15's client and resource counts.
var (
	DefaultScalingClients   = []int{1, 8, 32, 128}
	DefaultScalingResources = []int{10, 1000, 10000}
)

// Scaling defaults, and the targets of issue 15. The paced rate is a
// twentieth or less of the cycles the two-core machine's broker serves
// saturated, so that its latencies are the broker's service time and its
// contention, not a queue that closed-loop clients build by never
// pausing; and few enough that one client keeps up (a cycle is two round
// trips and a timer's wake-up).
const (
	DefaultScalingDuration  = 2 * time.Second
	DefaultScalingPacedRate = 1000
	// ScalingTargetP99Us is the paced open round trip's p99 wanted with
	// 128 clients and 10 000 live resources on the two-core machine.
	ScalingTargetP99Us = 1000
	// ScalingTargetFall is the most saturated throughput may fall from
	// 10 to 10 000 live resources.
	ScalingTargetFall = 2.0
	// scalingWidth is each live resource's width and height: small,
	// since the broker never touches the memory.
	scalingWidth = 32
)

// ScalingCell is one pair of client and live-resource counts.
type ScalingCell struct {
	Clients   int `json:"clients"`
	Resources int `json:"live_resources"`
	// Saturated: every client cycles OPEN_KMT (of a random live
	// resource), close the fd, CLOSE, as fast as it can, for Seconds.
	// RequestsPerSec counts both requests of each cycle; OpenP50Us and
	// OpenP99Us time OPEN_KMT's round trip, its fd included, which in a
	// closed loop is mostly the queue of the other clients' requests.
	Seconds        float64 `json:"seconds"`
	Cycles         int     `json:"cycles"`
	RequestsPerSec float64 `json:"requests_per_s"`
	OpenP50Us      float64 `json:"open_p50_us"`
	OpenP99Us      float64 `json:"open_p99_us"`
	// Paced: the same cycles, the clients together offering
	// ScalingResult.PacedRate cycles per second, evenly spread; the
	// latency a client sees while the others keep the broker busy but not
	// saturated. Late counts the cycles that started more than a period
	// after their time (the broker, or this machine, not keeping up).
	PacedCycles     int     `json:"paced_cycles"`
	PacedOpenP50Us  float64 `json:"paced_open_p50_us"`
	PacedOpenP99Us  float64 `json:"paced_open_p99_us"`
	PacedCloseP50Us float64 `json:"paced_close_p50_us"`
	PacedCloseP99Us float64 `json:"paced_close_p99_us"`
	PacedLate       int     `json:"paced_late"`
}

// ScalingTarget is one of issue 15's targets and how the run did.
type ScalingTarget struct {
	Target string `json:"target"`
	// Measured says what was measured against it, and Met whether it was
	// met; a target whose pair was not measured is left out.
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// ScalingBroker is the broker process with a number of live resources.
type ScalingBroker struct {
	Resources int `json:"live_resources"`
	FDs       int `json:"fds"`
	RSSKiB    int `json:"rss_kib"`
}

// ScalingResult is MeasureScaling's report.
type ScalingResult struct {
	Date      string          `json:"date"`
	Command   string          `json:"command,omitempty"`
	CPUs      int             `json:"cpus"`
	LoadAvg   [2]string       `json:"load_avg"`
	PacedRate int             `json:"paced_rate"`
	Cells     []ScalingCell   `json:"cells"`
	Brokers   []ScalingBroker `json:"brokers"`
	Targets   []ScalingTarget `json:"targets"`
}

// MeasureScaling starts a broker process, and for each number of live
// resources (ascending: more are created as it goes) and each number of
// clients measures OPEN_KMT + CLOSE cycles saturated and paced.
func MeasureScaling(opts ScalingOptions) (*ScalingResult, error) {
	if len(opts.Clients) == 0 || len(opts.Resources) == 0 || opts.Duration <= 0 || opts.PacedRate <= 0 {
		return nil, errors.New("bench: MeasureScaling: want client and resource counts, a duration and a paced rate")
	}
	resources := slices.Sorted(slices.Values(opts.Resources))
	if resources[0] < 1 {
		return nil, errors.New("bench: MeasureScaling: want at least one live resource")
	}
	r := &ScalingResult{Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), PacedRate: opts.PacedRate}
	r.LoadAvg[0] = loadAvg()
	p, err := startBrokerProc(opts.Serve)
	if err != nil {
		return nil, err
	}
	defer p.kill()

	var conns []*broker.Client
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range slices.Max(opts.Clients) {
		c, err := broker.Dial(p.sock)
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
	}
	fill := &scalingFill{sock: p.sock}
	defer fill.close()
	for _, n := range resources {
		progress(opts.Progress, "bench: broker scaling: creating resources up to %d", n)
		if err := fill.to(n); err != nil {
			return nil, err
		}
		b := ScalingBroker{Resources: n}
		if b.FDs, err = p.fds(); err != nil {
			return nil, err
		}
		if b.RSSKiB, _, err = p.memory(); err != nil {
			return nil, err
		}
		r.Brokers = append(r.Brokers, b)
		for _, c := range opts.Clients {
			cell, err := measureCell(conns[:c], fill.kmts, opts)
			if err != nil {
				return nil, fmt.Errorf("bench: broker scaling, %d clients, %d resources: %w", c, n, err)
			}
			progress(opts.Progress, "bench: broker scaling: %d clients, %d resources: %.0f requests/s; open p50 %.0f µs p99 %.0f µs; paced p50 %.0f µs p99 %.0f µs",
				c, n, cell.RequestsPerSec, cell.OpenP50Us, cell.OpenP99Us, cell.PacedOpenP50Us, cell.PacedOpenP99Us)
			r.Cells = append(r.Cells, cell)
		}
	}
	r.Targets = scalingTargets(r)
	for _, c := range conns {
		c.Close()
	}
	fill.close()
	if err := p.stop(); err != nil {
		return nil, err
	}
	r.LoadAvg[1] = loadAvg()
	return r, nil
}

// scalingFill is the connections that hold the live resources: several,
// since one connection may hold at most the broker's per-connection
// quota.
type scalingFill struct {
	sock  string
	conns []*broker.Client
	kmts  []bridge.Handle
	fd    int
}

// scalingPerConn stays under the broker's default per-connection quota.
const scalingPerConn = broker.DefaultMaxResourcesPerConn / 2

// to creates resources until n are live. They share one memfd: each
// CREATE hands the broker a copy, which it keeps as that resource's.
func (f *scalingFill) to(n int) error {
	desc := bridge.Texture2D(scalingWidth, scalingWidth, bridge.FormatR8G8B8A8Unorm)
	l, err := bridge.LayoutOf(desc)
	if err != nil {
		return err
	}
	if f.conns == nil {
		if f.fd, err = fdutil.SealedMemfd("glshare-bench-scaling", l.Size); err != nil {
			return err
		}
	}
	alloc := bridge.Allocation{Desc: desc, Size: l.Size, HostMemory: true}
	for len(f.kmts) < n {
		if len(f.kmts) == len(f.conns)*scalingPerConn {
			c, err := broker.Dial(f.sock)
			if err != nil {
				return err
			}
			f.conns = append(f.conns, c)
		}
		c := f.conns[len(f.conns)-1]
		// The creating connection's requests are served in turn: a few
		// goroutines keep it busy rather than waiting a round trip each.
		batch := min(n-len(f.kmts), len(f.conns)*scalingPerConn-len(f.kmts))
		kmts := make([]bridge.Handle, batch)
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := g; i < batch; i += 8 {
					kmts[i], errs[i] = c.Create(alloc, f.fd, nil)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("creating live resources: %w", err)
		}
		f.kmts = append(f.kmts, kmts...)
	}
	return nil
}

func (f *scalingFill) close() {
	for _, c := range f.conns {
		c.Close()
	}
	if f.conns != nil {
		unix.Close(f.fd)
	}
	f.conns = nil
}

// scalingWarmup is run untimed before each saturated phase, so that a
// pair starts with the broker's goroutines and caches in its steady state.
const scalingWarmup = 200 * time.Millisecond

// measureCell measures one pair: conns cycling over kmts.
func measureCell(conns []*broker.Client, kmts []bridge.Handle, opts ScalingOptions) (ScalingCell, error) {
	cell := ScalingCell{Clients: len(conns), Resources: len(kmts)}
	if _, _, _, err := runCycles(conns, kmts, opts.Seed, scalingWarmup); err != nil {
		return cell, err
	}
	open, _, spent, err := runCycles(conns, kmts, opts.Seed+1, opts.Duration)
	if err != nil {
		return cell, err
	}
	cell.Seconds, cell.Cycles = spent.Seconds(), len(open)
	cell.RequestsPerSec = 2 * float64(len(open)) / spent.Seconds()
	cell.OpenP50Us, cell.OpenP99Us = p50p99(open)
	period := time.Duration(float64(time.Second) * float64(len(conns)) / float64(opts.PacedRate))
	open, closes, late, err := runPaced(conns, kmts, opts.Seed+2, opts.Duration, period)
	if err != nil {
		return cell, err
	}
	cell.PacedCycles, cell.PacedLate = len(open), late
	cell.PacedOpenP50Us, cell.PacedOpenP99Us = p50p99(open)
	cell.PacedCloseP50Us, cell.PacedCloseP99Us = p50p99(closes)
	return cell, nil
}

// cycle opens a random one of kmts, closes the fd and the handle, and
// returns the two round trips.
func cycle(c *broker.Client, rng *rand.Rand, kmts []bridge.Handle) (open, closed time.Duration, err error) {
	kmt := kmts[rng.IntN(len(kmts))]
	start := time.Now()
	r, err := c.OpenKMT(kmt)
	if err != nil {
		return 0, 0, err
	}
	open = time.Since(start)
	closeFDs(r)
	if r.KMT != kmt {
		return 0, 0, fmt.Errorf("OpenKMT(%v) opened %v", kmt, r.KMT)
	}
	start = time.Now()
	if err := c.CloseHandle(kmt); err != nil {
		return 0, 0, err
	}
	return open, time.Since(start), nil
}

// runCycles runs every connection in a closed loop for d.
func runCycles(conns []*broker.Client, kmts []bridge.Handle, seed uint64, d time.Duration) (open, closes []time.Duration, spent time.Duration, err error) {
	start := time.Now()
	end := start.Add(d)
	open, closes, _, err = eachConn(conns, seed, func(_ int, c *broker.Client, rng *rand.Rand) (o, cl []time.Duration, late int, err error) {
		for time.Now().Before(end) {
			var a, b time.Duration
			if a, b, err = cycle(c, rng, kmts); err != nil {
				break
			}
			o, cl = append(o, a), append(cl, b)
		}
		return o, cl, 0, err
	})
	return open, closes, time.Since(start), err
}

// runPaced runs every connection for d, each starting a cycle every
// period, the connections staggered evenly across it. A client that falls
// more than a period behind starts its next cycle at once and counts it
// late, rather than bursting to catch up.
func runPaced(conns []*broker.Client, kmts []bridge.Handle, seed uint64, d, period time.Duration) (open, closes []time.Duration, late int, err error) {
	start := time.Now()
	end := start.Add(d)
	return eachConn(conns, seed, func(i int, c *broker.Client, rng *rand.Rand) (o, cl []time.Duration, late int, err error) {
		next := start.Add(period * time.Duration(i) / time.Duration(len(conns)))
		for next.Before(end) {
			time.Sleep(time.Until(next))
			var a, b time.Duration
			if a, b, err = cycle(c, rng, kmts); err != nil {
				break
			}
			o, cl = append(o, a), append(cl, b)
			if next = next.Add(period); time.Since(next) > period {
				next = time.Now()
				late++
			}
		}
		return o, cl, late, err
	})
}

// eachConn runs body for every connection on a goroutine of its own, with
// a PCG seeded by seed and the connection's index, and gathers what they
// timed, how many cycles ran late, and every error.
func eachConn(conns []*broker.Client, seed uint64, body func(i int, c *broker.Client, rng *rand.Rand) (o, cl []time.Duration, late int, err error)) (open, closes []time.Duration, late int, err error) {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for i, c := range conns {
		wg.Go(func() {
			o, cl, n, err := body(i, c, rand.New(rand.NewPCG(seed, uint64(i))))
			mu.Lock()
			open, closes, late = append(open, o...), append(closes, cl...), late+n
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return open, closes, late, errors.Join(errs...)
}

// scalingTargets judges issue 15's targets by the cells measured.
func scalingTargets(r *ScalingResult) []ScalingTarget {
	cell := func(c, n int) (ScalingCell, bool) {
		for _, x := range r.Cells {
			if x.Clients == c && x.Resources == n {
				return x, true
			}
		}
		return ScalingCell{}, false
	}
	var out []ScalingTarget
	if x, ok := cell(128, 10000); ok {
		out = append(out, ScalingTarget{
			Target:   fmt.Sprintf("open round trip p99 ≤ %d µs, 128 clients, 10000 live resources (paced, %d cycles/s)", ScalingTargetP99Us, r.PacedRate),
			Measured: fmt.Sprintf("p99 %.0f µs (p50 %.0f); saturated p99 %.0f µs", x.PacedOpenP99Us, x.PacedOpenP50Us, x.OpenP99Us),
			Met:      x.PacedOpenP99Us <= ScalingTargetP99Us,
		})
	}
	var falls []string
	met, any := true, false
	for _, x := range r.Cells {
		if x.Resources != 10 {
			continue
		}
		if y, ok := cell(x.Clients, 10000); ok {
			f := x.RequestsPerSec / y.RequestsPerSec
			falls = append(falls, fmt.Sprintf("%d: %.2f×", x.Clients, f))
			met, any = met && f < ScalingTargetFall, true
		}
	}
	if any {
		out = append(out, ScalingTarget{
			Target:   fmt.Sprintf("saturated throughput falls < %.0f× from 10 to 10000 live resources", ScalingTargetFall),
			Measured: "10 over 10000 live resources' requests/s, by clients: " + strings.Join(falls, ", "),
			Met:      met,
		})
	}
	return out
}

// WriteScalingTable writes MeasureScaling's report as glshare bench
// --broker-scaling prints it.
func WriteScalingTable(w io.Writer, r *ScalingResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "date:      %s\n", r.Date)
	if r.Command != "" {
		fmt.Fprintf(&b, "command:   %s\n", r.Command)
	}
	fmt.Fprintf(&b, "host:      %d CPUs; load average %s before, %s after\n", r.CPUs, r.LoadAvg[0], r.LoadAvg[1])
	b.WriteString("broker:    glshare serve process; each cycle OPEN_KMT of a random live resource, close the fd, CLOSE\n")
	fmt.Fprintf(&b, "paced:     %d cycles/s offered by all clients together\n\n", r.PacedRate)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tlive resources\trequests/s\topen p50 µs\topen p99 µs\tpaced open p50 µs\tpaced open p99 µs\tpaced close p99 µs\tpaced late\t")
	for _, x := range r.Cells {
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d/%d\t\n", x.Clients, x.Resources, x.RequestsPerSec,
			x.OpenP50Us, x.OpenP99Us, x.PacedOpenP50Us, x.PacedOpenP99Us, x.PacedCloseP99Us, x.PacedLate, x.PacedCycles)
	}
	tw.Flush()
	b.WriteString("(requests/s and open µs: every client in a closed loop; paced: the offered rate above)\n")
	for _, x := range r.Brokers {
		fmt.Fprintf(&b, "broker with %d live resources: %d fds, RSS %.1f MiB\n", x.Resources, x.FDs, mib(x.RSSKiB))
	}
	for _, t := range r.Targets {
		verdict := "missed"
		if t.Met {
			verdict = "met"
		}
		fmt.Fprintf(&b, "target: %s: %s (%s)\n", t.Target, verdict, t.Measured)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
