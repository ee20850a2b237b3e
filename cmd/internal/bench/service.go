package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/vkalloc"
)

// This file is what service allocation (the broker's ALLOCATE, share's
// Options.Service) costs once a process runs: one allocation imported
// into GL, against the same made in the process (AllocateResult).
// first.go is what it saves a process that has just started.

// AllocateResult is what one shared 256x256 RGBA8 texture costs a process
// that has its GL context and broker connection already, microseconds,
// nearest-rank percentiles of Samples iterations each, one after another
// on one broker connection and one GL context, every call made on the
// context's thread as a renderer makes them (a broker round trip from a
// goroutine locked to its thread costs more than from a free one: the
// reply must wake that very thread):
//
//   - the broker's ALLOCATE round trip alone (the broker allocating on its
//     helper device of GL's UUIDs, with no semaphores, exporting,
//     registering, and passing the fd), then
//     with the GL import (glimport.ImportMemory and Texture: a texture
//     ready to use), then the whole cycle with closing (the texture, the
//     memory object, the fd, CloseHandle);
//   - share in service mode (share.NewGL with Options.Service): Create,
//     which does the ALLOCATE (with a timeline semaphore where GL can wait
//     for one, which Mesa 22.3 cannot) and the import, then Create and
//     Close;
//   - the same made in this process, for comparison: vkalloc.NewImage on
//     the process's own helper device, ExportFD and the GL import; and
//     share's Create in the default, in-process mode.
type AllocateResult struct {
	// Samples is the number of timed iterations of each kind; Width and
	// Height the texture's size.
	Samples int `json:"samples"`
	Width   int `json:"width"`
	Height  int `json:"height"`
	// Device is the broker's device, as glshare ls names it.
	Device string `json:"device"`
	// AllocateP50Us and AllocateP99Us time the ALLOCATE round trip;
	// AllocateImportP50Us and AllocateImportP99Us that plus the GL import
	// (the target: p50 at most 300 µs on Mesa); CycleP50Us and
	// CycleP99Us that plus closing everything.
	AllocateP50Us       float64 `json:"allocate_p50_us"`
	AllocateP99Us       float64 `json:"allocate_p99_us"`
	AllocateImportP50Us float64 `json:"allocate_import_p50_us"`
	AllocateImportP99Us float64 `json:"allocate_import_p99_us"`
	CycleP50Us          float64 `json:"cycle_p50_us"`
	CycleP99Us          float64 `json:"cycle_p99_us"`
	// ShareServiceCreate* time share's Create in service mode,
	// ShareServiceCycle* Create and Close; ShareServicePath is the path
	// its resources got.
	ShareServiceCreateP50Us float64 `json:"share_service_create_p50_us"`
	ShareServiceCreateP99Us float64 `json:"share_service_create_p99_us"`
	ShareServiceCycleP50Us  float64 `json:"share_service_cycle_p50_us"`
	ShareServiceCycleP99Us  float64 `json:"share_service_cycle_p99_us"`
	ShareServicePath        string  `json:"share_service_path"`
	// InProcessImport* time vkalloc.NewImage, ExportFD and the GL import
	// on this process's helper device: the ALLOCATE and import without
	// the broker. ShareInProcessCreate* time share's Create in the
	// default mode (its helper device opened before timing).
	InProcessImportP50Us      float64 `json:"in_process_import_p50_us"`
	InProcessImportP99Us      float64 `json:"in_process_import_p99_us"`
	ShareInProcessCreateP50Us float64 `json:"share_in_process_create_p50_us"`
	ShareInProcessCreateP99Us float64 `json:"share_in_process_create_p99_us"`
}

// serviceSize is the texture both service benchmarks share: the issue's
// 256x256.
const serviceSize = 256

// serviceDesc is that texture.
func serviceDesc() bridge.Desc {
	return bridge.Texture2D(serviceSize, serviceSize, bridge.FormatR8G8B8A8Unorm)
}

// allocateWarmup is the untimed iterations before each kind: the first
// ALLOCATE opens the broker's device, and the first of anything faults
// in code and the driver's pools.
const allocateWarmup = 5

