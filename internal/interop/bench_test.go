package interop_test

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/vkalloc"
)

// BenchmarkOpenImport measures what a consumer pays to open a shared
// texture: the broker round trip, the fd arriving, and the GL import
// (memory object and texture). The closes that follow are not timed.
func BenchmarkOpenImport(b *testing.B) {
	env, err := gpuenv.NewEnv("")
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	sock := startBroker(b)
	c, err := broker.Dial(sock)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	img, err := vkalloc.NewImage(env.Dev, bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 256, Height: 256, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	fd, err := img.ExportFD()
	if err != nil {
		b.Fatal(err)
	}
	kmt, err := c.Create(img.Allocation(), fd, privateData)
	unix.Close(fd)
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
		env.GL.Call(func() {
			var mem *glimport.Memory
			var tex *glimport.Texture
			if mem, err = glimport.ImportMemory(res.Allocation, res.FD); err != nil {
				return
			}
			tex, err = mem.Texture(res.Allocation)
			times = append(times, time.Since(start))
			if err == nil {
				tex.Close()
			}
			mem.Close()
		})
		unix.Close(res.FD)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.CloseHandle(res.Handle); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e3, "p99-µs")
}
