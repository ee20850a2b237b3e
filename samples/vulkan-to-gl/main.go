// Command vulkan-to-gl is gl-to-vulkan the other way round: Vulkan writes
// an image (as a Vulkan renderer such as DXVK would) and a GL context reads
// the same memory as a texture. The image's memory is Vulkan's, since GL
// cannot export memory, but either side may write it.
//
// The setup is the same as in gl-to-vulkan (identity, helper device,
// exportable image, import into GL); the hand-off runs the other way:
// BeginVulkan/EndVulkan around the Vulkan write, then BeginGL/EndGL around
// the GL read, on the GL thread.
//
// Run it:
//
//	go run ./samples/vulkan-to-gl           # or: make samples && bin/vulkan-to-gl
//	go run ./samples/vulkan-to-gl -frame 42
//
// It prints what it checked and exits with status 0 only if every texel GL
// reads is the one Vulkan wrote (glbridge's test pattern for -frame).
//
// The GL context comes from internal/egl, a headless EGL context for tools
// and tests. A real renderer uses its own context and makes the same calls
// on the thread where that context is current.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
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
	frame := flag.Int("frame", 7, "frame of the test pattern to write")
	flag.Parse()
	if err := run(*frame); err != nil {
		fmt.Fprintln(os.Stderr, "vulkan-to-gl:", err)
		os.Exit(1)
	}
}

func run(frame int) error {
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
		ho, err = handoff.New(handoff.Config{Device: dev, Image: img, Texture: tex, GL: id})
	})
	if err != nil {
		return err
	}

	// Vulkan writes the test pattern (an upload through a staging buffer
	// here; a renderer would draw).
	want := testpattern.Expected(width, height, frame)
	sync, err := ho.BeginVulkan(bridge.AccessReadWrite)
	if err != nil {
		return err
	}
	err = img.WritePixels(bridge.Subresource{}, want, sync)
	ho.EndVulkan(err)
	if err != nil {
		return err
	}
	fmt.Printf("Vulkan %q wrote frame %d of the test pattern into VkImage %#x (%dx%d, %s)\n",
		dev.Caps().DeviceName, frame, img.Handle(), width, height, bridge.FormatR8G8B8A8Unorm)

	// GL reads the texture, after Vulkan's write.
	var px []byte
	ctx.Call(func() {
		if err = ho.BeginGL(bridge.AccessRead); err != nil {
			return
		}
		px, err = readTexture(tex)
		if endErr := ho.EndGL(); err == nil {
			err = endErr
		}
	})
	if err != nil {
		return err
	}
	if err := compare(px, want, width); err != nil {
		return fmt.Errorf("GL does not see what Vulkan wrote: %w", err)
	}
	fmt.Printf("OK: GL %q read all %d texels of texture %d; every one is what Vulkan wrote (hand-off: %s)\n",
		id.Renderer, width*height, tex.Name(), ho.Path())
	return nil
}

// readTexture reads level 0 of a 2D RGBA8 texture with glGetTexImage. It
// must run on the GL thread.
func readTexture(tex *glimport.Texture) ([]byte, error) {
	px := make([]byte, width*height*4)
	gl.BindTexture(tex.Target(), tex.Name())
	gl.PixelStorei(gl.PACK_ALIGNMENT, 1)
	gl.GetTexImage(tex.Target(), 0, gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(px))
	gl.BindTexture(tex.Target(), 0)
	if e := gl.GetError(); e != gl.NO_ERROR {
		return nil, fmt.Errorf("glGetTexImage: GL error %#x", e)
	}
	return px, nil
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
