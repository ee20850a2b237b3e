package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
)

func init() {
	register(command{name: "serve", summary: "run the broker that names shared resources between processes", run: runServe})
}

// uidList is a repeatable, comma-separable --allow-uid flag.
type uidList []uint32

func (u *uidList) String() string { return fmt.Sprint(*u) }

func (u *uidList) Set(s string) error {
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return fmt.Errorf("uid %q: %w", f, err)
		}
		*u = append(*u, uint32(v))
	}
	return nil
}

// byteSize is a --quota-bytes-* flag: a number of bytes, or one with a
// binary suffix (K, M, G or T, optionally followed by "iB" or "B": 512M is
// 512 MiB, 8G is 8 GiB).
type byteSize uint64

var byteSuffixes = []struct {
	suffix string
	shift  uint
}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}}

func (b *byteSize) String() string {
	v := uint64(*b)
	for _, s := range byteSuffixes {
		if v != 0 && v%(1<<s.shift) == 0 {
			return fmt.Sprintf("%d%s", v>>s.shift, s.suffix)
		}
	}
	return strconv.FormatUint(v, 10)
}

func (b *byteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

// parseByteSize parses a byte count: digits, then optionally K, M, G or T
// (powers of 1024), optionally followed by "iB" or "B"; case does not
// matter.
func parseByteSize(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	shift := uint(0)
	for _, x := range byteSuffixes {
		if strings.HasSuffix(t, x.suffix) {
			t, shift = strings.TrimSuffix(t, x.suffix), x.shift
			break
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: want a number of bytes, or one with a suffix K, M, G or T (512M, 8G)", s)
	}
	if v > (^uint64(0))>>shift {
		return 0, fmt.Errorf("%q: more bytes than 64 bits hold", s)
	}
	return v << shift, nil
}

// quotaFlags are serve's --quota-* flags, the broker's per-connection and
// per-uid quotas; 0 keeps the broker's default.
type quotaFlags struct {
	resPerConn, resPerUID     int
	bytesPerConn, bytesPerUID byteSize
}

func (q *quotaFlags) register(fs *flag.FlagSet) {
	q.resPerConn, q.resPerUID = broker.DefaultMaxResourcesPerConn, broker.DefaultMaxResourcesPerUID
	q.bytesPerConn, q.bytesPerUID = byteSize(broker.DefaultMaxBytesPerConn), byteSize(broker.DefaultMaxBytesPerUID)
	fs.IntVar(&q.resPerConn, "quota-resources-per-conn", q.resPerConn, "most resources one connection may have the broker hold (created or allocated; 0: the default)")
	fs.IntVar(&q.resPerUID, "quota-resources-per-uid", q.resPerUID, "most resources all connections of one uid together may have the broker hold (0: the default)")
	fs.Var(&q.bytesPerConn, "quota-bytes-per-conn", "most bytes of memory one connection may have the broker hold: bytes, or with a suffix K, M, G, T (512M, 8G; 0: the default)")
	fs.Var(&q.bytesPerUID, "quota-bytes-per-uid", "most bytes of memory all connections of one uid together may have the broker hold (as --quota-bytes-per-conn)")
}

// check refuses quotas the broker cannot take.
func (q *quotaFlags) check() error {
	if q.resPerConn < 0 {
		return fmt.Errorf("--quota-resources-per-conn %d: want at least 0", q.resPerConn)
	}
	if q.resPerUID < 0 {
		return fmt.Errorf("--quota-resources-per-uid %d: want at least 0", q.resPerUID)
	}
	return nil
}

// apply sets the quotas on b; 0 leaves the broker's default.
func (q *quotaFlags) apply(b *broker.Broker) {
	b.MaxResourcesPerConn, b.MaxResourcesPerUID = q.resPerConn, q.resPerUID
	b.MaxBytesPerConn, b.MaxBytesPerUID = uint64(q.bytesPerConn), uint64(q.bytesPerUID)
}

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	socket := fs.String("socket", "", "socket path (default "+broker.DefaultSocketPath()+"; ignored under systemd socket activation)")
	var allow uidList
	fs.Var(&allow, "allow-uid", "also admit clients of this uid (repeatable, or comma-separated)")
	verbose := fs.Bool("v", false, "log every request (debug level)")
	jsonLog := fs.Bool("json", false, "log as JSON instead of text")
	maxRes := fs.Int("max-resources", broker.DefaultMaxResources, "most live resources (at most 65535)")
	restoreWindow := fs.Duration("restore-window", 2*time.Second, "after a crash, or a restart while resources lived, take back the previous broker's resources from the processes holding them for this long, holding back new ones meanwhile (0: never)")
	var q quotaFlags
	q.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := q.check(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if *jsonLog {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	log := slog.New(h)

	l, err := broker.ActivationListener()
	if err != nil {
		return err
	}
	if l != nil {
		log.Info("using the socket passed by systemd", "addr", l.Addr().String())
	} else {
		path := *socket
		if path == "" {
			path = broker.DefaultSocketPath()
		}
		if l, err = broker.Listen(path); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b := &broker.Broker{Logger: log, AllowUIDs: allow, MaxResources: *maxRes}
	q.apply(b)
	state := brokerState(l.Addr().String())
	b.RestoreWindow = state.restoreWindow(*restoreWindow, log)
	state.write("running")
	qs := b.Quotas()
	bpc, bpu := byteSize(qs.BytesPerConn), byteSize(qs.BytesPerUID)
	log.Info("quotas", "resources_per_conn", qs.ResourcesPerConn, "resources_per_uid", qs.ResourcesPerUID,
		"bytes_per_conn", bpc.String(), "bytes_per_uid", bpu.String())
	errc := make(chan error, 1)
	go func() { errc <- b.Serve(context.Background(), l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("signal received; shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Processes may still hold what lives now, and bring it to the next
	// broker: it must take it back.
	live := b.Live()
	if err := b.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	state.write(fmt.Sprintf("stopped %d", live))
	if err := <-errc; !errors.Is(err, bridge.ErrBrokerClosed) {
		return err
	}
	return nil
}

// brokerStateFile is where serve says, beside its socket, whether it is
// running or how it stopped, so that the next broker at that socket knows
// whether processes may come to restore what it held: after a crash (the
// file says running) or a stop while resources lived, they may; after a
// first start or a stop with nothing live, nobody can, and new resources
// need not wait for a restore window.
type brokerStateFile string

// brokerState is the state file of the broker at socket; "" (no file) for
// an abstract socket.
func brokerState(socket string) brokerStateFile {
	if socket == "" || socket[0] == '@' {
		return ""
	}
	return brokerStateFile(socket + ".state")
}

// restoreWindow is how long this broker takes restorations: window after
// a crash or a stop with live resources, else 0.
func (f brokerStateFile) restoreWindow(window time.Duration, log *slog.Logger) time.Duration {
	if f == "" || window <= 0 {
		return 0
	}
	b, err := os.ReadFile(string(f))
	if err != nil {
		return 0
	}
	switch st := strings.TrimSpace(string(b)); {
	case st == "running":
		log.Warn("the previous broker at this socket did not stop cleanly; taking back what its clients hold", "restore_window", window)
	case st == "stopped 0":
		return 0
	default:
		log.Info("the previous broker stopped with live resources; taking back what its clients hold", "state", st, "restore_window", window)
	}
	return window
}

func (f brokerStateFile) write(state string) {
	if f != "" {
		os.WriteFile(string(f), []byte(state+"\n"), 0o600)
	}
}
