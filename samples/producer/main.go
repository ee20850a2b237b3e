// Command producer is the sharing side of a cross-process texture: a GL
// renderer (the wined3d role) creates a shared texture with package share,
// draws into it and registers it with the glbridge broker, which hands it
// to other processes by KMT handle or by name, as wineserver does for
// Direct3D's shared resources. samples/consumer and samples/c-client open
// it.
//
// The broker must be running:
//
//	make build samples                          # bin/glshare and the samples
//	bin/glshare serve &                         # the broker, at its default socket
//	bin/producer -name 'Local\glbridge-sample' & # prints "KMT 0x40400002"
//	bin/consumer -kmt 0x40400002                # GL in another process
//	bin/consumer -name 'Local\glbridge-sample' -vulkan
//	bin/c-client "$XDG_RUNTIME_DIR/glbridge/broker.sock" 0x40400002 7
//	bin/producer -service ...                   # the broker allocates: no Vulkan here
//	kill %2                                     # the producer lets go and exits
//
// (Without XDG_RUNTIME_DIR the socket is /tmp/glbridge-$(id -u)/broker.sock;
// -socket picks another, as does glshare serve --socket.)
//
// It prints what it drew and how it shares ("zero-copy", or a copy path
// and why), "NAME name" if -name was given, and "KMT handle". It keeps the
// handle, and so the resource, until SIGINT or SIGTERM; then it prints
// "producer: released handle" and exits with status 0. Consumers that
// opened the resource keep their memory after the producer has gone. Any
// failure (no broker, no GL) is printed with exit status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/samples/kit"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

const width, height = 256, 192

func main() {
	socket := flag.String("socket", broker.DefaultSocketPath(), "the broker's socket")
	name := flag.String("name", "", `also share under this name (e.g. Local\glbridge-sample)`)
	frame := flag.Int("frame", 7, "frame of the test pattern to draw")
	service := flag.Bool("service", false, "have the broker allocate the texture (no Vulkan in this process)")
	flag.Parse()
	if err := run(*socket, *name, *frame, *service); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}

func run(socket, name string, frame int, service bool) error {
	// Before the handle exists, so that a signal cannot kill the process
	// without it letting go.
	stopped, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Connect first: without a broker there is nobody to share with.
	c, err := broker.Dial(socket)
	if err != nil {
		return fmt.Errorf("%w (is `glshare serve` running?)", err)
	}
	defer c.Close() // closing the connection releases every handle it holds

	return kit.OnGLThread(func(getProcAddress kit.ProcAddr) error {
		// With -service the broker's helper device allocates and this
		// process only imports the memory into GL: it loads no Vulkan.
		var opts share.Options
		if service {
			opts.Service = c
		}
		g, err := share.NewGL(getProcAddress, opts)
		if err != nil {
			return err
		}
		defer g.Close()
		desc := bridge.Texture2D(width, height, bridge.FormatR8G8B8A8Unorm)
		desc.MiscFlags = 0x2 // D3D11_RESOURCE_MISC_SHARED, as the D3D11 creator asked
		res, err := g.Create(desc)
		if err != nil {
			return err
		}
		defer res.Close()

		// Consumers may read as soon as the handle exists, so the drawing
		// is complete (EndAccess) before then. Repeated hand-offs between
		// processes take the keyed mutex instead: see samples/keyedmutex.
		err = res.Access(bridge.AccessReadWrite, func() error {
			tex, target := res.Texture()
			return testpattern.Draw(tex, target, width, height, frame)
		})
		if err != nil {
			return err
		}

		// The broker keeps the memory with its allocation record (an fd
		// alone is just memory) and the private runtime data, none here.
		kmt, err := res.Share(c, nil)
		if err != nil {
			return err
		}
		fmt.Printf("producer: GL %q drew frame %d (%dx%d %s) and shared it (%s)\n",
			g.Identity().Renderer, frame, width, height, bridge.FormatR8G8B8A8Unorm, kit.Describe(res.Path(), res.Reason()))
		if name != "" {
			// A named NT handle: any process of this user may open the name.
			if _, err := c.Share(kmt, bridge.AccessRead, name); err != nil {
				return err
			}
			fmt.Printf("NAME %s\n", name)
		}
		fmt.Printf("KMT %#x\n", uint32(kmt))

		<-stopped.Done()
		if err := c.CloseHandle(kmt); err != nil {
			return err
		}
		fmt.Println("producer: released", kmt)
		return nil
	})
}
