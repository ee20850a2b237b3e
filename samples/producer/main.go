// Command producer is the sharing side of a cross-process texture: a GL
// renderer (the wined3d role) draws into Vulkan-allocated memory and
// registers it with the glbridge broker, which hands the memory to other
// processes by KMT handle or by name, as wineserver does for Direct3D's
// shared resources. samples/consumer and samples/c-client open it.
//
// The broker must be running:
//
//	make build samples                          # bin/glshare and the samples
//	bin/glshare serve &                         # the broker, at its default socket
//	bin/producer -name 'Local\glbridge-sample' & # prints "KMT 0x40400002"
//	bin/consumer -kmt 0x40400002                # GL in another process
//	bin/consumer -name 'Local\glbridge-sample' -vulkan
//	bin/c-client "$XDG_RUNTIME_DIR/glbridge/broker.sock" 0x40400002 7
//	kill %2                                     # the producer lets go and exits
//
// (Without XDG_RUNTIME_DIR the socket is /tmp/glbridge-$(id -u)/broker.sock;
// -socket picks another, as does glshare serve --socket.)
//
// The producer keeps its handle, and so the resource, until SIGINT or
// SIGTERM; then it exits with status 0. Consumers that opened the resource
// keep their memory after the producer has gone.
//
// The GL context comes from internal/egl, a headless EGL context for tools
// and tests; a real renderer uses its own context and makes the same calls
// on the thread where it is current. The picture is glbridge's test pattern
// (internal/testpattern), which consumers check texel by texel.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

const width, height = 256, 192

func main() {
	socket := flag.String("socket", broker.DefaultSocketPath(), "the broker's socket")
	name := flag.String("name", "", `also share under this name (e.g. Local\glbridge-sample)`)
	frame := flag.Int("frame", 7, "frame of the test pattern to draw")
	flag.Parse()
	if err := run(*socket, *name, *frame); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}

func run(socket, name string, frame int) error {
	// Connect first: without a broker there is nobody to share with.
	c, err := broker.Dial(socket)
	if err != nil {
		return fmt.Errorf("%w (is `glshare serve` running?)", err)
	}
	defer c.Close() // closing the connection releases every handle it holds

	ctx, err := headless.New(headless.Options{})
	if err != nil {
		return fmt.Errorf("no headless GL context: %w", err)
	}
	defer ctx.Close()
	var id glimport.Identity
	ctx.Call(func() {
		if err = glimport.Init(ctx.ProcAddr); err == nil {
			id, err = glimport.QueryIdentity()
		}
	})
	if err != nil {
		return err
	}
	dev, err := helperdev.Open(helperdev.Config{Device: id.Device, Peer: id.String()})
	if err != nil {
		return err
	}
	defer dev.Close()
	img, err := vkalloc.NewImage(dev, bridge.Desc{
		Dimension: bridge.DimensionTexture2D, Width: width, Height: height,
		DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1,
		Format:    bridge.FormatR8G8B8A8Unorm,
		MiscFlags: 0x2, // D3D11_RESOURCE_MISC_SHARED, as the D3D11 creator asked
	})
	if err != nil {
		return err
	}
	defer img.Close()
	fd, err := img.ExportFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd) // both ImportMemory and Create take copies

	ctx.Call(func() {
		var mem *glimport.Memory
		var tex *glimport.Texture
		if mem, err = glimport.ImportMemory(img.Allocation(), fd); err != nil {
			return
		}
		defer mem.Close()
		if tex, err = mem.Texture(img.Allocation()); err != nil {
			return
		}
		defer tex.Close()
		if err = testpattern.Draw(tex.Name(), tex.Target(), width, height, frame); err != nil {
			return
		}
		// Consumers may read as soon as the handle exists, so the drawing
		// must be complete before then. (Repeated hand-offs between
		// processes take the keyed mutex instead; see samples/keyedmutex.)
		gl.Finish()
	})
	if err != nil {
		return err
	}

	// Register the memory with its allocation record: an fd alone is just
	// memory, the record says what it holds and how to import it.
	kmt, err := c.Create(img.Allocation(), fd, nil)
	if err != nil {
		return err
	}
	fmt.Printf("producer: GL %q drew frame %d (%dx%d %s) and shared it\n",
		id.Renderer, frame, width, height, bridge.FormatR8G8B8A8Unorm)
	if name != "" {
		// A named NT handle: any process of this user may open the name.
		if _, err := c.Share(kmt, bridge.AccessRead, name); err != nil {
			return err
		}
		fmt.Printf("NAME %s\n", name)
	}
	fmt.Printf("KMT %#x\n", uint32(kmt))

	sigs, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-sigs.Done()
	if err := c.CloseHandle(kmt); err != nil {
		return err
	}
	fmt.Println("producer: released", kmt)
	return nil
}
