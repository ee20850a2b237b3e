// Command gl-to-vulkan is the one sample that goes below package share, to
// the layers share is made of: a GL renderer (the wined3d role) draws into
// a texture whose memory Vulkan allocated, and Vulkan reads that same
// memory back, nothing copied. samples/vulkan-to-gl does the same the
// other way round through share, which is what a renderer should use.
//
// A renderer goes this low only when it needs what share keeps to itself:
//
//   - GPU-side ordering with Vulkan work of its own: share's Vulkan
//     operations, and work a caller records on VulkanResource.Handle,
//     complete on the CPU before the access ends, whereas handoff hands
//     the caller the semaphores (a vkalloc.Sync) that its own submission
//     waits for and signals, so GL and Vulkan pipeline on the GPU;
//   - zero-copy or an error: where share would fall back to copying, the
//     layers fail and say why (helperdev.Open's UUID mismatch, a missing
//     GL extension);
//   - the objects themselves: the helper device, the VkImage and its
//     memory, the GL memory object, to import one allocation its own way.
//
// The steps, in the order share takes them too:
//
//  1. glimport.Init and glimport.QueryIdentity, on the GL thread: the
//     renderer and its driver and device UUIDs;
//  2. helperdev.Open: the Vulkan device with the same UUIDs, the only one
//     whose memory this GL context can import;
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
// It prints the matched devices, what GL drew and "OK: Vulkan read all N
// texels of VkImage ...", and exits with status 0 only if every texel
// Vulkan read is the one GL drew (glbridge's test pattern for -frame);
// otherwise, or where GL and Vulkan cannot share memory, it prints why and
// exits with status 1.
package main

import (
	"flag"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/samples/kit"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

const width, height = 256, 192

func main() {
	frame := flag.Int("frame", 7, "frame of the test pattern to draw")
	flag.Parse()
	// GL calls go to the thread where the context is current, so the
	// whole sample runs there; the Vulkan calls may run on any thread.
	if err := kit.OnGLThread(func(getProcAddress kit.ProcAddr) error { return run(getProcAddress, *frame) }); err != nil {
		fmt.Fprintln(os.Stderr, "gl-to-vulkan:", err)
		os.Exit(1)
	}
}

func run(getProcAddress kit.ProcAddr, frame int) error {
	// 1. What the GL context is, and on which GPU and driver.
	if err := glimport.Init(getProcAddress); err != nil {
		return err
	}
	id, err := glimport.QueryIdentity()
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
	img, err := vkalloc.NewImage(dev, bridge.Texture2D(width, height, bridge.FormatR8G8B8A8Unorm))
	if err != nil {
		return err
	}
	defer img.Close()
	fd, err := img.ExportFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd) // ImportMemory imports a duplicate: fd stays ours

	// 4. The same memory as a GL texture. The deferred Closes run before
	// img's: GL lets go of the memory before Vulkan frees it.
	mem, err := glimport.ImportMemory(img.Allocation(), fd)
	if err != nil {
		return err
	}
	defer mem.Close()
	tex, err := mem.Texture(img.Allocation())
	if err != nil {
		return err
	}
	defer tex.Close()

	// 5. The hand-off, then GL's draw inside a GL access.
	ho, err := handoff.New(handoff.Config{Device: dev, Image: img, Texture: tex, GL: id})
	if err != nil {
		return err
	}
	defer ho.Close()
	if err := ho.BeginGL(bridge.AccessReadWrite); err != nil {
		return err
	}
	err = testpattern.Draw(tex.Name(), tex.Target(), width, height, frame)
	if endErr := ho.EndGL(); err == nil {
		err = endErr
	}
	if err != nil {
		return err
	}
	fmt.Printf("GL drew frame %d of the test pattern into texture %d (%dx%d, %s)\n",
		frame, tex.Name(), width, height, bridge.FormatR8G8B8A8Unorm)

	// Vulkan reads the same memory. sync is what the read's submission
	// waits for (GL's draw) and signals; a renderer gives it to its own.
	sync, err := ho.BeginVulkan(bridge.AccessRead)
	if err != nil {
		return err
	}
	px, err := img.ReadPixels(bridge.Subresource{}, sync)
	ho.EndVulkan(err)
	if err != nil {
		return err
	}
	if err := kit.Check(px, width, height, frame); err != nil {
		return fmt.Errorf("what Vulkan read is not what GL drew: %w", err)
	}
	fmt.Printf("OK: Vulkan read all %d texels of VkImage %#x; every one is what GL drew (hand-off: %s)\n",
		width*height, img.Handle(), ho.Path())
	return nil
}
