package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/internal/testenv"
)

// LoadOptions says what RunLoad runs.
type LoadOptions struct {
	// Clients is the number of connections, each driven by a goroutine of
	// its own; Ops the operations each makes before closing what it holds.
	Clients, Ops int
	// Seed seeds every client's choice of operations (client i draws from
	// a PCG seeded with Seed and i), so that a failing run can be rerun
	// with the same mix; the interleaving is the scheduler's.
	Seed uint64
	// Serve starts the broker; see ServeCommand.
	Serve ServeCommand
	// Deadline bounds the whole run (0: DefaultLoadDeadline); when it
	// passes, every connection is closed and the run fails.
	Deadline time.Duration
	// NoVulkan leaves out the ALLOCATEs of Vulkan memory even where a
	// device exports memory.
	NoVulkan bool
	// Progress receives a line per phase; nil is silent.
	Progress io.Writer
}

// DefaultLoadDeadline is generous: 128 × 1000 operations take seconds,
// but the two-core machine is shared with other engineers' tests.
const DefaultLoadDeadline = 5 * time.Minute

// LoadOpResult is one kind of operation's figures.
type LoadOpResult struct {
	// Op names the operation (the names are loadOps').
	Op string `json:"op"`
	// Count is how many were made; Expected how many of those failed as
	// the protocol says they may (an ACQUIRE_SYNC's TIMEOUT); Errors the
	// others that failed, or whose result was wrong.
	Count    int `json:"count"`
	Expected int `json:"expected_errors"`
	Errors   int `json:"errors"`
	// P50Us and P99Us are the call's round trip, checks not included.
	P50Us float64 `json:"p50_us"`
	P99Us float64 `json:"p99_us"`
}

// LoadResult is RunLoad's report.
type LoadResult struct {
	Date    string    `json:"date"`
	Command string    `json:"command,omitempty"`
	CPUs    int       `json:"cpus"`
	LoadAvg [2]string `json:"load_avg"`
	Clients int       `json:"clients"`
	// OpsPerClient is LoadOptions.Ops; Seed LoadOptions.Seed.
	OpsPerClient int    `json:"ops_per_client"`
	Seed         uint64 `json:"seed"`
	// Vulkan is the device the broker allocated Vulkan memory on, or why
	// there was none.
	Vulkan string `json:"vulkan"`
	// Seconds is the operations' wall time, from the first to the last,
	// closing at the end not included; Ops counts every client's
	// operations (LoadOptions.Clients × Ops when all ran), OpsPerSec them
	// per second.
	Seconds   float64 `json:"seconds"`
	Ops       int     `json:"ops"`
	OpsPerSec float64 `json:"ops_per_s"`
	// Requests counts the broker calls the operations made (an acquire
	// that succeeds is two: ACQUIRE_SYNC and RELEASE_SYNC), and
	// RequestsPerSec them per second of Seconds.
	Requests       int     `json:"requests"`
	RequestsPerSec float64 `json:"requests_per_s"`
	// CloseSeconds is how long the clients took to close what they held
	// at the end (CloseHandles counts those calls).
	CloseSeconds float64 `json:"close_seconds"`
	CloseHandles int     `json:"close_handles"`
	// PerOp has a row per kind of operation, in loadOps order.
	PerOp []LoadOpResult `json:"per_op"`
	// Errors counts every failed or wrong operation, the closing included;
	// FirstErrors are the first few, each naming its client, operation
	// and call.
	Errors      int      `json:"errors"`
	FirstErrors []string `json:"first_errors,omitempty"`
	// PeakResources is the most resources their creators held at once
	// (by the clients' own count: others may keep a resource alive after
	// its creator closed it); ResourcesLeft what the broker lists at the
	// end.
	PeakResources int `json:"peak_resources"`
	ResourcesLeft int `json:"resources_left"`
	// BrokerFDs* are the broker process's fds: before the clients
	// connected (its device open, a control connection), the most seen
	// while they ran (sampled), and once they had gone.
	BrokerFDsBefore int `json:"broker_fds_before"`
	BrokerFDsPeak   int `json:"broker_fds_peak"`
	BrokerFDsAfter  int `json:"broker_fds_after"`
	// BrokerRSS* are its resident set in KiB at the same points; the peak
	// is the kernel's high-water mark (VmHWM).
	BrokerRSSBeforeKiB int `json:"broker_rss_before_kib"`
	BrokerRSSPeakKiB   int `json:"broker_rss_peak_kib"`
	BrokerRSSAfterKiB  int `json:"broker_rss_after_kib"`
	// ClientFDsLeft is how many fds of this process still refer to the
	// memory and sync files of the run's resources once every client has
	// closed (testenv.CountOpen): it counts those files, not the process's
	// fds, which other goroutines change.
	ClientFDsLeft int `json:"client_fds_left"`
}

