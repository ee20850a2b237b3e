package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/cmd/internal/demo"
	"github.com/glbridge/glbridge/testpattern"
)

func init() {
	register(command{name: "demo", summary: "a GL producer process and a Vulkan consumer process share one texture; writes PNGs", run: runDemo})
	register(command{name: "demo-producer", run: runDemoProducer})
	register(command{name: "demo-consumer", run: runDemoConsumer})
}

// windowBinary is the consumer with a window, a separate program so that
// glshare itself needs no X11 libraries.
const windowBinary = "glshare-window"

func demoFlags(name string, o *demo.Options) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&o.Socket, "socket", broker.DefaultSocketPath(), "broker socket")
	fs.IntVar(&o.Frames, "frames", 8, "frames to produce")
	fs.StringVar(&o.Out, "out", "", "directory for the PNGs (default: a new temporary directory)")
	fs.DurationVar(&o.FrameInterval, "frame-interval", 0, "pause after each frame the producer draws (a slower demo, to watch or to restart the broker under)")
	fs.Func("size", "texture size WxH (default 256x192)", func(s string) error {
		if _, err := fmt.Sscanf(s, "%dx%d", &o.Width, &o.Height); err != nil || o.Width < testpattern.FrameBits || o.Height < 16 {
			return fmt.Errorf("want WxH, at least %dx16", testpattern.FrameBits)
		}
		return nil
	})
	o.Width, o.Height = 256, 192
	return fs
}

func runDemo(args []string) error {
	var o demo.Options
	fs := demoFlags("demo", &o)
	window := fs.Bool("window", false, "show the consumer's view live in a window (X11; Xvfb works), with "+windowBinary)
	hold := fs.Duration("hold", 0, "with --window: keep the window open this long after the last frame")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Frames < 1 {
		return fmt.Errorf("--frames %d: want at least 1", o.Frames)
	}
	if o.Out == "" {
		dir, err := os.MkdirTemp("", "glshare-demo-")
		if err != nil {
			return err
		}
		o.Out = dir
	} else if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	stop, err := ensureBroker(&o.Socket)
	if err != nil {
		return err
	}
	defer stop()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	common := []string{"--socket", o.Socket, "--frames", strconv.Itoa(o.Frames), "--out", o.Out, "--size", fmt.Sprintf("%dx%d", o.Width, o.Height),
		"--frame-interval", o.FrameInterval.String()}
	prod := exec.Command(self, append([]string{"demo-producer"}, common...)...)
	prod.Stderr = os.Stderr
	prodOut, err := prod.StdoutPipe()
	if err != nil {
		return err
	}
	if err := prod.Start(); err != nil {
		return err
	}
	defer prod.Process.Kill()
	lines := bufio.NewScanner(prodOut)
	var kmt string
	for lines.Scan() {
		fmt.Printf("producer: %s\n", lines.Text())
		if f := strings.Fields(lines.Text()); len(f) >= 2 && f[0] == "KMT" {
			kmt = f[1]
			break
		}
	}
	if kmt == "" {
		prod.Wait()
		return errors.New("the producer did not share a texture")
	}
	// The rest of what the producer says (a reconnection, say) is shown
	// too; reading it also keeps the producer from blocking on a full pipe.
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for lines.Scan() {
			fmt.Printf("producer: %s\n", lines.Text())
		}
	}()

	consBin, consArgs := self, append([]string{"demo-consumer", "--kmt", kmt}, common...)
	if *window {
		consBin = filepath.Join(filepath.Dir(self), windowBinary)
		consArgs = append([]string{"--kmt", kmt, "--hold", hold.String()}, common...)
	}
	cons := exec.Command(consBin, consArgs...)
	cons.Stdout, cons.Stderr = prefixWriter("consumer: "), os.Stderr
	if err := cons.Run(); err != nil {
		return fmt.Errorf("consumer (%s): %w", consBin, err)
	}
	<-printed
	if err := prod.Wait(); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	return compareFrames(o)
}

// ensureBroker uses the broker at *socket if one answers, and otherwise
// serves one in this process until stop is called.
func ensureBroker(socket *string) (stop func(), err error) {
	if c, err := broker.Dial(*socket); err == nil {
		c.Close()
		fmt.Printf("broker: using the one at %s\n", *socket)
		return func() {}, nil
	}
	l, err := broker.Listen(*socket)
	if err != nil {
		return nil, fmt.Errorf("starting a broker at %s: %w", *socket, err)
	}
	b := &broker.Broker{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go b.Serve(context.Background(), l)
	fmt.Printf("broker: started one at %s for the demo\n", *socket)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Shutdown(ctx)
	}, nil
}

type prefixed struct{ prefix string }

func prefixWriter(p string) io.Writer { return &prefixed{p} }

func (p *prefixed) Write(b []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			fmt.Print(p.prefix + l)
		}
	}
	return len(b), nil
}

// compareFrames checks, frame by frame, that what the consumer saw is what
// the producer drew, pixel for pixel, and that both are the test pattern.
func compareFrames(o demo.Options) error {
	bad := 0
	for frame := range o.Frames {
		p, w, h, err := demo.ReadPNG(filepath.Join(o.Out, demo.PNGName("producer", frame)))
		if err != nil {
			return err
		}
		c, _, _, err := demo.ReadPNG(filepath.Join(o.Out, demo.PNGName("consumer", frame)))
		if err != nil {
			return err
		}
		n, ok := testpattern.FrameOf(c, w, h)
		switch {
		case !bytes.Equal(p, c):
			bad++
			fmt.Printf("frame %d: MISMATCH: the consumer saw other pixels than the producer drew\n", frame)
		case !bytes.Equal(c, testpattern.Expected(w, h, frame)):
			bad++
			fmt.Printf("frame %d: MISMATCH: producer and consumer agree but differ from the test pattern\n", frame)
		case !ok || n != frame:
			bad++
			fmt.Printf("frame %d: MISMATCH: the image carries frame number %d\n", frame, n)
		default:
			fmt.Printf("frame %d: consumer matches producer pixel for pixel (%dx%d)\n", frame, w, h)
		}
	}
	fmt.Printf("PNGs in %s\n", o.Out)
	if bad > 0 {
		return fmt.Errorf("%d of %d frames did not match", bad, o.Frames)
	}
	fmt.Printf("demo: all %d frames match\n", o.Frames)
	return nil
}

func runDemoProducer(args []string) error {
	var o demo.Options
	if err := demoFlags("demo-producer", &o).Parse(args); err != nil {
		return err
	}
	return demo.Producer(o, func(kmt bridge.Handle, sharePath, syncPath, renderer string) {
		fmt.Printf("GL %s shares the texture as KMT handle %v (%s; sync: %s)\n", renderer, kmt, sharePath, syncPath)
		fmt.Printf("KMT %v\n", kmt)
	})
}

func runDemoConsumer(args []string) error {
	var o demo.Options
	fs := demoFlags("demo-consumer", &o)
	kmt := fs.String("kmt", "", "KMT handle of the shared texture")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, err := strconv.ParseUint(*kmt, 0, 32)
	if err != nil {
		return fmt.Errorf("--kmt %q: %w", *kmt, err)
	}
	dev, err := demo.Consumer(o, bridge.Handle(h), nil)
	if err != nil {
		return err
	}
	fmt.Printf("Vulkan %s copied %d frames into its own image\n", dev, o.Frames)
	return nil
}
