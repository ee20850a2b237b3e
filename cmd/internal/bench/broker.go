package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/vkalloc"
)

// OpenResult is what a consumer waits for to open a shared texture: the
// broker round trip that brings the record and the fd (RoundTrip), and
// that plus the GL import, memory object and texture (Open). Microseconds.
type OpenResult struct {
	// Samples is the number of opens timed.
	Samples int `json:"samples"`
	// RoundTripP50Us and RoundTripP99Us time the broker alone, OpenP50Us
	// and OpenP99Us the whole open: apart, they say whether a slow open is
	// the broker's or the GL driver's.
	RoundTripP50Us float64 `json:"round_trip_p50_us"`
	RoundTripP99Us float64 `json:"round_trip_p99_us"`
	OpenP50Us      float64 `json:"open_import_p50_us"`
	OpenP99Us      float64 `json:"open_import_p99_us"`
	// Width and Height are the texture's, which matter only to the GL
	// import (see openSize).
	Width  int `json:"width"`
	Height int `json:"height"`
}

// BrokerResult is the broker's throughput with Clients connections, each
// opening one resource by KMT handle, closing the fd and closing the
// handle, as fast as it can. A cycle is two requests.
type BrokerResult struct {
	// Clients is the number of connections, Seconds how long they ran.
	Clients int     `json:"clients"`
	Seconds float64 `json:"seconds"`
	// Cycles is the open/close cycles all clients completed; CyclesPerSec
	// and OpsPerSec are per second of Seconds, OpsPerSec counting requests
	// (two a cycle), the unit a broker's capacity is usually given in.
	Cycles       int     `json:"cycles"`
	CyclesPerSec float64 `json:"cycles_per_s"`
	OpsPerSec    float64 `json:"ops_per_s"`
}

// openSize is the texture the open latency measures: its size matters
// only to the GL import, which makes no copy.
const openSize = 256

// measureBroker starts a broker in this process on a fresh socket,
// creates a resource through it, and measures opens and throughput. The
// broker serves over a real unix socket, passing real fds; only the
// processes are one.
func measureBroker(env *gpuenv.Env, opts Options) (*OpenResult, *BrokerResult, error) {
	dir, err := os.MkdirTemp("", "glshare-bench-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "broker.sock")
	l, err := broker.Listen(sock)
	if err != nil {
		return nil, nil, err
	}
	b := &broker.Broker{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	served := make(chan error, 1)
	go func() { served <- b.Serve(context.Background(), l) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Shutdown(ctx)
		<-served
	}()

	prod, err := broker.Dial(sock)
	if err != nil {
		return nil, nil, err
	}
	defer prod.Close()
	img, err := vkalloc.NewImage(env.Dev, bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: openSize, Height: openSize, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm})
	if err != nil {
		return nil, nil, err
	}
	defer img.Close()
	fd, err := img.ExportFD()
	if err != nil {
		return nil, nil, err
	}
	kmt, err := prod.Create(img.Allocation(), fd, []byte("glshare bench"))
	unix.Close(fd) // Create sent a copy
	if err != nil {
		return nil, nil, err
	}

	var open *OpenResult
	if opts.OpenSamples > 0 {
		progress(opts.Progress, "bench: open latency: %d opens", opts.OpenSamples)
		if open, err = measureOpen(env, sock, kmt, opts.OpenSamples); err != nil {
			return nil, nil, err
		}
	}
	var thr *BrokerResult
	if opts.BrokerClients > 0 {
		progress(opts.Progress, "bench: broker throughput: %d clients for %v", opts.BrokerClients, opts.BrokerDuration)
		if thr, err = measureThroughput(sock, kmt, opts.BrokerClients, opts.BrokerDuration); err != nil {
			return nil, nil, err
		}
	}
	return open, thr, nil
}

// measureOpen times n opens by KMT handle on a consumer connection: the
// round trip, then the round trip plus the GL import. Closing is not timed.
func measureOpen(env *gpuenv.Env, sock string, kmt bridge.Handle, n int) (*OpenResult, error) {
	c, err := broker.Dial(sock)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rtt := make([]time.Duration, 0, n)
	full := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		res, err := c.OpenKMT(kmt)
		if err != nil {
			return nil, err
		}
		rtt = append(rtt, time.Since(start))
		var mem *glimport.Memory
		var tex *glimport.Texture
		env.GL.Call(func() {
			if mem, err = glimport.ImportMemory(res.Allocation, res.FD); err != nil {
				return
			}
			tex, err = mem.Texture(res.Allocation)
			full = append(full, time.Since(start))
			if err == nil {
				tex.Close()
			}
			mem.Close()
		})
		unix.Close(res.FD) // ImportMemory imported a duplicate
		if err != nil {
			return nil, err
		}
		if err := c.CloseHandle(res.Handle); err != nil {
			return nil, err
		}
	}
	slices.Sort(rtt)
	slices.Sort(full)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return &OpenResult{
		Samples:        n,
		RoundTripP50Us: us(Percentile(rtt, 0.5)), RoundTripP99Us: us(Percentile(rtt, 0.99)),
		OpenP50Us: us(Percentile(full, 0.5)), OpenP99Us: us(Percentile(full, 0.99)),
		Width: openSize, Height: openSize,
	}, nil
}

// measureThroughput runs clients connections, each cycling OpenKMT, close
// fd, CloseHandle until d has passed, and counts the cycles.
func measureThroughput(sock string, kmt bridge.Handle, clients int, d time.Duration) (*BrokerResult, error) {
	conns := make([]*broker.Client, 0, clients)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range clients {
		c, err := broker.Dial(sock)
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		cycles int
		errs   []error
	)
	start := time.Now()
	deadline := start.Add(d)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			var err error
			for time.Now().Before(deadline) {
				var res broker.Resource
				if res, err = c.OpenKMT(kmt); err != nil {
					break
				}
				unix.Close(res.FD)
				if err = c.CloseHandle(res.Handle); err != nil {
					break
				}
				n++
			}
			mu.Lock()
			cycles += n
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		return nil, fmt.Errorf("bench: broker throughput: %w", errors.Join(errs...))
	}
	return &BrokerResult{
		Clients: clients, Seconds: elapsed.Seconds(), Cycles: cycles,
		CyclesPerSec: float64(cycles) / elapsed.Seconds(), OpsPerSec: 2 * float64(cycles) / elapsed.Seconds(),
	}, nil
}
