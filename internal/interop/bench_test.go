package interop_test

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/testenv/testbroker"
)

// BenchmarkOpenImport measures what a consumer pays to open a shared
// texture: the broker round trip, the fd arriving, and the GL import
// (memory object and texture). The closes that follow are not timed.
func BenchmarkOpenImport(b *testing.B) {
	env := newEnv(b, "")
	sock := testbroker.Start(b)
	c, err := broker.Dial(sock)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	img, fd := exportedImage(b, env, desc2D(256, 256, bridge.FormatR8G8B8A8Unorm))
	kmt, err := c.Create(img.Allocation(), fd, []byte("d3d11 private runtime data"))
	if err != nil {
		b.Fatal(err)
	}

	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		res, err := c.OpenKMT(kmt)
		if err != nil {
			b.Fatal(err)
		}
		mem, tex, err := env.ImportTexture(res.Allocation, res.FD)
		times = append(times, time.Since(start))
		unix.Close(res.FD)
		if err != nil {
			b.Fatal(err)
		}
		env.GL.Call(func() { tex.Close(); mem.Close() })
		if err := c.CloseHandle(res.Handle); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e3, "p99-µs")
}
