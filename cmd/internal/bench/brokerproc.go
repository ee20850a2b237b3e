package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/testenv"
)

// ServeCommand returns a command that runs `glshare serve` with args
// (glshare re-executing itself, or a test's freshly built glshare). The
// load test and the scaling benchmark run the broker as a process of its
// own, as users run it, so that its fds and memory can be read from /proc
// and its CPU is not the clients'.
type ServeCommand func(args []string) *exec.Cmd

// brokerStartTimeout bounds a broker's start, and stopTimeout its clean
// exit after SIGTERM: both take milliseconds, but the two-core machine is
// shared with other test runs.
const (
	brokerStartTimeout = 60 * time.Second
	brokerStopTimeout  = 30 * time.Second
)

// brokerProc is a `glshare serve` child on a socket of its own.
type brokerProc struct {
	cmd    *exec.Cmd
	dir    string
	sock   string
	log    *lockedBuffer
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

// lockedBuffer is the child's stderr, which its exec goroutine writes
// while the parent may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// The broker logs a line per connection; keep the tail, where a
	// failure's reason is.
	if l.b.Len() > 1<<20 {
		tail := bytes.Clone(l.b.Bytes()[l.b.Len()-1<<19:])
		l.b.Reset()
		l.b.Write(tail)
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startBrokerProc runs serve on a fresh socket with args added and returns
// once the broker accepts connections there.
func startBrokerProc(serve ServeCommand, args ...string) (*brokerProc, error) {
	if serve == nil {
		return nil, errors.New("bench: no command to run glshare serve")
	}
	dir, err := os.MkdirTemp("", "glshare-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: MkdirTemp: %w", err)
	}
	p := &brokerProc{dir: dir, sock: filepath.Join(dir, "broker.sock"), log: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd = serve(append([]string{"--socket", p.sock}, args...))
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: starting %s: %w", p.cmd.Path, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	for deadline := time.Now().Add(brokerStartTimeout); ; time.Sleep(10 * time.Millisecond) {
		select {
		case <-p.exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: glshare serve exited before answering: %v\n%s", p.err, p.log)
		default:
		}
		if c, err := broker.Dial(p.sock); err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("bench: glshare serve did not answer on %s within %v\n%s", p.sock, brokerStartTimeout, p.log)
		}
	}
}

// pid is the broker process's.
func (p *brokerProc) pid() int { return p.cmd.Process.Pid }

// fds counts the broker's open fds (testenv.CountFDs: the Go runtime's
// own cgroup files left out).
func (p *brokerProc) fds() (int, error) {
	n, err := testenv.CountFDs(p.pid())
	if err != nil {
		return 0, fmt.Errorf("bench: counting the broker's fds: %w", err)
	}
	return n, nil
}

// memory reads the broker's resident set size and its peak (VmRSS,
// VmHWM) from /proc/PID/status, in KiB.
func (p *brokerProc) memory() (rss, peak int, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(p.pid()) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("bench: the broker's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		if k != "VmRSS" && k != "VmHWM" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		if err != nil {
			return 0, 0, fmt.Errorf("bench: /proc/%d/status: %s: %w", p.pid(), sc.Text(), err)
		}
		if k == "VmRSS" {
			rss = n
		} else {
			peak = n
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, fmt.Errorf("bench: /proc/%d/status has no VmRSS or VmHWM (%v)", p.pid(), sc.Err())
	}
	return rss, peak, nil
}

// waitFDs waits until the broker holds want fds, for at most d: its
// connections' goroutines drop what they held after the clients have
// gone, at a time of their own. It returns the last count.
func (p *brokerProc) waitFDs(want int, d time.Duration) (int, error) {
	n := 0
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if n, err = p.fds(); err != nil || n == want {
			return n, err
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("bench: the broker holds %d fds %v after the clients closed, %d before they connected", n, d, want)
		}
	}
}

// stop ends the broker with SIGTERM, as systemd does, and fails unless it
// shut down cleanly (exit status 0) in time.
func (p *brokerProc) stop() error {
	defer os.RemoveAll(p.dir)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("bench: glshare serve after SIGTERM: %v\n%s", p.err, p.log)
		}
		return nil
	case <-time.After(brokerStopTimeout):
		p.kill()
		return fmt.Errorf("bench: glshare serve did not stop within %v of SIGTERM\n%s", brokerStopTimeout, p.log)
	}
}

// kill ends the broker at once, for the error paths.
func (p *brokerProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
	os.RemoveAll(p.dir)
}