// startBroker serves a broker in this process on a fresh socket until stop
// is called: a real unix socket with real fd passing; only the processes
// are one.
func startBroker() (sock string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "glshare-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("bench: MkdirTemp: %w", err)
	}
	sock = filepath.Join(dir, "broker.sock")
	l, err := broker.Listen(sock)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("bench: broker.Listen: %w", err)
	}
	b := &broker.Broker{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	served := make(chan error, 1)
	go func() { served <- b.Serve(context.Background(), l) }()
	return sock, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Shutdown(ctx)
		<-served
		os.RemoveAll(dir)
	}, nil
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// p50p99 returns the nearest-rank median and 99th percentile of times, in
// microseconds.
func p50p99(times []time.Duration) (p50, p99 float64) {
	s := slices.Clone(times)
	slices.Sort(s)
	return us(Percentile(s, 0.5)), us(Percentile(s, 0.99))
}

// allocTimes is one kind of iteration's times.
type allocTimes struct{ alloc, imported, cycle []time.Duration }

// MeasureAllocate measures AllocateResult with n samples of each kind,
// through a broker it serves in this process, for env's GL.
func MeasureAllocate(env *gpuenv.Env, n int) (*AllocateResult, error) {
	sock, stop, err := startBroker()
	if err != nil {
		return nil, err
	}
	defer stop()
	c, err := broker.Dial(sock)
	if err != nil {
		return nil, fmt.Errorf("bench: broker.Dial: %w", err)
	}
	defer c.Close()
	r := &AllocateResult{Samples: n, Width: serviceSize, Height: serviceSize}

	var raw allocTimes
	for i := range allocateWarmup + n {
		a, imp, cyc, err := allocateImport(env, c)
		if err != nil {
			return nil, err
		}
		if i >= allocateWarmup {
			raw.alloc, raw.imported, raw.cycle = append(raw.alloc, a), append(raw.imported, imp), append(raw.cycle, cyc)
		}
	}
	r.AllocateP50Us, r.AllocateP99Us = p50p99(raw.alloc)
	r.AllocateImportP50Us, r.AllocateImportP99Us = p50p99(raw.imported)
	r.CycleP50Us, r.CycleP99Us = p50p99(raw.cycle)
	if r.Device, err = allocatedOn(c, env.ID.Device); err != nil {
		return nil, err
	}

	var svc allocTimes
	if r.ShareServicePath, err = shareCreates(env, share.Options{Service: c}, n, &svc); err != nil {
		return nil, err
	}
	r.ShareServiceCreateP50Us, r.ShareServiceCreateP99Us = p50p99(svc.imported)
	r.ShareServiceCycleP50Us, r.ShareServiceCycleP99Us = p50p99(svc.cycle)

	var local allocTimes
	for i := range allocateWarmup + n {
		imp, err := inProcessImport(env)
		if err != nil {
			return nil, err
		}
		if i >= allocateWarmup {
			local.imported = append(local.imported, imp)
		}
	}
	r.InProcessImportP50Us, r.InProcessImportP99Us = p50p99(local.imported)
	var inproc allocTimes
	if _, err := shareCreates(env, share.Options{}, n, &inproc); err != nil {
		return nil, err
	}
	r.ShareInProcessCreateP50Us, r.ShareInProcessCreateP99Us = p50p99(inproc.imported)
	return r, nil
}