// The operations, in report order. An operation whose preconditions do
// not hold (nothing to close, a client at its limit of resources) is
// replaced by a query, which always applies.
const (
	opCreate         = "create"
	opCreateSync     = "create with sync"
	opAllocateHost   = "allocate host"
	opAllocateVulkan = "allocate vulkan"
	opShare          = "share"
	opShareNamed     = "share named"
	opOpenKMT        = "open kmt"
	opOpenName       = "open name"
	opQuery          = "query"
	opAcquire        = "acquire"
	opRelease        = "release"
	opUpdateData     = "update data"
	opClose          = "close"
	opCloseEnd       = "close at end"
)

var loadOps = []string{opCreate, opCreateSync, opAllocateHost, opAllocateVulkan, opShare, opShareNamed, opOpenKMT, opOpenName,
	opQuery, opAcquire, opRelease, opUpdateData, opClose, opCloseEnd}

// loadWeights is the mix, in parts of 1000 draws: mostly what a running
// game does (open, query, the keyed mutex), with enough creating and
// closing that resources come and go all along. acquire includes its
// release.
var loadWeights = []struct {
	op string
	w  int
}{
	{opCreate, 70}, {opCreateSync, 25}, {opAllocateHost, 10}, {opAllocateVulkan, 4},
	{opShare, 50}, {opShareNamed, 50}, {opOpenKMT, 160}, {opOpenName, 80}, {opQuery, 150},
	{opAcquire, 150}, {opUpdateData, 60}, {opClose, 191},
}

// Per-client bounds, which keep the broker's tables and the fds in play
// well inside its quotas and this process's fd limit however the draws
// fall.
const (
	maxCreatedPerClient = 4
	maxHeldPerClient    = 16
	maxNamesPerResource = 8 // the protocol's
	loadAcquireTimeout  = 5 * time.Millisecond
	loadTokenMagic      = 0x64616f6c2d626c67 // "glb-load"
	maxLoadErrors       = 20
)

// loadEntry is a resource a client made, as every client knows it.
type loadEntry struct {
	id    uint64
	kmt   bridge.Handle
	alloc bridge.Allocation
	// file is what its memory fd refers to, and syncFile its stand-in
	// semaphore's (a zero File when it has none): every open must hand
	// out fds of these files.
	file, syncFile testenv.File
	hasSync        bool
	// token is what the memory holds at offset 0 (host memory only;
	// tokenLen bytes of it, 0 for Vulkan memory).
	token    [16]byte
	tokenLen int
	creator  int
	// key and value are what the keyed mutex was last released with:
	// written by the holder before it releases, so that the next
	// acquirer can check what the broker tells it.
	key, value atomic.Uint64
	// Guarded by loadRegistry.mu: its names that open, how many more are
	// being made, and how many clients are using the entry to open or
	// query it (see loadRegistry). The broker keeps a name while its
	// named object has a handle: handles counts them, per name, for
	// every name the broker still has (the limit counts those). A name
	// opens while the NT handle SHARE made with it (its anchor) is open:
	// its holder takes the name off names before it closes the anchor,
	// which it may not do while the entry is pinned.
	names    []string
	handles  map[string]int
	naming   int
	pins     int
	listed   bool
	listedAt int
}

