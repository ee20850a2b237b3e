package broker

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkOpenRoundTrip measures what a consumer waits for to open a
// shared resource: the request, the broker's lookup and dup, and the reply
// with its fd. It reports the median and 99th percentile of single opens
// besides the mean. (The GL import a consumer does next is measured with
// the GL tests, which need a GL context.)
func BenchmarkOpenRoundTrip(b *testing.B) {
	path := testBroker(b, &Broker{})
	prod, cons := dial(b, path), dial(b, path)
	fd := memfd(b, 1<<20, 0)
	defer unix.Close(fd)
	kmt, err := prod.Create(testAllocation(1<<20), fd, make([]byte, 0x68))
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		r, err := cons.OpenKMT(kmt)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		unix.Close(r.FD)
		if err := cons.CloseHandle(kmt); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
