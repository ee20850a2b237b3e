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

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	socket := fs.String("socket", "", "socket path (default "+broker.DefaultSocketPath()+"; ignored under systemd socket activation)")
	var allow uidList
	fs.Var(&allow, "allow-uid", "also admit clients of this uid (repeatable, or comma-separated)")
	verbose := fs.Bool("v", false, "log every request (debug level)")
	jsonLog := fs.Bool("json", false, "log as JSON instead of text")
	maxRes := fs.Int("max-resources", broker.DefaultMaxResources, "most live resources (at most 65535)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
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
	if err := b.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, bridge.ErrBrokerClosed) {
		return err
	}
	return nil
}
