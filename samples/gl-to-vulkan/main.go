// Command gl-to-vulkan shows the basic glbridge sequence in one process: a
// GL renderer (the wined3d role) draws into a texture whose memory Vulkan
// allocated, and Vulkan reads that same memory back. Nothing is copied
// between the APIs; the texture and the image are one allocation.
//
// The steps, in the order a renderer takes them:
//
//  1. glimport.Init and glimport.QueryIdentity, on the GL thread: the
//     renderer and its driver and device UUIDs;
//  2. helperdev.OpenForGL: the Vulkan device with the same UUIDs, the only
//     one whose memory this GL context can import;
//  3. vkalloc.NewImage: exportable memory, which GL cannot allocate;
//  4. glimport.ImportMemory and Memory.Texture: that memory as a GL texture;
//  5. handoff: orders GL's draw before Vulkan's read, with semaphores where
//     the drivers share them and with fences where not (Mesa 22.3).
//
// Run it:
//
//	go run ./samples/gl-to-vulkan           # or: make samples && bin/gl-to-vulkan
//	go run ./samples/gl-to-vulkan -frame 42
//
// It prints what it checked and exits with status 0 only if every texel
// Vulkan read is the one GL drew (glbridge's test pattern for -frame).
//
// The GL context comes from internal/egl, a headless EGL context for tools
// and tests. A real renderer uses its own context and makes the same calls
// on the thread where that context is current.
package main

import (
	"flag"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

const width, height = 256, 192

func main() {
	frame := flag.Int("frame", 7, "frame of the test pattern to draw")
	flag.Parse()
	if err := run(*frame); err != nil {
		fmt.Fprintln(os.Stderr, "gl-to-vulkan:", err)
		os.Exit(1)
	}
}

func run(frame int) error {
	// 1. A GL context, current on its own OS thread: every GL call goes
	// through ctx.Call.
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

	// 2. The helper device: Vulkan on the same GPU and driver as GL.
	dev, err := helperdev.Open(helperdev.Config{Device: id.Device, Peer: id.String()})
	if err != nil {
		return err
	}
	defer dev.Close()
	fmt.Printf("GL %q and Vulkan %q share driver UUID %s, device UUID %s\n",
		id.Renderer, dev.Caps().DeviceName, id.Device.Driver, id.Device.Device)

	// 3. Exportable memory for a D3D11-style 2D texture.
	img, err := vkalloc.NewImage(dev, bridge.Desc{
		Dimension: bridge.DimensionTexture2D, Width: width, Height: height,
		DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1,
		Format: bridge.FormatR8G8B8A8Unorm,
	})
	if err != nil {
		return err
	}
	defer img.Close()
	fd, err := img.ExportFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd) // ImportMemory imports a duplicate: fd stays ours

	// 4 and 5, on the GL thread: import, set up the hand-off, draw.
	var (
		mem *glimport.Memory
		tex *glimport.Texture
		ho  *handoff.Resource
	)
	defer ctx.Call(func() { // GL objects go on the GL thread, before img
		if ho != nil {
			ho.Close()
		}
		if tex != nil {
			tex.Close()
		}
		if mem != nil {
			mem.Close()
		}
	})
	ctx.Call(func() {
		if mem, err = glimport.ImportMemory(img.Allocation(), fd); err != nil {
			return
		}
		if tex, err = mem.Texture(img.Allocation()); err != nil {
			return
		}
		if ho, err = handoff.New(handoff.Config{Device: dev, Image: img, Texture: tex, GL: id}); err != nil {
			return
		}
		if err = ho.BeginGL(bridge.AccessReadWrite); err != nil {
			return
		}
		err = testpattern.Draw(tex.Name(), tex.Target(), width, height, frame)
		if endErr := ho.EndGL(); err == nil {
			err = endErr
		}
	})
	if err != nil {
		return err
	}
	fmt.Printf("GL drew frame %d of the test pattern into texture %d (%dx%d, %s)\n",
		frame, tex.Name(), width, height, bridge.FormatR8G8B8A8Unorm)

	// Vulkan reads the same memory, after GL's draw.
	sync, err := ho.BeginVulkan(bridge.AccessRead)
	if err != nil {
		return err
	}
	px, err := img.ReadPixels(bridge.Subresource{}, sync)
	ho.EndVulkan(err)
	if err != nil {
		return err
	}
	if err := compare(px, testpattern.Expected(width, height, frame), width); err != nil {
		return fmt.Errorf("Vulkan does not see what GL drew: %w", err)
	}
	fmt.Printf("OK: Vulkan read all %d texels of VkImage %#x; every one is what GL drew (hand-off: %s)\n",
		width*height, img.Handle(), ho.Path())
	return nil
}

// compare reports the first texel where got differs from want (RGBA8 rows
// of w texels, bottom row first).
func compare(got, want []byte, w int) error {
	if len(got) != len(want) {
		return fmt.Errorf("read %d bytes, want %d", len(got), len(want))
	}
	for i := 0; i < len(got); i += 4 {
		if [4]byte(got[i:i+4]) != [4]byte(want[i:i+4]) {
			return fmt.Errorf("texel (%d,%d) is %v, want %v", i/4%w, i/4/w, got[i:i+4], want[i:i+4])
		}
	}
	return nil
}
