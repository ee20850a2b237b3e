package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

// TestDemoSurvivesBrokerKill runs the demo against a `glshare serve`,
// kills the broker with SIGKILL in the middle and starts another on the
// same socket: producer and consumer must reconnect, get their texture
// back under its old KMT handle, and finish with every frame matching
// pixel for pixel; a process that opens the old handle after the restart
// must see the test pattern; and once the demo is over the new broker
// must hold no more fds than a fresh one.
func TestDemoSurvivesBrokerKill(t *testing.T) {
	dir := t.TempDir()
	bin := glshareBinary(t)
	sock := filepath.Join(dir, "broker.sock")
	first := startServeAt(t, sock)
	// startServeAt's probe connection has gone once the broker says so:
	// then it holds an idle broker's fds.
	for deadline := time.Now().Add(time.Minute); !strings.Contains(first.log.String(), "client disconnected"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the broker never saw the probe go:\n%s", first.log.String())
		}
	}
	idleFDs, err := testenv.CountFDs(first.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}

	const frames, w, h = 40, 96, 64
	out := filepath.Join(dir, "png")
	demoLog := &syncBuffer{}
	cmd := exec.Command(bin, "demo", "--socket", sock, "--out", out, "--frames", strconv.Itoa(frames),
		"--size", "96x64", "--frame-interval", "100ms")
	cmd.Stdout, cmd.Stderr = demoLog, demoLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	// Kill the broker once the producer has drawn a few frames.
	waitFile(t, filepath.Join(out, "producer-004.png"), done, demoLog)
	m := regexp.MustCompile(`KMT (0x[0-9a-f]+)`).FindStringSubmatch(demoLog.String())
	if m == nil {
		t.Fatalf("the demo printed no KMT handle:\n%s", demoLog.String())
	}
	v, _ := strconv.ParseUint(m[1], 0, 32)
	kmt := bridge.Handle(v)
	first.kill9(t)
	second := startServeAt(t, sock)
	// Once both sides are back (an open before would wait for the restore
	// window to close, as opens of what is not yet restored do).
	for deadline := time.Now().Add(time.Minute); strings.Count(demoLog.String(), "reconnected to the broker after") < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the demo's sides did not reconnect:\n%s\nnew broker:\n%s", demoLog.String(), second.log.String())
		}
	}

	// A process opening the old handle after the restart sees the frame
	// the producer drew last: it takes its turn in the ping-pong as the
	// consumer does (key 1) and hands it back with the same key.
	c := dial(t, sock)
	res, err := c.OpenKMT(kmt)
	if err != nil {
		t.Fatalf("opening the demo's texture %v on the new broker: %v\n%s", kmt, err, second.log.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo:\n%s\nnew broker:\n%s", demoLog.String(), second.log.String())
		}
	})
	// Its keyed-mutex object and sync object, which its descriptor names,
	// came back with it, bound as before (the producer holds both).
	ms, err := c.ListKeyedMutexes()
	if err != nil || len(ms) != 1 || ms[0].Resource != kmt || ms[0].Sync == 0 {
		t.Fatalf("keyed-mutex objects after the restart: %+v, %v; want the demo texture's, with its sync object", ms, err)
	}
	if fs, err := c.ListFences(); err != nil || len(fs) != 1 || fs[0].KMT != ms[0].Sync {
		t.Fatalf("fences after the restart: %+v, %v; want the keyed mutex's sync object %v", fs, err, ms[0].Sync)
	}
	px := readShared(t, c, res)
	frame, ok := testpattern.FrameOf(px, w, h)
	if !ok || !bytes.Equal(px, testpattern.Expected(w, h, frame)) {
		t.Errorf("the texture opened by its old handle after the restart is not a frame of the test pattern (frame %d, %v)", frame, ok)
	}
	if err := c.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
	c.Close()

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v\n%s", err, demoLog.String())
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("the demo did not finish\n%s", demoLog.String())
	}
	log := demoLog.String()
	t.Logf("%s", log)
	for _, want := range []string{
		"producer reconnected to the broker", "consumer reconnected to the broker",
		// The producer holds the texture, its keyed-mutex object and its
		// sync object; the consumer the texture and the keyed mutex.
		"producer reconnected to the broker", "3 objects restored, 0 refused", "2 objects restored, 0 refused", "demo: all 40 frames match",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	if !strings.Contains(second.log.String(), "did not stop cleanly") {
		t.Errorf("the new broker did not say it took restorations:\n%s", second.log.String())
	}
	// Everything was freed: the new broker is back to an idle broker's fds.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, err := testenv.CountFDs(second.cmd.Process.Pid)
		if err == nil && n == idleFDs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new broker holds %d fds after the demo, an idle one %d (%v)", n, idleFDs, err)
		}
	}
}

// waitFile waits for path to exist, failing if the demo ends first.
func waitFile(t *testing.T, path string, done chan error, log *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("the demo ended (%v) before %s:\n%s", err, path, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s:\n%s", path, log.String())
		}
	}
}

// readShared reads an RGBA8 texture res of c's on a Vulkan device of this
// process, holding its keyed mutex with key 1 (the consumer's turn) and
// giving it back with key 1.
func readShared(t *testing.T, c *broker.Client, res broker.Resource) []byte {
	t.Helper()
	defer unix.Close(res.FD)
	for _, s := range res.Syncs {
		defer unix.Close(s.FD)
	}
	var id *bridge.DeviceID
	if !res.Allocation.HostMemory {
		id = &res.Allocation.Device
	}
	v, err := share.NewVulkan(id, share.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	shared, err := v.OpenShared(c, res)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	own, err := v.Create(res.Allocation.Desc)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if _, err := shared.AcquireSync(1, time.Minute); err != nil {
		t.Fatal(err)
	}
	err = own.Access(bridge.AccessReadWrite, func() error { return shared.CopyTo(own) })
	if e := shared.ReleaseSync(1); err == nil {
		err = e
	}
	if err != nil {
		t.Fatal(err)
	}
	var px []byte
	if err := own.Access(bridge.AccessRead, func() (err error) {
		px, err = own.ReadPixels(bridge.Subresource{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return px
}