// loadRegistry lists the resources whose creators still hold them, for
// the other clients to open. A client pins an entry while it opens or
// queries it, and its creator takes it off the list before it closes
// its own reference, which it may not do while the entry is pinned: so
// an open of a listed resource must succeed, and NOT_FOUND is a broker
// bug, not bad luck.
type loadRegistry struct {
	mu   sync.Mutex
	live []*loadEntry
}

func (r *loadRegistry) add(e *loadEntry) {
	r.mu.Lock()
	e.listed, e.listedAt = true, len(r.live)
	r.live = append(r.live, e)
	r.mu.Unlock()
}

// pin picks a listed entry (one with a name if named) and pins it; nil
// when there is none.
func (r *loadRegistry) pin(rng *rand.Rand, named bool) *loadEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.live) == 0 {
		return nil
	}
	for range 8 {
		e := r.live[rng.IntN(len(r.live))]
		if !named || len(e.names) > 0 {
			e.pins++
			return e
		}
	}
	return nil
}

func (r *loadRegistry) unpin(e *loadEntry) {
	r.mu.Lock()
	e.pins--
	r.mu.Unlock()
}

// retire takes e off the list unless someone has it pinned.
func (r *loadRegistry) retire(e *loadEntry) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.pins > 0 {
		return false
	}
	if e.listed {
		last := r.live[len(r.live)-1]
		r.live[e.listedAt], last.listedAt = last, e.listedAt
		r.live = r.live[:len(r.live)-1]
		e.listed = false
	}
	return true
}

// name returns a random name of e.
func (r *loadRegistry) name(rng *rand.Rand, e *loadEntry) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(e.names) == 0 {
		return "", false
	}
	return e.names[rng.IntN(len(e.names))], true
}

// unname takes name off e's names before its anchor closes, unless
// someone has e pinned (and may be opening it by that name).
func (r *loadRegistry) unname(e *loadEntry, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.pins > 0 {
		return false
	}
	e.names = slices.DeleteFunc(e.names, func(n string) bool { return n == name })
	return true
}

// reserveName books one of e's names, or says it has them all.
func (r *loadRegistry) reserveName(e *loadEntry) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(e.handles)+e.naming >= maxNamesPerResource {
		return false
	}
	e.naming++
	return true
}

func (r *loadRegistry) named(e *loadEntry, n string, ok bool) {
	r.mu.Lock()
	e.naming--
	if ok {
		e.names = append(e.names, n)
		if e.handles == nil {
			e.handles = map[string]int{}
		}
		e.handles[n]++
	}
	r.mu.Unlock()
}

// handleOf counts one more handle (opened by name) of e's named object n,
// or, with delta -1, one less.
func (r *loadRegistry) handleOf(e *loadEntry, n string, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.handles[n] += delta; e.handles[n] == 0 {
		delete(e.handles, n)
	}
}

// loadHeld is one reference a client holds, with the fds that came with
// it (an open's or an allocation's: kept, as an importer keeps the memory,
// until the reference is closed).
type loadHeld struct {
	h       bridge.Handle
	e       *loadEntry
	access  bridge.Access
	fd      int // -1 when none
	syncFD  int // -1 when none
	created bool
	// name is the name of the object this NT handle is to (empty for
	// none), and anchor says it is the handle SHARE made with it, while
	// which the name opens (see loadEntry).
	name   string
	anchor bool
}

// loadRun is what the clients share.
type loadRun struct {
	reg     loadRegistry
	nextID  atomic.Uint64
	nextVal atomic.Uint64
	device  *bridge.DeviceID // nil: no Vulkan allocations
	mu      sync.Mutex
	files   []testenv.File
	errs    []string
	nerr    int
	live    atomic.Int64
	peak    atomic.Int64
}

// fail records a failed or wrong operation.
func (run *loadRun) fail(client int, op string, err error) {
	run.mu.Lock()
	defer run.mu.Unlock()
	run.nerr++
	if len(run.errs) < maxLoadErrors {
		run.errs = append(run.errs, fmt.Sprintf("client %d: %s: %v", client, op, err))
	}
}

