// Command vulkan-to-gl shows glbridge's front door, package share, in one
// process: Vulkan writes a texture (as DXVK would) and a GL renderer (as
// wined3d would) reads the same texture. share.NewVulkan and share.NewGL
// each choose how their side shares; the resource travels from one to the
// other as an fd and its allocation record, exactly as the broker carries
// it between processes (see samples/producer).
//
// Vulkan memory is the only kind GL can import, so where the GL context
// can import it (GL_EXT_memory_object_fd, and a Vulkan device with GL's
// UUIDs) the texture is that memory, zero-copy. Elsewhere share copies at
// the access boundaries; the code is the same, and it prints which. The GL
// context is a headless one (samples/kit); a renderer makes the same calls
// on the thread where its own context is current.
//
// Run it:
//
//	go run ./samples/vulkan-to-gl           # or: make samples && bin/vulkan-to-gl
//	go run ./samples/vulkan-to-gl -frame 42
//	GLBRIDGE_FORCE_COPY=1 go run ./samples/vulkan-to-gl   # the copy path
//
// It prints what each side did and "OK: GL ... read all N texels of
// texture T", and exits with status 0 only if every texel GL read is the
// one Vulkan wrote (glbridge's test pattern for -frame); otherwise it
// prints why and exits with status 1.
package main

import (
	"flag"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/samples/kit"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

const width, height = 256, 192

func main() {
	frame := flag.Int("frame", 7, "frame of the test pattern to write")
	flag.Parse()
	// share.GL lives on the GL context's thread, so the whole sample runs there.
	if err := kit.OnGLThread(func(getProcAddress kit.ProcAddr) error { return run(getProcAddress, *frame) }); err != nil {
		fmt.Fprintln(os.Stderr, "vulkan-to-gl:", err)
		os.Exit(1)
	}
}

func run(getProcAddress kit.ProcAddr, frame int) error {
	g, err := share.NewGL(getProcAddress, share.Options{})
	if err != nil {
		return err
	}
	defer g.Close()
	// nil: the first Vulkan device that exports memory. A Vulkan renderer
	// has its device already (share.NewVulkanOn takes it); share copies
	// what that device and GL cannot pass zero-copy.
	v, err := share.NewVulkan(nil, share.Options{})
	if err != nil {
		return err
	}
	defer v.Close()

	vres, err := v.Create(bridge.Texture2D(width, height, bridge.FormatR8G8B8A8Unorm))
	if err != nil {
		return err
	}
	defer vres.Close()
	// Every operation on a shared resource is inside an access, which
	// orders it after every other API's.
	err = vres.Access(bridge.AccessReadWrite, func() error {
		return vres.WritePixels(bridge.Subresource{}, testpattern.Expected(width, height, frame))
	})
	if err != nil {
		return err
	}
	fmt.Printf("Vulkan %q wrote frame %d of the test pattern into VkImage %#x (%dx%d %s, %s)\n",
		v.DeviceName(), frame, vres.Handle(), width, height, bridge.FormatR8G8B8A8Unorm, vres.Path())

	// GL opens the memory from an fd and the record of what it holds.
	fd, err := vres.ExportFD()
	if err != nil {
		return err
	}
	gres, err := g.Open(vres.Allocation(), fd)
	unix.Close(fd) // Open keeps a duplicate
	if err != nil {
		return err
	}
	defer gres.Close()
	tex, target := gres.Texture()
	var px []byte
	err = gres.Access(bridge.AccessRead, func() (err error) {
		px, err = kit.ReadTexture(tex, target, width, height)
		return err
	})
	if err != nil {
		return err
	}
	if err := kit.Check(px, width, height, frame); err != nil {
		return fmt.Errorf("GL does not see what Vulkan wrote: %w", err)
	}
	fmt.Printf("OK: GL %q read all %d texels of texture %d; every one is what Vulkan wrote (%s)\n",
		g.Identity().Renderer, width*height, tex, kit.Describe(gres.Path(), gres.Reason()))
	return nil
}
