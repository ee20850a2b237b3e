package glimport

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/egl"
)

// emptyMemory makes a real GL memory object whose import the driver refused
// without a GL error, the way Mesa handles an fd that is not its memory:
// /dev/null goes straight to glImportMemoryFdEXT, bypassing ImportMemory's
// checks. It stands in for memory the Texture error paths never reach.
func emptyMemory(t *testing.T, c *egl.Context) *Memory {
	t.Helper()
	null, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	m := &Memory{size: 1 << 16}
	c.Call(func() {
		if !hasExtensions("GL_EXT_memory_object_fd") {
			t.Skip("GL_EXT_memory_object_fd missing")
		}
		dup, err := unix.FcntlInt(null.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		gl.CreateMemoryObjectsEXT(1, &m.name)
		gl.ImportMemoryFdEXT(m.name, m.size, gl.HANDLE_TYPE_OPAQUE_FD_EXT, int32(dup))
		if e := gl.GetError(); e != gl.NO_ERROR {
			unix.Close(dup)
			t.Skipf("this GL reports importing /dev/null as error 0x%x; the silent-failure path does not arise", e)
		}
	})
	t.Cleanup(func() { c.Call(func() { m.Close() }) })
	return m
}

func newContext(t *testing.T) *egl.Context {
	t.Helper()
	c, err := egl.New(egl.Options{})
	if errors.Is(err, egl.ErrPlatformUnavailable) {
		t.Skipf("no headless EGL platform: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Call(func() {
		if err := Init(c.ProcAddr); err != nil {
			t.Fatal(err)
		}
	})
	return c
}

func desc2D(w, h uint32, f bridge.Format) bridge.Allocation {
	return bridge.Allocation{
		Desc: bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: w, Height: h, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: f},
		Size: 1 << 16,
	}
}

func TestTextureUnsupported(t *testing.T) {
	c := newContext(t)
	m := emptyMemory(t, c)
	unknown := desc2D(16, 16, bridge.Format(9999))
	vol := desc2D(16, 16, bridge.FormatR8G8B8A8Unorm)
	vol.Desc.Dimension = bridge.DimensionTexture3D
	array := desc2D(16, 16, bridge.FormatR8G8B8A8Unorm)
	array.Desc.DepthOrArraySize = 6
	ms := desc2D(16, 16, bridge.FormatR8G8B8A8Unorm)
	ms.Desc.SampleCount = 4
	buf := desc2D(4096, 1, bridge.FormatUnknown)
	buf.Desc.Dimension = bridge.DimensionBuffer
	for _, tc := range []struct {
		name, want string
		a          bridge.Allocation
	}{
		{"unknown format", "DXGI format 9999", unknown},
		{"3D", "texture3d", vol},
		{"array", "texture2d array (6 layers)", array},
		{"multisample", "texture2d with 4 samples", ms},
	} {
		var err error
		c.Call(func() { _, err = m.Texture(tc.a) })
		if !errors.Is(err, bridge.ErrUnsupportedFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrUnsupportedFormat naming %q", tc.name, err, tc.want)
		}
	}
	// A buffer's format is unknown, so it is refused for that first.
	var err error
	c.Call(func() { _, err = m.Texture(buf) })
	if !errors.Is(err, bridge.ErrUnsupportedFormat) {
		t.Errorf("buffer: err = %v, want ErrUnsupportedFormat", err)
	}
}

// TestTextureDetectsSilentImportFailure checks that storage which the driver
// silently did not make is reported, and that the texture binding and GL
// error state are left clean.
func TestTextureDetectsSilentImportFailure(t *testing.T) {
	c := newContext(t)
	m := emptyMemory(t, c)
	c.Call(func() {
		var mine uint32
		gl.GenTextures(1, &mine)
		defer gl.DeleteTextures(1, &mine)
		gl.BindTexture(gl.TEXTURE_2D, mine)
		tex, err := m.Texture(desc2D(16, 16, bridge.FormatB8G8R8A8Unorm))
		if err == nil {
			tex.Close()
			t.Fatal("Texture on memory that holds nothing succeeded")
		}
		if !strings.Contains(err.Error(), "glTexStorageMem2DEXT: no storage was made") {
			t.Errorf("err = %v", err)
		}
		var bound int32
		gl.GetIntegerv(gl.TEXTURE_BINDING_2D, &bound)
		if uint32(bound) != mine {
			t.Errorf("texture %d bound after Texture, want the caller's %d", bound, mine)
		}
		if e := gl.GetError(); e != gl.NO_ERROR {
			t.Errorf("GL error 0x%x left pending", e)
		}
	})
}

func TestTextureOnClosedMemory(t *testing.T) {
	c := newContext(t)
	m := emptyMemory(t, c)
	c.Call(func() {
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := m.Texture(desc2D(16, 16, bridge.FormatR8G8B8A8Unorm)); !errors.Is(err, bridge.ErrClosed) {
			t.Errorf("err = %v, want ErrClosed", err)
		}
	})
}