// allocateImport is one iteration: ALLOCATE on the broker's device of
// GL's UUIDs, the GL import, closing. It returns the time to the reply,
// to the texture, and to the end. All of it runs on the GL context's
// thread, as a renderer would make the calls, so that no hop between
// threads is timed.
func allocateImport(env *gpuenv.Env, c *broker.Client) (alloc, imported, cycle time.Duration, err error) {
	env.GL.Call(func() {
		start := time.Now()
		var res broker.Resource
		if res, err = c.Allocate(broker.AllocateRequest{Desc: serviceDesc(), Device: env.ID.Device}); err != nil {
			err = fmt.Errorf("bench: Allocate: %w", err)
			return
		}
		alloc = time.Since(start)
		for _, s := range res.Syncs {
			unix.Close(s.FD)
		}
		defer func() {
			unix.Close(res.FD) // ImportMemory imported a duplicate
			if cerr := c.CloseHandle(res.Handle); cerr != nil && err == nil {
				err = fmt.Errorf("bench: CloseHandle: %w", cerr)
			}
			cycle = time.Since(start)
		}()
		var mem *glimport.Memory
		if mem, err = glimport.ImportMemory(res.Allocation, res.FD); err != nil {
			err = fmt.Errorf("bench: ImportMemory of the broker's allocation: %w", err)
			return
		}
		defer mem.Close()
		var tex *glimport.Texture
		if tex, err = mem.Texture(res.Allocation); err != nil {
			err = fmt.Errorf("bench: Texture of the broker's allocation: %w", err)
			return
		}
		imported = time.Since(start)
		tex.Close()
	})
	return alloc, imported, cycle, err
}

// allocatedOn asks the broker which device it allocates on for id: it
// allocates one more texture and reads its ResourceInfo.AllocatedOn.
func allocatedOn(c *broker.Client, id bridge.DeviceID) (string, error) {
	res, err := c.Allocate(broker.AllocateRequest{Desc: serviceDesc(), Device: id})
	if err != nil {
		return "", fmt.Errorf("bench: Allocate: %w", err)
	}
	unix.Close(res.FD)
	for _, s := range res.Syncs {
		unix.Close(s.FD)
	}
	defer c.CloseHandle(res.Handle)
	list, err := c.List()
	if err != nil {
		return "", fmt.Errorf("bench: List: %w", err)
	}
	for _, l := range list {
		if l.KMT == res.KMT {
			return l.AllocatedOn, nil
		}
	}
	return "", fmt.Errorf("bench: the broker does not list %v, which it allocated", res.KMT)
}

// shareCreates times n of share's Create (and Close) on a GL made with
// opts, after the warm-up, into t.imported (Create) and t.cycle (Create
// and Close), and returns the path the resources got.
func shareCreates(env *gpuenv.Env, opts share.Options, n int, t *allocTimes) (path string, err error) {
	env.GL.Call(func() {
		var g *share.GL
		if g, err = share.NewGL(env.GL.ProcAddr, opts); err != nil {
			err = fmt.Errorf("bench: share.NewGL: %w", err)
			return
		}
		defer g.Close()
		for i := range allocateWarmup + n {
			start := time.Now()
			var res *share.GLResource
			if res, err = g.Create(serviceDesc()); err != nil {
				err = fmt.Errorf("bench: share Create: %w", err)
				return
			}
			created := time.Since(start)
			path = res.Path().String()
			if err = res.Close(); err != nil {
				err = fmt.Errorf("bench: share Close: %w", err)
				return
			}
			if i >= allocateWarmup {
				t.imported, t.cycle = append(t.imported, created), append(t.cycle, time.Since(start))
			}
		}
	})
	return path, err
}

// inProcessImport is the ALLOCATE and import made in this process: an
// exportable image on the process's helper device, its fd, the GL import,
// on the GL context's thread like allocateImport. It returns the time to
// the texture.
func inProcessImport(env *gpuenv.Env) (d time.Duration, err error) {
	env.GL.Call(func() {
		start := time.Now()
		var img *vkalloc.Image
		if img, err = vkalloc.NewImage(env.Dev, serviceDesc()); err != nil {
			err = fmt.Errorf("bench: vkalloc.NewImage: %w", err)
			return
		}
		defer img.Close()
		var fd int
		if fd, err = img.ExportFD(); err != nil {
			err = fmt.Errorf("bench: ExportFD: %w", err)
			return
		}
		defer unix.Close(fd)
		var mem *glimport.Memory
		if mem, err = glimport.ImportMemory(img.Allocation(), fd); err != nil {
			err = fmt.Errorf("bench: ImportMemory: %w", err)
			return
		}
		defer mem.Close()
		var tex *glimport.Texture
		if tex, err = mem.Texture(img.Allocation()); err != nil {
			err = fmt.Errorf("bench: Texture: %w", err)
			return
		}
		d = time.Since(start)
		tex.Close()
	})
	return d, err
}