// watch records files whose fds must all be closed at the end.
func (run *loadRun) watch(f ...testenv.File) {
	run.mu.Lock()
	run.files = append(run.files, f...)
	run.mu.Unlock()
}

func (run *loadRun) resourceMade() {
	n := run.live.Add(1)
	for {
		p := run.peak.Load()
		if n <= p || run.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// loadClient is one connection and the goroutine driving it.
type loadClient struct {
	run     *loadRun
	i       int
	c       *broker.Client
	rng     *rand.Rand
	held    []loadHeld
	created int
	// data is what this client last set as each of its resources'
	// private data: only the creator may set it, so only it knows it.
	data  map[*loadEntry][]byte
	times map[string][]time.Duration
	count map[string]int
	exp   map[string]int
	bad   map[string]int
	names int
	steps int
}

// RunLoad starts a broker process, runs opts.Clients connections making
// opts.Ops mixed operations each against it, closes everything, and checks
// that nothing is left: no resource in the broker's list, the broker's fd
// count back where it was before the clients connected, and no fd of this
// process on any of the run's files. Every operation's result is checked
// (the fds an open hands out are of the resource's memory, which holds
// the bytes its creator wrote; records, data and keyed-mutex values are
// what the clients set). It returns the report, and an error, with the
// report still filled in, when anything failed.
func RunLoad(opts LoadOptions) (*LoadResult, error) {
	if opts.Clients < 1 || opts.Ops < 1 {
		return nil, errors.New("bench: RunLoad: want at least one client and one operation")
	}
	deadline := cmp.Or(opts.Deadline, DefaultLoadDeadline)
	res := &LoadResult{Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), Clients: opts.Clients,
		OpsPerClient: opts.Ops, Seed: opts.Seed}
	res.LoadAvg[0] = loadAvg()

	p, err := startBrokerProc(opts.Serve)
	if err != nil {
		return nil, err
	}
	defer p.kill()
	ctl, err := broker.Dial(p.sock)
	if err != nil {
		return nil, err
	}
	defer ctl.Close()
	run := &loadRun{}
	res.Vulkan = "not asked (NoVulkan)"
	if !opts.NoVulkan {
		run.device, res.Vulkan = loadDevice(ctl)
	}
	// The broker opens its helper device on the first ALLOCATE and keeps
	// it, and its Go runtime grows: warm both up before the baseline, with
	// one allocation of each kind.
	for _, req := range loadWarmups(run.device) {
		r, err := ctl.Allocate(req)
		if err != nil {
			return nil, fmt.Errorf("bench: load warm-up: %w", err)
		}
		closeFDs(r)
		if err := ctl.CloseHandle(r.Handle); err != nil {
			return nil, fmt.Errorf("bench: load warm-up: %w", err)
		}
	}
	// A reply comes before the broker closes the dups it sent with it:
	// one more round trip, and the last one's are closed.
	if l, err := ctl.List(); err != nil || len(l) != 0 {
		return nil, fmt.Errorf("bench: load warm-up: List = %d resources, %v", len(l), err)
	}
	if res.BrokerFDsBefore, err = p.fds(); err != nil {
		return nil, err
	}
	if res.BrokerRSSBeforeKiB, _, err = p.memory(); err != nil {
		return nil, err
	}

	progress(opts.Progress, "bench: load: %d clients × %d operations, seed %d, Vulkan: %s", opts.Clients, opts.Ops, opts.Seed, res.Vulkan)
	clients := make([]*loadClient, opts.Clients)
	for i := range clients {
		c, err := broker.Dial(p.sock)
		if err != nil {
			for _, d := range clients[:i] {
				d.c.Close()
			}
			return nil, fmt.Errorf("bench: load: dialing client %d: %w", i, err)
		}
		clients[i] = &loadClient{run: run, i: i, c: c, rng: rand.New(rand.NewPCG(opts.Seed, uint64(i))),
			data: map[*loadEntry][]byte{}, times: map[string][]time.Duration{}, count: map[string]int{},
			exp: map[string]int{}, bad: map[string]int{}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	// A broker that stops answering would leave calls waiting for ever:
	// at the deadline every connection is closed, which fails them.
	watchdog := context.AfterFunc(ctx, func() {
		for _, c := range clients {
			c.c.Close()
		}
	})
	defer watchdog()
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if n, err := p.fds(); err == nil {
				res.BrokerFDsPeak = max(res.BrokerFDsPeak, n)
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for n := range opts.Ops {
				if ctx.Err() != nil {
					run.fail(c.i, fmt.Sprintf("operation %d", n), fmt.Errorf("the %v deadline passed", deadline))
					return
				}
				c.step()
				c.steps++
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	progress(opts.Progress, "bench: load: operations done in %.1f s; closing", res.Seconds)
	start = time.Now()
	for _, c := range clients {
		wg.Go(c.closeAll)
	}
	wg.Wait()
	res.CloseSeconds = time.Since(start).Seconds()
	close(stopSampling)
	<-sampled
	timedOut := ctx.Err() != nil
	watchdog()

	// Every CLOSE has been answered, so the list must be empty now,
	// whatever the connections' goroutines still have to tidy up.
	list, err := ctl.List()
	if err != nil {
		run.fail(-1, "list at the end", err)
	}
	res.ResourcesLeft = len(list)
	for _, c := range clients {
		c.c.Close()
	}
	for _, c := range clients {
		for _, op := range loadOps {
			res.Requests += c.count[op]
		}
		res.CloseHandles += c.count[opCloseEnd]
		res.Ops += c.steps
	}
	res.Requests -= res.CloseHandles
	res.OpsPerSec = float64(res.Ops) / res.Seconds
	res.RequestsPerSec = float64(res.Requests) / res.Seconds
	res.PerOp = summarizeLoad(clients)
	res.PeakResources = int(run.peak.Load())

	var problems []string
	if res.BrokerFDsAfter, err = p.waitFDs(res.BrokerFDsBefore, time.Minute); err != nil {
		problems = append(problems, err.Error())
	}
	if res.BrokerRSSAfterKiB, res.BrokerRSSPeakKiB, err = p.memory(); err != nil {
		problems = append(problems, err.Error())
	}
	if res.ClientFDsLeft, err = testenv.CountOpen(0, run.files...); err != nil {
		problems = append(problems, fmt.Sprintf("counting this process's fds of the run's files: %v", err))
	}
	ctl.Close()
	if err := p.stop(); err != nil {
		problems = append(problems, err.Error())
	}
	res.LoadAvg[1] = loadAvg()
	res.Errors, res.FirstErrors = run.nerr, run.errs
	if timedOut {
		problems = append(problems, fmt.Sprintf("the run took longer than its %v deadline", deadline))
	}
	if res.Errors > 0 {
		problems = append(problems, fmt.Sprintf("%d operations failed:\n  %s", res.Errors, strings.Join(res.FirstErrors, "\n  ")))
	}
	if res.ResourcesLeft > 0 {
		problems = append(problems, fmt.Sprintf("the broker lists %d resources after every client closed what it held", res.ResourcesLeft))
	}
	if res.ClientFDsLeft > 0 {
		problems = append(problems, fmt.Sprintf("%d fds of the run's resources are still open in the clients' process", res.ClientFDsLeft))
	}
	if len(problems) > 0 {
		return res, fmt.Errorf("bench: load: %s", strings.Join(problems, "; "))
	}
	return res, nil
}

// loadDevice picks the Vulkan device the clients have the broker allocate
// on: the first that exports memory and on which the broker allocates.
// Without one the run allocates host memory only, and says why.
func loadDevice(ctl *broker.Client) (*bridge.DeviceID, string) {
	devs, err := helperdev.ListPhysicalDevices()
	if err != nil {
		return nil, "none: " + err.Error()
	}
	why := "none: no device exports memory"
	for _, d := range devs {
		if !d.ExternalMemoryFD {
			continue
		}
		r, err := ctl.Allocate(broker.AllocateRequest{Desc: bridge.Texture2D(16, 16, bridge.FormatR8G8B8A8Unorm), Device: d.Device})
		if err != nil {
			why = fmt.Sprintf("none: the broker cannot allocate on %s: %v", d.Name, err)
			continue
		}
		closeFDs(r)
		if err := ctl.CloseHandle(r.Handle); err != nil {
			return nil, "none: " + err.Error()
		}
		id := d.Device
		return &id, d.Name
	}
	return nil, why
}

// loadWarmups are one allocation of each kind the run makes.
func loadWarmups(dev *bridge.DeviceID) []broker.AllocateRequest {
	reqs := []broker.AllocateRequest{{Desc: bridge.Texture2D(16, 16, bridge.FormatR8G8B8A8Unorm), HostMemory: true}}
	if dev != nil {
		reqs = append(reqs, broker.AllocateRequest{Desc: bridge.Texture2D(16, 16, bridge.FormatR8G8B8A8Unorm), Device: *dev})
	}
	return reqs
}

// step makes one operation, drawn from loadWeights.
func (c *loadClient) step() {
	n := c.rng.IntN(1000)
	op := opQuery
	for _, w := range loadWeights {
		if n < w.w {
			op = w.op
			break
		}
		n -= w.w
	}
	switch op {
	case opCreate, opCreateSync:
		if c.created < maxCreatedPerClient && len(c.held) < maxHeldPerClient {
			c.create(op == opCreateSync)
			return
		}
		op = opClose
	case opAllocateHost, opAllocateVulkan:
		if op == opAllocateVulkan && c.run.device == nil {
			op = opAllocateHost
		}
		if c.created < maxCreatedPerClient && len(c.held) < maxHeldPerClient {
			c.allocate(op == opAllocateVulkan)
			return
		}
		op = opClose
	case opShare, opShareNamed, opOpenKMT, opOpenName:
		if len(c.held) >= maxHeldPerClient {
			op = opClose
		}
	}
	switch op {
	case opShare, opShareNamed:
		if len(c.held) > 0 {
			c.share(op == opShareNamed)
			return
		}
	case opOpenKMT:
		if c.openKMT() {
			return
		}
	case opOpenName:
		if c.openName() || c.openKMT() {
			return
		}
	case opAcquire:
		if len(c.held) > 0 {
			c.acquire()
			return
		}
	case opUpdateData:
		if c.created > 0 {
			c.updateData()
			return
		}
	case opClose:
		if c.closeOne() {
			return
		}
	}
	if !c.query() {
		// Nothing anywhere to ask about: this client holds nothing,
		// so it may create.
		c.create(false)
	}
}

// call times one broker call of kind op, counts it, and sorts its error:
// expected (nil is returned with ok false), or recorded as a failure.
func (c *loadClient) call(op, what string, f func() error, expected ...error) (ok bool) {
	start := time.Now()
	err := f()
	c.times[op] = append(c.times[op], time.Since(start))
	c.count[op]++
	if err == nil {
		return true
	}
	for _, e := range expected {
		if errors.Is(err, e) {
			c.exp[op]++
			return false
		}
	}
	c.wrong(op, fmt.Errorf("%s: %w", what, err))
	return false
}

// wrong records a failed check of an operation that itself succeeded.
func (c *loadClient) wrong(op string, err error) {
	c.bad[op]++
	c.run.fail(c.i, op, err)
}

// loadDescs are the textures the clients make: small, so that the run is
// about the broker, in the formats games share most.
func (c *loadClient) desc() bridge.Desc {
	formats := []bridge.Format{bridge.FormatR8G8B8A8Unorm, bridge.FormatB8G8R8A8Unorm, bridge.FormatR8Unorm}
	return bridge.Texture2D(uint32(1+c.rng.IntN(64)), uint32(1+c.rng.IntN(64)), formats[c.rng.IntN(len(formats))])
}

// newEntry numbers a resource and makes its private data and token.
func (c *loadClient) newEntry(alloc bridge.Allocation) *loadEntry {
	e := &loadEntry{id: c.run.nextID.Add(1), alloc: alloc, creator: c.i}
	binary.LittleEndian.PutUint64(e.token[:], e.id)
	binary.LittleEndian.PutUint64(e.token[8:], loadTokenMagic)
	return e
}

// dataFor is private data of e: a prefix every client can check, then a
// version and padding only its creator knows; now and then the most the
// protocol carries, so that the largest messages are in the mix too.
func (c *loadClient) dataFor(e *loadEntry, version int) []byte {
	n := c.rng.IntN(256)
	if c.rng.IntN(50) == 0 {
		n = broker.MaxPrivateData
	}
	d := fmt.Appendf(nil, "%s v%d ", dataPrefix(e), version)
	for len(d) < n {
		d = append(d, byte('a'+len(d)%26))
	}
	return d
}

func dataPrefix(e *loadEntry) string { return fmt.Sprintf("load r%d", e.id) }

// writeToken puts e's token at the start of its memory through fd, as
// much of it as fits: the memfd is sealed against growing, and the
// smallest textures are a byte.
func writeToken(e *loadEntry, fd int) error {
	e.tokenLen = int(min(uint64(len(e.token)), e.alloc.Size))
	if _, err := unix.Pwrite(fd, e.token[:e.tokenLen], 0); err != nil {
		return fmt.Errorf("writing the token into r%d's memory: %w", e.id, err)
	}
	return nil
}

// create makes host memory, writes the token, and registers it, with a
// stand-in semaphore if sync: a small memfd, since the broker keeps and
// hands on sync fds without looking inside them, and a memfd's inode
// makes its copies countable.
func (c *loadClient) create(sync bool) {
	op := opCreate
	if sync {
		op = opCreateSync
	}
	desc := c.desc()
	l, err := bridge.LayoutOf(desc)
	if err != nil {
		c.wrong(op, err)
		return
	}
	alloc := bridge.Allocation{Desc: desc, Size: l.Size, HostMemory: true}
	e := c.newEntry(alloc)
	fd, err := fdutil.SealedMemfd("glshare-load", l.Size)
	if err != nil {
		c.wrong(op, err)
		return
	}
	defer unix.Close(fd) // Create sends a copy
	if err := writeToken(e, fd); err != nil {
		c.wrong(op, err)
		return
	}
	if e.file, err = testenv.FileOf(fd); err != nil {
		c.wrong(op, err)
		return
	}
	var syncs []broker.SyncFD
	if sync {
		sfd, err := unix.MemfdCreate("glshare-load-sync", unix.MFD_CLOEXEC)
		if err != nil {
			c.wrong(op, fmt.Errorf("memfd_create: %w", err))
			return
		}
		defer unix.Close(sfd)
		if e.syncFile, err = testenv.FileOf(sfd); err != nil {
			c.wrong(op, err)
			return
		}
		e.hasSync = true
		syncs = []broker.SyncFD{{FD: sfd, Timeline: c.rng.IntN(2) == 0}}
	}
	data := c.dataFor(e, 0)
	c.run.watch(e.file, e.syncFile)
	if !c.call(op, "CreateWithSync", func() (err error) { e.kmt, err = c.c.CreateWithSync(alloc, fd, data, syncs); return err }) {
		return
	}
	if !e.kmt.IsKMT() {
		c.wrong(op, fmt.Errorf("create returned %v, not a KMT handle", e.kmt))
	}
	c.made(e, data, -1)
}

// allocate has the broker allocate host or Vulkan memory.
func (c *loadClient) allocate(vulkan bool) {
	op := opAllocateHost
	req := broker.AllocateRequest{Desc: c.desc(), HostMemory: true}
	if vulkan {
		op, req = opAllocateVulkan, broker.AllocateRequest{Desc: req.Desc, Device: *c.run.device}
	}
	e := c.newEntry(bridge.Allocation{})
	req.Data = c.dataFor(e, 0)
	var r broker.Resource
	if !c.call(op, "Allocate", func() (err error) { r, err = c.c.Allocate(req); return err }) {
		return
	}
	e.kmt, e.alloc = r.Handle, r.Allocation
	var err error
	if e.file, err = testenv.FileOf(r.FD); err != nil {
		c.wrong(op, err)
	}
	c.run.watch(e.file)
	switch {
	case r.KMT != r.Handle || !r.Handle.IsKMT():
		c.wrong(op, fmt.Errorf("allocate returned handle %v, KMT %v", r.Handle, r.KMT))
	case !r.ServiceAllocated || r.Allocation.Desc != req.Desc || r.Allocation.HostMemory != req.HostMemory || len(r.Syncs) != 0:
		c.wrong(op, fmt.Errorf("allocate of %v (host memory %v) returned %+v", req.Desc, req.HostMemory, r))
	case !bytes.Equal(r.Data, req.Data):
		c.wrong(op, fmt.Errorf("allocate returned %d bytes of private data, not the %d asked", len(r.Data), len(req.Data)))
	}
	if !vulkan {
		if l, err := bridge.LayoutOf(req.Desc); err != nil || r.Allocation.Size != l.Size {
			c.wrong(op, fmt.Errorf("allocate of host memory for %v: size %d, layout %d (%v)", req.Desc, r.Allocation.Size, l.Size, err))
		}
		if err := writeToken(e, r.FD); err != nil {
			c.wrong(op, err)
		}
	}
	c.made(e, req.Data, r.FD)
}

// made records a resource c created or allocated, holding memFD (an
// allocation's, or -1), and lists it for the other clients.
func (c *loadClient) made(e *loadEntry, data []byte, memFD int) {
	c.created++
	c.data[e] = data
	c.held = append(c.held, loadHeld{h: e.kmt, e: e, access: bridge.AccessReadWrite, fd: memFD, syncFD: -1, created: true})
	c.run.resourceMade()
	c.run.reg.add(e)
}

// WriteLoadTable writes RunLoad's report as glshare bench --load prints
// it: what ran, a row per kind of operation, and what was left.
func WriteLoadTable(w io.Writer, r *LoadResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "date:      %s\n", r.Date)
	if r.Command != "" {
		fmt.Fprintf(&b, "command:   %s\n", r.Command)
	}
	fmt.Fprintf(&b, "host:      %d CPUs; load average %s before, %s after\n", r.CPUs, r.LoadAvg[0], r.LoadAvg[1])
	fmt.Fprintf(&b, "load:      %d clients × %d operations, seed %d, against a glshare serve process; Vulkan allocations on %s\n",
		r.Clients, r.OpsPerClient, r.Seed, r.Vulkan)
	fmt.Fprintf(&b, "ran:       %d operations (%d requests) in %.2f s: %.0f ops/s (%.0f requests/s); closing %d references at the end %.2f s; most resources listed at once %d\n\n",
		r.Ops, r.Requests, r.Seconds, r.OpsPerSec, r.RequestsPerSec, r.CloseHandles, r.CloseSeconds, r.PeakResources)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tcount\texpected errors\terrors\tp50 µs\tp99 µs\t")
	for _, o := range r.PerOp {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t\n", o.Op, o.Count, o.Expected, o.Errors, o.P50Us, o.P99Us)
	}
	tw.Flush()
	b.WriteString("(expected errors: ACQUIRE_SYNC's TIMEOUT; errors: failed calls and wrong results)\n\n")
	fmt.Fprintf(&b, "errors:    %d\n", r.Errors)
	for _, e := range r.FirstErrors {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	fmt.Fprintf(&b, "left:      %d resources listed, %d client fds of the run's files\n", r.ResourcesLeft, r.ClientFDsLeft)
	fmt.Fprintf(&b, "broker:    fds %d before, %d peak, %d after; RSS %.1f MiB before, %.1f MiB peak, %.1f MiB after\n",
		r.BrokerFDsBefore, r.BrokerFDsPeak, r.BrokerFDsAfter, mib(r.BrokerRSSBeforeKiB), mib(r.BrokerRSSPeakKiB), mib(r.BrokerRSSAfterKiB))
	_, err := io.WriteString(w, b.String())
	return err
}

func mib(kib int) float64 { return float64(kib) / 1024 }
