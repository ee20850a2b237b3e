// Package testbroker serves a glbridge broker inside a test's own process,
// on a fresh socket, over a real unix socket with real fd passing: what the
// cross-process tests, the samples' tests and the benchmarks talk to.
package testbroker

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/glbridge/glbridge/bridge/broker"
)

// Start serves a broker until the test ends and returns its socket path.
func Start(t testing.TB) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "broker.sock")
	l, err := broker.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	b := &broker.Broker{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go b.Serve(context.Background(), l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Shutdown(ctx)
	})
	return sock
}
